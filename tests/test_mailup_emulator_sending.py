"""MailUp emulator: messages, sends, scheduled sendings (§8-§10), simulated events in the statistics
service with its retention (§12), account-wide hard-bounce unsubscribe (§19), the admin endpoints."""

from __future__ import annotations

import pytest

from portal.backends.mailup.emulator.events import EventError

from .mailup_emulator_support import ACCOUNT, Api, api_fixture, emulator_fixture, request  # noqa: F401
from .test_mailup_emulator_console import NEW_LIST

SEND_KEYS = {"Id", "InvalidRecipients", "Sent", "UnprocessedRecipients", "idMessage"}
USER = ACCOUNT.username


def _message(api: Api, list_id: int = 1, subject: str = "Spring sale") -> int:
    body = {
        "Subject": subject,
        "idList": list_id,
        "Content": "<html><body>Hello [nome] <a href='https://shop.example.com/'>shop</a></body></html>",
        "Embed": False,
        "IsConfirmation": False,
        "Fields": [{"Description": "nome", "Id": 1, "Value": "friend"}],
        "Notes": "campaign 7",
        "Tags": None,
        "TrackingInfo": {"CustomParams": "", "Enabled": True, "Protocols": ["http:", "https:"]},
    }
    return api.ok("POST", f"/List/{list_id}/Email", body)["idMessage"]


def _audience(api: Api, *emails: str) -> list[int]:
    return [api.subscribe(e) for e in emails]


def test_messages_create_list_update_and_tags(api):
    mid = _message(api)
    detail = api.ok("GET", f"/List/1/Email/{mid}")
    assert (detail["idMessage"], detail["idList"], detail["Subject"]) == (mid, 1, "Spring sale")
    assert "[nome]" in detail["Content"]
    item = api.ok("GET", "/List/1/Emails")["Items"][0]
    assert list(item) == ["CreationDate", "Notes", "Subject", "idList", "idMessage", "ServiceType"]
    assert item["CreationDate"].endswith("Z") and len(item["CreationDate"]) == len("2020-01-27 10:05:53Z")
    assert [m["idMessage"] for m in api.ok("GET", "/User/Emails")["Items"]] == [mid]
    # Referenced tags must exist first; a tag is created from a bare JSON string.
    assert (
        api.put(f"/List/1/Email/{mid}", {**detail, "Tags": [{"Id": 1, "Enabled": True, "Name": "x"}]}).status
        == 400
    )
    tag = api.ok("POST", "/List/1/Tag", "spring")
    assert tag == {"Enabled": True, "Id": tag["Id"], "Name": "spring"}
    updated = api.ok("PUT", f"/List/1/Email/{mid}", {**detail, "Subject": "Spring sale!", "Tags": [tag]})
    assert updated["Subject"] == "Spring sale!" and updated["Tags"] == [tag]
    assert [m["idMessage"] for m in api.ok("GET", "/List/1/Emails", tags="spring")["Items"]] == [mid]
    clone = api.ok("POST", f"/List/1/Email/{mid}")
    assert clone["idMessage"] != mid and clone["Subject"] == "Spring sale!"
    reply = api.delete(f"/List/1/Email/{clone['idMessage']}")
    assert (reply.status, reply.text) == (200, "")
    assert api.post("/List/1/Email", {"Content": "no subject"}).status == 400


def test_send_to_list_delivers_to_subscribed_recipients_only(api, emulator):
    _, handle = emulator
    ann, bob, _ = _audience(api, "ann@example.com", "bob@example.com", "cy@example.com")
    api.delete(f"/List/1/Unsubscribe/{bob}")
    api.ok("POST", "/List/1/Recipient", {"Email": "pending@example.com"}, ConfirmEmail="true")
    mid = _message(api)
    sent = api.ok("POST", f"/List/1/Email/{mid}/Send")
    assert set(sent) == SEND_KEYS
    assert (sent["Sent"], sent["idMessage"], sent["InvalidRecipients"], sent["UnprocessedRecipients"]) == (
        2,
        mid,
        [],
        [],
    )
    got = handle.state.deliveries(USER, mid)
    assert sorted(d["address"] for d in got) == ["ann@example.com", "cy@example.com"]
    assert {d["sending_id"] for d in got} == {sent["Id"]}
    history = api.ok("GET", f"/List/1/Email/{mid}/SendHistory")["Items"]
    assert [(h["Id"], h["Status"], h["Sent"]) for h in history] == [(sent["Id"], "Sent", 2)]
    assert ann in [d["recipient_id"] for d in got]


