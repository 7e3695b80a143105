"""Send benchmark: a campaign for N contacts through the real pipeline (RQ jobs, SMTP relay backend,
rendering, DKIM) to an SMTP sink running in its own process.

    python benchmarks/send_bench.py --recipients 5000 [--workers 1] [--eml-dir DIR] [--json]

Prints one JSON line: recipients, seconds, msgs_per_s, per_worker_msgs_per_s, peak_rss_mb (largest worker),
worker_cpu_ms_per_msg (the workers' CPU time, user + system, per message sent; steadier than wall time on a
noisy machine),
and the baseline — the same number of pre-built messages blasted through smtplib over one connection to the
same sink — with ratio = msgs_per_s / baseline_msgs_per_s. With --eml-dir the sink keeps the first 100
messages as .eml files and the JSON gains `dkim` (selector, domain, DNS TXT record) to verify them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HTML = """<html><head><style>h1{color:#2458d6;font-family:Arial}p{font-size:15px;line-height:1.5}</style></head>
<body><h1>Hello {{ first_name | default("there") }}</h1>
<p>Our spring collection is here. {{ city }} stores open late this week.</p>
<p><a href="https://shop.example.com/spring?utm_source=news">See the collection</a> ·
<a href="https://shop.example.com/stores">Find a store</a></p>
<p>Thanks for reading, and see you soon.</p></body></html>"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--eml-dir", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    log = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr))

    work = Path(tempfile.mkdtemp(prefix="send-bench-"))
    from portal.embedded.redis_server import start_redis_on_free_port, stop_redis

    redis_proc, redis_url = start_redis_on_free_port(work / "redis")
    sink_port = free_port()
    sink_cmd = [sys.executable, str(ROOT / "benchmarks" / "smtp_sink.py"), "--port", str(sink_port)]
    if args.eml_dir:
        sink_cmd += ["--eml-dir", str(args.eml_dir)]
    sink = subprocess.Popen(sink_cmd, stdout=subprocess.PIPE, text=True)
    assert sink.stdout.readline().strip() == "ready"

    env = {
        "SECRET_KEY": "send-benchmark-secret-key-0123456789",
        "PORTAL_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": args.database_url or f"sqlite:///{work / 'bench.db'}",
        "REDIS_URL": redis_url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(sink_port),
        "SMTP_TLS": "none",
        "PORTAL_BASE_DOMAIN": "bench.test",
        "PORTAL_INSTANCE_DIR": str(work / "instance"),
        "PORTAL_URL_SCHEME": "https",
        "PORTAL_SEND_JOBS_PER_CAMPAIGN": str(max(args.workers, 1)),
    }
    os.environ.update(env)
    from sqlalchemy import func, select

    from portal import create_app
    from portal.extensions import db
    from portal.mail.dkim import dns_record
    from portal.models import Campaign, Client, Delivery, MailingList
    from portal.sending import control
    from portal.services import agencies, clients, senders
    from portal.services import fields as field_svc
    from portal.tenancy import all_tenants, bind_tenant

    app = create_app()
    with app.app_context():
        db.drop_all()
        db.create_all()
        with all_tenants():
            agency = agencies.create_agency(actor=None, name="Bench Agency", slug="bench")
            db.session.flush()
            agency_id = agency.id
        with bind_tenant(agency_id):
            client = clients.create_client(
                actor=None, agency=agency, name="Bench Client", email_quota_month=10**9, sms_credits=0
            )
            client_id = client.id
        with bind_tenant(agency_id, client_id):
            domain = senders.add_domain(actor=None, client=client, domain="news.bench.example")
            domain.verified_at = datetime.now(UTC)  # the benchmark measures sending, not DNS
            sender = senders.add_identity(
                actor=None, client=client, name="Bench News", email="hi@news.bench.example"
            )
            field_svc.create_field(actor=None, client=client, label="First name")
            field_svc.create_field(actor=None, client=client, label="City")
            lst = MailingList(agency_id=agency_id, client_id=client_id, name="All")
            db.session.add(lst)
            db.session.flush()
            raw = db.session.connection().connection.driver_connection
            rows = [
                (
                    agency_id,
                    client_id,
                    f"reader{i}@example.org",
                    json.dumps({"first_name": f"Reader{i}", "city": "Roma"}),
                    datetime.now(UTC),
                    datetime.now(UTC),
                )
                for i in range(args.recipients)
            ]
            ph = "%s" if db.engine.dialect.name == "postgresql" else "?"
            cur = raw.cursor()
            cur.executemany(
                f"INSERT INTO contact (agency_id, client_id, email, fields, created_at, updated_at) "
                f"VALUES ({', '.join([ph] * 6)})",
                rows,
            )
            cur.execute(
                f"INSERT INTO subscription (agency_id, client_id, list_id, contact_id, channel, status, "
                f"consent_ip, consent_source, updated_at) SELECT agency_id, client_id, {lst.id}, id, 'email', "
                f"'subscribed', '', 'import', created_at FROM contact"
            )
            if ph == "%s":  # fresh planner statistics, as a real import leaves them (portal/imports/stage.py)
                cur.execute("ANALYZE contact")
                cur.execute("ANALYZE subscription")
            campaign = Campaign(
                agency_id=agency_id,
                client_id=client_id,
                name="Bench",
                subject="Spring for {{ first_name }}",
                html=HTML,
                sender_id=sender.id,
                audience={"lists": [lst.id]},
            )
            db.session.add(campaign)
            db.session.commit()
            campaign_id = campaign.id
            dkim_info = {
                "selector": domain.dkim_selector,
                "domain": domain.domain,
                "name": f"{domain.dkim_selector}._domainkey.{domain.domain}",
                "txt": dns_record(domain.dkim_public_key),
            }
            log(f"{args.recipients:,} contacts ready in {work}")
            start = time.perf_counter()
            control.start_send(actor=None, client=db.session.scalar(select(Client)), campaign=campaign)
            db.session.commit()
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "portal.cli", "worker", "--burst", "--queue", "sends"],
            env={**os.environ},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(args.workers)
    ]
    for w in workers:
        w.wait()
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the workers: the only children reaped so far
    peak_rss_mb = usage.ru_maxrss / 1024
    worker_cpu_s = usage.ru_utime + usage.ru_stime
    with app.app_context(), bind_tenant(agency_id, client_id):
        sent = db.session.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == "sent"))

    # Baseline: one real message of this campaign (rendered, built, DKIM-signed once), blasted N times over
    # one smtplib connection to the same sink — the transport's own ceiling.
    with app.app_context(), bind_tenant(agency_id, client_id):
        sample = _sample_message(campaign_id)
    conn = smtplib.SMTP("127.0.0.1", sink_port)
    base_start = time.perf_counter()
    for i in range(args.recipients):
        conn.sendmail("b@bounces.bench.test", [f"reader{i}@example.org"], sample)
    base_seconds = time.perf_counter() - base_start
    conn.quit()

    sink.terminate()
    received = sink.communicate(timeout=10)[0].strip().splitlines()[-1]
    stop_redis(redis_proc)
    rate = sent / seconds
    result = {
        "recipients": args.recipients,
        "sent": sent,
        "workers": args.workers,
        "database": app.config["SQLALCHEMY_DATABASE_URI"].split(":")[0],
        "seconds": round(seconds, 2),
        "msgs_per_s": round(rate, 1),
        "per_worker_msgs_per_s": round(rate / args.workers, 1),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "worker_cpu_ms_per_msg": round(worker_cpu_s * 1000 / max(sent, 1), 3),
        "baseline_seconds": round(base_seconds, 2),
        "baseline_msgs_per_s": round(args.recipients / base_seconds, 1),
        "ratio": round(rate / (args.recipients / base_seconds), 3),
        "sink": received,
    }
    if args.eml_dir:
        result["dkim"] = dkim_info
    print(json.dumps(result))


def _sample_message(campaign_id: int) -> bytes:
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import Campaign
    from portal.sending.email_content import compose, email_content

    campaign = db.session.scalar(select(Campaign).where(Campaign.id == campaign_id))
    message = compose(
        email_content(campaign), 1, "reader1@example.org", {"first_name": "Reader1", "city": "Roma"}
    )
    return message.payload


if __name__ == "__main__":
    main()
