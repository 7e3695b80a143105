"""adopting an existing provider account: the adoption, the recipients read so far, group memberships

Revision ID: f0a1b2c3d405
Revises: f0a1b2c3d404
Create Date: 2026-12-01 12:00:00

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "f0a1b2c3d405"
down_revision = "f0a1b2c3d404"
branch_labels = None
depends_on = None


def upgrade():
    upgrade_adoption()


def downgrade():
    downgrade_adoption()


# --- issue 13: the adoption, the recipients read so far and their group memberships ----------------------


def upgrade_adoption():
    op.create_table(
        "adoption",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("job_run_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("preview", sa.JSON(), nullable=False),
        sa.Column("cursor", sa.JSON(), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_adoption_agency_id_agency"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["client.id"], name=op.f("fk_adoption_client_id_client"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connection.id"],
            name=op.f("fk_adoption_connection_id_connection"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_run_id"], ["job_run.id"], name=op.f("fk_adoption_job_run_id_job_run"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user.id"], name=op.f("fk_adoption_created_by_id_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adoption")),
    )
    op.create_index(op.f("ix_adoption_agency_id"), "adoption", ["agency_id"], unique=False)
    op.create_index(op.f("ix_adoption_client_id"), "adoption", ["client_id"], unique=False)
    op.create_index(op.f("ix_adoption_connection_id"), "adoption", ["connection_id"], unique=False)
    op.create_table(
        "adoption_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("adoption_id", sa.Integer(), nullable=False),
        sa.Column("remote_list_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("remote_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("fields", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consent_ip", sa.String(length=64), nullable=True),
        sa.Column("optout_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("optout_type", sa.Integer(), nullable=True),
        sa.Column("optout_subtype", sa.Integer(), nullable=True),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["adoption_id"],
            ["adoption.id"],
            name=op.f("fk_adoption_record_adoption_id_adoption"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adoption_record")),
        sa.UniqueConstraint(
            "adoption_id",
            "remote_list_id",
            "channel",
            "remote_id",
            name=op.f("uq_adoption_record_adoption_id_remote_list_id_channel_remote_id"),
        ),
    )
    op.create_table(
        "adoption_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("adoption_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("remote_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["adoption_id"],
            ["adoption.id"],
            name=op.f("fk_adoption_member_adoption_id_adoption"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adoption_member")),
        sa.UniqueConstraint(
            "adoption_id",
            "group_id",
            "remote_id",
            name=op.f("uq_adoption_member_adoption_id_group_id_remote_id"),
        ),
    )


def downgrade_adoption():
    op.drop_table("adoption_member")
    op.drop_table("adoption_record")
    op.drop_index(op.f("ix_adoption_connection_id"), table_name="adoption")
    op.drop_index(op.f("ix_adoption_client_id"), table_name="adoption")
    op.drop_index(op.f("ix_adoption_agency_id"), table_name="adoption")
    op.drop_table("adoption")
