"""subscription forms, double opt-in confirmations, MailUp-compatible endpoint settings (issue 11)

Revision ID: f0a1b2c3d403
Revises: f0a1b2c3d402
Create Date: 2026-12-01 12:00:00

"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "f0a1b2c3d403"
down_revision = "f0a1b2c3d402"
branch_labels = None
depends_on = None


def _tenant_columns():
    return [
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
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


def upgrade():
    # Every list gets the GUID the compatible endpoints check (ListGuid); existing lists get one here.
    with op.batch_alter_table("mailing_list", schema=None) as batch_op:
        batch_op.add_column(sa.Column("guid", sa.String(length=36), nullable=True))
    conn = op.get_bind()
    for (list_id,) in conn.execute(sa.text("SELECT id FROM mailing_list")).all():
        conn.execute(
            sa.text("UPDATE mailing_list SET guid = :g WHERE id = :i"), {"g": str(uuid.uuid4()), "i": list_id}
        )
    with op.batch_alter_table("mailing_list", schema=None) as batch_op:
        batch_op.alter_column("guid", existing_type=sa.String(length=36), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_mailing_list_guid"), ["guid"])

    op.create_table(
        "subscribe_form",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_key", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("list_ids", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("double_opt_in", sa.Boolean(), nullable=False),
        sa.Column("consent_text", sa.Text(), nullable=False),
        sa.Column("success_message", sa.Text(), nullable=False),
        sa.Column("redirect_url", sa.String(length=500), nullable=False),
        sa.Column("allowed_origins", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        *_tenant_columns(),
        *_tenant_keys("subscribe_form"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscribe_form")),
        sa.UniqueConstraint("public_key", name=op.f("uq_subscribe_form_public_key")),
    )
    with op.batch_alter_table("subscribe_form", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscribe_form_agency_id"), ["agency_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_subscribe_form_client_id"), ["client_id"], unique=False)

    op.create_table(
        "subscribe_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("list_ids", sa.JSON(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=255), nullable=False),
        sa.Column("consent_text", sa.Text(), nullable=False),
        sa.Column("locale", sa.String(length=5), nullable=False),
        sa.Column("created_contact", sa.Boolean(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_ip", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        *_tenant_columns(),
        *_tenant_keys("subscribe_request"),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contact.id"],
            name=op.f("fk_subscribe_request_contact_id_contact"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["form_id"],
            ["subscribe_form.id"],
            name=op.f("fk_subscribe_request_form_id_subscribe_form"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscribe_request")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_subscribe_request_token_hash")),
    )
    with op.batch_alter_table("subscribe_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscribe_request_agency_id"), ["agency_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_subscribe_request_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_subscribe_request_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_subscribe_request_form_id"), ["form_id"], unique=False)
        batch_op.create_index("ix_subscribe_request_status_expires", ["status", "expires_at"], unique=False)

    op.create_table(
        "compat_access",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("allowed_ips", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        *_tenant_columns(),
        *_tenant_keys("compat_access"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compat_access")),
        sa.UniqueConstraint("client_id", name=op.f("uq_compat_access_client_id")),
    )
    with op.batch_alter_table("compat_access", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_compat_access_agency_id"), ["agency_id"], unique=False)


def downgrade():
    with op.batch_alter_table("compat_access", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_compat_access_agency_id"))
    op.drop_table("compat_access")
    with op.batch_alter_table("subscribe_request", schema=None) as batch_op:
        batch_op.drop_index("ix_subscribe_request_status_expires")
        batch_op.drop_index(batch_op.f("ix_subscribe_request_form_id"))
        batch_op.drop_index(batch_op.f("ix_subscribe_request_contact_id"))
        batch_op.drop_index(batch_op.f("ix_subscribe_request_client_id"))
        batch_op.drop_index(batch_op.f("ix_subscribe_request_agency_id"))
    op.drop_table("subscribe_request")
    with op.batch_alter_table("subscribe_form", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscribe_form_client_id"))
        batch_op.drop_index(batch_op.f("ix_subscribe_form_agency_id"))
    op.drop_table("subscribe_form")
    with op.batch_alter_table("mailing_list", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_mailing_list_guid"), type_="unique")
        batch_op.drop_column("guid")
