"""services.suppression: the may_send matrix (client, agency, platform entries; other tenants' entries do
not apply; list subscription status), bulk add with per-line problems, removal rules, chart data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Client, Contact, MailingList, Subscription, Suppression, User
from portal.services import DomainError
from portal.services import suppression as supp
from portal.tenancy import all_tenants, bind_tenant


def _user(key_id: int) -> User:
    with all_tenants():
        return db.session.scalar(select(User).where(User.id == key_id))


def _client(cid: int) -> Client:
    return db.session.scalar(select(Client).where(Client.id == cid))


@pytest.fixture
def setup(app, world):
    """A1 with a list, a subscribed and an unsubscribed contact, and entries at every level."""
    ag1, ag2 = world.agency_ids["AG1"], world.agency_ids["AG2"]
    a1, a2, b1 = world.client_ids["A1"], world.client_ids["A2"], world.client_ids["B1"]
    with app.app_context():
        admin = _user(world.user_ids["admin"])
        with bind_tenant(ag1, a1):
            client = _client(a1)
            # Rows made directly here, so the kept count is set to match: one subscribed contact.
            lst = MailingList(agency_id=ag1, client_id=a1, name="News", email_subscribed_count=1)
            db.session.add(lst)
            db.session.flush()
            for email, status in (("sub@example.com", "subscribed"), ("unsub@example.com", "unsubscribed")):
                c = Contact(agency_id=ag1, client_id=a1, email=email)
                db.session.add(c)
                db.session.flush()
                db.session.add(
                    Subscription(
                        agency_id=ag1,
                        client_id=a1,
                        list_id=lst.id,
                        contact_id=c.id,
                        channel="email",
                        status=status,
                    )
                )
            supp.add(
                actor=None,
                client=client,
                channel="email",
                raw_address="client@example.com",
                reason="manual",
                source="t",
            )
            list_id = lst.id
            db.session.commit()
        with bind_tenant(ag1, a2):
            supp.add(
                actor=None,
                client=_client(a2),
                channel="email",
                raw_address="a2@example.com",
                reason="manual",
                source="t",
            )
            db.session.commit()
        with bind_tenant(ag2, b1):
            supp.add(
                actor=None,
                client=_client(b1),
                channel="email",
                raw_address="b1@example.com",
                reason="manual",
                source="t",
            )
            db.session.commit()
        supp.add_blocked(
            actor=admin, agency_id=ag1, channel="email", address="agency@example.com", reason="abuse"
        )
        supp.add_blocked(
            actor=admin, agency_id=ag2, channel="email", address="other-agency@example.com", reason="abuse"
        )
        supp.add_blocked(
            actor=admin, agency_id=None, channel="email", address="platform@example.com", reason="legal"
        )
        supp.add_blocked(actor=admin, agency_id=None, channel="sms", address="+393471234567", reason="legal")
        db.session.commit()
    return ag1, a1, list_id


@pytest.mark.parametrize(
    ("address", "expected_reason"),
    [
        ("client@example.com", "manual"),  # the client's own entry
        ("agency@example.com", "abuse"),  # its agency's entry
        ("platform@example.com", "legal"),  # a platform entry
        ("other-agency@example.com", None),  # another agency's entry must NOT apply
        ("a2@example.com", None),  # another client's entry (same agency) must NOT apply
        ("b1@example.com", None),  # another agency's client's entry must NOT apply
        ("free@example.com", None),
    ],
)
def test_may_send_matrix(app, setup, address, expected_reason):
    ag1, a1, _ = setup
    with app.app_context(), bind_tenant(ag1, a1):
        client = _client(a1)
        assert supp.suppression_reason(client, "email", address) == expected_reason
        assert supp.may_send(client, "email", address) is (expected_reason is None)


def test_may_send_with_a_list_needs_a_subscription(app, setup):
    ag1, a1, list_id = setup
    with app.app_context(), bind_tenant(ag1, a1):
        client = _client(a1)
        assert supp.may_send(client, "email", "sub@example.com", list_id)
        assert not supp.may_send(client, "email", "unsub@example.com", list_id)
        assert not supp.may_send(client, "email", "nobody@example.com", list_id)  # not on the list
        assert supp.may_send(client, "email", "nobody@example.com")  # no list asked: only suppression counts
        # Suppressing a subscribed contact unsubscribes it and refreshes the list count.
        supp.add(
            actor=None,
            client=client,
            channel="email",
            raw_address="SUB@example.com",
            reason="manual",
            source="t",
        )
        db.session.flush()
        assert not supp.may_send(client, "email", "sub@example.com", list_id)
        assert (
            db.session.scalar(select(MailingList.email_subscribed_count).where(MailingList.id == list_id))
            == 0
        )


def test_platform_sms_entry_applies_and_channels_are_separate(app, setup):
    ag1, a1, _ = setup
    with app.app_context(), bind_tenant(ag1, a1):
        client = _client(a1)
        assert not supp.may_send(client, "sms", "+393471234567")
        assert supp.may_send(client, "sms", "+393471234568")
        assert supp.may_send(client, "sms", "client@example.com")  # an email entry says nothing about SMS


def test_add_many_reports_every_line_not_added(app, setup, world):
    ag1, a1, list_id = setup
    lines = "\n".join(
        [
            "new1@example.com",  # 1 added
            "not-an-address",  # 2 invalid
            "",  # 3 blank: not an entry
            "NEW1@example.com",  # 4 repeat of line 1
            "client@example.com",  # 5 already on the list
            "  sub@example.com  ",  # 6 added (subscribed contact → unsubscribed)
            "a@b",  # 7 invalid
        ]
    )
    with app.app_context(), bind_tenant(ag1, a1):
        actor = _user(world.user_ids["A1.editor"])
        result = supp.add_many(
            actor=actor, client=_client(a1), channel="email", lines=lines, note="spring clean"
        )
        db.session.commit()
        assert result.added == 2 and result.already == 1
        assert [(p.line, p.value) for p in result.problems] == [
            (2, "not-an-address"),
            (4, "NEW1@example.com"),
            (5, "client@example.com"),
            (7, "a@b"),
        ]
        assert "line 1" in result.problems[1].message
        rows = {s.address: s for s in db.session.scalars(select(Suppression))}
        assert set(rows) == {"client@example.com", "new1@example.com", "sub@example.com"}
        assert rows["new1@example.com"].reason == "manual" and rows["new1@example.com"].note == "spring clean"
        assert rows["new1@example.com"].created_by_id == world.user_ids["A1.editor"]
        status = db.session.scalar(
            select(Subscription.status).join(Contact).where(Contact.email == "sub@example.com")
        )
        assert status == "unsubscribed"
        assert (
            db.session.scalar(select(MailingList.email_subscribed_count).where(MailingList.id == list_id))
            == 0
        )


def test_add_many_phone_numbers_use_the_client_region(app, setup, world):
    ag1, a1, _ = setup
    with app.app_context(), bind_tenant(ag1, a1):
        result = supp.add_many(
            actor=_user(world.user_ids["A1.admin"]),
            client=_client(a1),
            channel="sms",
            lines="347 123 4567\n0039 347 7654321\n12\n",
            reason="unsubscribe",
        )
        assert result.added == 2 and [p.line for p in result.problems] == [3]
        assert set(db.session.scalars(select(Suppression.address).where(Suppression.channel == "sms"))) == {
            "+393471234567",
            "+393477654321",
        }


def test_add_many_refuses_protected_reasons_and_too_many_lines(app, setup, world):
    ag1, a1, _ = setup
    with app.app_context(), bind_tenant(ag1, a1):
        actor = _user(world.user_ids["A1.admin"])
        with pytest.raises(DomainError):
            supp.add_many(
                actor=actor, client=_client(a1), channel="email", lines="x@example.com", reason="complaint"
            )
        with pytest.raises(DomainError, match="at most"):
            supp.add_many(
                actor=actor,
                client=_client(a1),
                channel="email",
                lines="x@example.com\n" * (supp.MAX_BULK_LINES + 1),
            )


def _entry(client, address, reason):
    return supp.add(
        actor=None, client=client, channel="email", raw_address=address, reason=reason, source="bounce"
    )


@pytest.mark.parametrize("reason", ["hard_bounce", "complaint"])
def test_protected_entries_need_agency_staff_and_a_reason(app, setup, world, reason):
    ag1, a1, _ = setup
    with app.app_context(), bind_tenant(ag1, a1):
        entry = _entry(_client(a1), "bounced@example.com", reason)
        db.session.flush()
        with pytest.raises(DomainError, match="Only your agency"):
            supp.remove(actor=_user(world.user_ids["A1.admin"]), entry=entry, reason_text="please")
        staff = _user(world.user_ids["AG1.staff"])
        with pytest.raises(DomainError, match="why"):
            supp.remove(actor=staff, entry=entry, reason_text="   ")
        supp.remove(actor=staff, entry=entry, reason_text="The mailbox exists again (ticket 42)")
        db.session.commit()
        assert (
            db.session.scalar(select(Suppression).where(Suppression.address == "bounced@example.com")) is None
        )
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "suppression.removed"))
        assert event.actor_id == world.user_ids["AG1.staff"] and event.client_id == a1
        assert event.details["why"] == "The mailbox exists again (ticket 42)"
        assert event.details["reason"] == reason


def test_ordinary_entries_removed_by_client_admins_only_and_nobody_resubscribed(app, setup, world):
    ag1, a1, list_id = setup
    with app.app_context(), bind_tenant(ag1, a1):
        client = _client(a1)
        entry = _entry(client, "sub@example.com", "unsubscribe")
        db.session.flush()
        with pytest.raises(DomainError):
            supp.remove(actor=_user(world.user_ids["A1.editor"]), entry=entry)
        supp.remove(actor=_user(world.user_ids["A1.admin"]), entry=entry)
        db.session.commit()
        assert supp.suppression_reason(client, "email", "sub@example.com") is None
        # Still unsubscribed from the list: removal does not resubscribe.
        assert not supp.may_send(client, "email", "sub@example.com", list_id)
        status = db.session.scalar(
            select(Subscription.status).join(Contact).where(Contact.email == "sub@example.com")
        )
        assert status == "unsubscribed"


def test_get_entry_of_another_client_is_not_found(app, setup, world):
    ag1, a1, _ = setup
    a2 = world.client_ids["A2"]
    with app.app_context():
        with bind_tenant(ag1, a2):
            other = db.session.scalar(select(Suppression.id))
        with bind_tenant(ag1, a1), pytest.raises(supp.NotFound):
            supp.get_entry(other, _client(a1))


def test_blocked_scopes_never_mix(app, setup, world):
    ag1 = setup[0]
    ag2 = world.agency_ids["AG2"]
    with app.app_context(), all_tenants():
        platform = supp.blocked_page(None, "", 1)
        assert {e.address for e in platform.items} == {"platform@example.com", "+393471234567"}
        assert {e.address for e in supp.blocked_page(ag1, "", 1).items} == {"agency@example.com"}
        assert {e.address for e in supp.blocked_page(ag2, "oth", 1).items} == {"other-agency@example.com"}
        agency_row = supp.blocked_page(ag1, "", 1).items[0]
        with pytest.raises(supp.NotFound):
            supp.get_blocked(None, agency_row.id)  # the platform scope never reaches agency rows
        with pytest.raises(supp.NotFound):
            supp.get_blocked(ag2, agency_row.id)
        with pytest.raises(DomainError, match="already blocked"):
            supp.add_blocked(
                actor=_user(world.user_ids["admin"]),
                agency_id=ag1,
                channel="email",
                address="Agency@Example.com",
                reason="abuse",
            )


def test_daily_counts_per_reason_fill_gaps(app, setup, world):
    ag1, a1, _ = setup
    today = datetime.now(UTC).date()
    with app.app_context(), bind_tenant(ag1, a1):
        client = _client(a1)
        for address, reason, days_ago in (
            ("h1@example.com", "hard_bounce", 0),
            ("h2@example.com", "hard_bounce", 0),
            ("u1@example.com", "unsubscribe", 2),
            ("old@example.com", "complaint", 40),
        ):
            e = _entry(client, address, reason)
            e.created_at = datetime.combine(
                today - timedelta(days=days_ago), datetime.min.time(), UTC
            ) + timedelta(hours=12)
        db.session.commit()
        data = supp.daily_counts(client, 30, today=today)
        assert len(data["days"]) == 30 and data["days"][-1] == today.isoformat()
        assert data["series"]["hard_bounce"][-1] == 2
        assert data["series"]["unsubscribe"][-3] == 1
        assert "complaint" not in data["series"]  # 40 days ago: outside the window
        assert data["series"]["manual"][-1] == 1  # the setup's entry, added today
        assert data["total"] == 4
        ninety = supp.daily_counts(client, 90, today=today)
        assert ninety["series"]["complaint"][-41] == 1 and ninety["total"] == 5
        assert supp.reason_counts(client) == {"hard_bounce": 2, "unsubscribe": 1, "complaint": 1, "manual": 1}


def test_filters(app, setup, world):
    ag1, a1, _ = setup
    with app.app_context(), bind_tenant(ag1, a1):
        client = _client(a1)
        _entry(client, "hb@example.com", "hard_bounce").created_at = datetime(2024, 3, 1, 10, tzinfo=UTC)
        _entry(client, "c_1@example.com", "complaint")
        db.session.commit()

        def addresses(**kw):
            return {e.address for e in supp.entry_page(client, supp.Filters(**kw), 1).items}

        assert addresses(q="HB") == {"hb@example.com"}
        assert addresses(q="c_") == {"c_1@example.com"}  # _ is literal, not a wildcard
        assert addresses(q="c%") == set()
        assert addresses(reason="complaint") == {"c_1@example.com"}
        assert addresses(channel="sms") == set()
        assert addresses(date_from=date(2024, 3, 1), date_to=date(2024, 3, 1)) == {"hb@example.com"}
        assert addresses(date_to=date(2024, 2, 29)) == set()
        page = supp.entry_page(client, supp.Filters(), 1, per_page=2)
        assert page.total == 3 and page.pages == 2 and len(page.items) == 2