def test_send_to_group_and_to_one_address(api, emulator):
    _, handle = emulator
    gid = api.ok("POST", "/List/1/Group", {"Name": "Campaign 7"})["idGroup"]
    api.subscribe("outside@example.com")
    api.ok("POST", f"/Group/{gid}/Recipient", {"Email": "in1@example.com"})
    api.ok("POST", f"/Group/{gid}/Recipient", {"Email": "in2@example.com"})
    mid = _message(api)
    sent = api.ok("POST", f"/Group/{gid}/Email/{mid}/Send")
    assert sent["Sent"] == 2
    assert sorted(d["address"] for d in handle.state.deliveries(USER, mid)) == [
        "in1@example.com",
        "in2@example.com",
    ]
    # One address (test sends): a new one joins the list; a bad one is invalid; an unsubscribed one is skipped.
    single = api.ok("POST", "/Email/Send", {"Email": "tester@agency.example", "idMessage": mid})
    assert set(single) == SEND_KEYS and single["Sent"] == 1
    assert "tester@agency.example" in [
        i["Email"] for i in api.ok("GET", "/List/1/Recipients/Subscribed")["Items"]
    ]
    bad = api.ok("POST", "/Email/Send", {"Email": "nope", "idMessage": mid})
    assert (bad["Sent"], bad["InvalidRecipients"]) == (0, ["nope"])
    out = api.subscribe("out@example.com")
    api.delete(f"/List/1/Unsubscribe/{out}")
    skipped = api.ok("POST", "/Email/Send", {"Email": "out@example.com", "idMessage": mid})
    assert (skipped["Sent"], skipped["UnprocessedRecipients"]) == (0, ["out@example.com"])
    # A message is sent from its own list only.
    other_list = api.ok("POST", "/List", NEW_LIST)["IdList"]
    assert api.post(f"/List/{other_list}/Email/{mid}/Send").status == 404


def test_scheduled_send_waits_in_the_deferred_queue_until_its_time(api, emulator):
    _, handle = emulator
    _audience(api, "ann@example.com")
    mid = _message(api)
    future = handle.state.now() + 3600
    from datetime import UTC, datetime

    when = datetime.fromtimestamp(future, UTC).strftime('"%Y-%m-%d %H:%M:%SZ"')  # quoted, as the docs show
    sent = api.ok("POST", f"/List/1/Email/{mid}/Send", datetime=when)
    assert sent["Sent"] == 0
    deferred = api.ok("GET", "/Email/Sendings/Deferred")["Items"]
    assert [(s["Id"], s["idMessage"], s["Status"]) for s in deferred] == [(sent["Id"], mid, "Deferred")]
    assert handle.state.deliveries(USER, mid) == []
    assert "Date" in api.ok("GET", f"/Email/Sendings/{sent['Id']}/Deferred")
    handle.state.advance_clock(3601)
    assert api.ok("GET", "/Email/Sendings/Deferred")["Items"] == []
    assert [d["address"] for d in handle.state.deliveries(USER, mid)] == ["ann@example.com"]
    # A second scheduled sending, moved with POST .../Deferred, then stopped and removed.
    second = api.ok("POST", f"/List/1/Email/{mid}/Send", datetime="2999-01-01 10:00:00")
    reply = api.post(f"/Email/Sendings/{second['Id']}/Deferred", {"Date": "2999-02-01 10:00:00"})
    assert (reply.status, reply.text) == (200, "")
    assert api.post(f"/Email/Sendings/{second['Id']}/Stop").status == 200
    assert api.delete(f"/Email/Sendings/{second['Id']}").status == 200
    assert api.delete(f"/Email/Sendings/{sent['Id']}").status == 400  # already sent
    assert api.post(f"/List/1/Email/{mid}/Send", datetime="tomorrow").status == 400


