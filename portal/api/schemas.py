"""Request and response schemas (marshmallow). The same classes validate requests (webargs via
flask-smorest) and generate the OpenAPI document, so the document cannot drift from what is enforced."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..models.audience import CHANNELS, SUB_STATUSES
from ..models.suppression import REASONS

MAX_PAGE = 200
MAX_BULK = 10_000
MAX_ID = 2**31 - 1
Id = lambda **kw: fields.Integer(strict=True, validate=validate.Range(1, MAX_ID), **kw)  # noqa: E731


class Strict(Schema):
    """Unknown properties are refused with their name (a typo never silently drops a value)."""

    class Meta:
        ordered = True


# --- errors and paging -----------------------------------------------------------------------------


class ErrorDetail(Schema):
    code = fields.String(required=True, metadata={"description": "Stable machine code, e.g. not_found"})
    message = fields.String(required=True, metadata={"description": "What went wrong, for a person"})
    details = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        required=True,
        metadata={"description": "Field or parameter → problems"},
    )


class Error(Schema):
    error = fields.Nested(ErrorDetail, required=True)


class PageArgs(Strict):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, MAX_PAGE))
    after = fields.String(
        load_default=None,
        validate=validate.Length(max=200),
        metadata={"description": "next_cursor of the previous page"},
    )


def page_of(item_schema):
    return type(
        f"{item_schema.__name__}Page",
        (Schema,),
        {
            "data": fields.List(fields.Nested(item_schema), required=True),
            "next_cursor": fields.String(required=True, allow_none=True),
        },
    )


# --- lists and fields ------------------------------------------------------------------------------


class ListOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)
    public_name = fields.String(required=True)
    double_opt_in = fields.Boolean(required=True)
    email_enabled = fields.Boolean(required=True)
    sms_enabled = fields.Boolean(required=True)
    email_subscribed_count = fields.Integer(required=True)
    sms_subscribed_count = fields.Integer(required=True)
    created_at = fields.DateTime(required=True, format="iso")


class ListIn(Strict):
    name = fields.String(required=True, validate=validate.Length(1, 120))
    description = fields.String(load_default="", validate=validate.Length(max=2000))
    public_name = fields.String(load_default="", validate=validate.Length(max=120))
    double_opt_in = fields.Boolean(load_default=True)
    email_enabled = fields.Boolean(load_default=True)
    sms_enabled = fields.Boolean(load_default=False)


class FieldOut(Schema):
    id = fields.Integer(required=True)
    number = fields.Integer(required=True, metadata={"description": "1..39, stable for the field's life"})
    key = fields.String(required=True)
    label = fields.String(required=True)
    kind = fields.String(required=True)
    choices = fields.List(fields.String(), required=True)


# --- contacts and subscriptions ---------------------------------------------------------------------


class SubscriptionOut(Schema):
    list_id = fields.Integer(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    status = fields.String(required=True, validate=validate.OneOf(SUB_STATUSES))
    consent_at = fields.DateTime(required=True, allow_none=True, format="iso")
    consent_source = fields.String(required=True)


class ContactOut(Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True, allow_none=True)
    phone = fields.String(required=True, allow_none=True)
    field_values = fields.Dict(
        keys=fields.String(),
        required=True,
        data_key="fields",
        attribute="fields",
        metadata={"description": "field key → value"},
    )
    subscriptions = fields.List(fields.Nested(SubscriptionOut), required=True)
    created_at = fields.DateTime(required=True, format="iso")
    updated_at = fields.DateTime(required=True, format="iso")


FieldValues = lambda: fields.Dict(  # noqa: E731
    keys=fields.String(validate=validate.Length(1, 40)),
    values=fields.String(validate=validate.Length(max=2000), allow_none=True),
    load_default=dict,
    data_key="fields",
    validate=validate.Length(max=39),
    metadata={"description": "field key → value as text; an empty string removes the value"},
)


class ContactIn(Strict):
    email = fields.String(load_default="", validate=validate.Length(max=254))
    phone = fields.String(load_default="", validate=validate.Length(max=32))
    field_values = FieldValues()
    lists = fields.List(Id(), load_default=list, validate=validate.Length(max=100))
    double_opt_in = fields.Boolean(
        load_default=False, metadata={"description": "new subscriptions wait for confirmation"}
    )

    @validates_schema
    def _address(self, data, **kw):
        if not (data.get("email") or "").strip() and not (data.get("phone") or "").strip():
            raise ValidationError("Give an email address or a phone number.", "email")


class ContactQuery(PageArgs):
    email = fields.String(load_default=None, validate=validate.Length(1, 254))
    phone = fields.String(load_default=None, validate=validate.Length(1, 32))


class BulkContact(Strict):
    email = fields.String(load_default="", validate=validate.Length(max=254))
    phone = fields.String(load_default="", validate=validate.Length(max=32))
    field_values = FieldValues()


class BulkIn(Strict):
    contacts = fields.List(fields.Nested(BulkContact), required=True, validate=validate.Length(1, MAX_BULK))
    lists = fields.List(Id(), required=True, validate=validate.Length(1, 20))
    status = fields.String(
        load_default="subscribed", validate=validate.OneOf(("subscribed", "unsubscribed", "pending"))
    )
    update_existing = fields.Boolean(load_default=True)


class JobRef(Schema):
    job_id = fields.Integer(required=True)
    import_id = fields.Integer(required=True, allow_none=True)
    status_url = fields.String(required=True)


class SubscribeIn(Strict):
    contact_id = Id(load_default=None)
    email = fields.String(load_default="", validate=validate.Length(max=254))
    phone = fields.String(load_default="", validate=validate.Length(max=32))
    double_opt_in = fields.Boolean(load_default=False)

    @validates_schema
    def _who(self, data, **kw):
        if (
            not data.get("contact_id")
            and not (data.get("email") or "").strip()
            and not (data.get("phone") or "").strip()
        ):
            raise ValidationError("Give contact_id, email or phone.", "contact_id")


# --- suppressions -----------------------------------------------------------------------------------


class SuppressionOut(Schema):
    id = fields.Integer(required=True)
    channel = fields.String(required=True)
    address = fields.String(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(REASONS))
    source = fields.String(required=True)
    created_at = fields.DateTime(required=True, format="iso")


class SuppressionQuery(PageArgs):
    channel = fields.String(load_default=None, validate=validate.OneOf(CHANNELS))


class SuppressionIn(Strict):
    channel = fields.String(load_default="email", validate=validate.OneOf(CHANNELS))
    address = fields.String(required=True, validate=validate.Length(1, 254))
    reason = fields.String(
        load_default="manual", validate=validate.OneOf(("manual", "unsubscribe", "invalid"))
    )
    note = fields.String(load_default="", validate=validate.Length(max=500))


# --- campaigns ----------------------------------------------------------------------------------------


class Audience(Strict):
    lists = fields.List(Id(), load_default=list, validate=validate.Length(max=100))
    segments = fields.List(Id(), load_default=list, validate=validate.Length(max=100))
    exclude_lists = fields.List(Id(), load_default=list, validate=validate.Length(max=100))
    exclude_segments = fields.List(Id(), load_default=list, validate=validate.Length(max=100))


class CampaignIn(Strict):
    name = fields.String(required=True, validate=validate.Length(1, 200))
    subject = fields.String(load_default="", validate=validate.Length(max=255))
    preheader = fields.String(load_default="", validate=validate.Length(max=255))
    sender_id = Id(load_default=None, allow_none=True)
    reply_to = fields.String(load_default="", validate=validate.Length(max=254))
    html = fields.String(
        load_default=None,
        validate=validate.Length(max=1_000_000),
        metadata={"description": "composed outside: the whole HTML"},
    )
    text = fields.String(
        load_default=None,
        validate=validate.Length(max=200_000),
        metadata={"description": "plain-text part; generated from the HTML when absent"},
    )
    template = fields.String(
        load_default=None,
        validate=validate.OneOf(("newsletter", "announcement", "plain")),
        metadata={"description": "start from a starter template"},
    )
    copy_of = Id(
        load_default=None, metadata={"description": "start from a copy of a campaign composed in the portal"}
    )
    audience = fields.Nested(Audience, load_default=dict)
    track_opens = fields.Boolean(load_default=True)
    track_clicks = fields.Boolean(load_default=True)

    @validates_schema
    def _one_source(self, data, **kw):
        given = [k for k in ("html", "template", "copy_of") if data.get(k) is not None]
        if len(given) > 1:
            raise ValidationError(
                f"Give only one of html, template, copy_of (got {', '.join(given)}).", "html"
            )


class CampaignStats(Schema):
    sent = fields.Integer(required=True)
    delivered = fields.Integer(required=True)
    bounced = fields.Integer(required=True)
    hard_bounces = fields.Integer(required=True)
    soft_bounces = fields.Integer(required=True)
    unique_opens = fields.Integer(required=True)
    total_opens = fields.Integer(required=True)
    unique_clicks = fields.Integer(required=True)
    total_clicks = fields.Integer(required=True)
    unsubscribes = fields.Integer(required=True)
    complaints = fields.Integer(required=True)


class CampaignOut(Schema):
    id = fields.Integer(required=True)
    channel = fields.String(required=True)
    name = fields.String(required=True)
    status = fields.String(required=True)
    subject = fields.String(required=True)
    sender_id = fields.Integer(required=True, allow_none=True)
    audience = fields.Dict(keys=fields.String(), values=fields.List(fields.Integer()), required=True)
    scheduled_at = fields.DateTime(required=True, allow_none=True, format="iso")
    started_at = fields.DateTime(required=True, allow_none=True, format="iso")
    finished_at = fields.DateTime(required=True, allow_none=True, format="iso")
    recipients = fields.Integer(required=True)
    message = fields.String(required=True, metadata={"description": "why it paused or failed"})
    created_at = fields.DateTime(required=True, format="iso")


class TestIn(Strict):
    addresses = fields.List(
        fields.String(validate=validate.Length(3, 254)), required=True, validate=validate.Length(1, 5)
    )


class TestOut(Schema):
    sent = fields.Integer(required=True)


class ScheduleIn(Strict):
    at = fields.AwareDateTime(
        required=True,
        format="iso",
        metadata={"description": "ISO 8601 with offset, e.g. 2026-12-24T08:00:00Z"},
    )


class SendOut(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True)
    recipients = fields.Integer(required=True)


# --- jobs, events, SMS ------------------------------------------------------------------------------------


class JobOut(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    state = fields.String(
        required=True, validate=validate.OneOf(("queued", "running", "done", "failed", "cancelled"))
    )
    done = fields.Integer(required=True)
    total = fields.Integer(required=True)
    message = fields.String(required=True)
    created_at = fields.DateTime(required=True, format="iso")
    finished_at = fields.DateTime(required=True, allow_none=True, format="iso")
    result = fields.Dict(keys=fields.String(), required=True, metadata={"description": "counts of an import"})


class EventContact(Schema):
    id = fields.Integer(required=True, allow_none=True)
    email = fields.String(required=True, allow_none=True)
    phone = fields.String(required=True, allow_none=True)


class FeedItem(Schema):
    id = fields.String(required=True, metadata={"description": "stable: evt_<n> or sub_<n>"})
    type = fields.String(
        required=True,
        metadata={
            "description": "email.delivered, email.opened, email.clicked, email.bounced, email.complained, email.unsubscribed, sms.*, subscription.subscribed|unsubscribed|pending|bounced|complained"
        },
    )
    occurred_at = fields.String(required=True, metadata={"description": "ISO 8601 UTC"})
    channel = fields.String(required=True)
    contact = fields.Nested(EventContact, required=True, allow_none=True)
    campaign_id = fields.Integer(required=True, allow_none=True)
    list_id = fields.Integer(required=True, allow_none=True)
    data = fields.Dict(keys=fields.String(), required=True)


class FeedArgs(Strict):
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))
    after = fields.String(
        load_default=None,
        validate=validate.Length(max=200),
        metadata={"description": "next_cursor of the previous page; absent: from the beginning"},
    )


class FeedPage(Schema):
    data = fields.List(fields.Nested(FeedItem), required=True)
    next_cursor = fields.String(
        required=True,
        metadata={
            "description": "pass as `after`; the same cursor again returns nothing new until new events arrive"
        },
    )


class SmsIn(Strict):
    name = fields.String(required=True, validate=validate.Length(1, 200))
    text = fields.String(required=True, validate=validate.Length(1, 1600))
    sender_id = Id(load_default=None, metadata={"description": "an approved SMS sender id"})
    audience = fields.Nested(Audience, required=True)
