"""Subscribed counts per list and channel, kept by the statements that change subscriptions
(portal/list_counts.py): a contact on both channels counts once in each; a suppression entry moves only
the lists its address is on; after any sequence of subscribes, unsubscribes, suppressions, deletions,
preference-page changes and imports the kept counts equal a fresh COUNT."""

from __future__ import annotations

import io
import itertools
import re

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from portal.extensions import db
from portal.models import (
    Agency,
    Campaign,
    Client,
    Contact,
    Delivery,
    MailingList,
    Subscription,
    Suppression,
    User,
)
from portal.services import DomainError, clients, contacts, events
from portal.services import imports as import_svc
from portal.services import suppression as supp
from portal.services.fields import list_fields
from portal.services.lists import ListValues, create_list
from portal.tenancy import all_tenants, bind_tenant

from .support import client_for, run_jobs
from .test_transfers_imports import import_id_from, start, upload


def _kept(list_ids) -> dict[int, tuple[int, int]]:
    rows = db.session.execute(
        select(MailingList.id, MailingList.email_subscribed_count, MailingList.sms_subscribed_count).where(
            MailingList.id.in_(list_ids)
        )
    )
    return {list_id: (e, s) for list_id, e, s in rows}


def _fresh(list_ids) -> dict[int, tuple[int, int]]:
    counted = dict(
        ((list_id, channel), n)
        for list_id, channel, n in db.session.execute(
            select(Subscription.list_id, Subscription.channel, func.count())
            .where(Subscription.list_id.in_(list_ids), Subscription.status == "subscribed")
            .group_by(Subscription.list_id, Subscription.channel)
        )
    )
    return {i: (counted.get((i, "email"), 0), counted.get((i, "sms"), 0)) for i in list_ids}


def _a1(world):
    return world.agency_ids["AG1"], world.client_ids["A1"]


def _client(cid: int) -> Client:
    return db.session.scalar(select(Client).where(Client.id == cid))


def _list(client: Client, name: str, *, email: bool = True, sms: bool = False) -> MailingList:
    return create_list(
        actor=None,
        client=client,
        values=ListValues(name=name, double_opt_in=False, email_enabled=email, sms_enabled=sms),
    )


def _contact(client: Client, email: str | None, phone: str | None) -> Contact:
    c = Contact(agency_id=client.agency_id, client_id=client.id, email=email, phone=phone, fields={})
    db.session.add(c)
    db.session.flush()
    return c


def _cells(html: str, list_id: int) -> tuple[str, str]:
    row = re.search(rf'href="/app/lists/{list_id}">.*?</tr>', html, re.S).group(0)
    cells = [
        re.sub(r"<[^>]+>", "", re.search(rf'data-testid="subscribed-{ch}">(.*?)</td>', row, re.S).group(1))
        for ch in ("email", "sms")
    ]
    return cells[0].strip(), cells[1].strip()


def test_a_contact_on_both_channels_counts_once_in_each(app, world):
    ag, cid = _a1(world)
    with app.app_context(), bind_tenant(ag, cid):
        client = _client(cid)
        both, email_only = _list(client, "Both", sms=True), _list(client, "Email only")
        anna = _contact(client, "anna@example.com", "+393471110001")
        contacts.subscribe(actor=None, client=client, contact=anna, list_ids=[both.id, email_only.id])
        db.session.commit()
        ids = (both.id, email_only.id)
        assert _kept(ids) == {both.id: (1, 1), email_only.id: (1, 0)}
    # An import into the two-channel list: per channel, counted once (Anna is there already).
    admin = client_for(app, world, "A1.admin")
    rows = "email,phone\r\nanna@example.com,+393471110001\r\nbruno@example.com,+393471110002\r\ncarla@example.com,\r\n,+393471110004\r\n"
    import_id = import_id_from(upload(admin, rows.encode()))
    start(admin, import_id, [both.id])
    run_jobs(app)
    with app.app_context(), bind_tenant(ag, cid):
        assert _kept(ids) == _fresh(ids) == {both.id: (3, 3), email_only.id: (1, 0)}
    page = admin.get("/app/lists").get_data(as_text=True)
    assert "Subscribed by email" in page and "Subscribed by SMS" in page
    assert _cells(page, both.id) == ("3", "3")
    assert _cells(page, email_only.id) == ("1", "—")  # no SMS on this list
    detail = admin.get(f"/app/lists/{both.id}").get_data(as_text=True)
    assert re.search(r'data-testid="subscribed-email">3<', detail)
    assert re.search(r'data-testid="subscribed-sms">3<', detail)
    detail = admin.get(f"/app/lists/{email_only.id}").get_data(as_text=True)
    assert re.search(r'data-testid="subscribed-email">1<', detail) and "subscribed-sms" not in detail


