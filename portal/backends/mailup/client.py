"""The MailUp client the portal's MailUp backend uses: every call of console.py, emails.py, statistics.py
and frontend.py on one object.

    client = MailupClient(MailupConfig(username=..., password=..., client_id=..., client_secret=...,
                                       connection_key=f"connection-{connection.id}"), redis)
    group = client.create_group(list_id, "Campaign 42")
    import_id = client.import_recipients(recipients, group_id=group.id)
    client.wait_for_import(import_id)

One client per thread (it keeps an HTTP session); any number of them, in any number of processes,
share the connection's token and the account's rate limit through Redis.
"""

from __future__ import annotations

from .console import ConsoleCalls
from .emails import EmailCalls
from .frontend import FrontendCalls
from .statistics import StatisticsCalls


class MailupClient(ConsoleCalls, EmailCalls, StatisticsCalls, FrontendCalls):
    pass
