"""SMS counting (email-sms-standards.md §5.2, every worked example) and E.164 numbers (§6.2), through the
one counter the server, the browser (via its JSON endpoint) and the ledger use, and `portal sms count`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from portal.imports.addresses import InvalidAddress, normalise_phone
from portal.sms.cli import sms_cli
from portal.sms.segments import GSM7, UCS2, count

# (text, units, encoding, segments) — the table of §5.2.
WORKED = [
    ("a" * 160, 160, GSM7, 1),
    ("a" * 161, 161, GSM7, 2),
    ("a" * 159 + "€", 161, GSM7, 2),
    ("a" * 158 + "€", 160, GSM7, 1),
    ("a" * 152 + "€" + "a" * 152, 306, GSM7, 3),
    ("Ж" * 70, 70, UCS2, 1),
    ("Ж" * 71, 71, UCS2, 2),
    ("Ж" * 66 + "😀" + "Ж" * 66, 134, UCS2, 3),
]


@pytest.mark.parametrize(("text", "units", "encoding", "segments"), WORKED)
def test_worked_examples(text, units, encoding, segments):
    result = count(text)
    assert (result.units, result.encoding, result.segments) == (units, encoding, segments)


def test_naive_division_would_undercount_the_straddling_examples():
    assert count("a" * 152 + "€" + "a" * 152).segments == 3  # ceil(306/153) = 2
    assert count("Ж" * 66 + "😀" + "Ж" * 66).segments == 3  # ceil(134/67) = 2


@pytest.mark.parametrize("text", ["Caffè È pronto", "Ciao 😀", "Привет"])
def test_one_character_outside_gsm_switches_the_whole_text(text):
    result = count(text)
    assert result.encoding == UCS2
    assert result.non_gsm  # which characters forced it, for the page


def test_italian_lowercase_accents_and_capital_e_acute_stay_gsm_but_capital_e_grave_does_not():
    assert count("è é ù ì ò à É").encoding == GSM7
    assert count("È").encoding == UCS2 and count("È").non_gsm == ("È",)


def test_every_extension_character_costs_two_septets():
    for ch in "€[]{}~^\\|\f":
        assert count(ch).units == 2, ch


def test_empty_text_is_no_segment():
    assert count("").segments == 0


def test_cli_prints_encoding_characters_segments():
    runner = CliRunner()
    plain = runner.invoke(sms_cli, ["count", "a" * 161])
    assert plain.exit_code == 0
    assert "encoding: GSM-7" in plain.output and "characters: 161" in plain.output
    assert "segments: 2" in plain.output
    as_json = json.loads(runner.invoke(sms_cli, ["count", "--json", "Ciao È"]).output)
    assert as_json["encoding"] == "UCS-2" and as_json["segments"] == 1 and as_json["non_gsm"] == ["È"]


@pytest.mark.parametrize(
    ("raw", "region", "stored"),
    [
        ("+39 347 123 4567", "", "+393471234567"),
        ("0039 347 1234567", "", "+393471234567"),
        ("347 1234567", "IT", "+393471234567"),
        ("+1 (415) 555-2671", "", "+14155552671"),
    ],
)
def test_e164_examples(raw, region, stored):
    assert normalise_phone(raw, region) == stored


@pytest.mark.parametrize("raw", ["+0393471234567", "+3934712345678901", "+39 347 CALL ME", "+39", "+39 000"])
def test_e164_rejections(raw):
    with pytest.raises(InvalidAddress):
        normalise_phone(raw, "")
