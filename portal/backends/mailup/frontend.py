"""The legacy frontend pages on the account's own console host (§15.1): no OAuth, parameters in the query
string, a bare number (possibly with whitespace) as the answer. They must be enabled on the account, and
may be restricted to registered IP addresses (-1011 otherwise). Not part of the REST rate limit.
"""

from __future__ import annotations

import re

from .api import MailupApi, bad_answer
from .errors import MailupError, MailupUnavailable, error_for, parse_error

# Xmlchksubscriber.aspx answers
NOT_SUBSCRIBED, SUBSCRIBED, UNSUBSCRIBED, PENDING = 1, 2, 3, 4
IP_NOT_REGISTERED = -1011

_NUMBER = re.compile(r"^\s*(-?\d+)\s*$")


class FrontendCalls(MailupApi):
    def frontend(self, page: str, params: dict, *, repeatable: bool = True) -> int:
        """The numeric code a frontend page answers."""
        base = self.config.frontend_base
        if not base:
            raise MailupError("the delivery service connection has no frontend address")
        name = f"GET /frontend/{page}"
        resp = self.transport.exchange(
            "GET", f"{base}/frontend/{page}", call=name, repeatable=repeatable, limited=False, params=params
        )
        if resp.status_code != 200:
            raise error_for(resp.status_code, parse_error(resp.status_code, resp.content), call=name)
        m = _NUMBER.match(resp.text)
        if not m:
            raise bad_answer(name, resp.text[:300])
        code = int(m.group(1))
        if code == IP_NOT_REGISTERED:
            raise MailupUnavailable("the delivery service does not accept calls from this server", call=name)
        return code

    def check_subscriber(self, list_id: int, email: str, list_guid: str) -> int:
        """SUBSCRIBED, UNSUBSCRIBED, PENDING, or NOT_SUBSCRIBED (also MailUp's answer to an error)."""
        params = {"ListGuid": list_guid, "List": int(list_id), "Email": email}
        return self.frontend("Xmlchksubscriber.aspx", params)
