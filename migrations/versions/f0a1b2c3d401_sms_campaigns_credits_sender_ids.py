"""SMS campaigns: sender ids, credit ledger, price list, inbound replies, gateway connections (issue 9)

Revision ID: f0a1b2c3d401
Revises: e5a1c3b7d902
Create Date: 2026-12-01 12:00:00

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "f0a1b2c3d401"
down_revision = "e5a1c3b7d902"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
