"""The subscribe endpoints for plugins written for the previous provider (reference §15.1): every
return code of every page, the request shapes real plugins send, paths and names in any case,
GET/POST/query/body/both, empty values, the on/off switch and IP allow-list, another agency's list, the
per-IP rate limit — all against the real app, database and capture SMTP server."""

from __future__ import annotations

import pytest

from .forms_support import (
    confirm_path,
    contact_row,
    make_field,
    make_list,
    requests_of,
    set_endpoints,
    subscription_status,
    subscription_status_by_phone,
)
from .support import HostClient, run_jobs

SHOP_IP = "203.0.113.7"


@pytest.fixture
def shop(app, world):
    """A1 with two lists (one also SMS), a first-name field (campo1) and the endpoints on."""
    news = make_list(app, world, "A1", "News", sms=True)
    offers = make_list(app, world, "A1", "Offers")
    first = make_field(app, world, "A1", "First name")
    city = make_field(app, world, "A1", "City")
    set_endpoints(app, world, "A1")
    http = HostClient(app, world.hosts["AG1"])
    return {"news": news, "offers": offers, "first": first, "city": city, "http": http}


def code(resp) -> int:
    assert resp.status_code == 200, resp.status_code
    assert resp.mimetype == "text/plain"
    assert "set-cookie" not in {k.lower() for k in resp.headers.keys()}
    return int(resp.get_data(as_text=True).strip())


def get(http, page: str, ip: str = SHOP_IP, **params):
    return code(http.get(f"/frontend/{page}", query_string=params, environ_base={"REMOTE_ADDR": ip}))


def post(http, page: str, ip: str = SHOP_IP, query=None, **form):
    return code(
        http.http.post(
            f"http://{http.host}/frontend/{page}",
            query_string=query or {},
            data=form,
            environ_base={"REMOTE_ADDR": ip},
        )
    )


# --- xmlSubscribe.aspx ---------------------------------------------------------------------------------


def test_subscribe_codes(app, world, shop):
    http, news = shop["http"], shop["news"]
    assert get(http, "xmlSubscribe.aspx", List=news["id"], Email="ann@example.com", Confirm="0") == 0
    assert subscription_status(app, world, "A1", "ann@example.com", news["id"]) == "subscribed"
    assert get(http, "xmlSubscribe.aspx", List=news["id"], Email="ann@example.com", Confirm="0") == 3
    assert get(http, "xmlSubscribe.aspx", List=news["id"], Email="not-an-address") == 2
    assert get(http, "xmlSubscribe.aspx", List=news["id"]) == 2  # neither Email nor Sms
    assert get(http, "xmlSubscribe.aspx", List=news["id"], Sms="12") == 2
    assert get(http, "xmlSubscribe.aspx", List="999999", Email="bob@example.com") == 1
    assert get(http, "xmlSubscribe.aspx", List="abc", Email="bob@example.com") == 1
    assert get(http, "xmlSubscribe.aspx", Email="bob@example.com") == 1  # no list
    wrong_guid = "00000000-0000-0000-0000-000000000000"
    assert get(http, "xmlSubscribe.aspx", List=news["id"], ListGuid=wrong_guid, Email="bob@example.com") == 1
    assert contact_row(app, world, "A1", "bob@example.com") is None  # nothing was written by the errors


def test_subscribe_defaults_to_double_opt_in_with_a_confirmation_email(app, world, shop, outbox):
    http, news = shop["http"], shop["news"]
    assert get(http, "xmlSubscribe.aspx", List=news["id"], Email="cara@example.com", Sms="+393471234567") == 0
    assert subscription_status(app, world, "A1", "cara@example.com", news["id"]) == "pending"
    # the number waits for the same confirmation as the address
    assert subscription_status(app, world, "A1", "cara@example.com", news["id"], "sms") == "pending"
    assert get(http, "Xmlchksubscriber.aspx", List=news["id"], Email="cara@example.com") == 4
    run_jobs(app)
    (message,) = outbox.to("cara@example.com")
    assert "mailup" not in message.as_string().lower()
    page = http.http.post(f"http://{http.host}{confirm_path(message)}")
    assert page.status_code == 200
    assert subscription_status(app, world, "A1", "cara@example.com", news["id"]) == "subscribed"
    assert subscription_status(app, world, "A1", "cara@example.com", news["id"], "sms") == "subscribed"
    (record,) = requests_of(app, world, "A1")
    assert record["source"] == "plugin" and record["status"] == "confirmed" and record["ip"] == SHOP_IP


