"""MailUp emulator console: paging and the extra empty page (§4.1, §20.3), filterby/orderby (§4.2, §20.7),
key casing (§4.4), bare integers and empty bodies (§4.3), lists, groups, recipients, imports (§5-§7)."""

from __future__ import annotations

import math

from .mailup_emulator_support import ACCOUNT, OTHER, Api, api_fixture, emulator_fixture  # noqa: F401

PAGE_KEYS = {"IsPaginated", "Items", "PageNumber", "PageSize", "Skipped", "TotalElementsCount"}
NEW_LIST = {
    "Name": "Client A",
    "Business": True,
    "Customer": True,
    "OwnerEmail": "owner@agency.example",
    "ReplyTo": "reply@agency.example",
    "NLSenderName": "Agency",
    "CompanyName": "Agency srl",
    "ContactName": "Ann",
    "Address": "Via Roma 1",
    "City": "Milano",
    "CountryCode": "IT",
    "PermissionReminder": "You subscribed on our site",
    "WebSiteUrl": "https://agency.example",
    "UseDefaultSettings": True,
}


def test_every_account_starts_with_list_1_and_the_standard_personal_fields(api):
    lists = api.ok("GET", "/User/Lists")
    assert [item["idList"] for item in lists["Items"]] == [1]
    assert {"idList", "Name", "Company", "Description"} <= set(lists["Items"][0])
    current = api.ok("GET", "/List/1")
    assert current["IdList"] == 1 and current["ListGuid"]  # capitalised on the current DTO
    fields = api.all_items("/Recipient/DynamicFields", orderby='"Id asc"')
    assert [f["Id"] for f in fields] == list(range(1, 28))
    assert fields[0] == {"Description": "nome", "Id": 1}
    assert fields[26]["Description"] == "Compleanno"


def test_paging_is_0_based_with_skipped_and_a_harmless_extra_empty_page(api):
    for n in range(35):
        api.subscribe(f"user{n:02d}@example.com")
    first = api.ok("GET", "/List/1/Recipients/Subscribed")
    assert set(first) == PAGE_KEYS
    assert (first["PageNumber"], first["PageSize"], first["Skipped"], first["TotalElementsCount"]) == (
        0,
        20,
        0,
        35,
    )
    assert first["IsPaginated"] is True and len(first["Items"]) == 20
    second = api.ok("GET", "/List/1/Recipients/Subscribed", pageNumber=1, pageSize=25)
    assert (second["Skipped"], len(second["Items"])) == (25, 10)  # the [RB] README example
    # mailupy's loop: ceil(total/size) + 1 pages when there is a remainder — the extra one is empty, 200.
    pages = math.ceil(35 / 20) + 1
    seen = []
    for number in range(pages):
        page = api.ok("GET", "/List/1/Recipients/Subscribed", pageNumber=number)
        seen += [item["Email"] for item in page["Items"]]
    assert page["Items"] == [] and page["TotalElementsCount"] == 35
    assert len(seen) == len(set(seen)) == 35
    # pageNum (the samples' spelling) works as pageNumber.
    assert api.ok("GET", "/List/1/Recipients/Subscribed", pageNum=1)["PageNumber"] == 1
    # Everything on one page: IsPaginated false.
    assert api.ok("GET", "/List/1/Groups")["IsPaginated"] is False
    assert api.get("/List/1/Recipients/Subscribed", pageSize="x").status == 400


