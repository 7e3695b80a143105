"""Mailing lists of a client: create, change, delete, and the per-status counts of the list page. The
subscribed counts per channel on each list are kept by portal/list_counts.py."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select

from ..extensions import db
from ..models import Client, MailingList, Subscription, User
from ..models.audience import SUB_STATUSES
from . import DomainError, NotFound
from .audit import record
from .i18n_safe import _


@dataclass(frozen=True)
class ListValues:
    name: str
    description: str = ""
    public_name: str = ""
    default_sender_name: str = ""
    default_sender_email: str = ""
    double_opt_in: bool = True
    email_enabled: bool = True
    sms_enabled: bool = False


def list_lists() -> list[MailingList]:
    """The bound client's lists (a client has tens of lists, not thousands)."""
    return list(db.session.scalars(select(MailingList).order_by(MailingList.name)))


def get_list(list_id: int) -> MailingList:
    lst = db.session.scalar(select(MailingList).where(MailingList.id == list_id))
    if lst is None:
        raise NotFound("list")
    return lst


def _check(client: Client, values: ListValues, current: MailingList | None = None) -> None:
    if not values.name.strip():
        raise DomainError(_("A list needs a name."))
    if not (values.email_enabled or values.sms_enabled):
        raise DomainError(_("Choose at least one channel: email or SMS."))
    clash = select(MailingList.id).where(
        MailingList.client_id == client.id, MailingList.name == values.name.strip()
    )
    if current is not None:
        clash = clash.where(MailingList.id != current.id)
    if db.session.scalar(clash) is not None:
        raise DomainError(_("A list named %(name)s exists already.", name=values.name.strip()))


def _apply(lst: MailingList, values: ListValues) -> None:
    lst.name = values.name.strip()
    lst.description = values.description.strip()
    lst.public_name = values.public_name.strip()
    lst.default_sender_name = values.default_sender_name.strip()
    lst.default_sender_email = values.default_sender_email.strip()
    lst.double_opt_in = values.double_opt_in
    lst.email_enabled = values.email_enabled
    lst.sms_enabled = values.sms_enabled


def create_list(*, actor: User | None, client: Client, values: ListValues) -> MailingList:
    _check(client, values)
    lst = MailingList(
        agency_id=client.agency_id, client_id=client.id, email_subscribed_count=0, sms_subscribed_count=0
    )
    _apply(lst, values)
    db.session.add(lst)
    db.session.flush()
    record("list.created", actor=actor, agency_id=client.agency_id, client_id=client.id, target=lst.name)
    return lst


def update_list(*, actor: User | None, client: Client, lst: MailingList, values: ListValues) -> MailingList:
    _check(client, values, current=lst)
    _apply(lst, values)
    db.session.flush()
    record("list.updated", actor=actor, agency_id=client.agency_id, client_id=client.id, target=lst.name)
    return lst


def delete_list(*, actor: User | None, client: Client, lst: MailingList) -> None:
    """Subscriptions go with the list, in one set-based statement (a list can hold millions).

    The list row goes first: an import into this list holds a lock on it until it commits, so the list
    delete waits for it, and the subscription delete that follows sees what the import added."""
    list_id, name = lst.id, lst.name
    db.session.delete(lst)
    db.session.flush()
    removed = db.session.execute(
        delete(Subscription).where(Subscription.client_id == client.id, Subscription.list_id == list_id)
    ).rowcount
    record(
        "list.deleted",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=name,
        subscriptions=removed,
    )


def status_counts(client: Client, lst: MailingList) -> dict[str, dict[str, int]]:
    """{channel: {status: n}} for every status (zeros included), grouped in SQL."""
    rows = db.session.execute(
        select(Subscription.channel, Subscription.status, func.count())
        .where(Subscription.client_id == client.id, Subscription.list_id == lst.id)
        .group_by(Subscription.channel, Subscription.status)
    ).all()
    channels = [c for c, on in (("email", lst.email_enabled), ("sms", lst.sms_enabled)) if on]
    channels += sorted({r[0] for r in rows} - set(channels))
    out = {c: dict.fromkeys(SUB_STATUSES, 0) for c in channels}
    for channel, status, n in rows:
        out[channel][status] = n
    return out