def test_subscribe_several_lists_fields_and_sms(app, world, shop):
    http, news, offers = shop["http"], shop["news"], shop["offers"]
    first, city = shop["first"], shop["city"]
    names = f"campo{first['number']};Campo{city['number']};campo38"  # 38: no such field, ignored
    result = get(
        http,
        "xmlSubscribe.aspx",
        List=f"{news['id']};{offers['id']}",
        Email="dan@example.com",
        Sms="+39 333 123 4567",
        Confirm="false",
        csvFldNames=names,
        csvFldValues="Dan;Torino;x",
    )
    assert result == 0
    assert subscription_status(app, world, "A1", "dan@example.com", news["id"]) == "subscribed"
    assert subscription_status(app, world, "A1", "dan@example.com", offers["id"]) == "subscribed"
    assert subscription_status(app, world, "A1", "dan@example.com", news["id"], "sms") == "subscribed"
    row = contact_row(app, world, "A1", "dan@example.com")
    assert row["phone"] == "+393331234567"
    assert row["fields"] == {first["key"]: "Dan", city["key"]: "Torino"}
    # 00 international prefix for the mobile; comma-separated lists
    assert get(http, "xmlSubscribe.aspx", List=f"{news['id']},{offers['id']}", Sms="00393339998877") == 0
    # a "+" sent unencoded in the query string arrives as a space
    raw = http.get(
        f"/frontend/xmlSubscribe.aspx?List={news['id']}&Sms=+393335550001&Confirm=0",
        environ_base={"REMOTE_ADDR": SHOP_IP},
    )
    assert code(raw) == 0
    assert subscription_status_by_phone(app, world, "A1", "+393335550001", news["id"]) == "subscribed"
    # names and values that do not pair up, and "--" inside a value, are generic errors
    mismatch = dict(List=news["id"], Email="eve@example.com", csvFldNames="campo1;campo2", csvFldValues="x")
    assert get(http, "xmlSubscribe.aspx", **mismatch) == 1
    dashes = dict(List=news["id"], Email="eve@example.com", csvFldNames="campo1", csvFldValues="a--b")
    assert get(http, "xmlSubscribe.aspx", **dashes) == 1
    assert contact_row(app, world, "A1", "eve@example.com") is None


def test_a_list_that_does_not_carry_the_channel_is_a_generic_error(app, world, shop):
    assert get(shop["http"], "xmlSubscribe.aspx", List=shop["offers"]["id"], Sms="+393331112222") == 1


# --- Xmlchksubscriber.aspx -----------------------------------------------------------------------------


def test_check_subscriber_codes(app, world, shop):
    http, news = shop["http"], shop["news"]
    lid = news["id"]
    assert get(http, "Xmlchksubscriber.aspx", List=lid, Email="nobody@example.com") == 1
    get(http, "xmlSubscribe.aspx", List=lid, Email="fay@example.com", Confirm="0")
    assert get(http, "Xmlchksubscriber.aspx", List=lid, ListGuid=news["guid"], Email="fay@example.com") == 2
    assert (
        get(http, "Xmlchksubscriber.aspx", List=lid, ListGuid=news["guid"].upper(), Email="FAY@example.com")
        == 2
    )
    assert (
        get(http, "Xmlchksubscriber.aspx", List=lid, ListGuid=shop["offers"]["guid"], Email="fay@example.com")
        == 1
    )
    get(http, "xmlSubscribe.aspx", List=lid, Email="gus@example.com")  # double opt-in: pending
    assert get(http, "Xmlchksubscriber.aspx", List=lid, Email="gus@example.com") == 4
    get(http, "Xmlunsubscribe.aspx", List=lid, Email="fay@example.com")
    assert get(http, "Xmlchksubscriber.aspx", List=lid, Email="fay@example.com") == 3
    assert (
        get(http, "Xmlchksubscriber.aspx", List=f"{lid},{shop['offers']['id']}", Email="fay@example.com") == 1
    )
    assert get(http, "Xmlchksubscriber.aspx", List=lid) == 1


# --- Xmlunsubscribe.aspx -------------------------------------------------------------------------------


