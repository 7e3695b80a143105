"""Reading MailUp's values in every form the reference lists: dates (§4.4, §15.2), opt-in statuses whose
other values are uncertain (§7.3), both import status resources (§7.7), bare integers as numbers or
strings, and send times refused without a time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from portal.backends.mailup import ImportStatus, MailList, Optin, Recipient
from portal.backends.mailup.values import format_date, parse_date, to_int


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-01-27 10:05:53Z", datetime(2020, 1, 27, 10, 5, 53, tzinfo=UTC)),
        ("2020-01-27 10:38:00.000", datetime(2020, 1, 27, 10, 38, tzinfo=UTC)),
        (
            "2012-09-12T11:18:37.664+02",
            datetime(2012, 9, 12, 11, 18, 37, 664000, tzinfo=timezone(timedelta(hours=2))),
        ),
        ('"2015-10-20 05:00:00Z"', datetime(2015, 10, 20, 5, tzinfo=UTC)),
        ("", None),
        (None, None),
        ("not a date", None),
    ],
)
def test_dates_in_every_form(text, expected):
    assert parse_date(text) == expected


def test_send_times_are_utc_and_need_a_zone():
    rome = timezone(timedelta(hours=1))
    assert format_date(datetime(2030, 1, 2, 10, 0, tzinfo=rome)) == "2030-01-02 09:00:00Z"
    with pytest.raises(ValueError):
        format_date(datetime(2030, 1, 2, 10, 0))


def test_numbers_as_numbers_or_strings():
    assert to_int(16) == 16 and to_int("16") == 16 and to_int('"16"') == 16
    assert to_int(None) is None and to_int(True) is None and to_int("x") is None


@pytest.mark.parametrize(
    ("status", "optout_date", "opted_out"),
    [
        ("OPTIN", "", False),
        ("PENDING", "", False),
        ("OPTOUT", "2024-05-01 10:00:00.000", True),
        ("Unsubscribed", "", True),
        ("SOMETHING_NEW", "2024-05-01 10:00:00.000", True),  # unknown status with an opt-out date
        ("SOMETHING_NEW", "", False),
        ("OPTIN", "2024-05-01 10:00:00.000", False),  # subscribed again after an old opt-out
    ],
)
def test_opt_out_statuses(status, optout_date, opted_out):
    item = {
        "Email": "a@b.c",
        "Status": status,
        "Optout_Date": optout_date,
        "idRecipient": 3,
        "Optout_Type": "2",
    }
    optin = Optin.from_api(item)
    assert optin.opted_out is opted_out and optin.recipient_id == 3 and optin.optout_type == 2


def test_both_import_status_resources():
    short = ImportStatus.from_api(
        {
            "idImport": 7,
            "Completed": True,
            "CreatedRecipients": 3,
            "UpdatedRecipients": 1,
            "ValidRecipients": 4,
            "NotValidRecipients": 1,
            "ImportedRecipients": 4,
        }
    )
    rich = ImportStatus.from_api(
        {
            "IdImport": 7,
            "StatusCode": 3,
            "EndDate": "2024-05-01 10:00:00Z",
            "Rows": {"Valid": {"EmailNew": 3, "EmailUpdate": 1, "Total": 4}, "Invalid": {"Total": 1}},
        }
    )
    assert short == rich == ImportStatus(7, True, created=3, updated=1, valid=4, not_valid=1, imported=4)
    assert not ImportStatus.from_api({"IdImport": 8, "StatusCode": 2, "EndDate": None, "Rows": {}}).completed
    assert not ImportStatus.from_api({"idImport": 8, "Completed": "false"}).completed


def test_list_ids_under_both_casings_and_recipient_fields_checked():
    assert MailList.from_api({"IdList": 2, "ListGuid": "g", "Name": "A"}) == MailList(2, "A", "g")
    assert MailList.from_api({"idList": 2, "listGUID": "g", "Name": "A"}) == MailList(2, "A", "g")
    with pytest.raises(ValueError):
        Recipient("a@b.c", fields={40: "x"}).to_api()
    with pytest.raises(ValueError):
        Recipient("a@b.c", fields={1: "x" * 201}).to_api()
