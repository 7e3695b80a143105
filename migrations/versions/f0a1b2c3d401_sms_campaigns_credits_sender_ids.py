"""SMS campaigns: sender ids, credit ledger, price list, inbound replies, gateway connections (issue 9)

Revision ID: f0a1b2c3d401
Revises: e5a1c3b7d902
Create Date: 2026-12-01 12:00:00

The plain `client.sms_credits` counter becomes the ledger: every positive balance is carried over as an
"opening" entry with its balance row, then the column goes. Downgrade puts the available balance back.
"""

import sqlalchemy as sa
from alembic import op

revision = "f0a1b2c3d401"
down_revision = "e5a1c3b7d902"
branch_labels = None
depends_on = None


def _tenant_columns(client_nullable: bool):
    return [
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=client_nullable),
    ]


def _tenant_keys(table: str):
    return [
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f(f"fk_{table}_agency_id_agency"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["client.id"], name=op.f(f"fk_{table}_client_id_client"), ondelete="CASCADE"
        ),
    ]


def _tenant_indexes(table: str, client: bool = True):
    op.create_index(op.f(f"ix_{table}_agency_id"), table, ["agency_id"])
    if client:
        op.create_index(op.f(f"ix_{table}_client_id"), table, ["client_id"])


def upgrade():
    op.create_table(
        "sms_sender_id",
        sa.Column("id", sa.Integer(), nullable=False),
        *_tenant_columns(False),
        sa.Column("value", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        *_tenant_keys("sms_sender_id"),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["user.id"],
            name=op.f("fk_sms_sender_id_requested_by_id_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_sender_id")),
        sa.UniqueConstraint("client_id", "value", name=op.f("uq_sms_sender_id_client_id_value")),
    )
    _tenant_indexes("sms_sender_id")

    op.create_table(
        "credit_account",
        sa.Column("id", sa.Integer(), nullable=False),
        *_tenant_columns(True),
        sa.Column("available", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        *_tenant_keys("credit_account"),
        sa.CheckConstraint("available >= 0", name=op.f("ck_credit_account_available_not_negative")),
        sa.CheckConstraint("reserved >= 0", name=op.f("ck_credit_account_reserved_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_account")),
        sa.UniqueConstraint("agency_id", "client_id", name=op.f("uq_credit_account_agency_id_client_id")),
    )
    _tenant_indexes("credit_account")

    op.create_table(
        "credit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        *_tenant_columns(True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        *_tenant_keys("credit_entry"),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["user.id"], name=op.f("fk_credit_entry_actor_id_user"), ondelete="SET NULL"
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_credit_entry_amount_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_entry")),
    )
    _tenant_indexes("credit_entry")
    op.create_index(op.f("ix_credit_entry_campaign_id"), "credit_entry", ["campaign_id"])
    op.create_index("ix_credit_entry_client_created", "credit_entry", ["client_id", "created_at"])

    op.create_table(
        "sms_price",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("credits_per_segment", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_sms_price_agency_id_agency"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_price")),
        sa.UniqueConstraint("agency_id", "country", name=op.f("uq_sms_price_agency_id_country")),
    )
    _tenant_indexes("sms_price", client=False)

    op.create_table(
        "sms_agency_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("stop_keywords", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_sms_agency_settings_agency_id_agency"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_agency_settings")),
        sa.UniqueConstraint("agency_id", name=op.f("uq_sms_agency_settings_agency_id")),
    )
    _tenant_indexes("sms_agency_settings", client=False)

    op.create_table(
        "sms_reply",
        sa.Column("id", sa.Integer(), nullable=False),
        *_tenant_columns(False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.String(length=128), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("opt_out", sa.Boolean(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        *_tenant_keys("sms_reply"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_reply")),
        sa.UniqueConstraint(
            "connection_id", "provider_id", name=op.f("uq_sms_reply_connection_id_provider_id")
        ),
    )
    _tenant_indexes("sms_reply")
    op.create_index(op.f("ix_sms_reply_phone"), "sms_reply", ["phone"])

    op.create_table(
        "sms_client_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        *_tenant_columns(False),
        sa.Column("quiet_from", sa.Integer(), nullable=True),
        sa.Column("quiet_to", sa.Integer(), nullable=True),
        *_tenant_keys("sms_client_settings"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_client_settings")),
        sa.UniqueConstraint("client_id", name=op.f("uq_sms_client_settings_client_id")),
    )
    _tenant_indexes("sms_client_settings")

    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sms_sender_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_campaign_sms_sender_id_sms_sender_id"),
            "sms_sender_id",
            ["sms_sender_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("segments", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("credits", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("credit_state", sa.String(length=8), nullable=False, server_default=""))
        batch_op.create_index("ix_delivery_provider_message_id", ["provider_message_id"])

    # The old counter becomes opening entries and balance rows, then goes.
    op.execute(
        "INSERT INTO credit_account (agency_id, client_id, available, reserved, updated_at) "
        "SELECT agency_id, id, sms_credits, 0, CURRENT_TIMESTAMP FROM client WHERE sms_credits > 0"
    )
    op.execute(
        "INSERT INTO credit_entry (agency_id, client_id, kind, amount, note, created_at) "
        "SELECT agency_id, id, 'opening', sms_credits, 'balance before the ledger', CURRENT_TIMESTAMP "
        "FROM client WHERE sms_credits > 0"
    )
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.drop_column("sms_credits")


def downgrade():
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sms_credits", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE client SET sms_credits = coalesce((SELECT a.available FROM credit_account a "
        "WHERE a.client_id = client.id), 0)"
    )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_provider_message_id")
        batch_op.drop_column("credit_state")
        batch_op.drop_column("credits")
        batch_op.drop_column("segments")
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_campaign_sms_sender_id_sms_sender_id"), type_="foreignkey")
        batch_op.drop_column("sms_sender_id")
    for table in (
        "sms_client_settings",
        "sms_reply",
        "sms_agency_settings",
        "sms_price",
        "credit_entry",
        "credit_account",
        "sms_sender_id",
    ):
        op.drop_table(table)
