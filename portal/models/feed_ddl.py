"""Database-side parts of the events feed (portal/feed.py): installed after `create_all` here, and the
same statements are written out in migration f0a1b2c3d402.

- PostgreSQL: `event.txid` and `subscription_change.txid` default to the writing transaction's id, so the
  feed can serve only rows whose transaction is older than every transaction still running.
- Both: triggers on `subscription` journal every status change into `subscription_change` — every writer
  (services, set-based imports, unsubscribe pages, bounces) is covered without remembering to. Rows an
  import inserts are left out (see models/webservice.py); a status an import changes is journalled.
"""

from __future__ import annotations

from sqlalchemy import event

_COLUMNS = "agency_id, client_id, contact_id, list_id, channel, status, source, changed_at"

POSTGRESQL = [
    "ALTER TABLE event ALTER COLUMN txid SET DEFAULT (pg_current_xact_id()::text::bigint)",
    "ALTER TABLE subscription_change ALTER COLUMN txid SET DEFAULT (pg_current_xact_id()::text::bigint)",
    f"""CREATE OR REPLACE FUNCTION portal_journal_subscription() RETURNS trigger AS $$
BEGIN
  INSERT INTO subscription_change ({_COLUMNS})
  VALUES (NEW.agency_id, NEW.client_id, NEW.contact_id, NEW.list_id, NEW.channel, NEW.status,
          coalesce(NEW.consent_source, ''), now());
  RETURN NULL;
END $$ LANGUAGE plpgsql""",
    "CREATE OR REPLACE TRIGGER subscription_journal_insert AFTER INSERT ON subscription FOR EACH ROW "
    "WHEN (NEW.consent_source IS DISTINCT FROM 'import') EXECUTE FUNCTION portal_journal_subscription()",
    "CREATE OR REPLACE TRIGGER subscription_journal_update AFTER UPDATE OF status ON subscription FOR EACH ROW "
    "WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION portal_journal_subscription()",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS subscription_journal_update ON subscription",
    "DROP TRIGGER IF EXISTS subscription_journal_insert ON subscription",
    "DROP FUNCTION IF EXISTS portal_journal_subscription()",
]

_SQLITE_VALUES = (
    "NEW.agency_id, NEW.client_id, NEW.contact_id, NEW.list_id, NEW.channel, NEW.status, "
    "coalesce(NEW.consent_source, ''), strftime('%Y-%m-%d %H:%M:%f', 'now')"
)
SQLITE = [
    "CREATE TRIGGER IF NOT EXISTS subscription_journal_insert AFTER INSERT ON subscription "
    "WHEN NEW.consent_source IS NOT 'import' BEGIN "
    f"INSERT INTO subscription_change ({_COLUMNS}) VALUES ({_SQLITE_VALUES}); END",
    "CREATE TRIGGER IF NOT EXISTS subscription_journal_update AFTER UPDATE OF status ON subscription "
    "WHEN OLD.status IS NOT NEW.status BEGIN "
    f"INSERT INTO subscription_change ({_COLUMNS}) VALUES ({_SQLITE_VALUES}); END",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS subscription_journal_update",
    "DROP TRIGGER IF EXISTS subscription_journal_insert",
]


def statements(dialect_name: str) -> list[str]:
    return POSTGRESQL if dialect_name == "postgresql" else SQLITE if dialect_name == "sqlite" else []


def install(metadata) -> None:
    """After `create_all` made the tables (tests, `portal db init`), add the defaults and triggers."""

    @event.listens_for(metadata, "after_create")
    def _after_create(target, connection, **kw):
        created = {t.name for t in kw.get("tables") or ()}
        if "subscription_change" not in created:
            return
        for sql in statements(connection.dialect.name):
            connection.exec_driver_sql(sql)
