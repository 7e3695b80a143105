"""Checklist B10: a role × resource matrix generated from `app.url_map`.

Every rule of the admin, agency, client and jobs blueprints that takes an argument is called with the ids of
real AG1/A1 objects, by GET and by POST (with a valid CSRF token of the caller's own session), as users of
other tenants (A2 admin, B1 admin, AG2 owner, AG2 staff) each on their own host, and anonymously. Expected:
404 (302 to the login page for anonymous callers, 405 where the method does not exist), and no change to
any row of any table. A route whose argument has no id factory below fails the test, so a new route cannot
escape the matrix silently.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from werkzeug.routing import IntegerConverter, Rule

from portal.extensions import db
from portal.models import (
    ActionToken,
    AuditEvent,
    BlockedAddress,
    Connection,
    Domain,
    JobRun,
    Membership,
    Suppression,
)
from portal.tenancy import all_tenants

from .support import ADMIN_HOST, HostClient, client_for, csrf_from, store_result_file

AREAS = (
    "admin",
    "agency",
    "client",
    "jobs",
    "audience",
    "suppressions",
    "transfers",
    "reports",
    "campaigns",
    "forms",
    "batch",
    "sms",
    "smsagency",
    "smsadmin",
    "integrations",
    "webhooks",
)
ATTACKERS = ("A2.admin", "B1.admin", "AG2.owner", "AG2.staff")
# Generic form fields an attacker would send along: if a view forgets its tenant check, these make the
# state change actually happen (and the snapshot catches it).
ATTACK_FORM = {
    "name": "pwned",
    "email": "pwned@evil.test",
    "role": "client_admin",
    "status": "suspended",
    "active": "",
    "host": "evil.test",
    "email_quota_month": "1",
    "sms_credits": "1",
    "confirm": "y",
    "submit": "1",
}
# Columns legitimately touched by logging in (and audit rows, skipped entirely).
IGNORED_TABLES = {"audit_event"}
IGNORED_COLUMNS = {("user", "last_login_at")}


# --- route enumeration (shared with the CSRF and route-guard tests) ------------------------------


def blueprint_of(rule: Rule) -> str | None:
    return rule.endpoint.rpartition(".")[0] or None


def area_rules(app, areas=AREAS, with_args: bool | None = None) -> list[Rule]:
    rules = [r for r in app.url_map.iter_rules() if blueprint_of(r) in areas]
    if with_args is not None:
        rules = [r for r in rules if bool(r.arguments) == with_args]
    return sorted(rules, key=lambda r: (r.rule, r.endpoint))


def methods_of(rule: Rule) -> set[str]:
    return set(rule.methods or ()) - {"HEAD", "OPTIONS"}


def build_path(rule: Rule, values: dict) -> str:
    built = rule.build(values, append_unknown=False)
    assert built is not None, f"cannot build {rule.rule} with {values}"
    return built[1]


def url_allows(app, host: str, path: str, method: str) -> bool:
    """Does any rule answer `method` on this path (so a 405 would be wrong)?"""
    adapter = app.url_map.bind(host)
    try:
        adapter.match(path, method=method)
    except Exception:
        return False
    return True


# --- the objects of AG1/A1 that other tenants must not reach --------------------------------------


@dataclass
class Targets:
    ids: dict[str, list]

    def values_for(self, rule: Rule) -> Iterator[dict]:
        args = sorted(rule.arguments)
        choices = []
        for arg in args:
            numeric = isinstance(rule._converters.get(arg), IntegerConverter)
            values = [v for v in self.ids.get(arg, ()) if isinstance(v, int) == numeric]
            if not values:
                pytest.fail(
                    f"add an id factory for <{arg}> in tests/test_isolation_matrix.py "
                    f"(route {rule.rule}, endpoint {rule.endpoint})"
                )
            choices.append(values)
        for combo in itertools.product(*choices):
            yield dict(zip(args, combo, strict=True))


def make_targets(app, world) -> Targets:
    """Real AG1/A1 objects for every argument name the areas use. Add a factory when a route needs one."""
    ag1, a1 = world.agency_ids["AG1"], world.client_ids["A1"]
    with app.app_context(), all_tenants():
        conn = Connection(agency_id=ag1, kind="smtp", name="AG1 relay", options={"host": "smtp.ag1.test"})
        custom = Domain(agency_id=ag1, host="mail.ag1-custom.test", verification_token="t" * 32)
        client_run = JobRun(
            agency_id=ag1,
            client_id=a1,
            kind="export",
            queue="default",
            rq_job_id="matrix-a1",
            state="done",
            result_name="contacts.csv",
            result_path=store_result_file("matrix-a1.csv", b"email\na@a1.test\n"),
        )
        agency_run = JobRun(
            agency_id=ag1,
            client_id=None,
            kind="export",
            queue="default",
            rq_job_id="matrix-ag1",
            state="done",
            result_name="clients.csv",
            result_path=store_result_file("matrix-ag1.csv", b"name\nClient A1\n"),
        )
        event = AuditEvent(agency_id=ag1, client_id=a1, action="matrix.target", target="a1")
        token = ActionToken(
            agency_id=ag1,
            user_id=world.user_ids["A1.editor"],
            purpose="invite",
            token_hash="m" * 64,
            expires_at=datetime.now(UTC) + timedelta(days=1),
        )
        suppressed = Suppression(
            agency_id=ag1,
            client_id=a1,
            channel="email",
            address="gone@a1.test",
            reason="manual",
            source="manual",
        )
        blocked = BlockedAddress(agency_id=ag1, channel="email", address="abuse@ag1.test", reason="abuse")
        db.session.add_all([conn, custom, client_run, agency_run, event, token, suppressed, blocked])
        db.session.flush()
        from portal.models import ContactImport  # the transfers blueprint's routes take <import_id>

        contact_import = ContactImport(
            agency_id=ag1,
            client_id=a1,
            status="done",
            source_name="a1-contacts.csv",
            stored_name="matrix.upload",
            sha256="0" * 64,
            errors_csv=b"file,line,column,value,reason\r\n",
        )
        db.session.add(contact_import)
        db.session.flush()
        audience = _audience_targets(ag1, a1)
        subscribe_form = _form_target(ag1, a1, audience["list_id"][0])
        batch = _batch_targets(ag1, a1, audience["list_id"][0])
        campaigns = _campaign_targets(ag1, a1, audience["list_id"][0])
        reported = _report_targets(ag1, a1)
        sms = _sms_targets(ag1, a1)
        adoption = _adoption_targets(ag1, a1)
        canonical = db.session.scalar(select(Domain.id).where(Domain.host == world.hosts["AG1"]))
        membership = db.session.scalar(
            select(Membership.id).where(Membership.user_id == world.user_ids["A1.editor"])
        )
        db.session.commit()
        runs = [client_run.id, agency_run.id]
        users = [world.user_ids["A1.editor"], world.user_ids["AG1.staff"]]
        ids = {
            "agency_id": [ag1],
            "client_id": [a1],
            "user_id": users,
            "staff_id": [world.user_ids["AG1.staff"]],
            "member_id": users,
            "membership_id": [membership],
            "import_id": [contact_import.id],
            "run_id": runs,
            "job_id": [*runs, client_run.rq_job_id, agency_run.rq_job_id],  # admin RQ pages use RQ ids
            "jobrun_id": runs,
            "connection_id": [conn.id, *adoption["connection_id"]],
            "adoption_id": adoption["adoption_id"],
            "domain_id": [custom.id, canonical],
            "event_id": [event.id],
            "audit_id": [event.id],
            "token_id": [token.id],
            "entry_id": [suppressed.id],
            "blocked_id": [blocked.id],
            **audience,
            "form_id": [subscribe_form],
            **batch,
            **campaigns,
            **reported,
            "campaign_id": [*campaigns["campaign_id"], *reported["campaign_id"], *sms["campaign_id"]],
            "sender_id": sms["sender_id"],
            **_webservice_targets(ag1, a1),
            # Not ids, but path arguments of area routes: one valid value each.
            "kind": ["smtp"],
            "message_id": ["matrix-message.eml"],
        }
    return Targets(ids)


def _webservice_targets(ag1: int, a1: int) -> dict[str, list]:
    """A1's API key, webhook endpoint and one delivery (the integrations and webhooks blueprints)."""
    from portal.models import ApiKey, Webhook, WebhookDelivery

    key = ApiKey(
        agency_id=ag1,
        client_id=a1,
        name="A1 key",
        prefix="a1matrix0001",
        key_hash="0" * 64,
        scopes=["read"],
        seen_ips=[],
    )
    hook = Webhook(
        agency_id=ag1, client_id=a1, url="https://hooks.example.com/a1", events=["open"], secret=""
    )
    db.session.add_all([key, hook])
    db.session.flush()
    delivery = WebhookDelivery(
        agency_id=ag1,
        client_id=a1,
        webhook_id=hook.id,
        message_id="msg_matrix",
        event_type="open",
        payload="{}",
        status="failed",
    )
    db.session.add(delivery)
    db.session.flush()
    return {"key_id": [key.id], "webhook_id": [hook.id], "delivery_id": [delivery.id]}