def test_filterby_in_every_form_clients_send(api):
    ann = api.subscribe("ann@example.com", c1="Ann")
    api.subscribe("bob@example.org", c1="Bob")
    api.subscribe("cy@example.com", c1="Cy")

    def emails(**query):
        return sorted(i["Email"] for i in api.ok("GET", "/List/1/Recipients/Subscribed", **query)["Items"])

    assert emails(filterby="Email=='ann@example.com'") == ["ann@example.com"]  # [MPY], no quotes
    assert emails(filterby="\"Email=='ANN@example.com'\"") == ["ann@example.com"]  # docs: double-quoted
    assert emails(filterby="\"Email.Contains('example.com')\"") == ["ann@example.com", "cy@example.com"]
    assert emails(FilterBy="Email.Contains('example.org')") == ["bob@example.org"]  # parameter case
    assert emails(filterby=f"idRecipient == {ann}") == ["ann@example.com"]
    assert emails(filterby="Email.Contains('example') && Name=='bob'") == ["bob@example.org"]
    assert emails(filterby="Email=='ann@example.com' & Name=='ann'") == ["ann@example.com"]  # [PYM]'s &
    assert emails(filterby="Email=='ann@example.com' || Email=='cy@example.com'") == [
        "ann@example.com",
        "cy@example.com",
    ]
    assert emails(filterby="recipient.Fields['nome']=='Cy'") == ["cy@example.com"]
    assert emails(filterby="!Email.Contains('example.com')") == ["bob@example.org"]
    bad = api.get("/List/1/Recipients/Subscribed", filterby="Email==")
    assert bad.status == 400 and bad.json()["ErrorCode"] == "400" and bad.json()["ErrorDescription"]
    assert api.get("/List/1/Recipients/Subscribed", filterby="Nope=='x'").status == 400


def test_orderby_single_and_multiple_keys(api):
    for email, name in (("b@example.com", "same"), ("a@example.com", "same"), ("c@example.com", "first")):
        api.subscribe(email)
        api.ok("PUT", "/Recipient/Detail", {"Email": email, "Name": name})
    items = api.ok("GET", "/List/1/Recipients/Subscribed", orderby="Email desc")["Items"]
    assert [i["Email"] for i in items] == ["c@example.com", "b@example.com", "a@example.com"]
    items = api.ok("GET", "/List/1/Recipients/Subscribed", orderby='"Name asc;Email asc"')["Items"]
    assert [i["Email"] for i in items] == ["c@example.com", "a@example.com", "b@example.com"]
    items = api.ok("GET", "/List/1/Recipients/Subscribed", orderby="idRecipient+asc".replace("+", " "))[
        "Items"
    ]
    assert [i["Email"] for i in items] == ["b@example.com", "a@example.com", "c@example.com"]
    assert api.get("/List/1/Recipients/Subscribed", orderby="Email sideways").status == 400


def test_sync_subscribe_answers_a_bare_integer_and_recipient_items_keep_their_casing(api):
    reply = api.post(
        "/List/1/Recipient",
        {"Email": "ann@example.com", "Name": "Ann", "Fields": [{"Id": 2, "Value": "Rossi"}]},
    )
    assert reply.status == 200 and reply.text.strip().isdigit()
    rid = reply.json()
    assert isinstance(rid, int)
    # The same address again: the same recipient, fields updated.
    assert api.subscribe("ANN@example.com", c3="ACME") == rid
    item = api.ok("GET", "/List/1/Recipients/Subscribed")["Items"][0]
    assert list(item) == ["idRecipient", "Name", "Email", "MobilePrefix", "MobileNumber", "Fields"]
    fields = {f["Id"]: f for f in item["Fields"]}
    assert set(fields[2]) == {"Description", "Id", "Value"}
    assert (fields[2]["Value"], fields[3]["Value"], fields[1]["Value"]) == ("Rossi", "ACME", "")
    optins = api.ok("GET", "/List/1/Recipients/EmailOptins")["Items"][0]
    assert set(optins) == {
        "Email",
        "Optin_Date",
        "Optin_Request_Date",
        "Optin_Request_IP",
        "Optout_Date",
        "Optout_MsgID",
        "Optout_Subtype",
        "Optout_Type",
        "Status",
        "idRecipient",
    }
    assert optins["Status"] == "OPTIN" and optins["idRecipient"] == rid
    assert len(optins["Optin_Date"]) == len("2020-01-27 10:38:00.000")
    assert api.post("/List/1/Recipient", {"Email": "not-an-address"}).status == 400


