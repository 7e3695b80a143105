"""The MailUp client's typed calls against the emulator over real HTTP: paging (0-based, the harmless
extra empty page, filterby / orderby), bare integers and empty bodies, exact key casing on the wire,
and the calls the portal's MailUp backend makes from binding a client to pulling statistics back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portal.backends.mailup import EmailDraft, NewList, Recipient
from portal.backends.mailup.frontend import NOT_SUBSCRIBED, SUBSCRIBED
from portal.backends.mailup.paging import contains, equals
from portal.backends.mailup.records import ImportStatus

from .test_mailup_client_support import (  # noqa: F401 (fixtures)
    ACCOUNT,
    RecordingSleep,
    emulator_fixture,
    key_fixture,
    make_client,
    redis_fixture,
)


@pytest.fixture
def setup(emulator, redis, key):
    url, handle = emulator
    client, session = make_client(url, redis, key=key)
    return client, session, handle.state, handle.state.account(ACCOUNT.username)


def _pages(session) -> list[int]:
    return [int(e.query["pageNumber"]) for e in session.api() if "pageNumber" in e.query]


def test_paging_reads_every_page_and_no_more(setup):
    client, session, state, account = setup
    for i in range(45):
        state.create_group(account, 1, f"group-{i:02d}")

    groups = list(client.items("console", "/Console/List/1/Groups", page_size=20))

    assert [g["Name"] for g in groups] == [f"group-{i:02d}" for i in range(45)]
    assert _pages(session) == [0, 1, 2]  # 0-based; the short last page ends it (TotalElementsCount)
    assert all(e.query["pageSize"] == "20" for e in session.api())

    session.log.clear()
    for i in range(45, 60):
        state.create_group(account, 1, f"group-{i:02d}")
    assert len(client.groups(1, orderby="Name asc")) == 60
    assert _pages(session) == [0]  # 60 fit one page of 100 (the client's default size)


def test_an_extra_empty_page_is_harmless(setup):
    client, session, state, account = setup
    groups = [state.create_group(account, 1, f"g{i}") for i in range(25)]

    pages = client.pages("console", "/Console/List/1/Groups", page_size=20)
    first = next(pages)
    for g in groups[:10]:  # deleted while we read: page 1 is now past the end
        del account.groups[g.id]
    rest = list(pages)

    assert len(first.items) == 20 and rest == []
    assert _pages(session) == [0, 1]
    # Resuming at a page past the end (a stored pull cursor) is an empty walk, not an error.
    assert list(client.pages("console", "/Console/List/1/Groups", page_size=20, start=5)) == []


def test_filterby_and_orderby_as_documented(setup):
    client, session, state, account = setup
    for name in ("camp-1", "camp-2", "camp-10", "other-1", "O'Brien"):
        state.create_group(account, 1, name)

    found = client.groups(1, filterby=contains("Name", "camp-1"), orderby="Name desc")
    quoted = client.groups(1, filterby=equals("Name", "O'Brien"))

    assert [g.name for g in found] == ["camp-10", "camp-1"]
    assert [g.name for g in quoted] == ["O'Brien"]
    sent = session.api()[0].query
    assert sent["filterby"] == "\"Name.Contains('camp-1')\"" and sent["orderby"] == '"Name desc"'
    assert session.api()[1].query["filterby"] == "\"Name=='O''Brien'\""
    assert client.find_group(1, "camp-2").name == "camp-2" and client.find_group(1, "nope") is None


def test_bare_integers_and_empty_bodies(setup):
    client, session, state, account = setup
    rid = client.subscribe(Recipient("ann@example.com", "Ann", fields={1: "Ann"}), list_id=1)
    group = client.create_group(1, "to delete")

    assert isinstance(rid, int) and rid == account.by_email["ann@example.com"]
    assert session.api()[0].status == 200
    assert client.delete_group(1, group.id) is None  # an empty 200 body
    delete = session.api()[-1]
    assert delete.method == "DELETE" and delete.status == 200
    assert group.id not in account.groups


def test_request_bodies_use_the_exact_key_casing(setup):
    client, session, _, _ = setup
    group = client.create_group(1, "Casing", "notes")
    client.subscribe(
        Recipient("bob@example.com", "Bob", fields={2: "Rossi"}), group_id=group.id, confirm=True
    )
    client.create_message(1, EmailDraft("Hello", "<p>Hi [firstname]</p>", field_defaults={1: "friend"}))

    create_group, subscribe, create_message = (e for e in session.api() if e.method == "POST")
    assert create_group.json == {"Name": "Casing", "Notes": "notes", "Deletable": True}
    assert create_group.path.endswith("/console/list/1/group")
    assert subscribe.query == {"ConfirmEmail": "true"}
    assert subscribe.json == {
        "Email": "bob@example.com",
        "Name": "Bob",
        "MobilePrefix": None,
        "MobileNumber": None,
        "Fields": [{"Id": 2, "Value": "Rossi"}],
    }
    body = create_message.json
    assert body["Subject"] == "Hello" and body["idList"] == 1 and body["Content"] == "<p>Hi [firstname]</p>"
    assert body["Fields"] == [{"Description": "", "Id": 1, "Value": "friend"}] and body["UseDynamicField"]
    assert body["TrackingInfo"] == {"CustomParams": "", "Enabled": True, "Protocols": ["http:", "https:"]}
    assert set(body) >= {"Embed", "IsConfirmation", "Notes", "Tags", "PreHeader"}


def test_account_lists_and_personal_fields(setup):
    client, _, _, _ = setup
    info = client.account_info()
    assert info.username == ACCOUNT.username and info.console_url and not info.is_trial

    created = client.create_list(
        NewList(
            name="Client A",
            owner_email="owner@agency.example",
            reply_to="reply@agency.example",
            sender_name="Agency",
            company_name="Agency srl",
            contact_name="Maria",
            address="Via Roma 1",
            city="Milano",
            country_code="IT",
            permission_reminder="You subscribed on our site",
            website_url="https://agency.example",
        )
    )
    lists = client.lists()
    assert created.id == 2 and created.guid and created.name == "Client A"
    assert [(x.id, x.name) for x in lists] == [(1, "Newsletter"), (2, "Client A")]
    assert client.get_list(2).guid == created.guid
    with pytest.raises(ValueError):
        NewList("x" * 51, *["x"] * 10).to_api()

    fields = client.dynamic_fields()
    assert [f.id for f in fields] == list(range(1, 28))  # the 27 standard fields, by id
    assert all(f.description for f in fields)


def test_import_into_a_group_and_poll_until_completed(setup, redis, key, emulator):
    url, _ = emulator
    sleep = RecordingSleep(cap=0.05)
    client, _ = make_client(url, redis, key=key, sleep=sleep)
    _, _, state, account = setup
    group = client.create_group(1, "Campaign 7")
    people = [Recipient(f"p{i}@example.com", f"P{i}", fields={1: f"P{i}"}) for i in range(30)]
    people.append(Recipient("not-an-address", "Bad"))

    import_id = client.import_recipients(people, group_id=group.id)
    status = client.wait_for_import(import_id)

    assert isinstance(import_id, int)
    assert status.completed and status.id == import_id
    assert (status.created, status.not_valid, status.imported) == (30, 1, 30)
    # the emulator's first status read says "not yet": one pause, counted from when that read was asked
    # for (its own time is part of the pause), so a little under the first poll interval of 1 s
    (pause,) = sleep.calls
    assert 0 < pause <= 1.0
    members = list(client.group_recipients(group.id))
    assert len(members) == 30 and members[0].fields[1] == "P0"
    assert {m.email for m in members} == {f"p{i}@example.com" for i in range(30)}
    # The richer /Imports/{id} shape reads the same.
    detail = client.call("GET", "console", f"/Console/Imports/{import_id}")
    assert ImportStatus.from_api(detail).completed and ImportStatus.from_api(detail).created == 30


def test_subscribe_many_synchronously(setup):
    client, session, _, account = setup
    group = client.create_group(1, "Small")
    ids = client.subscribe_many([Recipient(f"s{i}@example.com") for i in range(3)], group_id=group.id)
    assert ids == [account.by_email[f"s{i}@example.com"] for i in range(3)]
    assert len(list(client.list_recipients(1, "Subscribed"))) == 3


def test_message_send_now_scheduled_single_and_the_sendings(setup):
    client, _, state, account = setup
    group = client.create_group(1, "Campaign 9")
    client.subscribe_many([Recipient(f"r{i}@example.com") for i in range(4)], group_id=group.id)
    client.subscribe(Recipient("outside@example.com"), list_id=1)  # in the list, not in the group
    message = client.create_message(1, EmailDraft("Spring sale", "<p>Sale</p>", notes="campaign 9"))
    updated = client.update_message(
        1, message.id, EmailDraft("Spring sale!", "<p>Sale!</p>", notes="campaign 9")
    )

    assert updated.id == message.id and client.get_message(1, message.id).subject == "Spring sale!"
    assert [m.id for m in client.messages(1)] == [message.id]

    result = client.send_to_group(group.id, message.id)
    assert result.sent == 4 and result.sending_id and result.message_id == message.id
    assert len(state.deliveries(ACCOUNT.username, message.id)) == 4

    later = datetime.now(UTC) + timedelta(days=1)
    scheduled = client.send_to_group(group.id, message.id, at=later)
    deferred = client.sendings("Deferred")
    assert scheduled.sent == 0 and [s.id for s in deferred] == [scheduled.sending_id]
    assert deferred[0].message_id == message.id and deferred[0].group_id == group.id
    with pytest.raises(ValueError):
        client.send_to_group(group.id, message.id, at=datetime(2030, 1, 1))  # naive: refused

    single = client.send_single(message.id, "test@example.com", {1: "Tester"})
    assert single.sent == 1 and single.invalid == () and single.unprocessed == ()
    history = client.send_history(1, message.id)
    assert result.sending_id in {s.id for s in history}
    client.stop_sending(scheduled.sending_id)
    client.delete_sending(scheduled.sending_id)
    assert client.sendings("Deferred") == []


def test_statistics_per_message_and_the_list_opt_outs(setup):
    client, _, state, _ = setup
    group = client.create_group(1, "Stats")
    client.subscribe_many([Recipient(f"u{i}@example.com") for i in range(5)], group_id=group.id)
    message = client.create_message(1, EmailDraft("News", "<p>news</p>"))
    client.send_to_group(group.id, message.id)
    user = ACCOUNT.username
    state.simulate(user, "view", message.id, "u0@example.com")
    state.simulate(user, "view", message.id, "u0@example.com")
    state.simulate(user, "click", message.id, "u1@example.com", url="https://shop.example/a")
    state.simulate(user, "click", message.id, "u2@example.com", url="https://shop.example/a")
    state.simulate(user, "click", message.id, "u2@example.com", url="https://shop.example/b")
    state.simulate(user, "hard_bounce", message.id, "u3@example.com")
    state.simulate(user, "unsubscribe", message.id, "u4@example.com")

    deliveries = list(client.deliveries(message.id))
    assert {d.email for d in deliveries} == {f"u{i}@example.com" for i in (0, 1, 2, 4)}
    assert all(d.recipient_id and d.message_id == message.id for d in deliveries)
    (view,) = client.views(message.id)
    assert (view.email, view.count) == ("u0@example.com", 2)
    assert {(c.email, c.count) for c in client.clicks(message.id)} == {
        ("u1@example.com", 1),
        ("u2@example.com", 2),
    }
    assert {(u.url, u.count) for u in client.url_clicks(message.id)} == {
        ("https://shop.example/a", 2),
        ("https://shop.example/b", 1),
    }
    assert len(list(client.url_click_details(message.id))) == 3
    (bounce,) = client.bounces(message.id)
    assert bounce.email == "u3@example.com" and bounce.bounce_type
    (unsub,) = client.unsubscriptions(message.id)
    assert unsub.email == "u4@example.com"
    assert client.message_count(message.id, "views") == 1
    assert client.message_count(message.id, "deliveries") == 4

    pages = list(client.message_stat_pages(message.id, "deliveries", page_size=3))
    assert [n for n, _ in pages] == [0, 1] and sum(len(rows) for _, rows in pages) == 4
    assert [
        len(rows) for _, rows in client.message_stat_pages(message.id, "deliveries", page_size=3, start=1)
    ] == [1]

    optouts = {o.email: o for o in client.list_optouts(1)}
    assert set(optouts) == {"u3@example.com", "u4@example.com"}
    assert all(o.optout_date and o.optout_message_id == message.id for o in optouts.values())
    assert {o.email for o in client.email_optins(1)} >= {f"u{i}@example.com" for i in range(5)}
    assert {r.email for r in client.list_recipients(1, "Unsubscribed")} == set(optouts)


def test_frontend_check_subscriber(setup):
    client, _, _, account = setup
    client.subscribe(Recipient("front@example.com"), list_id=1)
    guid = account.lists[1].guid
    assert client.check_subscriber(1, "front@example.com", guid) == SUBSCRIBED
    assert client.check_subscriber(1, "nobody@example.com", guid) == NOT_SUBSCRIBED
