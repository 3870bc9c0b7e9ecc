"""answer votes: citizens' yes/no on the assistant's answers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 18:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

import feedback_api.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "answer_vote",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("citations", sa.JSON(), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("voter", sa.String(length=64), nullable=True),
        sa.Column("created_at", feedback_api.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answer_vote")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_answer_vote_idempotency_key")),
    )
    with op.batch_alter_table("answer_vote", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_answer_vote_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("answer_vote", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_answer_vote_created_at"))
    op.drop_table("answer_vote")
