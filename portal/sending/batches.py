"""The send worker loop: claim a batch with a lease, re-check suppression, render, sign, hand over, mark sent.

A row is marked sent in its own short transaction right after the relay accepted the message, so a killed
worker loses at most the message in flight: its row's lease expires, the sweeper puts it back, and it is
sent again only if it had not been confirmed — the unavoidable at-least-once window is one message wide.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select, text, update
from sqlalchemy.engine import Connection as SqlConnection

from ..concurrency import prompt_gil_handover
from ..crypto import decrypt_json
from ..extensions import db
from ..inbound.classify import classify_status
from ..jobs.queueing import redis_connection
from ..links import agency_base_url
from ..mail import tokens
from ..mail.build import SIGNED_HEADERS, Envelope, build
from ..mail.dkim import Signer
from ..mail.render import Links, Prepared, add_preheader, html_to_text, prepare, render
from ..models import Agency, Campaign, Client, Connection, Delivery, Event, SenderDomain, SenderIdentity
from ..models.campaign import (
    CAMPAIGN_SENDING,
    CAMPAIGN_SENT,
    DELIVERY_FAILED,
    DELIVERY_SKIPPED,
)
from ..services import suppression as suppression_svc
from ..tenancy import all_tenants
from .ratelimit import TokenBucket
from .smtp import PermanentFailure, RelayConfig, SmtpRelay, TemporaryFailure

BATCH = 100
MAX_ATTEMPTS = 5


@dataclass
class CampaignContext:
    campaign_id: int
    client_id: int
    agency_id: int
    prepared: Prepared
    envelope: Envelope
    signer: Signer | None
    base_url: str
    track_opens: bool
    list_ids: list[int]
    relay_key: str


_contexts: dict[tuple[int, str], CampaignContext] = {}
_relays: dict[str, SmtpRelay] = {}  # one reused connection per relay per worker process


def _context(campaign: Campaign) -> CampaignContext:
    key = (campaign.id, campaign.updated_at.isoformat() if campaign.updated_at else "")
    if key not in _contexts:
        _contexts.clear()  # one campaign at a time per worker is the common case; keep memory flat
        _contexts[key] = _build_context(campaign)
    return _contexts[key]


def _build_context(campaign: Campaign) -> CampaignContext:
    client = db.session.scalar(select(Client).where(Client.id == campaign.client_id))
    with all_tenants():
        agency = db.session.get(Agency, campaign.agency_id)
    sender = db.session.scalar(select(SenderIdentity).where(SenderIdentity.id == campaign.sender_id))
    domain = db.session.scalar(select(SenderDomain).where(SenderDomain.id == sender.domain_id))
    settings = current_app.config["PORTAL_SETTINGS"]
    prepared = prepare_content(campaign)
    canonical = agency.canonical_domain.host
    signer = Signer(
        domain.domain, domain.dkim_selector, decrypt_json(domain.dkim_private_key)["pem"], SIGNED_HEADERS
    )
    envelope = Envelope(
        from_name=sender.name,
        from_email=sender.email,
        reply_to=campaign.reply_to or sender.reply_to,
        list_id=f"{client.slug}.{canonical}",
        list_name=client.name,
        message_domain=canonical,
        bounce_domain=settings.bounce_domain,
    )
    _relays.setdefault(_relay_key(client), _relay_for(client))
    return CampaignContext(
        campaign_id=campaign.id,
        client_id=client.id,
        agency_id=agency.id,
        prepared=prepared,
        envelope=envelope,
        signer=signer,
        base_url=agency_base_url(agency),
        track_opens=campaign.track_opens,
        list_ids=[int(i) for i in (campaign.audience or {}).get("lists", [])],
        relay_key=_relay_key(client),
    )


def prepare_content(campaign: Campaign, track_clicks: bool | None = None) -> Prepared:
    """The campaign's subject, HTML (with its preheader) and text part, ready to render per recipient.
    The same preparation numbers the tracked links at send start and in every worker."""
    text_part = (
        campaign.text if campaign.text_edited and campaign.text.strip() else html_to_text(campaign.html)
    )
    html = add_preheader(campaign.html, campaign.preheader or "")
    clicks = campaign.track_clicks if track_clicks is None else track_clicks
    return prepare(campaign.subject, html, text_part, track_clicks=clicks)


def _relay_key(client: Client) -> str:
    return f"connection-{client.email_connection_id}" if client.email_connection_id else "platform"


def _relay_for(client: Client) -> SmtpRelay:

    settings = current_app.config["PORTAL_SETTINGS"]
    if client.email_connection_id:
        conn = db.session.scalar(select(Connection).where(Connection.id == client.email_connection_id))
        if conn is None or conn.kind != "smtp":
            raise TemporaryFailure("this account's delivery connection cannot send campaigns yet")
        opts, secret = conn.options or {}, decrypt_json(conn.secrets_encrypted)
        config = RelayConfig(
            host=opts.get("host", ""),
            port=int(opts.get("port", 587)),
            tls=opts.get("tls", "starttls"),
            username=opts.get("username", ""),
            password=secret.get("password", ""),
            rate_per_s=float(opts.get("rate_per_second", 0) or 0),
            key=_relay_key(client),
        )
    else:
        config = RelayConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            tls=settings.smtp_tls,
            username=settings.smtp_user,
            password=settings.smtp_password,
            key="platform",
        )
    bucket = TokenBucket(redis_connection(), config.key, config.rate_per_s) if config.rate_per_s else None
    return SmtpRelay(config, bucket)


def _lease() -> timedelta:
    return timedelta(seconds=current_app.config["PORTAL_SETTINGS"].send_lease_seconds)


def _claim(campaign_id: int, pg: bool) -> tuple[str, list[tuple[int, int, str]]]:
    token = secrets.token_hex(8)
    lock = " FOR UPDATE SKIP LOCKED" if pg else ""
    rows = db.session.execute(
        text(
            "UPDATE delivery SET status = 'claimed', claim_token = :tok, lease_until = :lease, attempts = attempts + 1 "
            "WHERE id IN (SELECT id FROM delivery WHERE campaign_id = :cid AND status = 'pending' ORDER BY id "
            f"LIMIT :n{lock}) RETURNING id, contact_id, address"
        ),
        {"tok": token, "lease": datetime.now(UTC) + _lease(), "cid": campaign_id, "n": BATCH},
    ).all()
    db.session.commit()
    return token, [(r[0], r[1], r[2]) for r in rows]


def _still_allowed(ctx: CampaignContext, rows: list[tuple[int, int, str]]) -> set[int]:
    """Delivery ids that may still go out: suppression and unsubscribes are checked at send time.

    The claimed rows are read first (MATERIALIZED) and everything else is probed per row: the plan stays
    a hundred index lookups whatever the statistics say, even right after a million-row import that
    the planner has not analysed yet."""
    ids = [r[0] for r in rows]
    params = {f"d{i}": d for i, d in enumerate(ids)}
    marks = ", ".join(f":{k}" for k in params)
    list_check = ""
    if ctx.list_ids:
        lists = ", ".join(str(int(x)) for x in ctx.list_ids)
        list_check = (
            " AND EXISTS (SELECT 1 FROM subscription s WHERE s.contact_id = b.contact_id AND s.client_id = :cl "
            f"AND s.list_id IN ({lists}) AND s.channel = 'email' AND s.status = 'subscribed')"
        )
    allowed = db.session.execute(
        text(
            "WITH b AS MATERIALIZED (SELECT d.id, d.contact_id, d.address FROM delivery d "
            f"WHERE d.client_id = :cl AND d.id IN ({marks})) "
            "SELECT b.id FROM b WHERE NOT EXISTS (SELECT 1 FROM suppression x WHERE x.client_id = :cl "
            "AND x.channel = 'email' AND x.address = b.address) "
            "AND NOT EXISTS (SELECT 1 FROM blocked_address x WHERE coalesce(x.agency_id, 0) IN (:ag, 0) "
            f"AND x.channel = 'email' AND x.address = b.address){list_check}"
        ),
        {"cl": ctx.client_id, "ag": ctx.agency_id, **params},
    ).scalars()
    return set(allowed)


def _values(client_id: int, contact_ids: list[int]) -> dict[int, dict]:
    params = {f"c{i}": c for i, c in enumerate(contact_ids)}
    marks = ", ".join(f":{k}" for k in params)
    rows = db.session.execute(
        text(f"SELECT id, email, phone, fields FROM contact WHERE client_id = :cl AND id IN ({marks})"),
        {"cl": client_id, **params},
    ).all()
    out = {}
    for cid, email, phone, fields in rows:
        values = fields if isinstance(fields, dict) else (json.loads(fields) if fields else {})
        out[cid] = {**values, "email": email, "phone": phone or ""}
    return out


def _links(ctx: CampaignContext, delivery_id: int) -> Links:
    base = ctx.base_url
    unsub = tokens.make("unsubscribe", delivery_id)
    return Links(
        unsubscribe_url=f"{base}/u/{unsub}",
        preferences_url=f"{base}/p/{tokens.make('preferences', delivery_id)}",
        view_url=f"{base}/v/{tokens.make('view', delivery_id)}",
        open_url=f"{base}/o/{tokens.make('open', delivery_id)}.gif" if ctx.track_opens else None,
        click_base=f"{base}/c/{tokens.make('click', delivery_id)}",
    )


def send_test_messages(campaign: Campaign, addresses: list[str], values: dict) -> int:
    """Test copies of a campaign, through the relay its real send would use, subject prefixed "[Test] ".

    They carry every header of a real message, built for delivery id 0: no delivery has that id, so their
    unsubscribe, preferences and view links answer a harmless page and change nothing. Links are not
    tracked and there is no open pixel (there is no delivery to count them on)."""

    ctx = replace(
        _build_context(campaign), prepared=prepare_content(campaign, track_clicks=False), track_opens=False
    )
    links = _links(ctx, 0)
    subject, html, text_part = render(ctx.prepared, values, links)
    relay = _relay_for(db.session.scalar(select(Client).where(Client.id == campaign.client_id)))
    sent = 0
    try:
        for address in addresses:
            raw = build(
                ctx.envelope,
                to=address,
                subject=f"[Test] {subject}",
                html=html,
                text=text_part,
                send_id=tokens.make("send", 0),
                unsubscribe_url=links.unsubscribe_url,
                unsubscribe_mailto=f"unsubscribe+{tokens.make('unsubscribe', 0)}@{ctx.envelope.bounce_domain}",
                signer=ctx.signer,
            )
            relay.send(f"b+{tokens.make('bounce', 0)}@{ctx.envelope.bounce_domain}", address, raw)
            sent += 1
    finally:
        relay.close()
    return sent


def send_batches(campaign_id: int) -> int:
    """Claim and send until nothing is left, the campaign stops being 'sending', or the relay fails."""
    pg = db.engine.dialect.name == "postgresql"
    sent = 0
    while True:
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == campaign_id))
        if campaign is None or campaign.status != CAMPAIGN_SENDING:
            return sent  # paused, cancelled, or another tenant's id: nothing to do
        ctx = _context(campaign)
        token, rows = _claim(campaign_id, pg)
        if not rows:
            finish_if_done(campaign_id)
            db.session.commit()
            return sent
        sent += _send_rows(ctx, token, rows)


def _send_rows(ctx: CampaignContext, token: str, rows) -> int:
    """Send one claimed batch. The next message is rendered, built and signed while the previous one is on
    the wire (one SMTP thread, so still one message in flight): CPU work overlaps network waits, and each
    message is still confirmed in the database only after the relay accepted it. The SMTP thread waits on
    each reply of the relay and then needs the GIL back at once (portal/concurrency.py)."""
    allowed = _still_allowed(ctx, rows)
    skipped = [r[0] for r in rows if r[0] not in allowed]
    if skipped:
        _mark(skipped, token, DELIVERY_SKIPPED, error="suppressed or unsubscribed before sending")
    values = _values(ctx.client_id, [r[1] for r in rows if r[0] in allowed])
    relay = _relays[ctx.relay_key]
    sent = 0
    in_flight: _InFlight | None = None
    with (
        prompt_gil_handover(),
        _confirmations() as marks,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="smtp") as wire,
    ):
        try:
            for delivery_id, contact_id, email in rows:
                if delivery_id not in allowed:
                    continue
                verp, raw = _message(ctx, delivery_id, email, values.get(contact_id, {"email": email}))
                previous, in_flight = in_flight, None
                outcome = _outcome(token, previous) if previous is not None else None
                # The relay has answered for the previous message: the next one goes on the wire first,
                # and the previous one is recorded while it travels (still one message in flight).
                in_flight = _InFlight(
                    wire.submit(relay.send, verp, email, raw), delivery_id, contact_id, email
                )
                if previous is not None:
                    sent += _record(ctx, token, previous, outcome, marks)
        finally:
            # Whatever happened while building, the message on the wire is settled before leaving.
            if in_flight is not None:
                sent += _record(ctx, token, in_flight, _outcome(token, in_flight), marks)
    return sent


@dataclass
class _InFlight:
    future: Future
    delivery_id: int
    contact_id: int
    email: str


def _message(ctx: CampaignContext, delivery_id: int, email: str, values: dict) -> tuple[str, bytes]:
    links = _links(ctx, delivery_id)
    subject, html, text_part = render(ctx.prepared, values, links)
    raw = build(
        ctx.envelope,
        to=email,
        subject=subject,
        html=html,
        text=text_part,
        send_id=tokens.make("send", delivery_id),
        unsubscribe_url=links.unsubscribe_url,
        unsubscribe_mailto=f"unsubscribe+{tokens.make('unsubscribe', delivery_id)}@{ctx.envelope.bounce_domain}",
        signer=ctx.signer,
    )
    return f"b+{tokens.make('bounce', delivery_id)}@{ctx.envelope.bounce_domain}", raw


def _outcome(token: str, flight: _InFlight) -> str | PermanentFailure:
    """Wait for the relay's answer to one message: its reply when accepted, the refusal when permanent. A
    temporary failure gives the claim's unsent rows back and raises: RQ retries the job with backoff, and
    the sweeper covers a lost job. Nothing else is on the wire when it does."""
    try:
        return flight.future.result()
    except PermanentFailure as exc:
        return exc
    except TemporaryFailure as exc:
        _release(token, str(exc))
        raise


def _record(
    ctx: CampaignContext, token: str, flight: _InFlight, outcome: str | PermanentFailure, marks: SqlConnection
) -> int:
    """Mark one message sent, or failed with a synchronous bounce. Returns 1 when it was sent."""
    if isinstance(outcome, PermanentFailure):
        _mark([flight.delivery_id], token, DELIVERY_FAILED, error=str(outcome)[:500])
        _synchronous_bounce(ctx, flight.delivery_id, flight.contact_id, flight.email, outcome)
        return 0
    _mark_sent(marks, flight.delivery_id, token, outcome)
    return 1


_MARK_SENT = text(
    "UPDATE delivery SET status = 'sent', sent_at = :now, provider_message_id = :answer, lease_until = NULL "
    "WHERE id = :id AND claim_token = :tok"
)


@contextmanager
def _confirmations() -> Iterator[SqlConnection]:
    """The connection that marks messages sent: its own, in autocommit, so each mark is one statement and
    one round trip, without the session's transaction bookkeeping. On PostgreSQL without waiting for the
    commit record's flush: a worker crash loses nothing committed; only a database server crash could lose
    the last few marks (those messages would then be sent again)."""
    with db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        pg = conn.dialect.name == "postgresql"
        if pg:
            conn.exec_driver_sql("SET synchronous_commit TO OFF")
        try:
            yield conn
        finally:
            if pg:
                conn.exec_driver_sql("RESET synchronous_commit")  # the connection goes back to the pool


def _mark_sent(marks: SqlConnection, delivery_id: int, token: str, answer: str) -> None:
    """The hot path: a pre-built statement on the confirmations connection (the ORM update construct and a
    session commit per message cost more than the database work here)."""
    marks.execute(_MARK_SENT, {"now": datetime.now(UTC), "answer": answer, "id": delivery_id, "tok": token})


def _mark(ids: list[int], token: str, status: str, *, error: str = "") -> None:
    values = {"status": status, "lease_until": None}
    if error:
        values["error"] = error
    db.session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.claim_token == token)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _release(token: str, reason: str) -> None:
    """Give unsent rows of this claim back (attempts already counted); too many attempts → failed."""
    db.session.rollback()
    db.session.execute(
        update(Delivery)
        .where(Delivery.claim_token == token, Delivery.status == "claimed", Delivery.attempts >= MAX_ATTEMPTS)
        .values(status=DELIVERY_FAILED, error=reason[:500], lease_until=None)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Delivery)
        .where(Delivery.claim_token == token, Delivery.status == "claimed")
        .values(status="pending", claim_token=None, lease_until=None, error=reason[:500])
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _synchronous_bounce(
    ctx: CampaignContext, delivery_id: int, contact_id: int, email: str, exc: PermanentFailure
) -> None:
    """A 5xx from our own relay at RCPT/DATA is a bounce we learn at once: record it like a DSN."""
    status_code = _enhanced_code(exc.detail) or f"{exc.code // 100}.0.0"
    bounce_class = classify_status(status_code)
    db.session.add(
        Event(
            agency_id=ctx.agency_id,
            client_id=ctx.client_id,
            campaign_id=ctx.campaign_id,
            delivery_id=delivery_id,
            contact_id=contact_id,
            kind="bounce",
            bounce_class=bounce_class,
            status_code=status_code,
            detail=exc.detail[:500],
            provider_event_id=f"smtp-sync:{delivery_id}",
        )
    )
    if bounce_class == "hard":
        client = db.session.scalar(select(Client).where(Client.id == ctx.client_id))
        suppression_svc.add(
            actor=None,
            client=client,
            channel="email",
            raw_address=email,
            reason="hard_bounce",
            source="bounce",
        )
    db.session.commit()


def _enhanced_code(detail: str) -> str:
    m = re.search(r"\b([245]\.\d{1,3}\.\d{1,3})\b", detail)
    return m.group(1) if m else ""


def finish_if_done(campaign_id: int) -> bool:
    """sending → sent once no row is pending or claimed (conditional: only one worker wins)."""
    left = db.session.execute(
        text("SELECT count(*) FROM delivery WHERE campaign_id = :c AND status IN ('pending', 'claimed')"),
        {"c": campaign_id},
    ).scalar_one()
    if left:
        return False
    return bool(
        db.session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.status == CAMPAIGN_SENDING)
            .values(status=CAMPAIGN_SENT, finished_at=datetime.now(UTC))
            .execution_options(synchronize_session=False)
        ).rowcount
    )