def test_unsubscribe_codes(app, world, shop):
    http, lid = shop["http"], shop["news"]["id"]
    get(http, "xmlSubscribe.aspx", List=lid, Email="hal@example.com", Confirm="0")
    assert (
        get(http, "Xmlunsubscribe.aspx", List=lid, ListGuid=shop["news"]["guid"], Email="hal@example.com")
        == 0
    )
    assert subscription_status(app, world, "A1", "hal@example.com", lid) == "unsubscribed"
    assert get(http, "Xmlunsubscribe.aspx", List=lid, Email="hal@example.com") == 3  # already
    assert get(http, "Xmlunsubscribe.aspx", List=lid, Email="nobody@example.com") == 3  # unknown
    assert get(http, "Xmlunsubscribe.aspx", List="424242", Email="hal@example.com") == 1
    assert get(http, "Xmlunsubscribe.aspx", List=lid, ListGuid="not-a-guid", Email="hal@example.com") == 1


# --- xmlUpdSubscriber.aspx / Updsubscriber.aspx ---------------------------------------------------------


@pytest.mark.parametrize("page", ["xmlUpdSubscriber.aspx", "Updsubscriber.aspx"])
def test_update_subscriber_codes(app, world, shop, page):
    http, lid, first = shop["http"], shop["news"]["id"], shop["first"]
    get(http, "xmlSubscribe.aspx", List=lid, Email="ida@example.com", Confirm="0")
    fields = dict(csvFldNames=f"campo{first['number']}", csvFldValues="Ida")
    assert get(http, page, List=lid, Email="ida@example.com", Group="3;4", Replace="true", **fields) == 0
    assert contact_row(app, world, "A1", "ida@example.com")["fields"] == {first["key"]: "Ida"}
    assert get(http, page, List=shop["offers"]["id"], Email="ida@example.com", **fields) == 1  # not in list
    assert get(http, page, List=lid, Email="nobody@example.com", **fields) == 1
    bad = dict(csvFldNames=f"campo{first['number']}", csvFldValues="x--y")
    assert get(http, page, List=lid, Email="ida@example.com", **bad) == 1
    assert get(http, page, List="abc", Email="ida@example.com") == 1
    assert contact_row(app, world, "A1", "ida@example.com")["fields"] == {first["key"]: "Ida"}


# --- request shapes, case, methods ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/frontend/xmlSubscribe.aspx", "/FRONTEND/XMLSUBSCRIBE.ASPX", "/Frontend/Xmlsubscribe.aspx"],
)
def test_paths_in_any_case(app, world, shop, path):
    resp = shop["http"].get(
        path,
        query_string={"LIST": shop["news"]["id"], "eMaIl": "jo@example.com", "CONFIRM": "0"},
        environ_base={"REMOTE_ADDR": SHOP_IP},
    )
    assert code(resp) == 0


def test_get_post_query_body_and_both(app, world, shop):
    http, lid = shop["http"], shop["news"]["id"]
    assert post(http, "xmlSubscribe.aspx", List=lid, Email="k1@example.com", Confirm="0") == 0  # form body
    query = {"list": lid, "email": "k2@example.com", "confirm": "0"}
    assert post(http, "xmlSubscribe.aspx", query=query) == 0  # query string, empty body
    # both, with an empty value in the query that the body fills: empty counts as absent
    assert (
        post(http, "xmlSubscribe.aspx", query={"List": "", "Email": "k3@example.com"}, list=lid, Confirm="0")
        == 0
    )
    # a body of name=value pairs sent as text/plain
    raw = http.http.post(
        f"http://{http.host}/frontend/Xmlchksubscriber.aspx",
        data=f"List={lid}&Email=k1@example.com",
        content_type="text/plain",
        environ_base={"REMOTE_ADDR": SHOP_IP},
    )
    assert code(raw) == 2
    for n in (1, 2, 3):
        assert subscription_status(app, world, "A1", f"k{n}@example.com", lid) == "subscribed"