def _adoption_targets(ag1: int, a1: int) -> dict[str, list]:
    """A1's import from a provider account (a `mailup` connection of AG1, never called: every route
    answers 404 for another tenant before it would reach the provider)."""
    from portal.models import Adoption, Connection, JobRun

    conn = Connection(
        agency_id=ag1, kind="mailup", name="AG1 email API", options={"api_base": "http://127.0.0.1:9"}
    )
    run = JobRun(agency_id=ag1, client_id=a1, kind="adoption", queue="sync", rq_job_id="matrix-adoption")
    db.session.add_all([conn, run])
    db.session.flush()
    adoption = Adoption(
        agency_id=ag1,
        client_id=a1,
        connection_id=conn.id,
        job_run_id=run.id,
        state="done",
        options={},
        preview={"lists": []},
        cursor={},
        stats={},
        result={},
        error="",
    )
    db.session.add(adoption)
    db.session.flush()
    return {"connection_id": [conn.id], "adoption_id": [adoption.id]}


def _sms_targets(ag1: int, a1: int) -> dict[str, list]:
    """A1's SMS campaign and a sender id waiting for approval (the sms and smsagency blueprints)."""
    from portal.models import Campaign, SmsSenderId

    campaign = Campaign(agency_id=ag1, client_id=a1, channel="sms", name="A1 SMS", text="Hi", audience={})
    sender = SmsSenderId(agency_id=ag1, client_id=a1, value="A1Shop")
    db.session.add_all([campaign, sender])
    db.session.flush()
    return {"campaign_id": [campaign.id], "sender_id": [sender.id]}