def test_a_suppression_moves_only_the_lists_the_address_is_on(app, world):
    ag, cid = _a1(world)
    with app.app_context(), bind_tenant(ag, cid):
        client = _client(cid)
        news, promo, other = _list(client, "News"), _list(client, "Promo", sms=True), _list(client, "Other")
        anna = _contact(client, "anna@example.com", "+393471110001")
        bruno = _contact(client, "bruno@example.com", None)
        contacts.subscribe(actor=None, client=client, contact=anna, list_ids=[news.id, promo.id])
        contacts.subscribe(actor=None, client=client, contact=bruno, list_ids=[promo.id, other.id])
        # A value no recount would keep: if anything recounted Other, it would come back as 1.
        db.session.execute(
            update(MailingList).where(MailingList.id == other.id).values(email_subscribed_count=42)
        )
        db.session.commit()
        ids = (news.id, promo.id, other.id)

        supp.add(
            actor=None,
            client=client,
            channel="email",
            raw_address="Anna@Example.com",
            reason="manual",
            source="t",
        )
        db.session.commit()
        assert _kept([other.id]) == {other.id: (42, 0)}  # Anna is not on Other: not touched, not recounted
        assert _kept(ids) == {news.id: (0, 0), promo.id: (1, 1), other.id: (42, 0)}
        supp.add(
            actor=None,
            client=client,
            channel="sms",
            raw_address="+39 347 111 0001",
            reason="manual",
            source="t",
        )
        db.session.commit()
        assert _kept(ids) == {news.id: (0, 0), promo.id: (1, 0), other.id: (42, 0)}

        # Lifting an entry resubscribes nobody, so no count moves.
        with all_tenants():
            owner = db.session.get(User, world.user_ids["AG1.owner"])
        for entry in list(db.session.scalars(select(Suppression))):
            supp.remove(actor=owner, entry=entry, reason_text="test")
        db.session.commit()
        assert _kept(ids) == {news.id: (0, 0), promo.id: (1, 0), other.id: (42, 0)}
        # A bulk add counts like single adds.
        supp.add_many(
            actor=owner, client=client, channel="email", lines="bruno@example.com\nnobody@example.com"
        )
        db.session.commit()
        assert _kept(ids) == {news.id: (0, 0), promo.id: (0, 0), other.id: (41, 0)}


# --- the property: kept counts equal a fresh COUNT after any sequence of operations ---------------------

PEOPLE = [
    ("p0@example.org", "+393470000000"),
    ("p1@example.org", None),
    (None, "+393470000002"),
    ("p3@example.org", "+393470000003"),
]
LISTS = [("Email", True, False), ("Both", True, True), ("Text", False, True)]
CHANNELS = ("email", "sms")
REASONS = ("manual", "unsubscribe", "hard_bounce", "complaint")
PERSON, LIST = st.integers(0, len(PEOPLE) - 1), st.integers(0, len(LISTS) - 1)
# The kind first, uniformly, then its arguments (st.one_of would favour the kinds with more to draw).
ARGUMENTS = {
    "subscribe": st.tuples(PERSON, st.sets(LIST, min_size=1, max_size=2)),
    "unsubscribe": st.tuples(PERSON, LIST, st.sampled_from(CHANNELS)),
    "suppress": st.tuples(PERSON, st.sampled_from(CHANNELS), st.sampled_from(REASONS)),
    "lift": st.tuples(PERSON, st.sampled_from(CHANNELS)),
    "delete": st.tuples(PERSON),
    "leave_list": st.tuples(PERSON, LIST),  # the preference page, as the recipient
    "rejoin_list": st.tuples(PERSON, LIST),
    "one_click": st.tuples(PERSON),  # RFC 8058 unsubscribe from the campaign's lists
    "forget_me": st.tuples(PERSON),  # "no more mail from this sender"
    "import": st.tuples(
        st.sets(PERSON, min_size=1),
        st.sets(LIST, min_size=1),
        st.sampled_from(("subscribed", "unsubscribed", "pending")),
    ),
}
OPERATION = st.sampled_from(sorted(ARGUMENTS)).flatmap(
    lambda kind: ARGUMENTS[kind].map(lambda args: (kind, *args))
)
_NUMBERS = itertools.count(1)


