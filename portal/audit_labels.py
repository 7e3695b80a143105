"""Human labels for audit actions, shared by the client and agency activity pages and the admin audit log.

Every action passed to `services.audit.record` in portal/ needs an entry here (tests/test_audit_labels.py checks).
An action without a label (an old row, a test event) shows its raw name.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# Statuses an import can finish with; `services.imports._finish` records them as f"import.{status}".
IMPORT_FINISH_STATUSES = ("done", "failed", "cancelled")

ACTION_LABELS = {
    # Sign-in and credentials
    "login.succeeded": _l("Signed in"),
    "login.failed": _l("Failed sign-in"),
    "logout": _l("Signed out"),
    "credentials.password_changed": _l("Password changed"),
    "credentials.reset_requested": _l("Password reset requested"),
    "two_factor.enabled": _l("Two-factor sign-in turned on"),
    "two_factor.disabled": _l("Two-factor sign-in turned off"),
    "two_factor.reset": _l("Two-factor sign-in reset"),
    "two_factor.recovery_code_used": _l("Recovery code used"),
    "two_factor.recovery_codes_renewed": _l("Recovery codes replaced"),
    "two_factor.failed": _l("Wrong two-factor code"),
    # People
    "user.created": _l("User added"),
    "user.invited": _l("Invitation sent"),
    "user.role_changed": _l("Role changed"),
    "user.activated": _l("User reactivated"),
    "user.deactivated": _l("User deactivated"),
    "platform_admin.created": _l("Platform administrator added"),
    "platform_admin.activated": _l("Platform administrator reactivated"),
    "platform_admin.deactivated": _l("Platform administrator deactivated"),
    # Agencies, domains, branding, connections
    "agency.created": _l("Agency created"),
    "agency.updated": _l("Agency changed"),
    "agency.suspended": _l("Agency suspended"),
    "agency.reactivated": _l("Agency reactivated"),
    "agency.two_factor_changed": _l("Two-factor sign-in requirements changed"),
    "branding.updated": _l("Branding changed"),
    "domain.added": _l("Domain added"),
    "domain.canonical": _l("Main domain changed"),
    "domain.removed": _l("Domain removed"),
    "domain.verified": _l("Domain verified"),
    "connection.created": _l("Delivery connection added"),
    "connection.updated": _l("Delivery connection changed"),
    "connection.deleted": _l("Delivery connection removed"),
    "connection.tested": _l("Delivery connection tested"),
    "connection.default_changed": _l("Default delivery connection changed"),
    # Client accounts
    "client.created": _l("Client created"),
    "client.updated": _l("Client changed by the agency"),
    "client.connection_changed": _l("Client delivery connection changed"),
    "client.suspended": _l("Client suspended"),
    "client.reactivated": _l("Client reactivated"),
    "client.settings_updated": _l("Settings saved"),
    "client.act_as": _l("Agency started working inside the client"),
    "client.act_as_stopped": _l("Agency left the client"),
    "activity.exported": _l("Activity log exported"),
    "export.started": _l("Export started"),
    # Audience
    "list.created": _l("List created"),
    "list.updated": _l("List changed"),
    "list.deleted": _l("List deleted"),
    "contact.created": _l("Contact added"),
    "contact.updated": _l("Contact changed"),
    "contact.unsubscribed": _l("Contact unsubscribed"),
    "contact.deleted": _l("Contact deleted"),
    "form.created": _l("Subscription form created"),
    "form.updated": _l("Subscription form changed"),
    "form.deleted": _l("Subscription form deleted"),
    "subscribe_endpoints.changed": _l("Plugin subscribe endpoints changed"),
    "field.created": _l("Field added"),
    "field.deleted": _l("Field deleted"),
    "segment.created": _l("Segment created"),
    "segment.updated": _l("Segment changed"),
    "segment.deleted": _l("Segment deleted"),
    "import.uploaded": _l("Import file uploaded"),
    "import.started": _l("Import started"),
    "import.done": _l("Import finished"),
    "import.failed": _l("Import failed"),
    "import.cancelled": _l("Import cancelled"),
    "batch_source.created": _l("File source added"),
    "batch_source.updated": _l("File source changed"),
    "batch_source.deleted": _l("File source deleted"),
    "batch_source.key_pinned": _l("File server key pinned"),
    "batch_run.started": _l("File source run started"),
    # Import from a previous provider account (portal/adoption)
    "adoption.started": _l("Import from the previous provider account started"),
    "adoption.finished": _l("Import from the previous provider account finished"),
    # Suppression
    "suppression.added": _l("Added to the suppression list"),
    "suppression.removed": _l("Removed from the suppression list"),
    "suppression.blocked": _l("Address blocked"),
    "suppression.unblocked": _l("Address unblocked"),
    # Campaigns and senders
    "campaign.created": _l("Campaign created"),
    "campaign.saved": _l("Campaign saved"),
    "campaign.duplicated": _l("Campaign duplicated"),
    "campaign.deleted": _l("Campaign deleted"),
    "campaign.test_sent": _l("Test message sent"),
    "campaign.started": _l("Campaign sending started"),
    "sms.credits_granted": _l("SMS credits granted to the agency"),
    "sms.credits_allocated": _l("SMS credits given to a client"),
    "sms.credits_revoked": _l("SMS credits taken back from a client"),
    "sms.sender_requested": _l("SMS sender id requested"),
    "sms.sender_approved": _l("SMS sender id approved"),
    "sms.sender_rejected": _l("SMS sender id rejected"),
    "sms.quiet_hours_changed": _l("SMS quiet hours changed"),
    "campaign.scheduled": _l("Campaign scheduled"),
    "campaign.unscheduled": _l("Campaign schedule cancelled"),
    "campaign.paused": _l("Campaign paused"),
    "campaign.resumed": _l("Campaign resumed"),
    "campaign.cancelled": _l("Campaign cancelled"),
    "image.uploaded": _l("Image uploaded"),
    "image.deleted": _l("Image deleted"),
    "sender.added": _l("Sender added"),
    "sender.removed": _l("Sender removed"),
    "sender_domain.added": _l("Sender domain added"),
    "sender_domain.verified": _l("Sender domain verified"),
    # Deliverability
    "deliverability.alert": _l("Deliverability alert"),
    "reputation.campaigns_paused": _l("Campaigns paused for high complaint rate"),
    # Platform operations
    "job.retried": _l("Background job retried"),
    "job.cancelled": _l("Background job cancelled"),
    "security.job_tenant_mismatch": _l("Job refused: its ids belong to another tenant"),
    "security.secret_unreadable": _l("A stored secret cannot be read with the configured keys"),
    "security.keys_rotated": _l("Stored secrets re-encrypted with the newest key"),
    # Web services (REST API keys, webhooks)
    "api_key.created": _l("API key created"),
    "api_key.revoked": _l("API key revoked"),
    "api_key.new_ip": _l("API key used from a new address"),
    "webhook.created": _l("Webhook endpoint added"),
    "webhook.deleted": _l("Webhook endpoint deleted"),
    "webhook.enabled": _l("Webhook endpoint turned on"),
    "webhook.disabled": _l("Webhook endpoint turned off"),
    "webhook.secret_rotated": _l("Webhook secret rotated"),
    "webhook.blocked": _l("Webhook request blocked by the outbound guard"),
}


def action_label(action: str) -> str:
    """The translated label of an audit action, or the action itself when it has none."""
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action
