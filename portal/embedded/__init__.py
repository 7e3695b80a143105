"""Embedded development services: a bundled Redis server and a local SMTP capture server.

They stand in for the real Redis and SMTP relay when ``REDIS_URL`` / ``SMTP_HOST`` are unset
(``make dev`` and the test suite). Nothing here is used in production.
"""

from portal.embedded.redis_server import ensure_redis, start_redis_on_free_port, stop_redis
from portal.embedded.smtp_capture import start_capture, stop_capture

__all__ = ["ensure_redis", "start_capture", "start_redis_on_free_port", "stop_capture", "stop_redis"]
