"""Import batches sized to the rate limit (backends/mailup/campaign.py `_next_size`): a batch whose loading
took longer than the limiter needed for its calls makes the next one smaller, towards the balance; a batch
the limiter held back lets the next one grow again, never past `import_batch`, never under the floor."""

from __future__ import annotations

from redis import Redis

from portal.backends.mailup import MailupClient, MailupConfig
from portal.backends.mailup.campaign import MIN_IMPORT_BATCH, MailupCampaign


def _backend(rate: float, import_batch: int = 5000) -> MailupCampaign:
    config = MailupConfig.for_base(
        "http://127.0.0.1:9",
        username="u",
        password="p",
        client_id="c",
        client_secret="s",
        connection_key="sizing",
        rate_per_s=rate,
    )
    return MailupCampaign(MailupClient(config, Redis()), 1, import_batch=import_batch)


def test_slow_loading_shrinks_the_next_batch_towards_the_limiters_pace():
    backend = _backend(5)  # 3 calls take 0.6 s at 5 calls/s
    assert backend._next_size(5000, elapsed=1.2, calls=3) == 2500  # loading took twice the pace
    assert backend._next_size(5000, elapsed=0.62, calls=3) == 5000  # the limiter was the slower part
    assert backend._next_size(2500, elapsed=0.6, calls=3) == 3126  # held back by the limiter: grow
    assert backend._next_size(1200, elapsed=30.0, calls=3) == MIN_IMPORT_BATCH  # never under the floor


def test_no_limit_or_small_configured_batches_keep_their_size():
    assert _backend(0)._next_size(5000, elapsed=9.0, calls=3) == 5000  # no limiter to pace against
    small = _backend(100, import_batch=40)
    assert small._next_size(40, elapsed=9.0, calls=3) == 40  # the floor is the configured size itself
