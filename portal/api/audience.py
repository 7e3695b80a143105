"""Lists, fields, contacts (get, upsert one, bulk upsert as an import job) and list subscriptions.

One path per operation: a contact is written by services/contacts.save_contact, subscribed by
services/contacts.subscribe (double opt-in: the forms feature's sign_up, which sends the confirmation
link), unsubscribed by services/contacts.unsubscribe; a bulk upsert becomes a CSV handed to the import
engine (services/imports), exactly as an uploaded file would."""

from __future__ import annotations

import csv
import io

from flask import g, url_for
from sqlalchemy import select

from ..extensions import db
from ..forms import confirm_mail, optin
from ..imports.addresses import InvalidAddress, normalise_email, normalise_phone
from ..models import Contact, Field, MailingList, Subscription
from ..netutil import client_ip
from ..services import contacts as contact_service
from ..services import imports as import_service
from ..services import lists as list_service
from . import bp
from .auth import requires
from .errors import ApiError
from .paging import page
from .schemas import (
    BulkIn,
    ContactIn,
    ContactOut,
    ContactQuery,
    FieldOut,
    JobRef,
    ListIn,
    ListOut,
    PageArgs,
    SubscribeIn,
    SubscriptionOut,
    page_of,
)


def _not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"No such {what}.")


def _list_or_404(list_id: int) -> MailingList:
    lst = db.session.scalar(select(MailingList).where(MailingList.id == list_id))
    if lst is None:
        raise _not_found("list")
    return lst


def _contact_or_404(contact_id: int) -> Contact:
    contact = db.session.scalar(select(Contact).where(Contact.id == contact_id))
    if contact is None:
        raise _not_found("contact")
    return contact


def list_dict(lst: MailingList) -> dict:
    return {k: getattr(lst, k) for k in ListOut().fields}


def contact_dict(contact: Contact) -> dict:
    subs = db.session.scalars(
        select(Subscription).where(Subscription.contact_id == contact.id).order_by(Subscription.id)
    )
    return {
        "id": contact.id,
        "email": contact.email,
        "phone": contact.phone,
        "fields": dict(contact.fields or {}),
        "subscriptions": [{k: getattr(s, k) for k in SubscriptionOut().fields} for s in subs],
        "created_at": contact.created_at,
        "updated_at": contact.updated_at,
    }


# --- lists and fields --------------------------------------------------------------------------------


@bp.route("/lists", methods=["GET"])
@bp.arguments(PageArgs, location="query")
@bp.response(200, page_of(ListOut))
@requires("read")
def lists_index(args):
    """The client's lists."""
    return page(select(MailingList), MailingList, args, list_dict)


@bp.route("/lists", methods=["POST"])
@bp.arguments(ListIn)
@bp.response(201, ListOut)
@requires("write")
def lists_create(data):
    """Create a list."""
    values = list_service.ListValues(**data)
    lst = list_service.create_list(actor=None, client=g.client, values=values)
    db.session.commit()
    return list_dict(lst)


@bp.route("/lists/<int:list_id>", methods=["GET"])
@bp.response(200, ListOut)
@requires("read")
def lists_get(list_id: int):
    """One list with its subscribed counts."""
    return list_dict(_list_or_404(list_id))


@bp.route("/fields", methods=["GET"])
@bp.arguments(PageArgs, location="query")
@bp.response(200, page_of(FieldOut))
@requires("read")
def fields_index(args):
    """The client's custom fields (keys are what `fields` of a contact use)."""
    return page(select(Field), Field, args, lambda f: {k: getattr(f, k) for k in FieldOut().fields})


# --- contacts ---------------------------------------------------------------------------------------------


@bp.route("/contacts", methods=["GET"])
@bp.arguments(ContactQuery, location="query")
@bp.response(200, page_of(ContactOut))
@requires("read")
def contacts_index(args):
    """Contacts in id order; `email` or `phone` finds one contact by address."""
    query = select(Contact)
    try:
        if args.get("email"):
            query = query.where(Contact.email == normalise_email(args["email"]))
        if args.get("phone"):
            query = query.where(Contact.phone == normalise_phone(args["phone"], g.client.default_region))
    except InvalidAddress as exc:
        raise ApiError(422, "invalid_address", str(exc), {"query": [str(exc)]}) from exc
    return page(query, Contact, args, contact_dict)


@bp.route("/contacts/<int:contact_id>", methods=["GET"])
@bp.response(200, ContactOut)
@requires("read")
def contacts_get(contact_id: int):
    """One contact with its subscriptions."""
    return contact_dict(_contact_or_404(contact_id))


def _find(email: str, phone: str) -> Contact | None:
    try:
        if email.strip():
            found = db.session.scalar(select(Contact).where(Contact.email == normalise_email(email)))
            if found is not None:
                return found
        if phone.strip():
            number = normalise_phone(phone, g.client.default_region)
            return db.session.scalar(select(Contact).where(Contact.phone == number))
    except InvalidAddress:
        return None  # save_contact reports the address problem with its field name
    return None


def _invalid(exc: contact_service.ContactInvalid) -> ApiError:
    details = {f"json.{k.replace('field:', 'fields.')}": [v] for k, v in exc.errors.items()}
    return ApiError(422, "invalid_contact", str(exc), details)


