"""officials' corrections to a document's legal validity

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 00:30:00
"""

import sqlalchemy as sa
from alembic import op

import feedback_api.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "law_validity",
        sa.Column("doc_id", sa.String(length=300), nullable=False),
        sa.Column("number", sa.String(length=100), nullable=True),
        sa.Column("effective", sa.String(length=10), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("expires", sa.String(length=10), nullable=True),
        sa.Column("replaced_by", sa.String(length=300), nullable=True),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", feedback_api.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("doc_id", name=op.f("pk_law_validity")),
    )


def downgrade() -> None:
    op.drop_table("law_validity")
