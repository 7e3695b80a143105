"""operations: append-only audit log, security events, key rotation (issue 12)

Revision ID: f0a1b2c3d406
Revises: f0a1b2c3d405
Create Date: 2026-12-01 12:00:00

On PostgreSQL the audit log refuses UPDATE, DELETE and TRUNCATE whoever sends them (checklist G39):
the application never changes an audit row (portal/services/audit.py refuses it in the ORM too), so
only a mistake or an intruder with the application's database role would, and the trigger stops both.
SQLite has no roles to protect against; the ORM guard is what holds there.
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = "f0a1b2c3d406"
down_revision = "f0a1b2c3d405"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    op.execute(
        "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
        "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()"
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event")
    op.execute("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event")
    op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")
