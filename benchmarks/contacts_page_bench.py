"""Contacts page benchmark: the queries of /app/contacts over N contacts of one client.

    python benchmarks/contacts_page_bench.py [--contacts 1000000] [--database-url URL] [--json]

Inserts N contacts set-based (SQLite recursive CTE, PostgreSQL generate_series) with a city and an age,
half of them subscribed to a list, plus a second client's contacts, then times through the same service
the page uses (services.contacts.contacts_page: items + total) — first page, a deep keyset page, an email
prefix search, a field equality search, a list filter — and the bare unfiltered COUNT. Prints one JSON
line with the median milliseconds of 5 warm runs each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CITIES = ["Milano", "Roma", "Torino", "Napoli", "Bologna", "Firenze", "Genova", "Bari", "Forlì", "Perù"]


def fill(db, agency_id: int, client_id: int, n: int, list_id: int | None) -> None:
    cities = "CASE (i % 10) " + " ".join(f"WHEN {k} THEN '{c}'" for k, c in enumerate(CITIES)) + " END"
    fields = f"""'{{"city": "' || {cities} || '", "age": ' || (18 + i % 70) || '}}'"""
    now = "CURRENT_TIMESTAMP"
    columns = "agency_id, client_id, email, phone, fields, created_at, updated_at"
    values = (
        f"{agency_id}, {client_id}, 'user' || i || '@example' || (i % 7) || '.com', "
        f"CASE WHEN i % 3 = 0 THEN '+39347' || substr('0000000' || i, -7, 7) END, {fields}, {now}, {now}"
    )
    if db.engine.dialect.name == "postgresql":
        values = values.replace("substr('0000000' || i, -7, 7)", "lpad(i::text, 7, '0')")
        values = values.replace(f"{fields},", f"({fields})::json,")
        sql = f"INSERT INTO contact ({columns}) SELECT {values} FROM generate_series(1, {n}) AS s(i)"
    else:
        sql = (
            f"WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {n}) "
            f"INSERT INTO contact ({columns}) SELECT {values} FROM seq"
        )
    db.session.execute(text(sql))
    if list_id is not None:
        db.session.execute(
            text(
                "INSERT INTO subscription (agency_id, client_id, list_id, contact_id, channel, status, "
                "consent_ip, consent_source, updated_at) SELECT agency_id, client_id, :lid, id, 'email', "
                "'subscribed', '', 'import', CURRENT_TIMESTAMP FROM contact WHERE client_id = :cid AND id % 2 = 0"
            ),
            {"lid": list_id, "cid": client_id},
        )


def timed(fn, runs: int = 5) -> float:
    fn()  # warm the cache
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(samples), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()
    log = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr))

    work = Path(tempfile.mkdtemp(prefix="contacts-bench-"))
    url = args.database_url or f"sqlite:///{work / 'bench.db'}"
    os.environ.setdefault("SECRET_KEY", "benchmark-secret-key-0123456789")
    os.environ.setdefault("PORTAL_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    os.environ["PORTAL_INSTANCE_DIR"] = str(work / "instance")
    os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:1/0")
    from portal import create_app
    from portal.extensions import db
    from portal.models import Agency, Client, MailingList
    from portal.services import contacts as svc
    from portal.services import fields as field_svc
    from portal.settings import Settings
    from portal.tenancy import all_tenants, bind_tenant

    app = create_app(Settings.from_env(database_url=url, base_domain="bench.test"))
    with app.app_context():
        db.drop_all()
        db.create_all()
        with all_tenants():
            agency = Agency(name="Bench", slug="bench")
            db.session.add(agency)
            db.session.flush()
            clients = [Client(agency_id=agency.id, name=f"Bench {k}", slug=f"bench-{k}") for k in (1, 2)]
            db.session.add_all(clients)
            db.session.flush()
            ids = (agency.id, clients[0].id)
            other = clients[1].id
        with bind_tenant(*ids):
            client = db.session.scalar(select(Client).where(Client.id == ids[1]))
            lst = MailingList(name="Half", agency_id=ids[0], client_id=ids[1])
            db.session.add(lst)
            field_svc.create_field(actor=None, client=client, label="city")
            field_svc.create_field(actor=None, client=client, label="age", kind="number")
            db.session.flush()
            list_id = lst.id
            start = time.perf_counter()
            fill(
                db, ids[0], other, max(args.contacts // 10, 1), None
            )  # a neighbour's rows in the same tables
            fill(db, ids[0], ids[1], args.contacts, list_id)
            db.session.commit()
            log(f"inserted {args.contacts:,} contacts in {time.perf_counter() - start:.1f} s")
            if db.engine.dialect.name == "postgresql":
                db.session.execute(text("ANALYZE"))
            else:
                db.session.execute(text("ANALYZE"))
            db.session.commit()

            client = db.session.scalar(select(Client).where(Client.id == ids[1]))
            middle = db.session.scalar(
                select(svc.Contact.id)
                .where(svc.Contact.client_id == ids[1])
                .order_by(svc.Contact.id)
                .offset(args.contacts // 2)
                .limit(1)
            )
            page = svc.contacts_page
            F = svc.ContactFilter
            results = {
                "contacts": args.contacts,
                "database": db.engine.dialect.name,
                "first_page_rows_ms": timed(lambda: page(client, F(q="user"))),  # capped count, no full COUNT
                "first_page_ms": timed(lambda: page(client, F())),
                "deep_keyset_page_ms": timed(lambda: page(client, F(), after=middle)),
                "count_all_ms": timed(lambda: svc.count_contacts(client)),
                "email_prefix_ms": timed(lambda: page(client, F(q="user12345"))),
                "email_exact_ms": timed(lambda: page(client, F(q="user123456@example4.com"))),
                "phone_prefix_ms": timed(lambda: page(client, F(q="+393470012"))),
                "field_equals_ms": timed(lambda: page(client, F(field_key="city", field_value="Forlì"))),
                "field_equals_rare_ms": timed(lambda: page(client, F(field_key="age", field_value="200"))),
                "list_filter_ms": timed(lambda: page(client, F(list_id=list_id))),
                "list_status_filter_ms": timed(
                    lambda: page(client, F(list_id=list_id, status="unsubscribed"))
                ),
            }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
