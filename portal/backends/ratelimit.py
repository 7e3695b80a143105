"""A token bucket in Redis, shared by every worker that sends through the same connection."""

from __future__ import annotations

import time

from redis import Redis

# KEYS[1] bucket; ARGV: rate per second, burst, now (float seconds). Returns seconds to wait (0 = go).
_LUA = """
local rate = tonumber(ARGV[1]); local burst = tonumber(ARGV[2]); local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + (now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('EXPIRE', KEYS[1], 60)
return tostring(wait)
"""


class TokenBucket:
    def __init__(self, redis: Redis, key: str, rate_per_s: float, burst: int | None = None):
        self.redis, self.key = redis, f"portal:bucket:{key}"
        self.rate, self.burst = float(rate_per_s), burst or max(1, int(rate_per_s))
        self.script = redis.register_script(_LUA)

    def take(self) -> None:
        """Block until one token is available."""
        while True:
            wait = float(self.script(keys=[self.key], args=[self.rate, self.burst, time.time()]))
            if wait <= 0:
                return
            time.sleep(min(wait, 1.0))
