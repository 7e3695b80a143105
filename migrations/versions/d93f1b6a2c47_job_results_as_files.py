"""job_run: results as files in the storage directory (result_path) instead of bytes in the row

Revision ID: d93f1b6a2c47
Revises: c7e2a9f3d816
Create Date: 2026-11-27 13:55:00

"""

import sqlalchemy as sa
from alembic import op

revision = "d93f1b6a2c47"
down_revision = "c7e2a9f3d816"
branch_labels = None
depends_on = None


def upgrade():
    # Results already in rows are short-lived downloads (7 days): they are not carried over.
    with op.batch_alter_table("job_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("result_path", sa.String(length=255), nullable=True))
        batch_op.drop_column("result_data")


def downgrade():
    with op.batch_alter_table("job_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("result_data", sa.LargeBinary(), nullable=True))
        batch_op.drop_column("result_path")