def _stats(api: Api, mid: int, kind: str):
    count = api.stats(f"/Message/{mid}/Count/{kind}")
    assert count.status == 200 and count.text.strip().lstrip("-").isdigit(), count.text  # bare integer
    return count.json(), api.stats(f"/Message/{mid}/List/{kind}").json()


def test_simulated_events_appear_in_the_statistics(api, emulator):
    _, handle = emulator
    ann, bob, cy = _audience(api, "ann@example.com", "bob@example.com", "cy@example.com")
    mid = _message(api)
    api.ok("POST", f"/List/1/Email/{mid}/Send")
    st = handle.state
    st.simulate(USER, "view", mid, ann)
    st.simulate(USER, "view", mid, "ann@example.com")
    st.simulate(USER, "view", mid, bob)
    st.simulate(USER, "click", mid, ann, url="https://shop.example.com/")
    st.simulate(USER, "click", mid, bob, url="https://shop.example.com/")
    st.simulate(USER, "click", mid, bob, url="https://shop.example.com/sale")
    st.simulate(USER, "soft_bounce", mid, cy)
    st.simulate(USER, "unsubscribe", mid, bob)

    count, page = _stats(api, mid, "Recipients")
    assert count == 2  # cy bounced: not delivered
    assert sorted(i["IdRecipient"] for i in page["Items"]) == [ann, bob]
    assert set(page["Items"][0]) == {"Email", "IdMessage", "IdRecipient"}
    count, page = _stats(api, mid, "Views")
    assert count == 2
    views = {i["IdRecipient"]: i for i in page["Items"]}
    assert views[ann] == {"Count": 2, "Email": "ann@example.com", "IdRecipient": ann, "IdMessage": mid}
    count, page = _stats(api, mid, "Clicks")
    assert {i["IdRecipient"]: i["Count"] for i in page["Items"]} == {ann: 1, bob: 2}
    assert set(page["Items"][0]) == {"Count", "Email", "IdRecipient"}
    _, page = _stats(api, mid, "UrlClicks")
    assert sorted((i["Url"], i["Count"], i["IdMessage"]) for i in page["Items"]) == [
        ("https://shop.example.com/", 2, mid),
        ("https://shop.example.com/sale", 1, mid),
    ]
    count, page = _stats(api, mid, "Bounces")
    assert count == 1
    assert page["Items"] == [{"Email": "cy@example.com", "IdRecipient": cy, "IdMessage": mid, "Type": "Soft"}]
    count, page = _stats(api, mid, "Unsubscriptions")
    assert count == 1 and page["Items"][0]["IdRecipient"] == bob
    # The unsubscribe link took bob out of the message's list, with the message as the reason.
    optout = next(
        i for i in api.ok("GET", "/List/1/Recipients/EmailOptins")["Items"] if i["idRecipient"] == bob
    )
    assert (optout["Status"], optout["Optout_MsgID"]) == ("OPTOUT", mid)
    # Statistics pages like every collection; filterby applies to lists, not to counts.
    assert api.stats(f"/Message/{mid}/List/Views", pageSize=1, pageNumber=1).json()["Skipped"] == 1
    filtered = api.stats(f"/Message/{mid}/List/Views", filterby="Email.Contains('ann')").json()
    assert [i["IdRecipient"] for i in filtered["Items"]] == [ann]
    assert api.stats(f"/Message/{mid}/Count/Views", filterby="Email.Contains('ann')").json() == 2
    # Per recipient.
    deliveries = api.stats(f"/Recipient/{ann}/List/Deliveries").json()["Items"]
    assert deliveries == [
        {"Count": 1, "IdList": 1, "IdMessage": mid, "Notes": "campaign 7", "Subject": "Spring sale"}
    ]
    assert api.stats(f"/Recipient/{bob}/Count/Clicks").json() == 1  # one message clicked
    assert api.stats(f"/Message/{mid}/Count/Nonsense").status == 404