@bp.route("/contacts", methods=["POST"])
@bp.arguments(ContactIn)
@bp.response(200, ContactOut, description="An existing contact (same email, else same phone) was updated")
@bp.alt_response(201, schema=ContactOut, description="A new contact was created")
@requires("write")
def contacts_upsert(data):
    """Create or update one contact (matched by email, else phone) and subscribe it to `lists`."""
    existing = _find(data["email"], data["phone"])
    values = {k: ("" if v is None else v) for k, v in data["field_values"].items()}
    contact_input = contact_service.ContactInput(
        email=data["email"] or (existing.email or "" if existing else ""),
        phone=data["phone"] or (existing.phone or "" if existing else ""),
        values=values,
    )
    try:
        contact = contact_service.save_contact(
            actor=None, client=g.client, data=contact_input, contact=existing
        )
    except contact_service.ContactInvalid as exc:
        raise _invalid(exc) from exc
    if data["lists"]:
        _subscribe(contact, data["lists"], data["double_opt_in"])
    db.session.commit()
    return contact_dict(contact), 200 if existing is not None else 201


def _subscribe(contact: Contact, list_ids: list[int], double_opt_in: bool) -> None:
    for list_id in list_ids:
        _list_or_404(list_id)
    if not double_opt_in:
        contact_service.subscribe(
            actor=None, client=g.client, contact=contact, list_ids=list_ids, ip=client_ip(), source="api"
        )
        return
    # Double opt-in is the forms feature's path: pending subscriptions, consent record, emailed link.
    result = optin.sign_up(
        g.client,
        optin.SignUp(
            email=contact.email or "",
            phone=contact.phone or "",
            list_ids=list_ids,
            channels=("email", "sms"),
            double_opt_in=True,
            source="api",
            ip=client_ip(),
        ),
    )
    if result.token and result.request is not None:
        confirm_mail.queue_confirmation(g.agency, g.client, result.request, result.token)


@bp.route("/contacts/bulk", methods=["POST"])
@bp.arguments(BulkIn)
@bp.response(202, JobRef)
@requires("write")
def contacts_bulk(data):
    """Upsert up to 10,000 contacts as an import job (the same engine as file imports): poll the job."""
    for list_id in data["lists"]:  # before anything is stored: an unknown list is a plain 404
        _list_or_404(list_id)
    keys = sorted({k for c in data["contacts"] for k in c["field_values"]})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["email", "phone", *keys])
    for c in data["contacts"]:
        writer.writerow([c["email"], c["phone"], *[c["field_values"].get(k) or "" for k in keys]])
    known = {f.key for f in db.session.scalars(select(Field))}
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise ApiError(
            422, "unknown_field", f"Unknown field: {', '.join(unknown)}.", {"json.contacts.fields": unknown}
        )
    raw = io.BytesIO(buffer.getvalue().encode("utf-8"))
    imp = import_service.create_import(
        actor=None, client=g.client, stream=raw, filename="api-bulk-upsert.csv"
    )
    mapping = {"0": "email", "1": "phone", **{str(i + 2): f"field:{k}" for i, k in enumerate(keys)}}
    run = import_service.start_import(
        actor=None,
        client=g.client,
        imp=imp,
        mapping=mapping,
        list_ids=data["lists"],
        update_existing=data["update_existing"],
        status=data["status"],
        consent_ip=client_ip(),
    )
    db.session.commit()
    return {"job_id": run.id, "import_id": imp.id, "status_url": url_for("api.jobs_get", job_id=run.id)}


# --- subscriptions ----------------------------------------------------------------------------------------


def _contact_for(data: dict) -> Contact:
    if data.get("contact_id"):
        return _contact_or_404(data["contact_id"])
    found = _find(data.get("email") or "", data.get("phone") or "")
    if found is not None:
        return found
    try:  # an unknown address becomes a contact first: the contact service's one path
        return contact_service.save_contact(
            actor=None,
            client=g.client,
            data=contact_service.ContactInput(email=data.get("email") or "", phone=data.get("phone") or ""),
        )
    except contact_service.ContactInvalid as exc:
        raise _invalid(exc) from exc


@bp.route("/lists/<int:list_id>/subscriptions", methods=["POST"])
@bp.arguments(SubscribeIn)
@bp.response(200, ContactOut)
@requires("write")
def subscriptions_create(data, list_id: int):
    """Subscribe a contact (by id, or by address — created if new) to the list; `double_opt_in` sends a
    confirmation link and leaves the subscription pending until it is followed."""
    _list_or_404(list_id)
    contact = _contact_for(data)
    _subscribe(contact, [list_id], data["double_opt_in"])
    db.session.commit()
    return contact_dict(contact)


@bp.route("/lists/<int:list_id>/subscriptions/<int:contact_id>", methods=["DELETE"])
@bp.response(200, ContactOut)
@requires("write")
def subscriptions_delete(list_id: int, contact_id: int):
    """Unsubscribe the contact from the list on every channel."""
    _list_or_404(list_id)
    contact = _contact_or_404(contact_id)
    subs = list(
        db.session.scalars(
            select(Subscription).where(Subscription.contact_id == contact.id, Subscription.list_id == list_id)
        )
    )
    if not subs:
        raise _not_found("subscription")
    for sub in subs:
        contact_service.unsubscribe(actor=None, client=g.client, contact=contact, subscription_id=sub.id)
    db.session.commit()
    return contact_dict(contact)