def _audience_targets(ag1: int, a1: int) -> dict[str, list]:
    """A1's list (with a subscribed contact), custom field and segment, for the audience routes."""
    from portal.models import Contact, Field, MailingList, Segment, Subscription

    lst = MailingList(agency_id=ag1, client_id=a1, name="A1 list", email_subscribed_count=1)
    field = Field(agency_id=ag1, client_id=a1, number=1, key="city", label="City", kind="text", choices=[])
    contact = Contact(agency_id=ag1, client_id=a1, email="member@a1.test", fields={"city": "Milano"})
    db.session.add_all([lst, field, contact])
    db.session.flush()
    db.session.add(Subscription(agency_id=ag1, client_id=a1, list_id=lst.id, contact_id=contact.id))
    segment = Segment(
        agency_id=ag1,
        client_id=a1,
        name="A1 segment",
        rules={"match": "all", "conditions": [{"type": "list", "list_id": lst.id, "status": "subscribed"}]},
    )
    db.session.add(segment)
    db.session.flush()
    return {
        "list_id": [lst.id],
        "field_id": [field.id],
        "contact_id": [contact.id],
        "segment_id": [segment.id],
    }


def _batch_targets(ag1: int, a1: int, list_id: int) -> dict[str, list]:
    """A1's batch source and one of its runs (the batch blueprint's routes)."""
    from portal.models import BatchRun, BatchSource

    source = BatchSource(
        agency_id=ag1,
        client_id=a1,
        name="A1 nightly",
        protocol="sftp",
        host="files.example.com",
        port=22,
        username="a1",
        secrets_encrypted="",
        server_key="ssh-ed25519 AAAA",
        list_id=list_id,
        options={},
    )
    db.session.add(source)
    db.session.flush()
    run = BatchRun(agency_id=ag1, client_id=a1, source_id=source.id, state="done")
    db.session.add(run)
    db.session.flush()
    return {"source_id": [source.id], "batch_run_id": [run.id]}


