"""What every backend answers, whatever its protocol, and the two shapes a backend can have.

A per-message backend (SMTP relay, HTTP SMS gateway) is handed one message at a time and answers with
one of four outcomes:
- accepted: `send` returns the backend's id for the message (queue id, message id);
- `RecipientRefused`: this recipient or message is refused for good (a bounce we learn at once);
- `TryLater`: this recipient cannot be taken now (greylisting, a full mailbox): retry it later;
- `BackendUnavailable`: the backend itself failed (cannot connect, login or sender refused, outage):
  nothing is wrong with the recipient, the send pauses and retries.

`send` takes an optional `ready` callback, asked at the last moment before the message becomes
irrevocable (SMTP: after the relay's 354 to DATA, before the content; HTTP: before the request). The
delivery loop uses it to let the next message's envelope travel while the previous message's "sent" mark
commits, and to withdraw the message when that mark failed: `Withdrawn`, nothing was delivered.

A provider-side campaign backend (MailUp email and SMS) is given a whole audience and sends it itself;
its steps are resumable and report provider ids the caller records before the next step.

Error texts may reach clients (per-recipient report, campaign message): they describe what happened
(codes, "connection refused") and never name the provider or a host (white label).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


class BackendError(Exception):
    """Base of the neutral errors; `detail` is safe to show to the client."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class RecipientRefused(BackendError):
    """Refused for good. `status` is the enhanced status code when the backend gave one (5.1.1), `code`
    the protocol's own code (550). `bounce` is False when the refusal is ours, not the receiver's (an
    address the relay cannot carry): no bounce is recorded for it."""

    def __init__(self, detail: str, *, code: int = 0, status: str = "", bounce: bool = True):
        super().__init__(detail)
        self.code, self.status, self.bounce = code, status, bounce


class TryLater(BackendError):
    """This recipient only, temporarily (4xx at RCPT or DATA)."""


class BackendUnavailable(BackendError):
    """The backend as a whole: connection, authentication, sender refused, outage, rate limit storm."""


class Withdrawn(BackendError):
    """`ready` said no: the message was abandoned before it could be delivered."""


@dataclass(frozen=True)
class OutgoingMessage:
    """One message for a per-message backend. For email `payload` is the signed MIME message and
    `sender` the envelope sender (VERP bounce address); for SMS `payload` is the text, `sender` the
    sender id. `recipient` is the address on the wire (see addresses.py) or the E.164 number."""

    sender: str
    recipient: str
    payload: bytes | str
    utf8: bool = False  # email: the recipient needs SMTPUTF8 (a non-ASCII local part); SMS: UCS-2 text
    # Our own id for the message (SMS: the delivery), sent along so a gateway can drop a repeated
    # hand-over whose first answer was lost, and names it in its delivery reports.
    reference: str = ""


class MessageBackend(Protocol):
    """Hand over one message at a time. Implementations keep their connection between calls.

    `lanes`: how many instances (connections) the delivery loop keeps busy at once. 2 where `ready` sits
    inside the protocol exchange (SMTP: the next message's envelope travels on a second connection while
    the previous message's content is answered and marked); 1 where `ready` is the request itself."""

    lanes: int

    def send(self, message: OutgoingMessage, ready: Callable[[], bool] | None = None) -> str:
        """The backend's id for the accepted message; raises one of the errors above otherwise."""
        ...

    def supports_utf8_addresses(self) -> bool:
        """Whether a recipient with a non-ASCII local part can be carried (SMTPUTF8)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class AudienceMember:
    """One recipient pushed to a provider-side backend: our delivery id, the address or number, and the
    personal field values already translated to the provider's field ids."""

    delivery_id: int
    address: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PulledEvent:
    """One event read back from a provider, keyed by the provider's own event id (idempotent recording)."""

    provider_event_id: str
    kind: str  # delivered | open | click | bounce | complaint | unsubscribe
    address: str
    occurred_at: datetime
    bounce_class: str = ""
    status_code: str = ""
    detail: str = ""


class CampaignBackend(Protocol):
    """A provider that sends whole campaigns itself. Every method is one resumable step: it is given the
    state recorded so far (`state`, the campaign's provider_state) and returns what to record before the
    next step, so a worker killed between steps resumes without a second group, message or send."""

    def sync_audience(self, state: dict, members: Iterable[AudienceMember]) -> dict:
        """Create (once) the campaign's recipient group and push the members into it."""
        ...

    def create_message(self, state: dict, *, subject: str, html: str, text: str, sender: dict) -> dict:
        """Create (once) the provider's message for the campaign."""
        ...

    def send(self, state: dict, *, at: datetime | None = None) -> dict:
        """Send the message to the group now or at `at`; checks the provider's sendings before repeating
        a send whose outcome is unknown."""
        ...

    def pull_events(self, state: dict, cursor: dict) -> tuple[Iterator[PulledEvent], dict]:
        """Events since `cursor`, and the cursor to store once they are recorded."""
        ...