def test_statistics_expire_after_about_15_days_views_after_90(api, emulator):
    _, handle = emulator
    ann, bob = _audience(api, "ann@example.com", "bob@example.com")
    mid = _message(api)
    api.ok("POST", f"/List/1/Email/{mid}/Send")
    handle.state.simulate(USER, "view", mid, ann)
    handle.state.simulate(USER, "hard_bounce", mid, bob)
    handle.state.advance_clock(days=14)
    assert _stats(api, mid, "Recipients")[0] == 1
    assert _stats(api, mid, "Bounces")[0] == 1
    handle.state.advance_clock(days=2)
    assert _stats(api, mid, "Recipients")[0] == 0
    assert _stats(api, mid, "Recipients")[1]["Items"] == []
    assert _stats(api, mid, "Bounces")[0] == 0
    assert _stats(api, mid, "Views")[0] == 1  # open details are kept longer
    handle.state.advance_clock(days=80)
    assert _stats(api, mid, "Views")[0] == 0


def test_hard_bounce_unsubscribes_the_address_from_every_list_of_the_account(api, emulator):
    _, handle = emulator
    second = api.ok("POST", "/List", NEW_LIST)["IdList"]
    rid = api.subscribe("gone@example.com")
    assert api.subscribe("gone@example.com", list_id=second) == rid
    keep = api.subscribe("keep@example.com", list_id=second)
    mid = _message(api)
    api.ok("POST", f"/List/1/Email/{mid}/Send")
    event = handle.state.simulate(USER, "hard_bounce", mid, "gone@example.com")
    assert event["bounce_type"] == "Hard"
    for list_id in (1, second):
        unsub = api.ok("GET", f"/List/{list_id}/Recipients/Unsubscribed")["Items"]
        assert [i["idRecipient"] for i in unsub] == [rid]
        optin = next(
            i
            for i in api.ok("GET", f"/List/{list_id}/Recipients/EmailOptins")["Items"]
            if i["idRecipient"] == rid
        )
        assert optin["Optout_MsgID"] == mid
    # Forced opt-in does not bring a hard-bounced address back (§19).
    api.post(f"/List/{second}/Subscribe/{rid}")
    api.subscribe("gone@example.com", list_id=second)
    assert [i["idRecipient"] for i in api.ok("GET", f"/List/{second}/Recipients/Subscribed")["Items"]] == [
        keep
    ]
    m2 = _message(api, second)
    assert api.ok("POST", f"/List/{second}/Email/{m2}/Send")["Sent"] == 1
    # The block is account-wide: a list the address never joined does not take it either.
    third = api.ok("POST", "/List", {**NEW_LIST, "Name": "Third"})["IdList"]
    assert api.subscribe("gone@example.com", list_id=third) == rid
    assert api.ok("GET", f"/List/{third}/Recipients/Subscribed")["Items"] == []
    unsubscribed = api.ok("GET", f"/List/{third}/Recipients/Unsubscribed")["Items"]
    assert [i["idRecipient"] for i in unsubscribed] == [rid]


def test_complaints_and_the_soft_bounce_limit(api, emulator):
    _, handle = emulator
    second = api.ok("POST", "/List", NEW_LIST)["IdList"]
    spam, soft = _audience(api, "spam@example.com", "soft@example.com")
    api.subscribe("spam@example.com", list_id=second)
    mid = _message(api)
    api.ok("POST", f"/List/1/Email/{mid}/Send")
    handle.state.simulate(USER, "complaint", mid, spam)
    assert spam in [i["idRecipient"] for i in api.ok("GET", "/List/1/Recipients/Unsubscribed")["Items"]]
    assert spam in [i["idRecipient"] for i in api.ok("GET", f"/List/{second}/Recipients/Subscribed")["Items"]]
    api.post(f"/List/1/Subscribe/{spam}")  # blocked against forced opt-in
    assert spam not in [i["idRecipient"] for i in api.ok("GET", "/List/1/Recipients/Subscribed")["Items"]]
    limit = handle.state.options.soft_bounce_limit
    for _ in range(limit - 1):
        handle.state.simulate(USER, "soft_bounce", mid, soft)
    assert soft in [i["idRecipient"] for i in api.ok("GET", "/List/1/Recipients/Subscribed")["Items"]]
    handle.state.simulate(USER, "soft_bounce", mid, soft)
    assert soft in [i["idRecipient"] for i in api.ok("GET", "/List/1/Recipients/Unsubscribed")["Items"]]