def _form_target(ag1: int, a1: int, list_id: int) -> int:
    """A1's subscription form (the forms blueprint's routes take <form_id>)."""
    from portal.models import SubscribeForm

    form = SubscribeForm(
        agency_id=ag1,
        client_id=a1,
        public_key="m" * 24,
        name="A1 form",
        list_ids=[list_id],
        channels=["email"],
    )
    db.session.add(form)
    db.session.flush()
    return form.id


def _report_targets(ag1: int, a1: int) -> dict[str, list]:
    """An A1 campaign that has started sending (the reports routes take <campaign_id>)."""
    from portal.models import Campaign

    campaign = Campaign(
        agency_id=ag1,
        client_id=a1,
        name="A1 report",
        status="sent",
        started_at=datetime.now(UTC) - timedelta(hours=1),
    )
    db.session.add(campaign)
    db.session.flush()
    return {"campaign_id": [campaign.id]}


def _campaign_targets(ag1: int, a1: int, list_id: int) -> dict[str, list]:
    """A1's sender domain and identity, a draft and a sending campaign, an image (campaigns blueprint)."""
    from portal.models import Campaign, ImageAsset, SenderDomain, SenderIdentity

    domain = SenderDomain(
        agency_id=ag1,
        client_id=a1,
        domain="news.a1-matrix.test",
        verification_token="v" * 32,
        dkim_selector="pmatrix",
        dkim_private_key="not-a-key",
        dkim_public_key="AAAA",
        verified_at=datetime.now(UTC),
    )
    db.session.add(domain)
    db.session.flush()
    ident = SenderIdentity(
        agency_id=ag1, client_id=a1, domain_id=domain.id, name="A1 News", email="news@news.a1-matrix.test"
    )
    db.session.add(ident)
    db.session.flush()
    common = dict(agency_id=ag1, client_id=a1, subject="Hi", html="<p>Hi</p>", sender_id=ident.id)
    draft = Campaign(name="A1 draft", audience={"lists": [list_id]}, **common)
    sending = Campaign(name="A1 sending", status="sending", audience={"lists": [list_id]}, **common)
    image = ImageAsset(
        agency_id=ag1, client_id=a1, token="m" * 32, name="a1.png", mime="image/png", data=b"\x89PNG"
    )
    db.session.add_all([draft, sending, image])
    db.session.flush()
    return {
        "campaign_id": [draft.id, sending.id],
        "sender_domain_id": [domain.id],
        "identity_id": [ident.id],
        "image_id": [image.id],
    }


# --- database snapshot ----------------------------------------------------------------------------


def snapshot(app, ignore_audit: bool = True) -> dict[str, tuple[int, str]]:
    """Row count and a hash of every row of every table (Core SELECTs: the ORM tenant filter is not
    involved, so this sees all tenants). Audit rows are skipped unless `ignore_audit` is False."""
    out = {}
    with app.app_context(), db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            if ignore_audit and table.name in IGNORED_TABLES:
                continue
            cols = [c for c in table.columns if (table.name, c.name) not in IGNORED_COLUMNS]
            rows = conn.execute(select(*cols).order_by(*table.primary_key.columns)).all()
            digest = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
            out[table.name] = (len(rows), digest)
    return out


def diff(before: dict, after: dict) -> list[str]:
    return [name for name in before if before[name] != after.get(name)]


# --- callers --------------------------------------------------------------------------------------


@dataclass
class Caller:
    key: str  # user key or "anon@<host>"
    http: HostClient
    csrf: str | None

    @property
    def anonymous(self) -> bool:
        return self.key.startswith("anon")


def logged_in(app, world, key: str) -> Caller:
    c = client_for(app, world, key)
    page = c.get("/account")
    assert page.status_code == 200, f"{key} cannot open /account"
    return Caller(key, c, csrf_from(page.get_data(as_text=True)))


def anonymous(app, host: str) -> Caller:
    c = HostClient(app, host)
    page = c.get("/login")
    return Caller(f"anon@{host}", c, csrf_from(page.get_data(as_text=True)))


def _call(caller: Caller, method: str, path: str):
    if method == "GET":
        return caller.http.get(path)
    data = {**ATTACK_FORM, "csrf_token": caller.csrf}
    return caller.http.http.post(f"http://{caller.http.host}{path}", data=data)