def test_confirm_email_puts_the_recipient_in_pending_and_sends_the_request(api, emulator):
    _, handle = emulator
    rid = api.ok("POST", "/List/1/Recipient", {"Email": "dbl@example.com"}, ConfirmEmail="true")
    assert [i["idRecipient"] for i in api.ok("GET", "/List/1/Recipients/Pending")["Items"]] == [rid]
    assert api.ok("GET", "/List/1/Recipients/Subscribed")["Items"] == []
    sent = handle.state.deliveries(ACCOUNT.username)
    assert [(d["address"], d["message_id"]) for d in sent] == [("dbl@example.com", None)]
    assert handle.state.confirm(ACCOUNT.username, 1, "dbl@example.com")
    assert [i["idRecipient"] for i in api.ok("GET", "/List/1/Recipients/Subscribed")["Items"]] == [rid]


def test_unsubscribe_subscribe_and_remove_answer_empty_200_bodies(api):
    rid = api.subscribe("ann@example.com")
    for method, path in (
        ("DELETE", f"/List/1/Unsubscribe/{rid}"),
        ("POST", f"/List/1/Subscribe/{rid}"),
        ("DELETE", f"/List/1/Unsubscribe/{rid}"),
    ):
        reply = api.call(method, path)
        assert (reply.status, reply.text) == (200, "")
    unsub = api.ok("GET", "/List/1/Recipients/EmailOptins")["Items"][0]
    assert unsub["Status"] == "OPTOUT" and unsub["Optout_Date"] and unsub["Optout_Type"] is not None
    assert [i["idRecipient"] for i in api.ok("GET", "/List/1/Recipients/Unsubscribed")["Items"]] == [rid]
    reply = api.delete(f"/List/1/Recipient/{rid}")
    assert (reply.status, reply.text) == (200, "")
    assert api.ok("GET", "/List/1/Recipients/EmailOptins")["Items"] == []
    reply = api.delete(f"/Recipients/{rid}")
    assert (reply.status, reply.text) == (200, "")
    assert api.get(f"/Recipient/{rid}").status == 404


def test_lists_create_update_and_the_mandatory_sender_details(api):
    missing = api.post("/List", {"Name": "Too little"})
    assert missing.status == 400 and "Business" in missing.json()["ErrorDescription"]
    created = api.ok("POST", "/List", NEW_LIST)
    assert created["IdList"] == 2 and created["ListGuid"] and created["Name"] == "Client A"
    assert created["OwnerEmail"] == "owner@agency.example"
    updated = api.ok("PUT", "/List/2", {"Name": "Client A (renamed)", "Description": "d"})
    assert (updated["Name"], updated["Description"], updated["IdList"]) == ("Client A (renamed)", "d", 2)
    assert [i["IdList"] for i in api.ok("GET", "/List")["Items"]] == [1, 2]
    assert api.post("/List", {**NEW_LIST, "Name": "x" * 51}).status == 400
    assert api.get("/List/99").status == 404
    assert api.get("/List/99").json()["ErrorName"] == "NotFound"


def test_groups_create_list_members_and_delete(api):
    group = api.ok("POST", "/List/1/Group", {"Name": "Campaign 7", "Notes": "portal", "Deletable": True})
    assert list(group) == ["Count", "Deletable", "Name", "Notes", "idGroup", "idList"]
    assert (group["idList"], group["Name"], group["Deletable"]) == (1, "Campaign 7", True)
    gid = group["idGroup"]
    rid = api.ok("POST", f"/Group/{gid}/Recipient", {"Email": "g1@example.com"})
    other = api.subscribe("g2@example.com")
    reply = api.post(f"/Group/{gid}/Subscribe/{other}")
    assert (reply.status, reply.text) == (200, "")
    members = api.all_items(f"/Group/{gid}/Recipients")
    assert sorted(m["idRecipient"] for m in members) == sorted([rid, other])
    # The group variant also subscribed the address to the group's list.
    assert rid in [i["idRecipient"] for i in api.ok("GET", "/List/1/Recipients/Subscribed")["Items"]]
    groups_of = api.ok("GET", f"/List/1/Recipient/{rid}/Groups")["Items"]
    assert [g["idGroup"] for g in groups_of] == [gid]
    reply = api.delete(f"/Group/{gid}/Unsubscribe/{other}")
    assert (reply.status, reply.text) == (200, "")
    assert api.ok("DELETE", f"/List/1/Group/{gid}/Recipients") == {"Removed": 1}
    assert api.ok("GET", f"/Group/{gid}/Recipients")["Items"] == []
    fixed = api.ok("POST", "/List/1/Group", {"Name": "Fixed", "Deletable": False})
    assert api.delete(f"/List/1/Group/{fixed['idGroup']}").status == 400
    reply = api.delete(f"/List/1/Group/{gid}")
    assert (reply.status, reply.text) == (200, "")
    assert [g["idGroup"] for g in api.ok("GET", "/List/1/Groups")["Items"]] == [fixed["idGroup"]]


