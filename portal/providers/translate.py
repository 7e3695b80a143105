"""The portal's merge tags in the provider's dynamic-field syntax (reference §8, §10.1: `[field name]`).

What translates: a plain tag of a value the provider holds per recipient — `{{ email }}`, a custom field
with a number 1..39 (`{{ first_name }}`), and the portal's links (`{{ unsubscribe_url }}`,
`{{ preferences_url }}`, `{{ view_url }}`, carried in personal fields, see binding.py). Anything else —
filters (`| default(...)`), conditions, loops, expressions — has no equivalent there, so the campaign is
refused at review with a message that says which tag to change (never naming the provider).

The translated content is the portal's own rendering with each value replaced by its provider tag, so
CSS inlining, the preheader and the unsubscribe footer are exactly the portal's. Links are not rewritten
for tracking (the provider tracks opens and clicks itself and the pull brings them back).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from ..extensions import db
from ..mail.render import Links, add_preheader, html_to_text, prepare, render
from ..models import Campaign, Field, ProviderBinding
from ..services.i18n_safe import _
from .binding import LINKS

EMAIL_TAG = "[email]"
_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_PLAIN = re.compile(r"^\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}$")


class UntranslatableContent(ValueError):
    """The text says what to change (shown on the review page and as the campaign's message)."""


@dataclass(frozen=True)
class Translated:
    subject: str
    html: str
    text: str


def _sources(campaign: Campaign) -> dict[str, str]:
    text = campaign.text if campaign.text_edited and campaign.text.strip() else ""
    return {_("the subject"): campaign.subject, _("the content"): campaign.html, _("the text version"): text}


def _names(source: str) -> list[str]:
    """The names of the plain tags in a template; raises with the first tag that is not one."""
    names = []
    for tag in _TAG.findall(source):
        if tag.startswith("{#"):
            continue  # a comment renders to nothing
        plain = _PLAIN.match(tag)
        if plain is None:
            raise UntranslatableContent(" ".join(tag.split())[:80])
        names.append(plain.group(1))
    return names


def allowed_names(client_id: int) -> set[str]:
    keys = db.session.scalars(
        select(Field.key).where(Field.client_id == client_id, Field.number >= 1, Field.number <= 39)
    )
    return {"email", *keys, *LINKS}


def problem(campaign: Campaign) -> str | None:
    """Why this campaign's merge tags cannot go through a provider-side connection (None: they can)."""
    allowed = allowed_names(campaign.client_id)
    for where, source in _sources(campaign).items():
        if not source.strip():
            continue
        try:
            unknown = [n for n in _names(source) if n not in allowed]
        except UntranslatableContent as exc:
            return _(
                "This account's delivery connection can only personalise with plain tags such as "
                "{{ first_name }}: %(where)s uses %(tag)s. Replace it with a plain tag (or remove it).",
                where=where,
                tag=str(exc),
            )
        if unknown:
            return _(
                "This account's delivery connection can only personalise with plain tags such as "
                "{{ first_name }}: %(where)s uses %(tag)s. Replace it with a plain tag (or remove it).",
                where=where,
                tag="{{ " + unknown[0] + " }}",
            )
    return None


def translate(campaign: Campaign, binding: ProviderBinding) -> Translated:
    """Subject, HTML and text with the provider's tags; raises UntranslatableContent (at send time a
    field the account does not have)."""
    found = problem(campaign)
    if found:
        raise UntranslatableContent(found)
    fmap = binding.field_map or {}
    keys = dict(
        db.session.execute(select(Field.number, Field.key).where(Field.client_id == campaign.client_id)).all()
    )
    values = {"email": EMAIL_TAG}
    for number, entry in (fmap.get("fields") or {}).items():
        if int(number) in keys:
            values[keys[int(number)]] = f"[{entry['name']}]"
    link_tags = {k: f"[{v['name']}]" for k, v in (fmap.get("links") or {}).items()}
    used = set()
    for source in _sources(campaign).values():
        used.update(_names(source) if source.strip() else [])
    missing = sorted(n for n in used if n not in values and n not in link_tags)
    if missing or len(link_tags) < len(LINKS):
        raise UntranslatableContent(
            f"the delivery service account has no personal field for {{{{ {(missing or LINKS)[0]} }}}}"
        )
    text = campaign.text if campaign.text_edited and campaign.text.strip() else html_to_text(campaign.html)
    html = add_preheader(campaign.html, campaign.preheader or "")
    prepared = prepare(campaign.subject, html, text, track_clicks=False)
    links = Links(
        unsubscribe_url=link_tags["unsubscribe_url"],
        preferences_url=link_tags["preferences_url"],
        view_url=link_tags["view_url"],
        open_url=None,
        click_base="",
    )
    subject, html_out, text_out = render(prepared, values, links)
    return Translated(subject, html_out, text_out)