def missing_values(rule: Rule) -> dict:
    """Ids that exist nowhere: what a missing object looks like on this route."""
    return {
        arg: 987654321 if isinstance(rule._converters.get(arg), IntegerConverter) else "missing-object"
        for arg in rule.arguments
    }


def check(caller: Caller, app, method: str, path: str, missing_path: str | None = None) -> str | None:
    """Make the call; return a problem description or None.

    Accepted: 404; 405 where no rule has the method; 302 to /login for anonymous callers; and a 403 only
    when the same call on a missing object answers 403 too (a role gate that runs before any lookup,
    so it tells nothing about the object — "exactly like a missing one")."""
    host = caller.http.host
    resp = _call(caller, method, path)
    status = resp.status_code
    if status == 404:
        return None
    if status == 405 and not url_allows(app, host, path, method):
        return None
    if caller.anonymous and status == 302 and urlsplit(resp.location).path == "/login":
        return None
    if status == 403 and missing_path is not None and _call(caller, method, missing_path).status_code == 403:
        return None
    where = resp.location if status in (301, 302, 303) else resp.get_data(as_text=True)[:120]
    return f"{method} {path} as {caller.key} on {host} → {status} ({where!r})"


@pytest.fixture
def matrix(app, world):
    """Requests run outside any app context (a pushed one would share `g` between requests)."""
    targets = make_targets(app, world)
    callers = [logged_in(app, world, key) for key in ATTACKERS]
    callers += [anonymous(app, h) for h in (world.hosts["AG1"], ADMIN_HOST, world.hosts["AG2"])]
    return targets, callers


def test_matrix_covers_some_routes(app):
    assert area_rules(app, with_args=True), "no id routes found: the matrix would prove nothing"


def test_other_tenants_get_404_and_change_nothing(app, world, matrix):
    targets, callers = matrix
    problems: list[str] = []
    before = snapshot(app)
    calls = 0
    for rule in area_rules(app, with_args=True):
        missing = build_path(rule, missing_values(rule))
        for values in targets.values_for(rule):
            path = build_path(rule, values)
            for caller in callers:
                for method in ("GET", "POST"):
                    problem = check(caller, app, method, path, missing)
                    calls += 1
                    after = snapshot(app)
                    changed = diff(before, after)
                    if changed:
                        problems.append(
                            f"{method} {path} as {caller.key} changed table(s) {', '.join(changed)}"
                        )
                        before = after
                    if problem:
                        problems.append(problem)
    assert not problems, f"{len(problems)} isolation failure(s) in {calls} calls:\n" + "\n".join(problems)


# --- areas answer only on their own host ----------------------------------------------------------


def _area_calls(app, targets: Targets, areas) -> Iterator[tuple[str, str]]:
    for rule in area_rules(app, areas):
        for values in itertools.islice(targets.values_for(rule), 1) if rule.arguments else [{}]:
            path = build_path(rule, values)
            for method in sorted(methods_of(rule) & {"GET", "POST"}):
                yield method, path


def _cross_host(app, caller: Caller, calls) -> list[str]:
    problems = []
    before = snapshot(app)
    for method, path in calls:
        problem = check(caller, app, method, path)
        if problem:
            problems.append(problem)
        after = snapshot(app)
        if diff(before, after):
            problems.append(f"{method} {path} as {caller.key} changed {diff(before, after)}")
            before = after
    return problems


def test_admin_routes_are_404_on_agency_hosts(app, world):
    targets = make_targets(app, world)
    calls = list(_area_calls(app, targets, ("admin",)))
    assert calls
    problems = []
    for key in ("AG1.owner", "A1.admin"):
        problems += _cross_host(app, logged_in(app, world, key), calls)
    assert not problems, "\n".join(problems)


def test_agency_and_client_routes_are_404_on_the_admin_host(app, world):
    targets = make_targets(app, world)
    calls = list(_area_calls(app, targets, ("agency", "client", "jobs")))
    assert calls
    problems = _cross_host(app, logged_in(app, world, "admin"), calls)
    assert not problems, "\n".join(problems)


def test_factories_point_at_real_rows(app, world):
    """The ids handed to routes exist (a typo here would make every 404 meaningless)."""
    targets = make_targets(app, world)
    for arg, ids in targets.ids.items():
        assert ids and all(isinstance(i, int | str) for i in ids), arg
