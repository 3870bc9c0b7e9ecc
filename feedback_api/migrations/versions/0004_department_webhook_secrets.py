"""department webhook secrets: a version counter per department (the secret is derived)

Departments that already have a webhook URL start at version 1: their receivers must be given
the new secret (rotate it on the department's page to see it), since deliveries are now signed
per department and with a timestamp.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("department", schema=None) as batch_op:
        batch_op.add_column(sa.Column("webhook_secret_version", sa.Integer(), nullable=False,
                                      server_default="0"))
    department = sa.table("department", sa.column("webhook_url", sa.String()),
                          sa.column("webhook_secret_version", sa.Integer()))
    op.execute(department.update().where(department.c.webhook_url.is_not(None))
               .values(webhook_secret_version=1))


def downgrade() -> None:
    with op.batch_alter_table("department", schema=None) as batch_op:
        batch_op.drop_column("webhook_secret_version")
