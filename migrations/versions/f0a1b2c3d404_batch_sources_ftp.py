"""nightly batch sources over FTP/FTPS/SFTP and their runs (issue 11)

Revision ID: f0a1b2c3d404
Revises: f0a1b2c3d403
Create Date: 2026-12-01 12:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "f0a1b2c3d404"
down_revision = "f0a1b2c3d403"
branch_labels = None
depends_on = None


def _tenant_columns(table: str) -> list:
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
    op.create_index(op.f(f"ix_{table}_agency_id"), table, ["agency_id"], unique=False)
    op.create_index(op.f(f"ix_{table}_client_id"), table, ["client_id"], unique=False)


def upgrade():
    op.create_table(
        "batch_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("protocol", sa.String(length=8), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=120), nullable=False),
        sa.Column("secrets_encrypted", sa.Text(), nullable=False),
        sa.Column("server_key", sa.Text(), nullable=False),
        sa.Column("remote_dir", sa.String(length=255), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("schedule", sa.String(length=16), nullable=False),
        sa.Column("run_at", sa.String(length=5), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("notify_admins", sa.Boolean(), nullable=False),
        sa.Column("lock_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        *_tenant_columns("batch_source"),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["mailing_list.id"],
            name=op.f("fk_batch_source_list_id_mailing_list"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_source")),
        sa.UniqueConstraint("client_id", "name", name=op.f("uq_batch_source_client_id_name")),
    )
    _tenant_indexes("batch_source")
    op.create_index(op.f("ix_batch_source_next_run_at"), "batch_source", ["next_run_at"], unique=False)

    op.create_table(
        "batch_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("job_run_id", sa.Integer(), nullable=True),
        sa.Column("files_seen", sa.Integer(), nullable=False),
        sa.Column("files_done", sa.Integer(), nullable=False),
        sa.Column("files_failed", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        *_tenant_columns("batch_run"),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["batch_source.id"],
            name=op.f("fk_batch_run_source_id_batch_source"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_run_id"], ["job_run.id"], name=op.f("fk_batch_run_job_run_id_job_run"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user.id"], name=op.f("fk_batch_run_created_by_id_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_run")),
    )
    _tenant_indexes("batch_run")
    op.create_index(op.f("ix_batch_run_source_id"), "batch_run", ["source_id"], unique=False)

    op.create_table(
        "batch_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("moved_to", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        *_tenant_columns("batch_file"),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["batch_source.id"],
            name=op.f("fk_batch_file_source_id_batch_source"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["batch_run.id"], name=op.f("fk_batch_file_run_id_batch_run"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["contact_import.id"],
            name=op.f("fk_batch_file_import_id_contact_import"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
            name=op.f("fk_batch_file_campaign_id_campaign"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_file")),
    )
    _tenant_indexes("batch_file")
    op.create_index(op.f("ix_batch_file_run_id"), "batch_file", ["run_id"], unique=False)
    op.create_index(
        "ix_batch_file_source_id_name_sha256", "batch_file", ["source_id", "name", "sha256"], unique=False
    )


def downgrade():
    op.drop_table("batch_file")
    op.drop_table("batch_run")
    op.drop_table("batch_source")
