"""Import benchmark: a realistic CSV through the same import service the UI uses.

    python benchmarks/import_bench.py --rows 1000000 [--database-url URL] [--json]

The file has an email and 5 fields, with about 3% invalid rows, 5% duplicates and 2% addresses that are
already suppressed. Prints one JSON line: rows, seconds, rows_per_s, peak_rss_mb, and the baseline — the
time to bulk-load the same file into a bare table with no checks (PostgreSQL COPY, SQLite executemany) —
with the ratio baseline_seconds / seconds.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import create_engine, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIRST = [
    "Anna",
    "Bruno",
    "Carla",
    "Dario",
    "Elena",
    "Fabio",
    "Giulia",
    "Luca",
    "Marta",
    "Nicolò",
    "Sara",
    "Zoë",
]
LAST = ["Rossi", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco", "Bruno", "Gallo", "Conti"]
CITIES = ["Milano", "Roma", "Torino", "Napoli", "Bologna", "Firenze", "Genova", "Bari", "Forlì", "Perù"]
DOMAINS = ["example.com", "mail.example.it", "posta.example.org", "azienda.example.net", "shop.example.eu"]


def generate(path: Path, rows: int, seed: int = 7) -> list[str]:
    """Write the CSV; return the addresses to pre-suppress (2% of the rows)."""
    rnd = random.Random(seed)
    suppressed: list[str] = []
    emails: list[str] = []
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["email", "first_name", "last_name", "city", "age", "signup_date"])
        for i in range(rows):
            roll = rnd.random()
            if roll < 0.03:
                email = rnd.choice(
                    [f"broken{i}@", f"no-at-sign-{i}.example.com", f"x{i}@bad_domain", f"a..b{i}@x.com"]
                )
            elif roll < 0.08 and emails:
                email = rnd.choice(emails[-1000:]).upper()  # duplicates differ in case, as in real files
            else:
                # Real addresses are ASCII even when names are not (Nicolò → nicolo).
                first = rnd.choice(FIRST).lower().replace("ò", "o").replace("ë", "e")
                email = f"{first}.{rnd.choice(LAST).lower()}{i}@{rnd.choice(DOMAINS)}"
                emails.append(email)
                if rnd.random() < 0.02:
                    suppressed.append(email)
            w.writerow(
                [
                    email,
                    rnd.choice(FIRST),
                    rnd.choice(LAST),
                    rnd.choice(CITIES),
                    rnd.randint(18, 90),
                    f"20{rnd.randint(10, 25)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
                ]
            )
            if len(emails) > 5000:
                del emails[:4000]
    return suppressed


def baseline(path: Path, url: str) -> float:
    """Bulk-load the same file into a bare table: no parsing of values, no checks."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_bare"))
        conn.execute(
            text(
                "CREATE TABLE bench_bare (email TEXT, first_name TEXT, last_name TEXT, city TEXT, "
                "age TEXT, signup_date TEXT)"
            )
        )
    start = time.perf_counter()
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        if engine.dialect.name == "postgresql":
            with (
                raw.cursor() as cur,
                path.open("rb") as fh,
                cur.copy("COPY bench_bare FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
            ):
                while chunk := fh.read(1 << 20):
                    copy.write(chunk)
        else:
            with path.open(newline="", encoding="utf-8") as fh:
                reader = csv.reader(fh)
                next(reader)
                raw.executemany("INSERT INTO bench_bare VALUES (?, ?, ?, ?, ?, ?)", reader)
    seconds = time.perf_counter() - start
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE bench_bare"))
    engine.dispose()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="import-bench-"))
    url = args.database_url or f"sqlite:///{work / 'bench.db'}"
    csv_path = work / "contacts.csv"
    to_suppress = generate(csv_path, args.rows)
    log = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr))
    log(f"generated {args.rows:,} rows ({csv_path.stat().st_size / 2**20:.1f} MB) in {work}")

    os.environ.setdefault("SECRET_KEY", "benchmark-secret-key-0123456789")
    os.environ.setdefault("PORTAL_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    os.environ["PORTAL_INSTANCE_DIR"] = str(work / "instance")
    os.environ["REDIS_URL"] = os.environ.get(
        "BENCH_REDIS_URL", "redis://127.0.0.1:1/0"
    )  # progress is optional
    from portal import create_app
    from portal.extensions import db
    from portal.models import Agency, Client, MailingList, Suppression
    from portal.services import fields as field_svc
    from portal.services import imports as svc
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
            client = Client(agency_id=agency.id, name="Bench client", slug="bench-client")
            db.session.add(client)
            db.session.flush()
            ids = (agency.id, client.id)
        with bind_tenant(*ids):
            lst = MailingList(name="All", agency_id=ids[0], client_id=ids[1])
            db.session.add(lst)
            for label, kind in (
                ("first_name", "text"),
                ("last_name", "text"),
                ("city", "text"),
                ("age", "number"),
                ("signup_date", "date"),
            ):
                field_svc.create_field(actor=None, client=client, label=label, kind=kind)
            db.session.add_all(
                Suppression(
                    agency_id=ids[0],
                    client_id=ids[1],
                    channel="email",
                    address=a,
                    reason="unsubscribe",
                    source="bench",
                )
                for a in to_suppress
            )
            db.session.commit()
            list_id = lst.id

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        with bind_tenant(*ids):
            client = db.session.scalar(select(Client))
            with csv_path.open("rb") as fh:
                imp = svc.create_import(actor=None, client=client, stream=fh, filename="contacts.csv")
            mapping = svc.suggest_mapping(imp.columns, field_svc.list_fields())
            run = svc.start_import(
                actor=None, client=client, imp=imp, mapping=mapping, list_ids=[list_id], enqueue=False
            )
            db.session.commit()
            outcome = svc.run_import(imp.id, run.id)
        seconds = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        dialect = db.engine.dialect.name
    base = baseline(csv_path, url)
    result = {
        "rows": args.rows,
        "database": dialect,
        "seconds": round(seconds, 2),
        "rows_per_s": round(args.rows / seconds),
        "peak_rss_mb": round(peak_mb, 1),
        "rss_before_import_mb": round(rss_before / 1024, 1),
        "baseline_seconds": round(base, 2),
        "baseline_rows_per_s": round(args.rows / base),
        "ratio": round(base / seconds, 3),
        "outcome": outcome.as_dict() if outcome else None,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
