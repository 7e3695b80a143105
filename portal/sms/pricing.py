"""Credits per segment by destination country: the agency's price list, "*" for every other country,
1 credit per segment where the agency set nothing."""

from __future__ import annotations

import phonenumbers
from sqlalchemy import select

from ..extensions import db
from ..models import SmsPrice
from ..services import DomainError
from ..services.i18n_safe import _

ANY_COUNTRY = "*"
DEFAULT_CREDITS_PER_SEGMENT = 1


def country_of(number: str) -> str:
    """ISO region of an E.164 number ("" when libphonenumber cannot tell)."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number, None)) or ""
    except phonenumbers.NumberParseException:
        return ""


def price_list(agency_id: int) -> dict[str, int]:
    return {
        country: per
        for country, per in db.session.execute(
            select(SmsPrice.country, SmsPrice.credits_per_segment).where(SmsPrice.agency_id == agency_id)
        )
    }


def credits_for(prices: dict[str, int], number: str, segments: int) -> int:
    per = prices.get(country_of(number), prices.get(ANY_COUNTRY, DEFAULT_CREDITS_PER_SEGMENT))
    return per * segments


def set_price(*, agency_id: int, country: str, credits_per_segment: int) -> SmsPrice:
    country = (country or "").strip().upper()
    if country != ANY_COUNTRY and (len(country) != 2 or not country.isalpha()):
        raise DomainError(
            _("Country: use a two-letter country code (IT, DE, …) or * for every other country.")
        )
    if not 1 <= int(credits_per_segment) <= 1000:
        raise DomainError(_("Credits per segment: a whole number from 1 to 1,000."))
    row = db.session.scalar(
        select(SmsPrice).where(SmsPrice.agency_id == agency_id, SmsPrice.country == country)
    )
    if row is None:
        row = SmsPrice(agency_id=agency_id, country=country)
        db.session.add(row)
    row.credits_per_segment = int(credits_per_segment)
    db.session.flush()
    return row
