"""Periodic jobs without another process: every worker runs this ticker thread, and a Redis SET NX per
time window makes sure each periodic job is queued once per window however many workers tick."""

from __future__ import annotations

import threading
import time

from redis import Redis
from redis.exceptions import RedisError

from . import QUEUE_DEFAULT, QUEUE_SYNC
from .queueing import PendingJob, enqueue_now

PERIODIC = (  # (job name, queue, seconds)
    ("sending.sweep", QUEUE_DEFAULT, 30),
    ("imports.sweep", QUEUE_DEFAULT, 30),
    ("webhooks.round", QUEUE_DEFAULT, 15),  # feed → webhook deliveries, due attempts queued
    ("exports.remove_expired", QUEUE_DEFAULT, 3600),
    ("providers.pull_all", QUEUE_SYNC, 600),  # one pull job per provider-side connection
    ("adoption.sweep", QUEUE_DEFAULT, 60),  # adoptions whose worker died resume at their cursor
    ("forms.expire_pending", QUEUE_DEFAULT, 3600),  # unconfirmed double opt-in requests
    ("batch.due", QUEUE_DEFAULT, 60),  # queues the runs of batch sources whose time has come
    ("sms.settle_stale", QUEUE_DEFAULT, 3600),  # SMS whose delivery report never came are paid as sent
)


def tick(connection: Redis, now: float | None = None) -> list[str]:
    """Queue every periodic job whose window has no job yet; returns the job ids queued."""
    now = now or time.time()
    queued = []
    for name, queue, every in PERIODIC:
        window = int(now) // every
        job_id = f"periodic-{name.replace('.', '-')}-{window}"
        if connection.set(f"portal:tick:{job_id}", "1", nx=True, ex=every * 4):
            enqueue_now(
                PendingJob(name=name, queue=queue, job_id=job_id, timeout=every * 4, retries=0), connection
            )
            queued.append(job_id)
    return queued


def start_ticker(connection: Redis, interval: float = 5.0) -> threading.Thread:
    def loop() -> None:
        while True:
            try:
                tick(connection)
            except RedisError:
                pass  # Redis restarting: the next tick catches up; the sweeper is idempotent
            time.sleep(interval)

    thread = threading.Thread(target=loop, name="portal-ticker", daemon=True)
    thread.start()
    return thread
