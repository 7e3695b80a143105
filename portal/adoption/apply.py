"""The set-based half of an adoption: the records read (reading.py) become contacts, subscriptions and
suppression entries through the import engine's stage (imports/stage.py) and the bulk suppression of
provider opt-outs (providers/suppress.py) — the same statements every import and every pull runs, so
the rules (suppressed addresses skipped, contacts matched by email then phone, fields merged, an
unsubscribed contact not re-subscribed, list counts) are the same ones.

One stage run per (portal list, channel, status): the stage writes one status, and each record keeps
its own (subscribed, pending, unsubscribed, bounced, complained). Then the provider's opt-in dates and
IPs replace the stage's "now" on the subscriptions the adoption made, every opt-out becomes a
suppression entry with its reason, and the client's binding to the connection stores the field map.
The caller owns the one transaction: applying again after a kill starts from the same records.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import orjson
from sqlalchemy import func, select, text

from ..extensions import db
from ..imports.engine import Options, write_lock_now
from ..imports.stage import Stage
from ..imports.values import FieldValueError, converter
from ..models import Adoption, AdoptionMember, AdoptionRecord, Client, Connection, Subscription
from ..providers.binding import ensure_binding, find_binding, refresh_fields
from ..providers.suppress import suppress_many
from ..services.i18n_safe import _
from .optouts import NOTES, SOURCE, graver, reason_of, subscription_status
from .report import Report
from .targets import ensure_fields, ensure_group_lists, ensure_group_segments, ensure_lists

CONSENT_SOURCE = "adoption"
BATCH = 5000
SUPPRESS_BATCH = 1000


def apply_adoption(
    adoption: Adoption, client: Client, connection: Connection, progress: Callable[[str], None]
) -> tuple[dict, Report]:
    conn = db.session.connection()
    write_lock_now(conn)
    report = Report()
    fields = ensure_fields(adoption, client, report)
    has_sms = set(
        db.session.scalars(
            select(AdoptionRecord.remote_list_id)
            .where(AdoptionRecord.adoption_id == adoption.id, AdoptionRecord.channel == "sms")
            .distinct()
        )
    )
    lists = ensure_lists(adoption, client, has_sms, report)
    as_lists = adoption.options.get("groups_as") == "lists"
    group_lists = ensure_group_lists(adoption, client, report) if as_lists else {}
    group_field, markers = (None, {}) if as_lists else ensure_group_segments(adoption, client, report)
    portal_lists = sorted(set(lists.values()) | set(group_lists.values()))
    before = _counts(client, portal_lists)
    _report_problems(adoption, report)
    groups_of = _groups_of(adoption, markers) if group_field else {}
    tally = defaultdict(int)
    for remote, portal in lists.items():
        for channel in ("email", "sms"):
            progress(_("Saving contacts…"))
            _import_list(
                conn, adoption, client, remote, portal, channel, fields, group_field, groups_of, tally, report
            )
    parents = {int(g["id"]): int(item["id"]) for item in adoption.preview["lists"] for g in item["groups"]}
    for group_id, portal in group_lists.items():
        for channel in ("email", "sms"):
            _import_list(
                conn,
                adoption,
                client,
                parents[group_id],
                portal,
                channel,
                fields,
                None,
                {},
                tally,
                report,
                group_id=group_id,
            )
    progress(_("Recording opt-outs…"))
    suppressed = _suppress(adoption, client, tally)
    binding = find_binding(client, connection)
    if binding is None:
        first = next(iter(lists), None)
        binding = ensure_binding(client, connection, list_id=first)
    else:
        refresh_fields(binding, client)
    after = _counts(client, portal_lists)
    result = {
        "contacts": {k: tally[k] for k in ("created", "updated", "unchanged", "suppressed", "duplicates")},
        "consent_dates": tally["consent"],
        "suppressions": suppressed,
        "subscriptions": {
            str(lid): {"before": before.get(lid, {}), "after": after.get(lid, {})} for lid in portal_lists
        },
        "maps": {
            "lists": {str(k): v for k, v in lists.items()},
            "groups": {str(k): v for k, v in group_lists.items()},
            "fields": {k: v.key for k, v in fields.items()},
        },
        "binding_list": binding.list_id,
    }
    for what, name in (
        ("created", "contacts created"),
        ("updated", "contacts updated"),
        ("unchanged", "contacts unchanged"),
        ("suppressed", "skipped: on the suppression list"),
    ):
        report.add("contacts", "", name, tally[what])
    report.add("suppression", "", "added", sum(suppressed["added"].values()))
    report.add("suppression", "", "already there", suppressed["already"])
    return result, report


def _import_list(
    conn,
    adoption,
    client,
    remote,
    portal,
    channel,
    fields,
    group_field,
    groups_of,
    tally,
    report,
    *,
    group_id=None,
) -> None:
    """The records of one list and channel (or of one group's members), one stage run per status."""
    buckets: dict[str, list[tuple]] = defaultdict(list)
    seen: set[str] = set()
    query = select(
        AdoptionRecord.id,
        AdoptionRecord.remote_id,
        AdoptionRecord.email,
        AdoptionRecord.phone,
        AdoptionRecord.fields,
        AdoptionRecord.status,
        AdoptionRecord.optout_type,
        AdoptionRecord.optout_subtype,
    ).where(
        AdoptionRecord.adoption_id == adoption.id,
        AdoptionRecord.remote_list_id == remote,
        AdoptionRecord.channel == channel,
        AdoptionRecord.problem.is_(None),
        AdoptionRecord.status != "",
    )
    if group_id is not None:
        query = query.join(
            AdoptionMember,
            (AdoptionMember.adoption_id == adoption.id)
            & (AdoptionMember.group_id == group_id)
            & (AdoptionMember.remote_id == AdoptionRecord.remote_id),
        )
    converters = {fid: (spec.key, converter(spec)) for fid, spec in fields.items()}
    for rid, remote_id, email, phone, raw, status, otype, osub in db.session.execute(
        query.order_by(AdoptionRecord.id)
    ).all():
        key = email or f"tel:{phone}"
        if key in seen:
            tally["duplicates"] += 1
            continue
        seen.add(key)
        values = _values(orjson.loads(raw or "{}"), converters, report, email or phone)
        if group_field is not None and remote_id in groups_of:
            values[group_field.key] = groups_of[remote_id]
        buckets[subscription_status(status, otype, osub)].append(
            (rid, email, phone, orjson.dumps(values).decode())
        )
    for status, rows in sorted(buckets.items()):
        options = Options(list_ids=(portal,), status=status, source=CONSENT_SOURCE, channels=(channel,))
        stage = Stage(conn, agency_id=client.agency_id, client_id=client.id, options=options)
        for start in range(0, len(rows), BATCH):
            stage.load(stage.pack(rows[start : start + BATCH]))
        stage.apply()
        stage.finish()
        t = stage.tally
        for name in ("created", "updated", "unchanged", "suppressed", "duplicates"):
            tally[name] += getattr(t, name)
        for _line, value, reason in t.errors:
            report.recipient(value or "", "skipped" if "suppression" in reason else "imported", reason)
    if channel == "email":
        tally["consent"] += _consent_dates(adoption, client, remote, portal)


def _values(raw: dict, converters: dict, report: Report, who: str) -> dict:
    out = {}
    for fid, value in raw.items():
        target = converters.get(fid)
        if target is None:
            continue
        try:
            out[target[0]] = target[1](value)
        except FieldValueError as exc:
            report.recipient(who, "field not imported", f"{target[0]}: {exc}")
    return out


def _groups_of(adoption: Adoption, markers: dict[int, str]) -> dict[int, str]:
    """Remote recipient id → `|VIP|Milano|` for the groups-as-segments field."""
    names: dict[int, list[str]] = defaultdict(list)
    for group_id, remote_id in db.session.execute(
        select(AdoptionMember.group_id, AdoptionMember.remote_id)
        .where(AdoptionMember.adoption_id == adoption.id)
        .order_by(AdoptionMember.group_id)
    ):
        if group_id in markers:
            names[remote_id].append(markers[group_id])
    return {rid: "|" + "|".join(sorted(groups)) + "|" for rid, groups in names.items()}


def _consent_dates(adoption: Adoption, client: Client, remote: int, portal: int) -> int:
    """The provider's opt-in date and IP on the subscriptions this adoption wrote (never on consent the
    portal recorded itself), one UPDATE … FROM."""
    return db.session.execute(
        text(
            "UPDATE subscription SET consent_at = r.consent_at, consent_ip = coalesce(r.consent_ip, '') "
            "FROM adoption_record r JOIN contact c ON c.client_id = :cid AND c.email = r.email "
            "WHERE r.adoption_id = :adoption AND r.remote_list_id = :remote AND r.channel = 'email' "
            "AND r.consent_at IS NOT NULL AND subscription.contact_id = c.id AND subscription.list_id = :lid "
            "AND subscription.client_id = :cid AND subscription.channel = 'email' "
            "AND subscription.consent_source = :src "
            "AND (subscription.consent_at IS NULL OR subscription.consent_at <> r.consent_at "
            "OR subscription.consent_ip <> coalesce(r.consent_ip, ''))"
        ),
        {"cid": client.id, "adoption": adoption.id, "remote": remote, "lid": portal, "src": CONSENT_SOURCE},
    ).rowcount


def _suppress(adoption: Adoption, client: Client, tally) -> dict:
    """Every opt-out a suppression entry with its reason (the gravest when several lists disagree)."""
    added: dict[str, int] = defaultdict(int)
    already = 0
    for channel, column in (("email", AdoptionRecord.email), ("sms", AdoptionRecord.phone)):
        reasons: dict[str, str] = {}
        for address, otype, osub in db.session.execute(
            select(column, AdoptionRecord.optout_type, AdoptionRecord.optout_subtype).where(
                AdoptionRecord.adoption_id == adoption.id,
                AdoptionRecord.channel == channel,
                AdoptionRecord.status == "unsubscribed",
                column.is_not(None),
                AdoptionRecord.problem.is_(None),
            )
        ):
            reason = "unsubscribe" if channel == "sms" else reason_of(otype, osub)
            reasons[address] = graver(reasons.get(address), reason)
        items = sorted(reasons.items())
        for start in range(0, len(items), SUPPRESS_BATCH):
            chunk = items[start : start + SUPPRESS_BATCH]
            new = set(suppress_many(client, [(a, r, SOURCE, NOTES[r]) for a, r in chunk], channel=channel))
            for address, reason in chunk:
                if address in new:
                    added[f"{channel}:{reason}"] += 1
                else:
                    already += 1
    return {"added": dict(added), "already": already}


def _report_problems(adoption: Adoption, report: Report) -> None:
    rows = db.session.execute(
        select(AdoptionRecord.remote_id, AdoptionRecord.problem).where(
            AdoptionRecord.adoption_id == adoption.id, AdoptionRecord.problem.is_not(None)
        )
    ).all()
    for remote_id, problem in rows:
        report.recipient(f"#{remote_id}", "skipped", problem)
    if rows:
        report.add("recipients", "", "skipped", len(rows), "not a valid address")


def _counts(client: Client, list_ids: list[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = defaultdict(dict)
    if not list_ids:
        return out
    for list_id, channel, status, n in db.session.execute(
        select(Subscription.list_id, Subscription.channel, Subscription.status, func.count())
        .where(Subscription.client_id == client.id, Subscription.list_id.in_(list_ids))
        .group_by(Subscription.list_id, Subscription.channel, Subscription.status)
    ):
        out[list_id][f"{channel}:{status}"] = n
    return out
