"""A local HTTP SMS gateway for development and tests (`portal sms-gateway-emulator`).

It speaks the default request template of backends/sms_gateway.py and:
- `POST /send` (bearer token): records the message and answers `{"id": ...}`; a repeated `reference`
  answers the first id (a hand-over repeated after a lost answer is not a second SMS); a number that is
  not E.164 answers 400;
- posts a delivery report to the message's `report_url` — `delivered`, or `failed` with a reason for
  numbers ending in 0000 (unknown subscriber) or 0001 (absent subscriber) — at once when `auto_reports`
  is on (development), or when asked (`POST /_emulator/reports`, `state.flush_reports()`, tests);
- `POST /_emulator/inbound {"from", "to", "text"}` posts an inbound reply to the inbound URL;
- `POST /_emulator/fail {"status", "count"}` answers the next `count` sends with that status;
- `GET /_emulator/` a small admin page, `GET /_emulator/messages` the same as JSON.
"""

from .server import GatewayHandle, start_gateway_emulator
from .state import GatewayState

__all__ = ["GatewayHandle", "GatewayState", "start_gateway_emulator"]