class Sandbox:
    """A fresh client per example, with the three lists and a campaign whose deliveries the preference-page
    operations act on."""

    def __init__(self, world) -> None:
        ag = world.agency_ids["AG1"]
        with all_tenants():
            self.owner = db.session.get(User, world.user_ids["AG1.owner"])
            agency = db.session.get(Agency, ag)
        with bind_tenant(ag):
            made = clients.create_client(
                actor=self.owner,
                agency=agency,
                name=f"Counts {next(_NUMBERS)}",
                email_quota_month=10,
                sms_credits=0,
            )
            db.session.commit()
        self.ag, self.cid = ag, made.id
        self.tenant = bind_tenant(ag, made.id)
        self.tenant.__enter__()
        client = self.client
        self.list_ids = [_list(client, name, email=e, sms=s).id for name, e, s in LISTS]
        campaign = Campaign(
            agency_id=ag, client_id=self.cid, name="C", status="sent", audience={"lists": self.list_ids}
        )
        db.session.add(campaign)
        db.session.commit()
        self.campaign_id = campaign.id

    def close(self) -> None:
        db.session.rollback()
        self.tenant.__exit__(None, None, None)

    @property
    def client(self) -> Client:
        return _client(self.cid)

    def contact(self, person: int, create: bool = False) -> Contact | None:
        email, phone = PEOPLE[person]
        found = db.session.scalar(
            select(Contact).where(Contact.email == email if email else Contact.phone == phone)
        )
        if found is None and create:
            found = _contact(self.client, email, phone)
        return found

    def delivery(self, person: int) -> Delivery | None:
        c = self.contact(person)
        if c is None or not c.email:
            return None
        d = db.session.scalar(
            select(Delivery).where(Delivery.campaign_id == self.campaign_id, Delivery.contact_id == c.id)
        )
        if d is None:
            d = Delivery(
                agency_id=self.ag,
                client_id=self.cid,
                campaign_id=self.campaign_id,
                contact_id=c.id,
                address=c.email,
                status="sent",
            )
            db.session.add(d)
            db.session.flush()
        return d

    def run(self, op: tuple) -> None:
        kind, *args = op
        client = self.client
        if kind == "subscribe":
            person, lists = args
            contact = self.contact(person, create=True)
            contacts.subscribe(
                actor=None, client=client, contact=contact, list_ids=[self.list_ids[i] for i in lists]
            )
        elif kind == "unsubscribe":
            person, index, channel = args
            contact = self.contact(person)
            sub = contact and db.session.scalar(
                select(Subscription).where(
                    Subscription.contact_id == contact.id,
                    Subscription.list_id == self.list_ids[index],
                    Subscription.channel == channel,
                )
            )
            if sub is not None:
                contacts.unsubscribe(actor=None, client=client, contact=contact, subscription_id=sub.id)
        elif kind == "suppress":
            person, channel, reason = args
            address = PEOPLE[person][0 if channel == "email" else 1]
            if address:
                supp.add(
                    actor=None, client=client, channel=channel, raw_address=address, reason=reason, source="t"
                )
        elif kind == "lift":
            person, channel = args
            address = PEOPLE[person][0 if channel == "email" else 1]
            entry = address and db.session.scalar(
                select(Suppression).where(Suppression.channel == channel, Suppression.address == address)
            )
            if entry:
                supp.remove(actor=self.owner, entry=entry, reason_text="test")
        elif kind == "delete":
            contact = self.contact(args[0])
            if contact is not None:
                contacts.delete_contact(actor=None, client=client, contact=contact)
        elif kind in ("leave_list", "rejoin_list"):
            person, index = args
            delivery = self.delivery(person)
            if delivery is not None:
                act = events.unsubscribe_list if kind == "leave_list" else events.resubscribe_list
                try:
                    act(delivery, self.list_ids[index])
                except DomainError:  # no subscription to that list, or suppressed by a bounce
                    db.session.rollback()
        elif kind in ("one_click", "forget_me"):
            delivery = self.delivery(args[0])
            if delivery is not None:
                (events.apply_unsubscribe if kind == "one_click" else events.unsubscribe_everything)(delivery)
        elif kind == "import":
            self.import_people(*args)

    def import_people(self, people, lists, status) -> None:
        text = "email,phone\r\n" + "".join(
            f"{e or ''},{p or ''}\r\n" for e, p in (PEOPLE[i] for i in sorted(people))
        )
        client = self.client
        imp = import_svc.create_import(
            actor=None, client=client, stream=io.BytesIO(text.encode()), filename="p.csv"
        )
        run = import_svc.start_import(
            actor=None,
            client=client,
            imp=imp,
            mapping=import_svc.suggest_mapping(imp.columns, list_fields()),
            list_ids=[self.list_ids[i] for i in lists],
            status=status,
            enqueue=False,
        )
        db.session.commit()
        import_svc.run_import(imp.id, run.id)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(OPERATION, min_size=1, max_size=12))
def test_kept_counts_equal_a_fresh_count_after_any_sequence(app, world, operations):
    with app.app_context():
        box = Sandbox(world)
        try:
            for op in operations:
                try:
                    box.run(op)
                except DomainError:  # refused as a whole (a suppressed address, no address for a channel)
                    db.session.rollback()
                    event(f"{op[0]} refused")
                else:
                    db.session.commit()
                    event(op[0])
                assert _kept(box.list_ids) == _fresh(box.list_ids), op
        finally:
            box.close()
