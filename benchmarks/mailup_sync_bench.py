"""Provider audience sync benchmark: N contacts pushed into a campaign group on the MailUp emulator with its
rate limit on, through the same backend step the send job runs (backends/mailup/campaign.py).

    python benchmarks/mailup_sync_bench.py --contacts 100000 [--rate 5] [--batch 5000] [--json]

Starts the emulator (rate limit `--rate` calls/s per account, 429 above it) and a Redis (the bundled
server, or REDIS_URL) for the client's token and its own token bucket at the same rate, then times
`sync_audience` from nothing to every member in the group. Prints one JSON line: contacts, seconds,
api_calls (every attempt, 429s included), throttled, contacts_per_s and rate_limit_share (calls made per
second ÷ calls allowed per second while it ran). Goal (issue 8): 100,000 contacts in under 60 s at 5
calls/s, share at most 1.0.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=5)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--json", action="store_true", help="only the JSON line")
    args = parser.parse_args()

    from redis import Redis

    from portal.backends.base import AudienceMember
    from portal.backends.mailup import MailupClient, MailupConfig
    from portal.backends.mailup.campaign import MailupCampaign
    from portal.backends.mailup.emulator import AccountSpec, start_emulator
    from portal.embedded.redis_server import start_redis_on_free_port, stop_redis

    spec = AccountSpec("bench", "bench-pw", "bench-client", "bench-secret")
    url, handle = start_emulator(accounts=[spec], rate_limit=args.rate)
    proc, redis_url = (None, os.environ["REDIS_URL"]) if os.environ.get("REDIS_URL") else (None, None)
    workdir = tempfile.TemporaryDirectory(prefix="mailup-bench-")
    if redis_url is None:
        proc, redis_url = start_redis_on_free_port(Path(workdir.name) / "redis")
    key = f"bench-{uuid.uuid4().hex[:8]}"
    config = MailupConfig.for_base(
        url,
        username=spec.username,
        password=spec.password,
        client_id=spec.client_id,
        client_secret=spec.client_secret,
        connection_key=key,
        account_key=key,
        rate_per_s=float(args.rate),
    )
    client = MailupClient(config, Redis.from_url(redis_url))
    members = [
        AudienceMember(i, f"user{i}@example{i % 7}.com", {1: f"Name {i}"})
        for i in range(1, args.contacts + 1)
    ]
    backend = MailupCampaign(client, 1, import_batch=args.batch)
    try:
        client.auth.token()  # the login is not part of the sync
        started = time.monotonic()
        state = backend.sync_audience({"ref": "bench"}, members, total=len(members))
        seconds = time.monotonic() - started
        in_group = sum(1 for r in handle.state.account(spec.username).recipients.values() if r.groups)
    finally:
        handle.stop()
        if proc is not None:
            stop_redis(proc)
        workdir.cleanup()
    stats = client.stats
    result = {
        "contacts": args.contacts,
        "in_group": in_group,
        "seconds": round(seconds, 2),
        "api_calls": stats.calls - stats.token_calls,
        "throttled": stats.throttled,
        "contacts_per_s": round(args.contacts / seconds, 1),
        "rate_limit_share": round((stats.calls - stats.token_calls) / seconds / args.rate, 3),
        "done": bool(state.get("audience_done")),
    }
    if not args.json:
        print(f"synced {in_group:,} of {args.contacts:,} contacts in {seconds:.1f} s", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
