"""The consent rule (DESIGN.md §6) wherever an audience is computed: count, materialise, send-time re-check.

A marketing message goes only to a contact with a `subscribed` subscription on the channel to at least one
list the audience draws from — for a segment, to at least one list of the client — and not suppressed."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from portal.extensions import db
from portal.models import Campaign, Client, Contact, Delivery, MailingList, Segment, Subscription
from portal.models.audience import SUB_STATUSES
from portal.sending import control
from portal.sending.audience import count_audience
from portal.services import suppression as supp
from portal.tenancy import bind_tenant

from .sending_support import make_campaign
from .support import run_jobs

HAS_EMAIL = {"match": "all", "conditions": [{"type": "has_email"}]}


def _client(s):
    return db.session.scalar(select(Client).where(Client.id == s.client_id))


def _add_contact(s, email: str, subscriptions: dict[int, str]) -> int:
    contact = Contact(agency_id=s.agency_id, client_id=s.client_id, email=email, fields={})
    db.session.add(contact)
    db.session.flush()
    for list_id, status in subscriptions.items():
        db.session.add(
            Subscription(
                agency_id=s.agency_id,
                client_id=s.client_id,
                list_id=list_id,
                contact_id=contact.id,
                status=status,
            )
        )
    db.session.flush()
    return contact.id


def _start(s) -> None:
    campaign = db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
    control.start_send(actor=None, client=_client(s), campaign=campaign)
    db.session.commit()


def test_a_segment_reaches_only_subscribed_contacts(app, world, outbox):
    """The demo-data reproduction: unsubscribed-only and pending-only contacts matched the segment."""
    s = make_campaign(app, world, contacts=[("subscribed@example.org", "S")])
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        _add_contact(s, "left@example.org", {s.list_id: "unsubscribed"})
        _add_contact(s, "unconfirmed@example.org", {s.list_id: "pending"})
        _add_contact(s, "bounced@example.org", {s.list_id: "bounced"})
        _add_contact(s, "nolist@example.org", {})
        segment = Segment(agency_id=s.agency_id, client_id=s.client_id, name="Has email", rules=HAS_EMAIL)
        db.session.add(segment)
        db.session.flush()
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
        campaign.audience = {"segments": [segment.id]}
        db.session.commit()
        assert count_audience(_client(s), campaign.audience) == 1
        _start(s)
        assert db.session.scalars(select(Delivery.address)).all() == ["subscribed@example.org"]
    run_jobs(app)
    assert [str(m["To"]) for m in outbox.messages()] == ["subscribed@example.org"]


def test_segment_only_campaign_rechecks_consent_at_send_time(app, world, outbox):
    """Unsubscribed between the start and the hand-over: skipped, even with no list in the audience."""
    s = make_campaign(app, world, contacts=[("stays@example.org", "A"), ("leaves@example.org", "B")])
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        segment = Segment(agency_id=s.agency_id, client_id=s.client_id, name="Has email", rules=HAS_EMAIL)
        db.session.add(segment)
        db.session.flush()
        db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id)).audience = {
            "segments": [segment.id]
        }
        db.session.commit()
        _start(s)
        leaving = db.session.scalar(select(Contact.id).where(Contact.email == "leaves@example.org"))
        db.session.scalar(
            select(Subscription).where(Subscription.contact_id == leaving)
        ).status = "unsubscribed"
        db.session.commit()
    run_jobs(app)
    assert [str(m["To"]) for m in outbox.messages()] == ["stays@example.org"]
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        assert (
            db.session.scalar(select(Delivery.status).where(Delivery.address == "leaves@example.org"))
            == "skipped"
        )


# --- property: random contacts × subscription states × audience shapes ---------------------------------

STATES = st.sampled_from((None, *SUB_STATUSES))  # None: no subscription to that list
CONTACT = st.tuples(
    STATES, STATES, STATES, st.booleans(), st.booleans()
)  # lists A, B, C; suppressed; in segment


def _expected(contacts, audience, lists, segment_members) -> set[int]:
    """The rule, written out in Python over the generated data."""
    out = set()
    for i, (states, suppressed) in enumerate(contacts):
        subscribed = {lists[k] for k, state in enumerate(states) if state == "subscribed"}
        via_lists = bool(subscribed & set(audience.get("lists", [])))
        via_segment = bool(audience.get("segments")) and i in segment_members and bool(subscribed)
        excluded = bool(subscribed & set(audience.get("exclude_lists", []))) or (
            bool(audience.get("exclude_segments")) and i in segment_members
        )
        if (via_lists or via_segment) and not excluded and not suppressed:
            out.add(i)
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    contacts=st.lists(CONTACT, min_size=1, max_size=12),
    include=st.sets(st.sampled_from(("A", "B", "C", "segment")), min_size=1),
    exclude=st.sets(st.sampled_from(("A", "B", "C", "segment")), max_size=2),
)
def test_nobody_without_a_subscribed_subscription_gets_a_delivery(app, world, contacts, include, exclude):
    s = _property_world(app, world)
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        client = _client(s)
        lists = [s.list_id, *s.extra_lists]
        names = dict(zip("ABC", lists, strict=True))
        members, rows = set(), []
        for i, (a, b, c, suppressed, in_segment) in enumerate(contacts):
            email = f"p{i}@{'seg' if in_segment else 'other'}.example.org"
            subs = {names[k]: state for k, state in zip("ABC", (a, b, c), strict=True) if state is not None}
            _add_contact(s, email, subs)
            if suppressed:
                supp.add(
                    actor=None, client=client, channel="email", raw_address=email, reason="manual", source="t"
                )
            if in_segment:
                members.add(i)
            rows.append(((a, b, c), suppressed))
        audience = {
            "lists": [names[k] for k in include if k != "segment"],
            "segments": [s.segment_id] if "segment" in include else [],
            "exclude_lists": [names[k] for k in exclude if k != "segment"],
            "exclude_segments": [s.segment_id] if "segment" in exclude else [],
        }
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
        campaign.audience, campaign.status = audience, "draft"
        db.session.commit()
        expected = {
            f"p{i}@{'seg' if i in members else 'other'}.example.org"
            for i in _expected(rows, audience, lists, members)
        }
        assert count_audience(client, audience) == len(expected)
        if expected:
            _start(s)
            assert set(db.session.scalars(select(Delivery.address))) == expected
        _reset(s)


_WORLDS: dict[int, object] = {}


def _property_world(app, world):
    """One sender, campaign, three lists and a segment for every example of the property (built once)."""
    key = id(world)
    if key not in _WORLDS:
        s = make_campaign(app, world, contacts=[])
        with app.app_context(), bind_tenant(s.agency_id, s.client_id):
            extra = []
            for name in ("B", "C"):
                lst = MailingList(agency_id=s.agency_id, client_id=s.client_id, name=f"List {name}")
                db.session.add(lst)
                db.session.flush()
                extra.append(lst.id)
            rules = {
                "match": "all",
                "conditions": [{"type": "email_domain", "operator": "is", "value": "seg.example.org"}],
            }
            segment = Segment(agency_id=s.agency_id, client_id=s.client_id, name="Seg", rules=rules)
            db.session.add(segment)
            db.session.commit()
            s.extra_lists, s.segment_id = extra, segment.id
        _WORLDS[key] = s
    return _WORLDS[key]


def _reset(s) -> None:
    from portal.models import Suppression

    for model in (Delivery, Subscription, Suppression, Contact):
        db.session.execute(delete(model).where(model.client_id == s.client_id))
    db.session.commit()
