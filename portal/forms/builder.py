"""The form builder: a client's subscription forms, checked so that what the public page promises is
what happens (the lists carry the channels asked, double opt-in has an email to confirm by, a form
without double opt-in shows its consent text, redirects go only to the client's own sites)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import func, select

from ..extensions import db
from ..models import Client, Contact, Field, MailingList, SubscribeForm, SubscribeRequest, User
from ..models.audience import CHANNEL_EMAIL, CHANNELS
from ..services import DomainError, NotFound
from ..services.audit import record
from ..services.i18n_safe import _

LANGUAGES = ("en", "it")


class FormInvalid(DomainError):
    """Field-level errors of the builder: {"name": "...", "allowed_origins": "...", ...}."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass
class FormValues:
    name: str = ""
    title: str = ""
    list_ids: list[int] = field(default_factory=list)
    fields: list[dict] = field(default_factory=list)  # [{"key": ..., "required": bool}]
    channels: list[str] = field(default_factory=lambda: [CHANNEL_EMAIL])
    double_opt_in: bool = True
    consent_text: str = ""
    success_message: str = ""
    redirect_url: str = ""
    allowed_origins: str = ""
    language: str = "en"
    active: bool = True


def normalise_origin(raw: str) -> str | None:
    """`https://Shop.Example.com/` → `https://shop.example.com`; None unless a bare http(s) origin."""
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        return None
    if parts.query or parts.fragment or parts.username or parts.password:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    return f"{parts.scheme}://{parts.hostname.lower()}" + (f":{port}" if port else "")


def origin_of(url: str) -> str | None:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    return f"{parts.scheme}://{parts.hostname.lower()}" + (f":{port}" if port else "")


def _check(values: FormValues) -> FormValues:
    errors: dict[str, str] = {}
    if not values.name.strip():
        errors["name"] = _("Give the form a name.")
    lists = list(db.session.scalars(select(MailingList).where(MailingList.id.in_(values.list_ids))))
    if not values.list_ids or len(lists) != len(set(values.list_ids)):
        errors["list_ids"] = _("Choose at least one of your lists.")
    channels = [c for c in CHANNELS if c in values.channels]
    if not channels:
        errors["channels"] = _("Choose at least one channel.")
    for lst in lists:
        carries = [c for c in channels if getattr(lst, f"{c}_enabled")]
        if channels and not carries:
            errors["channels"] = _("The list %(name)s carries none of the chosen channels.", name=lst.name)
    if values.double_opt_in and CHANNEL_EMAIL not in channels:
        errors["double_opt_in"] = _(
            "Double opt-in confirms by email: the form must ask for an email address."
        )
    if not values.double_opt_in and not values.consent_text.strip():
        errors["consent_text"] = _("Without double opt-in the form must show a consent text.")
    known = {f.key for f in db.session.scalars(select(Field))}
    unknown = [f["key"] for f in values.fields if f["key"] not in known]
    if unknown:
        errors["fields"] = _("Unknown field: %(key)s.", key=", ".join(unknown))
    origins, bad = [], []
    for line in values.allowed_origins.splitlines():
        if line.strip():
            origin = normalise_origin(line)
            (origins.append(origin) if origin else bad.append(line.strip()))
    if bad:
        errors["allowed_origins"] = _(
            "Not a site address (https://www.example.com, without a path): %(lines)s", lines=", ".join(bad)
        )
    if values.redirect_url.strip() and origin_of(values.redirect_url) not in origins:
        errors["redirect_url"] = _("The redirect address must be on one of the sites listed below.")
    if values.language not in LANGUAGES:
        errors["language"] = _("Unknown language.")
    if errors:
        raise FormInvalid(errors)
    values.channels = channels
    values.allowed_origins = "\n".join(dict.fromkeys(origins))
    return values


def _apply(form: SubscribeForm, values: FormValues) -> None:
    form.name, form.title = values.name.strip()[:120], values.title.strip()[:200]
    form.list_ids = sorted(set(values.list_ids))
    form.fields = [{"key": f["key"], "required": bool(f.get("required"))} for f in values.fields]
    form.channels = values.channels
    form.double_opt_in, form.consent_text = values.double_opt_in, values.consent_text.strip()
    form.success_message, form.redirect_url = values.success_message.strip(), values.redirect_url.strip()
    form.allowed_origins, form.language, form.active = values.allowed_origins, values.language, values.active


def list_forms() -> list[SubscribeForm]:
    return list(db.session.scalars(select(SubscribeForm).order_by(SubscribeForm.name)))


def get_form(form_id: int) -> SubscribeForm:
    form = db.session.scalar(select(SubscribeForm).where(SubscribeForm.id == form_id))
    if form is None:
        raise NotFound("form")
    return form


def public_form(agency_id: int, key: str) -> SubscribeForm | None:
    """An active form by its public key, within the host's agency only."""
    if not key or len(key) > 32:
        return None
    return db.session.scalar(
        select(SubscribeForm).where(
            SubscribeForm.public_key == key, SubscribeForm.agency_id == agency_id, SubscribeForm.active
        )
    )


def create_form(*, actor: User | None, client: Client, values: FormValues) -> SubscribeForm:
    values = _check(values)
    form = SubscribeForm(agency_id=client.agency_id, client_id=client.id, public_key=secrets.token_hex(12))
    _apply(form, values)
    db.session.add(form)
    db.session.flush()
    record("form.created", actor=actor, agency_id=client.agency_id, client_id=client.id, target=form.name)
    return form


def update_form(*, actor: User | None, client: Client, form: SubscribeForm, values: FormValues) -> None:
    _apply(form, _check(values))
    db.session.flush()
    record("form.updated", actor=actor, agency_id=client.agency_id, client_id=client.id, target=form.name)


def delete_form(*, actor: User | None, client: Client, form: SubscribeForm) -> None:
    """The consent records it made stay (their form becomes unknown): they are the evidence."""
    record("form.deleted", actor=actor, agency_id=client.agency_id, client_id=client.id, target=form.name)
    db.session.delete(form)
    db.session.flush()


def request_counts(form: SubscribeForm) -> dict[str, int]:
    rows = db.session.execute(
        select(SubscribeRequest.status, func.count(SubscribeRequest.id))
        .where(SubscribeRequest.form_id == form.id)
        .group_by(SubscribeRequest.status)
    ).all()
    return {status: n for status, n in rows}


def recent_requests(form: SubscribeForm, limit: int = 20) -> list[tuple[SubscribeRequest, str]]:
    """The form's latest sign-ups with the address, newest first: the consent evidence the client can
    show (when, from which IP, with which text, confirmed when and from where)."""
    rows = db.session.execute(
        select(SubscribeRequest, Contact.email, Contact.phone)
        .join(Contact, Contact.id == SubscribeRequest.contact_id)
        .where(SubscribeRequest.form_id == form.id)
        .order_by(SubscribeRequest.id.desc())
        .limit(limit)
    ).all()
    return [(r, email or phone or "") for r, email, phone in rows]


def form_fields(form: SubscribeForm) -> list[tuple[Field, bool]]:
    """The form's custom fields in its order, with whether each is required (deleted fields drop out)."""
    by_key = {f.key: f for f in db.session.scalars(select(Field).where(Field.client_id == form.client_id))}
    return [(by_key[f["key"]], bool(f.get("required"))) for f in form.fields or [] if f["key"] in by_key]
