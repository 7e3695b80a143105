"""Provider adoption benchmark: an emulated account holding N recipients (subscribed, pending, unsubscribed,
unsubscribed by an administrator, hard-bounced, past the soft-bounce limit, complained; a share with a
mobile number on the SMS channel; two groups) adopted through the same preview, job and services as the UI.

    python benchmarks/mailup_adopt_bench.py --recipients 100000 [--rate 5] [--page-size 1000]
                                            [--database-url URL] [--json]

Starts the emulator (rate limit `--rate` calls/s per account: 429 above it; pageSize capped at 1,000) and
a Redis (the bundled server, or REDIS_URL) for the token and the client's own token bucket at the same
rate, then times the preview and the adoption from nothing to every contact, subscription and
suppression stored (SQLite file by default). Prints one JSON line: recipients, seconds (preview +
adoption), read_seconds, apply_seconds, api_calls (every request but the token's), throttled (429s),
recipients_per_s, rate_limit_share (calls per second ÷ calls allowed per second), optouts (opted-out
addresses and numbers in the account), suppressed (how many of them are suppression entries after).
Goal (issue 13): 100,000 recipients in under 2 minutes, share at most 1.0, optouts == suppressed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=5)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--json", action="store_true", help="only the JSON line")
    args = parser.parse_args()
    log = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr))

    from cryptography.fernet import Fernet

    from portal.backends.mailup.emulator import AccountSpec
    from portal.embedded.redis_server import start_redis_on_free_port, stop_redis

    work = tempfile.TemporaryDirectory(prefix="adopt-bench-")
    spec = AccountSpec("bench", "bench-pw", "bench-client", "bench-secret")
    # The provider is another machine: the emulator serves from a process of its own, so its work on each
    # page does not compete with the portal's for one interpreter.
    ours, theirs = multiprocessing.get_context("fork").Pipe()
    emulator = multiprocessing.get_context("fork").Process(
        target=_serve_emulator, args=(theirs, spec, args.rate, args.recipients), daemon=True
    )
    emulator.start()
    url, optouts = ours.recv()
    log(f"account filled: {args.recipients:,} recipients, {optouts:,} opted-out addresses and numbers")
    proc, redis_url = None, os.environ.get("REDIS_URL")
    if not redis_url:
        proc, redis_url = start_redis_on_free_port(Path(work.name) / "redis")
    os.environ.setdefault("SECRET_KEY", "benchmark-secret-key-0123456789")
    os.environ.setdefault("PORTAL_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    os.environ["PORTAL_INSTANCE_DIR"] = str(Path(work.name) / "instance")
    os.environ["REDIS_URL"] = redis_url
    try:
        result = _run(args, url, spec, Path(work.name), log)
    finally:
        ours.send("stop")
        emulator.join(30)
        if proc is not None:
            stop_redis(proc)
        work.cleanup()
    result["optouts"] = optouts
    result["all_suppressed"] = result["suppressed"] == optouts
    print(json.dumps(result))


def _serve_emulator(pipe, spec, rate: int, recipients: int) -> None:
    from portal.backends.mailup.emulator import start_emulator
    from portal.backends.mailup.emulator.prefill import generate, prefill

    url, handle = start_emulator(accounts=[spec], rate_limit=rate)
    prefill(handle.state, spec.username, generate(recipients, seed=13))
    pipe.send((url, _optouts(handle.state.account(spec.username))))
    pipe.recv()
    handle.stop()


def _optouts(account) -> int:
    emails = {
        r.email.lower()
        for r in account.recipients.values()
        if r.email and any(s.status == "Unsubscribed" for s in r.email_subs.values())
    }
    numbers = {
        r.mobile_number
        for r in account.recipients.values()
        if r.mobile_number and any(s.status == "Unsubscribed" for s in r.sms_subs.values())
    }
    return len(emails) + len(numbers)


def _run(args, url: str, spec, work: Path, log) -> dict:
    from sqlalchemy import func, select

    from portal import create_app
    from portal.adoption import service
    from portal.crypto import encrypt_json
    from portal.extensions import db
    from portal.models import Adoption, Agency, Client, Connection, Contact, Suppression
    from portal.settings import Settings
    from portal.tenancy import all_tenants, bind_tenant

    db_url = args.database_url or f"sqlite:///{work / 'bench.db'}"
    app = create_app(Settings.from_env(database_url=db_url, base_domain="bench.test"))
    with app.app_context():
        db.drop_all()
        db.create_all()
        with all_tenants():
            agency = Agency(name="Bench", slug="bench")
            db.session.add(agency)
            db.session.flush()
            client = Client(agency_id=agency.id, name="Bench client", slug="bench-client")
            db.session.add(client)
            db.session.flush()
            conn = Connection(
                agency_id=agency.id,
                kind="mailup",
                name="Email API",
                options={
                    "client_id": spec.client_id,
                    "username": spec.username,
                    "api_base": url,
                    "rate_per_second": args.rate,
                },
                secrets_encrypted=encrypt_json(
                    {"password": spec.password, "client_secret": spec.client_secret}
                ),
            )
            db.session.add(conn)
            db.session.commit()
            ids, conn_id = (agency.id, client.id), conn.id
        with bind_tenant(*ids):
            client = db.session.scalar(select(Client))
            connection = db.session.scalar(select(Connection).where(Connection.id == conn_id))
            started = time.monotonic()
            confirmed = service.preview(connection, client, page_size=args.page_size)
            adoption = service.start_adoption(
                actor=None, connection=connection, client=client, confirmed=confirmed, enqueue=False
            )
            db.session.commit()
            adoption_id, run_id = adoption.id, adoption.job_run_id
            log(f"preview: {confirmed['records']:,} records, about {confirmed['calls']} calls")
            read_started = time.monotonic()
            state = service.run_adoption(adoption_id, run_id)
            db.session.commit()
            seconds = time.monotonic() - started
            adoption = db.session.scalar(select(Adoption).where(Adoption.id == adoption_id))
            apply_seconds = adoption.result.get("apply_seconds", 0.0)
            contacts = db.session.scalar(select(func.count(Contact.id)))
            suppressed = db.session.scalar(select(func.count(Suppression.id)))
            calls = adoption.result.get("api_calls", 0)
    preview_calls = confirmed.get("preview_calls", 0)
    total_calls = calls + preview_calls
    log(f"{state}: {contacts:,} contacts, {suppressed:,} suppression entries in {seconds:.1f} s")
    return {
        "recipients": args.recipients,
        "seconds": round(seconds, 2),
        "read_seconds": round(seconds - apply_seconds - (read_started - started), 2),
        "apply_seconds": round(apply_seconds, 2),
        "api_calls": total_calls,
        "throttled": adoption.result.get("throttled", 0),
        "recipients_per_s": round(args.recipients / seconds, 1),
        "rate_limit_share": round(total_calls / seconds / args.rate, 3),
        "page_size": args.page_size,
        "contacts": contacts,
        "suppressed": suppressed,
        "state": state,
    }


if __name__ == "__main__":
    main()
