"""nightly batch sources over FTP/FTPS/SFTP and their runs (issue 11)

Revision ID: f0a1b2c3d404
Revises: f0a1b2c3d403
Create Date: 2026-12-01 12:00:00

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "f0a1b2c3d404"
down_revision = "f0a1b2c3d403"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
