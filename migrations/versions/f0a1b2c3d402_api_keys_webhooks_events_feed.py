"""web services: API keys, idempotency records, outbound webhooks and their deliveries (issue 10)

Revision ID: f0a1b2c3d402
Revises: f0a1b2c3d401
Create Date: 2026-12-01 12:00:00

Also the events feed: `event.txid` and the `subscription_change` journal filled by triggers on
`subscription` (the statements are those of portal/models/feed_ddl.py, written out so this revision
stays as it is when the code moves on).
"""

import sqlalchemy as sa
from alembic import op

revision = "f0a1b2c3d402"
down_revision = "f0a1b2c3d401"
branch_labels = None
depends_on = None

_JOURNAL_COLUMNS = "agency_id, client_id, contact_id, list_id, channel, status, source, changed_at"
_PG = [
    # Events from before the feed existed are final: transaction id 0, served first.
    "UPDATE event SET txid = 0 WHERE txid IS NULL",
    "ALTER TABLE event ALTER COLUMN txid SET DEFAULT (pg_current_xact_id()::text::bigint)",
    "ALTER TABLE subscription_change ALTER COLUMN txid SET DEFAULT (pg_current_xact_id()::text::bigint)",
    f"""CREATE OR REPLACE FUNCTION portal_journal_subscription() RETURNS trigger AS $$
BEGIN
  INSERT INTO subscription_change ({_JOURNAL_COLUMNS})
  VALUES (NEW.agency_id, NEW.client_id, NEW.contact_id, NEW.list_id, NEW.channel, NEW.status,
          coalesce(NEW.consent_source, ''), now());
  RETURN NULL;
END $$ LANGUAGE plpgsql""",
    "CREATE OR REPLACE TRIGGER subscription_journal_insert AFTER INSERT ON subscription FOR EACH ROW "
    "WHEN (NEW.consent_source IS DISTINCT FROM 'import') EXECUTE FUNCTION portal_journal_subscription()",
    "CREATE OR REPLACE TRIGGER subscription_journal_update AFTER UPDATE OF status ON subscription FOR EACH ROW "
    "WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION portal_journal_subscription()",
]
_PG_DROP = [
    "DROP TRIGGER IF EXISTS subscription_journal_update ON subscription",
    "DROP TRIGGER IF EXISTS subscription_journal_insert ON subscription",
    "DROP FUNCTION IF EXISTS portal_journal_subscription()",
]
_SQLITE_VALUES = (
    "NEW.agency_id, NEW.client_id, NEW.contact_id, NEW.list_id, NEW.channel, NEW.status, "
    "coalesce(NEW.consent_source, ''), strftime('%Y-%m-%d %H:%M:%f', 'now')"
)
_SQLITE = [
    "CREATE TRIGGER IF NOT EXISTS subscription_journal_insert AFTER INSERT ON subscription "
    "WHEN NEW.consent_source IS NOT 'import' BEGIN "
    f"INSERT INTO subscription_change ({_JOURNAL_COLUMNS}) VALUES ({_SQLITE_VALUES}); END",
    "CREATE TRIGGER IF NOT EXISTS subscription_journal_update AFTER UPDATE OF status ON subscription "
    "WHEN OLD.status IS NOT NEW.status BEGIN "
    f"INSERT INTO subscription_change ({_JOURNAL_COLUMNS}) VALUES ({_SQLITE_VALUES}); END",
]
_SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS subscription_journal_update",
    "DROP TRIGGER IF EXISTS subscription_journal_insert",
]


def _tenant(table: str):
    return [
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f(f"fk_{table}_agency_id_agency"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["client.id"], name=op.f(f"fk_{table}_client_id_client"), ondelete="CASCADE"
        ),
    ]


def _tenant_indexes(table: str) -> None:
    op.create_index(op.f(f"ix_{table}_agency_id"), table, ["agency_id"])
    op.create_index(op.f(f"ix_{table}_client_id"), table, ["client_id"])


def _tz():
    return sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        *_tenant("api_key"),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("rate_limit_per_minute", sa.Integer(), nullable=False),
        sa.Column("expires_at", _tz(), nullable=True),
        sa.Column("last_used_at", _tz(), nullable=True),
        sa.Column("last_used_ip", sa.String(length=64), nullable=False),
        sa.Column("seen_ips", sa.JSON(), nullable=False),
        sa.Column("revoked_at", _tz(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _tz(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user.id"], name=op.f("fk_api_key_created_by_id_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_key_prefix")),
    )
    _tenant_indexes("api_key")

    op.create_table(
        "idempotency_record",
        sa.Column("id", sa.Integer(), nullable=False),
        *_tenant("idempotency_record"),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.Text(), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_record")),
        sa.UniqueConstraint("client_id", "key", name=op.f("uq_idempotency_record_client_id_key")),
    )
    _tenant_indexes("idempotency_record")
    op.create_index(op.f("ix_idempotency_record_created_at"), "idempotency_record", ["created_at"])

    op.create_table(
        "subscription_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=True),
        sa.Column("changed_at", _tz(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_change")),
    )
    op.create_index("ix_subscription_change_feed", "subscription_change", ["client_id", "txid", "id"])

    with op.batch_alter_table("event") as batch:
        batch.add_column(sa.Column("txid", sa.BigInteger(), nullable=True))
    op.create_index("ix_event_feed", "event", ["client_id", "txid", "id"])

    op.create_table(
        "webhook",
        sa.Column("id", sa.Integer(), nullable=False),
        *_tenant("webhook"),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("previous_secret", sa.Text(), nullable=False),
        sa.Column("previous_secret_until", _tz(), nullable=True),
        sa.Column("feed_cursor", sa.String(length=200), nullable=False),
        sa.Column("failing_since", _tz(), nullable=True),
        sa.Column("created_at", _tz(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook")),
    )
    _tenant_indexes("webhook")

    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        *_tenant("webhook_delivery"),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _tz(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("last_duration_ms", sa.Integer(), nullable=True),
        sa.Column("attempt_log", sa.JSON(), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("delivered_at", _tz(), nullable=True),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhook.id"],
            name=op.f("fk_webhook_delivery_webhook_id_webhook"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery")),
        sa.UniqueConstraint(
            "webhook_id", "message_id", name=op.f("uq_webhook_delivery_webhook_id_message_id")
        ),
    )
    _tenant_indexes("webhook_delivery")
    op.create_index(op.f("ix_webhook_delivery_webhook_id"), "webhook_delivery", ["webhook_id"])
    op.create_index("ix_webhook_delivery_due", "webhook_delivery", ["status", "next_attempt_at"])

    name = op.get_bind().dialect.name
    for sql in _PG if name == "postgresql" else _SQLITE if name == "sqlite" else []:
        op.execute(sql)


def downgrade():
    name = op.get_bind().dialect.name
    for sql in _PG_DROP if name == "postgresql" else _SQLITE_DROP if name == "sqlite" else []:
        op.execute(sql)
    op.drop_table("webhook_delivery")
    op.drop_table("webhook")
    op.drop_index("ix_event_feed", table_name="event")
    with op.batch_alter_table("event") as batch:
        batch.drop_column("txid")
    op.drop_table("subscription_change")
    op.drop_table("idempotency_record")
    op.drop_table("api_key")
