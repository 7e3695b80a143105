"""Embedded development services: a bundled Redis server and a local SMTP capture server.

They stand in for the real Redis and SMTP relay when ``REDIS_URL`` / ``SMTP_HOST`` are unset
(``make dev`` and the test suite). Nothing here is used in production.

- :mod:`portal.embedded.redis_server` -- ``ensure_redis``, ``stop_redis``, ``start_redis_on_free_port``
- :mod:`portal.embedded.smtp_capture` -- ``start_capture``, ``stop_capture`` (also ``python -m``)
- :mod:`portal.embedded.outbox` -- ``list_messages``, ``read_message`` (read side of the capture dir)

Submodules are not imported here, so ``python -m portal.embedded.smtp_capture`` runs cleanly.
"""