def test_async_import_answers_an_id_and_completes_later(api):
    body = [
        {"Email": f"imp{n}@example.com", "Name": f"N{n}", "Fields": [{"Id": 1, "Value": f"F{n}"}]}
        for n in range(5)
    ]
    body.append({"Email": "broken"})
    reply = api.post("/List/1/Recipients", body)
    assert reply.status == 200 and reply.text.strip().isdigit()
    import_id = reply.json()
    # Not there yet: the first status read says Completed=false and nobody is subscribed.
    status = api.ok("GET", f"/Import/{import_id}")
    assert set(status) == {
        "idImport",
        "Completed",
        "UpdatedRecipients",
        "ValidRecipients",
        "CreatedRecipients",
        "ImportedRecipients",
        "NotValidRecipients",
    }
    assert status["Completed"] is False and status["idImport"] == import_id
    assert api.ok("GET", "/List/1/Recipients/Subscribed")["TotalElementsCount"] == 0
    done = api.ok("GET", f"/Import/{import_id}")
    assert done["Completed"] is True
    assert (done["CreatedRecipients"], done["ValidRecipients"], done["NotValidRecipients"]) == (5, 5, 1)
    assert api.ok("GET", "/List/1/Recipients/Subscribed")["TotalElementsCount"] == 5
    detail = api.ok("GET", f"/Imports/{import_id}")
    assert detail["IdImport"] == import_id and detail["StatusCode"] == 3
    assert detail["Rows"]["Valid"]["EmailNew"] == 5 and detail["Rows"]["Invalid"]["Total"] == 1
    # Importing the same addresses again updates them.
    again = api.ok("POST", "/List/1/Recipients", body[:2])
    api.get(f"/Import/{again}")
    assert api.ok("GET", f"/Import/{again}")["UpdatedRecipients"] == 2


def test_async_import_completes_after_its_delay_on_the_emulator_clock(api, emulator):
    _, handle = emulator
    import_id = api.ok("POST", "/List/1/Recipients", [{"Email": "late@example.com"}])
    handle.state.advance_clock(handle.state.options.import_delay + 1)
    assert api.ok("GET", f"/Import/{import_id}")["Completed"] is True


