"""What a client has used of what its agency gave it, for the dashboard and the settings page. The email
figure is the quota check's own (portal/usage.py): what the client sees left is what a send may use."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from ..extensions import db
from ..models import AuditEvent, Client, Membership, User
from ..usage import emails_used_this_month


@dataclass(frozen=True)
class ClientOverview:
    users: int
    pending_invitations: int
    email_quota_month: int
    emails_used_month: int  # sent or waiting to be sent, by the campaigns started this month
    sms_credits: int
    settings_reviewed: bool

    @property
    def emails_left_month(self) -> int:
        return max(self.email_quota_month - self.emails_used_month, 0)

    @property
    def email_percent(self) -> int:
        if not self.email_quota_month:
            return 0
        return min(100, round(100 * self.emails_used_month / self.email_quota_month))


def client_overview(client: Client) -> ClientOverview:
    members = (
        select(User.password_hash)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.client_id == client.id)
        .subquery()
    )
    users = db.session.scalar(select(func.count()).select_from(members)) or 0
    pending = (
        db.session.scalar(select(func.count()).select_from(members).where(members.c.password_hash.is_(None)))
        or 0
    )
    reviewed = db.session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.client_id == client.id, AuditEvent.action == "client.settings_updated")
    )
    return ClientOverview(
        users=users,
        pending_invitations=pending,
        email_quota_month=client.email_quota_month,
        emails_used_month=emails_used_this_month(client),
        sms_credits=client.sms_credits,
        settings_reviewed=bool(reviewed),
    )
