"""sending backend seam: per-channel connections, delivery channel/address, event source, import lease,
per-channel list counts, campaign backend state,
two-factor sign-in (agency requirements, TOTP credentials, recovery codes)

Revision ID: e5a1c3b7d902
Revises: d93f1b6a2c47
Create Date: 2026-12-01 09:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "e5a1c3b7d902"
down_revision = "d93f1b6a2c47"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.drop_constraint("fk_client_connection_id_connection", type_="foreignkey")
        batch_op.alter_column("connection_id", new_column_name="email_connection_id")
        batch_op.add_column(sa.Column("sms_connection_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("client", schema=None) as batch_op:  # after the rename (one batch loses it)
        batch_op.create_foreign_key(
            batch_op.f("fk_client_email_connection_id_connection"),
            "connection",
            ["email_connection_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_client_sms_connection_id_connection"),
            "connection",
            ["sms_connection_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("agency", schema=None) as batch_op:
        batch_op.add_column(sa.Column("default_email_connection_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("default_sms_connection_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("mailing_list", schema=None) as batch_op:
        batch_op.alter_column("subscribed_count", new_column_name="email_subscribed_count")
        batch_op.add_column(
            sa.Column("sms_subscribed_count", sa.Integer(), nullable=False, server_default="0")
        )
    # The old count added both channels together: recount each channel once.
    for channel in ("email", "sms"):
        op.execute(
            f"UPDATE mailing_list SET {channel}_subscribed_count = (SELECT count(*) FROM subscription s "
            f"WHERE s.list_id = mailing_list.id AND s.channel = '{channel}' AND s.status = 'subscribed')"
        )
    with op.batch_alter_table("contact_import", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.add_column(sa.Column("connection_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("provider_state", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("backend_failures", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("provider_lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_campaign_connection_id_connection"),
            "connection",
            ["connection_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=8), nullable=False, server_default="email"))
        batch_op.add_column(sa.Column("retry_after", sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column("email", new_column_name="address", existing_type=sa.String(length=254))
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=8), nullable=False, server_default="email"))
        batch_op.add_column(
            sa.Column("source", sa.String(length=16), nullable=False, server_default="portal")
        )
        batch_op.drop_constraint("uq_event_provider_event_id", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_event_client_id_source_provider_event_id"),
            ["client_id", "source", "provider_event_id"],
        )
    # A client bound to a provider-side connection: its list there and the mapping of its fields.
    op.create_table(
        "provider_binding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("list_guid", sa.String(length=64), nullable=False),
        sa.Column("field_map", sa.JSON(), nullable=False),
        sa.Column("webhook_token", sa.String(length=64), nullable=False),
        sa.Column("last_pull_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_provider_binding_agency_id_agency"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client.id"],
            name=op.f("fk_provider_binding_client_id_client"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connection.id"],
            name=op.f("fk_provider_binding_connection_id_connection"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_binding")),
        sa.UniqueConstraint(
            "client_id", "connection_id", name=op.f("uq_provider_binding_client_id_connection_id")
        ),
        sa.UniqueConstraint("webhook_token", name=op.f("uq_provider_binding_webhook_token")),
    )
    op.create_index(op.f("ix_provider_binding_agency_id"), "provider_binding", ["agency_id"], unique=False)
    op.create_index(op.f("ix_provider_binding_client_id"), "provider_binding", ["client_id"], unique=False)
    op.create_index(
        op.f("ix_provider_binding_connection_id"), "provider_binding", ["connection_id"], unique=False
    )
    # Events recorded so far: their id prefix says who reported them.
    op.execute("UPDATE event SET source = 'smtp' WHERE provider_event_id LIKE 'smtp-sync:%'")
    op.execute(
        "UPDATE event SET source = 'inbound' WHERE provider_event_id LIKE 'dsn:%' "
        "OR provider_event_id LIKE 'arf:%'"
    )

    # Two-factor sign-in: the agency's requirements, each user's TOTP credential and recovery codes.
    with op.batch_alter_table("agency", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("two_factor_staff_required", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("two_factor_clients_required", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "totp_credential",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("last_step", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_totp_credential_agency_id_agency"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_totp_credential_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_totp_credential")),
        sa.UniqueConstraint("user_id", name=op.f("uq_totp_credential_user_id")),
    )
    op.create_index(op.f("ix_totp_credential_agency_id"), "totp_credential", ["agency_id"], unique=False)
    op.create_table(
        "recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=255), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_recovery_code_agency_id_agency"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_recovery_code_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_code")),
    )
    op.create_index(op.f("ix_recovery_code_agency_id"), "recovery_code", ["agency_id"], unique=False)
    op.create_index(op.f("ix_recovery_code_user_id"), "recovery_code", ["user_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_recovery_code_user_id"), table_name="recovery_code")
    op.drop_index(op.f("ix_recovery_code_agency_id"), table_name="recovery_code")
    op.drop_table("recovery_code")
    op.drop_index(op.f("ix_totp_credential_agency_id"), table_name="totp_credential")
    op.drop_table("totp_credential")
    with op.batch_alter_table("agency", schema=None) as batch_op:
        batch_op.drop_column("two_factor_clients_required")
        batch_op.drop_column("two_factor_staff_required")
    op.drop_index(op.f("ix_provider_binding_connection_id"), table_name="provider_binding")
    op.drop_index(op.f("ix_provider_binding_client_id"), table_name="provider_binding")
    op.drop_index(op.f("ix_provider_binding_agency_id"), table_name="provider_binding")
    op.drop_table("provider_binding")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_event_client_id_source_provider_event_id"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_event_provider_event_id"), ["provider_event_id"])
        batch_op.drop_column("source")
        batch_op.drop_column("channel")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.alter_column("address", new_column_name="email", existing_type=sa.String(length=254))
        batch_op.drop_column("retry_after")
        batch_op.drop_column("channel")
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_campaign_connection_id_connection"), type_="foreignkey")
        batch_op.drop_column("provider_lease_until")
        batch_op.drop_column("retry_at")
        batch_op.drop_column("backend_failures")
        batch_op.drop_column("provider_state")
        batch_op.drop_column("connection_id")
    with op.batch_alter_table("contact_import", schema=None) as batch_op:
        batch_op.drop_column("lease_until")
    with op.batch_alter_table("mailing_list", schema=None) as batch_op:
        batch_op.drop_column("sms_subscribed_count")
        batch_op.alter_column("email_subscribed_count", new_column_name="subscribed_count")
    with op.batch_alter_table("agency", schema=None) as batch_op:
        batch_op.drop_column("default_sms_connection_id")
        batch_op.drop_column("default_email_connection_id")
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_client_sms_connection_id_connection"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_client_email_connection_id_connection"), type_="foreignkey")
        batch_op.drop_column("sms_connection_id")
        batch_op.alter_column("email_connection_id", new_column_name="connection_id")
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_client_connection_id_connection"),
            "connection",
            ["connection_id"],
            ["id"],
            ondelete="SET NULL",
        )