def test_import_into_a_group_as_optout_and_with_confirmation(api, emulator):
    _, handle = emulator
    gid = api.ok("POST", "/List/1/Group", {"Name": "G"})["idGroup"]
    keep = api.subscribe("keep@example.com")
    imp = api.ok(
        "POST", f"/Group/{gid}/Recipients", [{"Email": "keep@example.com"}, {"Email": "new@example.com"}]
    )
    handle.state.complete_imports()
    assert len(api.ok("GET", f"/Group/{gid}/Recipients")["Items"]) == 2
    out = api.ok("POST", "/List/1/Recipients", [{"Email": "keep@example.com"}], importType="asOptout")
    handle.state.complete_imports()
    assert [i["idRecipient"] for i in api.ok("GET", "/List/1/Recipients/Unsubscribed")["Items"]] == [keep]
    # An ordinary import does not re-subscribe an unsubscribed address; asOptin does.
    api.ok("POST", "/List/1/Recipients", [{"Email": "keep@example.com"}])
    handle.state.complete_imports()
    assert api.ok("GET", "/List/1/Recipients/Unsubscribed")["TotalElementsCount"] == 1
    api.ok("POST", "/List/1/Recipients", [{"Email": "keep@example.com"}], importType="asOptin")
    handle.state.complete_imports()
    assert api.ok("GET", "/List/1/Recipients/Unsubscribed")["TotalElementsCount"] == 0
    # ConfirmEmail=true: pending, and a confirmation sending queued but not sent.
    conf = api.ok("POST", "/List/1/Recipients", [{"Email": "dbl@example.com"}], ConfirmEmail="true")
    handle.state.complete_imports()
    assert [i["Email"] for i in api.ok("GET", "/List/1/Recipients/Pending")["Items"]] == ["dbl@example.com"]
    sending_id = api.ok("GET", f"/Import/{conf}/Sending")
    assert isinstance(sending_id, int)
    undefined = api.ok("GET", "/Email/Sendings/Undefined")["Items"]
    assert [s["Id"] for s in undefined] == [sending_id]
    assert handle.state.deliveries(ACCOUNT.username) == []
    reply = api.post(f"/Email/Sendings/{sending_id}/Immediate")
    assert (reply.status, reply.text) == (200, "")
    assert [d["address"] for d in handle.state.deliveries(ACCOUNT.username)] == ["dbl@example.com"]
    assert api.get(f"/Import/{imp}/Sending").status == 404
    assert out


def test_update_detail_and_lookup_by_email(api):
    rid = api.subscribe("ann@example.com")
    updated = api.ok(
        "PUT",
        "/Recipient/Detail",
        {"idRecipient": rid, "Name": "Ann B", "Fields": [{"Id": 1, "Value": "Ann"}]},
    )
    assert updated["idRecipient"] == rid and updated["Name"] == "Ann B"
    assert {f["Id"]: f["Value"] for f in updated["Fields"]}[1] == "Ann"
    by_email = api.ok(
        "PUT", "/Recipient/Detail", {"Email": "ann@example.com", "Fields": [{"Id": 1, "Value": ""}]}
    )
    assert {f["Id"]: f["Value"] for f in by_email["Fields"]}[1] == ""  # PUT replaces, empty included
    assert api.ok("GET", "/Recipient/ann@example.com")["idRecipient"] == rid
    assert api.put("/Recipient/Detail", {"idRecipient": 999}).status == 404


def test_email_and_mobile_are_unique_keys_of_the_account(api):
    a = api.ok(
        "POST",
        "/List/1/Recipient",
        {"Email": "a@example.com", "MobilePrefix": "+39", "MobileNumber": "3351111111"},
    )
    b = api.ok(
        "POST",
        "/List/1/Recipient",
        {"Email": "b@example.com", "MobilePrefix": "0039", "MobileNumber": "3352222222"},
    )
    assert a != b
    # "+39" and "0039" are one prefix: the same recipient.
    assert (
        api.ok(
            "POST",
            "/List/1/Recipient",
            {"MobilePrefix": "0039", "MobileNumber": "3351111111", "Email": "a@example.com"},
        )
        == a
    )
    clash = api.post(
        "/List/1/Recipient", {"Email": "a@example.com", "MobilePrefix": "0039", "MobileNumber": "3352222222"}
    )
    assert clash.status == 400 and "key mismatch" in clash.json()["ErrorDescription"]


def test_accounts_are_isolated(emulator):
    base, _ = emulator
    first, second = Api(base, ACCOUNT), Api(base, OTHER)
    first.subscribe("only-here@example.com")
    assert second.ok("GET", "/List/1/Recipients/Subscribed")["TotalElementsCount"] == 0
    assert second.ok("GET", "/List/1")["ListGuid"] != first.ok("GET", "/List/1")["ListGuid"]