def test_events_only_for_delivered_messages_and_deliveries_on_demand(api, emulator):
    _, handle = emulator
    (ann,) = _audience(api, "ann@example.com")
    mid = _message(api)
    with pytest.raises(EventError):
        handle.state.simulate(USER, "view", mid, ann)
    handle.state.options.auto_deliver = False
    api.ok("POST", f"/List/1/Email/{mid}/Send")
    assert _stats(api, mid, "Recipients")[0] == 0
    handle.state.simulate_all(USER, "delivery", mid)
    assert _stats(api, mid, "Recipients")[0] == 1


def test_admin_endpoints_simulate_and_move_the_clock(api, emulator):
    base, handle = emulator
    (ann,) = _audience(api, "ann@example.com")
    mid = _message(api)
    api.ok("POST", f"/List/1/Email/{mid}/Send")
    admin = base + "/_emulator"
    summary = request(admin + "/").json()
    assert [a["username"] for a in summary["accounts"]][0] == USER
    sent = request(f"{admin}/accounts/{USER}/deliveries?message_id={mid}").json()
    assert [d["address"] for d in sent] == ["ann@example.com"]
    click = request(
        f"{admin}/accounts/{USER}/events",
        "POST",
        json_body={
            "kind": "click",
            "message_id": mid,
            "recipient": "ann@example.com",
            "url": "https://x.example/",
        },
    )
    assert click.status == 200 and click.json()["recipient_id"] == ann
    assert (
        request(
            f"{admin}/accounts/{USER}/events",
            "POST",
            json_body={"kind": "view", "message_id": mid, "all": True},
        ).status
        == 200
    )
    assert _stats(api, mid, "Clicks")[0] == 1 and _stats(api, mid, "Views")[0] == 1
    wrong = request(
        f"{admin}/accounts/{USER}/events",
        "POST",
        json_body={"kind": "teleport", "message_id": mid, "recipient": ann},
    )
    assert wrong.status == 400
    before = handle.state.now()
    assert request(admin + "/clock", "POST", json_body={"days": 16}).json()["now"] >= before + 16 * 86400
    assert _stats(api, mid, "Recipients")[0] == 0
    assert request(admin + "/options", "POST", json_body={"rate_limit": 3}).json()["rate_limit"] == 3
    assert request(admin + "/faults", "POST", json_body={"status": 503, "username": USER}).status == 200
    assert api.get("/Authentication/Info").status == 503
    api.refresh_on_401 = False
    assert request(admin + "/tokens/expire", "POST", json_body={}).json()["expired"] >= 1
    assert api.get("/Authentication/Info").status == 401


def test_sms_messages_and_sends(api, emulator):
    _, handle = emulator
    sms = api.ok(
        "POST", "/Sms/List/1/Message", {"Subject": "Promo", "idList": 1, "Content": "Hi [nome]", "Fields": []}
    )
    mid = sms["idMessage"]
    assert (sms["idList"], sms["Content"]) == (1, "Hi [nome]")
    assert [m["idMessage"] for m in api.ok("GET", "/Sms/List/1/Messages")["Items"]] == [mid]
    credits = handle.state.account(USER).sms_credits
    single = api.ok(
        "POST", "/Sms/Send", {"Number": "3351234567", "Prefix": "0039", "idMessage": mid, "Fields": []}
    )
    assert single == {"InvalidRecipients": [], "Sent": 1, "UnprocessedRecipients": [], "idMessage": mid}
    subscribed = api.ok("GET", "/Sms/List/1/Recipients/Subscribed")["Items"]
    assert [(i["MobilePrefix"], i["MobileNumber"]) for i in subscribed] == [("0039", "3351234567")]
    imp = api.ok(
        "POST",
        "/Sms/List/1/Recipients",
        [{"MobileNumber": "3357654321", "MobilePrefix": "+39", "Name": "", "Fields": []}],
    )
    api.get(f"/Import/{imp}")
    assert api.ok("GET", f"/Import/{imp}")["Completed"] is True
    sent = api.ok("POST", f"/Sms/List/1/Message/{mid}/Send")
    assert sent["Sent"] == 2
    numbers = sorted(d["address"] for d in handle.state.deliveries(USER, mid, channel="sms"))
    assert numbers == ["00393351234567", "00393351234567", "00393357654321"]
    assert handle.state.account(USER).sms_credits == credits - 3
    assert api.ok("GET", f"/Sms/{mid}/Sendings/Report")["Sent"] == 3
