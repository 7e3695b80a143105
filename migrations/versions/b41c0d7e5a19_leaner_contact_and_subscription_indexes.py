"""contact and subscription: fewer indexes to maintain per imported row

Every imported contact pays each index and foreign-key check once, so the high-volume tables keep only
the indexes some query uses:

- contact.agency_id and subscription.agency_id lose their own index (every query names the client);
- the contact phone uniqueness becomes a partial index (most contacts have no number);
- subscription's unique key leads with contact_id, so it also serves "this contact's subscriptions" and
  the separate contact_id index goes. ON CONFLICT (list_id, contact_id, channel) still finds it.

Revision ID: b41c0d7e5a19
Revises: 7216a6e0af94
Create Date: 2026-11-27 12:55:00

"""

import sqlalchemy as sa
from alembic import op

revision = "b41c0d7e5a19"
down_revision = "7216a6e0af94"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_agency_id")
        batch_op.drop_constraint("uq_contact_client_id_phone", type_="unique")
        batch_op.create_index(
            "uq_contact_client_phone",
            ["client_id", "phone"],
            unique=True,
            sqlite_where=sa.text("phone IS NOT NULL"),
            postgresql_where=sa.text("phone IS NOT NULL"),
        )
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.drop_index("ix_subscription_agency_id")
        batch_op.drop_index("ix_subscription_contact_id")
        batch_op.drop_constraint("uq_subscription_list_id_contact_id_channel", type_="unique")
        batch_op.create_unique_constraint(
            "uq_subscription_contact_id_list_id_channel", ["contact_id", "list_id", "channel"]
        )


def downgrade():
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.drop_constraint("uq_subscription_contact_id_list_id_channel", type_="unique")
        batch_op.create_unique_constraint(
            "uq_subscription_list_id_contact_id_channel", ["list_id", "contact_id", "channel"]
        )
        batch_op.create_index("ix_subscription_contact_id", ["contact_id"], unique=False)
        batch_op.create_index("ix_subscription_agency_id", ["agency_id"], unique=False)
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index("uq_contact_client_phone")
        batch_op.create_unique_constraint("uq_contact_client_id_phone", ["client_id", "phone"])
        batch_op.create_index("ix_contact_agency_id", ["agency_id"], unique=False)
