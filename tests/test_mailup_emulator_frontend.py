"""MailUp emulator: the frontend xml*.aspx pages and their numeric codes (§15.1, §20.8), the state file,
and the `portal mailup-emulator` command."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

from portal.backends.mailup.emulator import AccountSpec, build_state, start_emulator

from .mailup_emulator_support import (  # noqa: F401  (fixtures)
    ACCOUNT,
    OTHER,
    Api,
    api_fixture,
    emulator_fixture,
    request,
)


def page(base: str, name: str, method: str = "GET", host: str | None = None, **params) -> str:
    """The body of a frontend page: a bare number (maybe with whitespace)."""
    headers = {"Host": host} if host else {}
    if method == "GET":
        reply = request(f"{base}/frontend/{name}?{urllib.parse.urlencode(params)}", headers=headers)
    else:
        reply = request(f"{base}/frontend/{name}", "POST", dict(params), headers=headers)
    assert reply.status == 200
    return reply.text.strip()


def test_xml_subscribe_codes_double_opt_in_by_default_and_fields(api, emulator):
    base, handle = emulator
    # [JOO]: lower-case names on a GET; Confirm defaults to 1 → pending, with the confirmation request.
    assert (
        page(
            base,
            "Xmlsubscribe.aspx",
            list=1,
            email="ann@example.com",
            csvFldNames="campo1",
            csvFldValues="Ann",
        )
        == "0"
    )
    pending = api.ok("GET", "/List/1/Recipients/Pending")["Items"]
    assert [i["Email"] for i in pending] == ["ann@example.com"]
    assert {f["Id"]: f["Value"] for f in pending[0]["Fields"]}[1] == "Ann"
    assert [d["address"] for d in handle.state.deliveries(ACCOUNT.username)] == ["ann@example.com"]
    # [WPM]: a POST with retCode=1 and Confirm=0 → subscribed; the same address again → 3.
    form = {"source": "wordpress", "Email": "bob@example.com", "List": "1", "Confirm": "0", "retCode": "1"}
    assert page(base, "xmlSubscribe.aspx", "POST", **form) == "0"
    assert page(base, "xmlSubscribe.aspx", "POST", **form) == "3"
    assert "bob@example.com" in [i["Email"] for i in api.ok("GET", "/List/1/Recipients/Subscribed")["Items"]]
    assert page(base, "xmlSubscribe.aspx", List=1, Email="not an address") == "2"
    assert page(base, "xmlSubscribe.aspx", List=1) == "2"
    assert page(base, "xmlSubscribe.aspx", List=99, Email="c@example.com") == "1"
    assert page(base, "XMLSUBSCRIBE.ASPX", LIST=1, EMAIL="cy@example.com", CONFIRM="false") == "0"  # any case
    # An SMS subscription: "+" becomes "00".
    assert page(base, "xmlSubscribe.aspx", List=1, Sms="+393351234567", Confirm=0) == "0"
    sms = api.ok("GET", "/Sms/List/1/Recipients/Subscribed")["Items"]
    assert [i["MobileNumber"] for i in sms] == ["00393351234567"]
    # Groups of the list, comma-separated.
    gid = api.ok("POST", "/List/1/Group", {"Name": "Web"})["idGroup"]
    assert page(base, "xmlSubscribe.aspx", List=1, Email="g@example.com", Group=str(gid), Confirm=0) == "0"
    assert [i["Email"] for i in api.ok("GET", f"/Group/{gid}/Recipients")["Items"]] == ["g@example.com"]


def test_xml_check_unsubscribe_and_update_codes(api, emulator):
    base, _ = emulator
    guid = api.ok("GET", "/List/1")["ListGuid"]
    api.subscribe("sub@example.com")
    api.ok("POST", "/List/1/Recipient", {"Email": "pend@example.com"}, ConfirmEmail="true")
    assert page(base, "Xmlchksubscriber.aspx", ListGuid=guid, List=1, Email="sub@example.com") == "2"
    assert page(base, "Xmlchksubscriber.aspx", "POST", list=1, email="pend@example.com") == "4"  # [WOO]
    assert page(base, "Xmlchksubscriber.aspx", List=1, Email="nobody@example.com") == "1"
    assert (
        page(
            base,
            "Xmlchksubscriber.aspx",
            ListGuid="00000000-0000-0000-0000-000000000000",
            List=1,
            Email="sub@example.com",
        )
        == "1"
    )
    # Unsubscribe: 0, then 3 (already), 3 (unknown), 1 (bad list).
    assert page(base, "Xmlunsubscribe.aspx", ListGuid=guid, List=1, Email="sub@example.com") == "0"
    assert page(base, "Xmlchksubscriber.aspx", List=1, Email="sub@example.com") == "3"
    assert page(base, "Xmlunsubscribe.aspx", ListGuid=guid, List=1, Email="sub@example.com") == "3"
    assert page(base, "Xmlunsubscribe.aspx", List=1, Email="nobody@example.com") == "3"
    assert page(base, "Xmlunsubscribe.aspx", List=42, Email="sub@example.com") == "1"
    optout = api.ok("GET", "/List/1/Recipients/Unsubscribed")["Items"]
    assert [i["Email"] for i in optout] == ["sub@example.com"]
    # Update: fields and groups (';'-separated, Replace), 1 for an address not in the list or '--' in a value.
    g1 = api.ok("POST", "/List/1/Group", {"Name": "A"})["idGroup"]
    g2 = api.ok("POST", "/List/1/Group", {"Name": "B"})["idGroup"]
    rid = api.subscribe("upd@example.com")
    assert (
        page(
            base,
            "xmlUpdSubscriber.aspx",
            List=1,
            Email="upd@example.com",
            Group=f"{g1};{g2}",
            csvFldNames="campo1;Campo6",
            csvFldValues="Ann;20100",
        )
        == "0"
    )
    detail = api.ok("GET", f"/Recipient/{rid}")
    assert {f["Id"]: f["Value"] for f in detail["Fields"]}[6] == "20100"
    assert sorted(g["idGroup"] for g in api.ok("GET", f"/List/1/Recipient/{rid}/Groups")["Items"]) == [g1, g2]
    assert (
        page(base, "XmlUpdSubscriber.aspx", list=1, email="upd@example.com", group=str(g2), replace="true")
        == "0"
    )
    assert [g["idGroup"] for g in api.ok("GET", f"/List/1/Recipient/{rid}/Groups")["Items"]] == [g2]
    assert page(base, "Updsubscriber.aspx", List=1, Email="nobody@example.com") == "1"
    assert (
        page(
            base,
            "xmlUpdSubscriber.aspx",
            List=1,
            Email="upd@example.com",
            csvFldNames="campo1",
            csvFldValues="x--y",
        )
        == "1"
    )


def test_ip_registration_with_ws_activation(api, emulator):
    base, handle = emulator
    handle.state.account(ACCOUNT.username).frontend_ip_check = True
    assert page(base, "xmlSubscribe.aspx", List=1, Email="ann@example.com") == "-1011"
    xml = page(
        base, "WSActivation.aspx", usr=ACCOUNT.username, pwd="wrong", nl_url="x.example", ws_name="FrontEnd"
    )
    assert "<ReturnCode>-1002</ReturnCode>" in xml
    assert "<ReturnCode>-2</ReturnCode>" in page(
        base, "WSActivation.aspx", usr=ACCOUNT.username, pwd="p", nl_url="x"
    )
    ok = page(
        base,
        "WSActivation.aspx",
        usr=ACCOUNT.username,
        pwd=ACCOUNT.password,
        nl_url="x.example",
        ws_name="FrontEnd",
    )
    assert ok == "<mailupMessage><mailupBody><ReturnCode>0</ReturnCode></mailupBody></mailupMessage>"
    again = page(
        base,
        "WSActivation.aspx",
        usr=ACCOUNT.username,
        pwd=ACCOUNT.password,
        nl_url="x.example",
        ws_name="FrontEnd",
    )
    assert "<ReturnCode>-1008</ReturnCode>" in again
    assert page(base, "xmlSubscribe.aspx", List=1, Email="ann@example.com") == "0"


def test_the_account_is_chosen_by_console_host_or_list_guid(emulator):
    base, handle = emulator
    other_host = handle.state.account(OTHER.username).console_host
    assert (
        page(base, "xmlSubscribe.aspx", host=f"{other_host}:80", List=1, Email="x@example.com", Confirm=0)
        == "0"
    )
    other = Api(base, OTHER)
    assert [i["Email"] for i in other.ok("GET", "/List/1/Recipients/Subscribed")["Items"]] == [
        "x@example.com"
    ]
    guid = other.ok("GET", "/List/1")["ListGuid"]
    assert page(base, "Xmlchksubscriber.aspx", ListGuid=guid, List=1, Email="x@example.com") == "2"
    assert page(base, "Xmlchksubscriber.aspx", List=1, Email="x@example.com") == "1"  # the first account


def test_state_file_keeps_everything_across_a_restart(tmp_path):
    path = tmp_path / "mailup.json"
    url, handle = start_emulator(build_state([ACCOUNT], path))
    api = Api(url)
    rid = api.subscribe("kept@example.com")
    handle.stop()  # writes the file
    assert json.loads(path.read_text())["accounts"][0]["username"] == ACCOUNT.username
    url, handle = start_emulator(build_state([ACCOUNT], path))
    try:
        api.base = url
        assert [i["idRecipient"] for i in api.ok("GET", "/List/1/Recipients/Subscribed")["Items"]] == [rid]
        assert api.refresh()["access_token"]  # tokens survive too
        assert api.subscribe("new@example.com") == rid + 1  # ids go on
    finally:
        handle.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_portal_mailup_emulator_command(tmp_path):
    port = _free_port()
    state_file = tmp_path / "state.json"
    spec = AccountSpec("m777", "pw", "cid", "sec:ret")  # the client secret may hold ':' (the last field)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "portal.cli",
            "mailup-emulator",
            "--port",
            str(port),
            "--rate-limit",
            "5",
            "--account",
            "m777:pw:cid:sec:ret",
            "--state",
            str(state_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        banner = [proc.stdout.readline() for _ in range(8)]
        assert any("m777" in line for line in banner), banner
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:  # the banner comes just before the socket listens
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the emulator did not start listening"
                time.sleep(0.05)
        assert Api(base, spec).ok("GET", "/Authentication/Info")["Username"] == "m777"
        assert request(base + "/_emulator/").json()["options"]["rate_limit"] == 5
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        proc.stdout.close()
    saved = json.loads(state_file.read_text())
    assert [a["username"] for a in saved["accounts"]] == ["m777"]