def test_the_request_shapes_of_existing_plugins(app, world, shop, outbox):
    http, lid, guid, first = shop["http"], shop["news"]["id"], shop["news"]["guid"], shop["first"]
    # WordPress: POST body with source, empty sms, Group, Confirm, fields, retCode
    wp = dict(source="wordpress", Email="wp@example.com", sms="", List=lid, Group="", Confirm="1")
    wp.update(csvFldNames=f"Campo{first['number']}", csvFldValues="Wendy", retCode="1")
    assert post(http, "xmlSubscribe.aspx", **wp) == 0
    assert subscription_status(app, world, "A1", "wp@example.com", lid) == "pending"
    # Joomla: GET Xmlsubscribe.aspx with lower-case names
    joomla = dict(
        list=lid, email="jm@example.com", csvFldNames=f"campo{first['number']}", csvFldValues="Jim", confirm=0
    )
    assert get(http, "Xmlsubscribe.aspx", **joomla) == 0
    # Magento: GET with ListGuid, List, Email, Confirm, ipAddress, Group; then unsubscribe
    magento = dict(
        ListGuid=guid, List=lid, Email="mg@example.com", Confirm="0", ipAddress="198.51.100.9", Group=""
    )
    assert get(http, "Xmlsubscribe.aspx", **magento) == 0
    assert [r["ip"] for r in requests_of(app, world, "A1") if r["source"] == "plugin"][-1] == "198.51.100.9"
    assert get(http, "Xmlunsubscribe.aspx", ListGuid=guid, List=lid, Email="mg@example.com") == 0
    # WooCommerce: POST check with the query string only; not 2 → subscribe; then update with a group
    assert post(http, "Xmlchksubscriber.aspx", query={"list": lid, "email": "wc@example.com"}) == 1
    woo = {
        "list": lid,
        "email": "wc@example.com",
        "confirm": "0",
        "csvFldNames": "campo1",
        "csvFldValues": "Wes",
    }
    assert get(http, "xmlSubscribe.aspx", retCode="1", **woo) == 0
    assert post(http, "Xmlchksubscriber.aspx", query={"list": lid, "email": "wc@example.com"}) == 2
    assert get(http, "XmlUpdSubscriber.aspx", list=lid, email="wc@example.com", group="7") == 0
    run_jobs(app)
    assert len(outbox.to("wp@example.com")) == 1 and not outbox.to("jm@example.com")


# --- access: on/off, IP allow-list, another agency ------------------------------------------------------


def test_off_until_the_client_turns_it_on_and_the_ip_allow_list(app, world, shop):
    http, lid = shop["http"], shop["news"]["id"]
    set_endpoints(app, world, "A1", enabled=False)
    for page in (
        "xmlSubscribe.aspx",
        "Xmlchksubscriber.aspx",
        "Xmlunsubscribe.aspx",
        "xmlUpdSubscriber.aspx",
    ):
        assert get(http, page, List=lid, Email="lu@example.com") == -1011
    set_endpoints(app, world, "A1", enabled=True, allowed_ips="198.51.100.0/24\n203.0.113.7")
    assert (
        get(http, "xmlSubscribe.aspx", ip="192.0.2.1", List=lid, Email="lu@example.com", Confirm="0") == -1011
    )
    assert (
        get(http, "xmlSubscribe.aspx", ip="198.51.100.77", List=lid, Email="lu@example.com", Confirm="0") == 0
    )
    assert get(http, "Xmlchksubscriber.aspx", ip=SHOP_IP, List=lid, Email="lu@example.com") == 2
    assert contact_row(app, world, "A1", "lu@example.com") is not None


def test_another_agencys_list_answers_as_a_missing_one(app, world, shop):
    theirs = make_list(app, world, "B1", "B1 news")
    set_endpoints(app, world, "B1")
    http = shop["http"]  # AG1's host
    assert get(http, "xmlSubscribe.aspx", List=theirs["id"], Email="mo@example.com", Confirm="0") == 1
    assert get(http, "Xmlchksubscriber.aspx", List=theirs["id"], Email="mo@example.com") == 1
    assert get(http, "Xmlunsubscribe.aspx", List=theirs["id"], Email="mo@example.com") == 1
    assert get(http, "xmlUpdSubscriber.aspx", List=theirs["id"], Email="mo@example.com") == 1
    assert contact_row(app, world, "B1", "mo@example.com") is None
    # and on their own host the same call works
    own = HostClient(app, world.hosts["AG2"])
    assert get(own, "xmlSubscribe.aspx", List=theirs["id"], Email="mo@example.com", Confirm="0") == 0
    # lists of two clients in one call are refused
    a2 = make_list(app, world, "A2", "A2 news")
    assert get(http, "xmlSubscribe.aspx", List=f"{shop['news']['id']},{a2['id']}", Email="x@example.com") == 1


def test_rate_limited_per_ip(app, world, shop):
    from portal.compat.views import PER_IP

    limit = int(PER_IP.split()[0])
    http, lid = shop["http"], shop["news"]["id"]
    for _ in range(limit):
        get(http, "Xmlchksubscriber.aspx", ip="192.0.2.50", List=lid, Email="nobody@example.com")
    refused = http.get(
        "/frontend/Xmlchksubscriber.aspx",
        query_string={"List": lid, "Email": "nobody@example.com"},
        environ_base={"REMOTE_ADDR": "192.0.2.50"},
    )
    assert refused.status_code == 429
    assert get(http, "Xmlchksubscriber.aspx", ip="192.0.2.51", List=lid, Email="nobody@example.com") == 1
