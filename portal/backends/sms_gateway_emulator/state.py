"""What the gateway emulator remembers: messages, pending delivery reports, injected faults."""

from __future__ import annotations

import itertools
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# Test numbers whose reports fail, and why (the last four digits decide).
FAILURES = {"0000": "unknown subscriber", "0001": "absent subscriber"}


@dataclass
class GatewayMessage:
    id: str
    to: str
    sender: str
    text: str
    reference: str
    report_url: str
    unicode: bool
    received_at: str
    status: str = "accepted"  # accepted → delivered | failed (once its report was posted)
    reason: str = ""
    report_attempts: int = 0


@dataclass
class GatewayState:
    api_key: str = "demo-sms-key"
    inbound_url: str = ""
    auto_reports: bool = False
    messages: list[GatewayMessage] = field(default_factory=list)
    replies: list[dict] = field(default_factory=list)
    fail_status: int = 0
    fail_count: int = 0
    # Host suffix → base URL to post callbacks to instead, with the original Host header kept: the
    # portal resolves its tenant from the Host, and a test's agency host (ag1.portal.test) or a dev host
    # (demo.localhost) is served on 127.0.0.1 and some port.
    forward: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        self.lock = threading.RLock()
        self._ids = itertools.count(1)

    def accept(self, body: dict) -> tuple[int, dict]:
        """One send request: (HTTP status, JSON answer)."""
        with self.lock:
            if self.fail_count > 0:
                self.fail_count -= 1
                return self.fail_status, {"error": "injected fault"}
            to = str(body.get("to", ""))
            if not E164.match(to):
                return 400, {"error": f"invalid number {to!r}"}
            if not str(body.get("text", "")):
                return 400, {"error": "empty text"}
            reference = str(body.get("reference", ""))
            if reference:
                for m in self.messages:
                    if m.reference == reference:
                        return 200, {"id": m.id, "repeated": True}
            message = GatewayMessage(
                id=f"gw-{next(self._ids)}",
                to=to,
                sender=str(body.get("from", "")),
                text=str(body.get("text", "")),
                reference=reference,
                report_url=str(body.get("report_url", "")),
                unicode=bool(body.get("unicode", False)),
                received_at=datetime.now(UTC).isoformat(),
            )
            self.messages.append(message)
        if self.auto_reports:
            threading.Thread(target=self._report_soon, daemon=True).start()
        return 200, {"id": message.id}

    def post(self, url: str, body: dict) -> bool:
        parts = urlsplit(url)
        host = parts.hostname or ""
        headers = {}
        for suffix, base in self.forward.items():
            if host == suffix.lstrip(".") or host.endswith(suffix):
                headers["Host"] = parts.netloc
                url = base.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
                break
        try:
            return requests.post(url, json=body, headers=headers, timeout=10).ok
        except requests.RequestException:
            return False

    def outcome(self, message: GatewayMessage) -> tuple[str, str]:
        reason = FAILURES.get(message.to[-4:], "")
        return ("failed", reason) if reason else ("delivered", "")

    def flush_reports(self) -> int:
        """Post the delivery report of every accepted message that has a report URL; returns how many
        were taken by the receiver (2xx). A refused post stays pending for the next flush."""
        with self.lock:
            pending = [m for m in self.messages if m.status == "accepted" and m.report_url]
        posted = 0
        for m in pending:
            status, reason = self.outcome(m)
            m.report_attempts += 1
            report = {
                "id": m.id,
                "reference": m.reference,
                "to": m.to,
                "status": status,
                "reason": reason,
                "at": datetime.now(UTC).isoformat(),
            }
            if self.post(m.report_url, report):
                with self.lock:
                    m.status, m.reason = status, reason
                posted += 1
        return posted

    def _report_soon(self) -> None:
        """Development: report a moment after accepting, again a few times while the portal says "not yet"."""
        for delay in (0.3, 1, 3, 10):
            time.sleep(delay)
            if self.flush_reports() == 0 and not any(
                m.status == "accepted" and m.report_url for m in self.messages
            ):
                return

    def repost_report(self, message_id: str) -> bool:
        """Post an already-posted report again (gateways repeat reports; the receiver must not count twice)."""
        m = next((m for m in self.messages if m.id == message_id), None)
        if m is None or m.status == "accepted":
            return False
        report = {"id": m.id, "reference": m.reference, "to": m.to, "status": m.status, "reason": m.reason}
        return self.post(m.report_url, report)

    def inbound(self, sender: str, to: str, text: str, url: str = "") -> tuple[bool, dict]:
        """A recipient's reply, posted to the inbound URL."""
        reply = {"id": f"in-{next(self._ids)}", "from": sender, "to": to, "text": text}
        target = url or self.inbound_url or self._inbound_beside_reports(sender)
        if not target:
            return False, {"error": "no inbound URL configured"}
        ok = self.post(target, reply)
        with self.lock:
            self.replies.append({**reply, "posted": ok, "url": target})
        return ok, reply

    def _inbound_beside_reports(self, number: str) -> str:
        """Without a configured inbound URL: the one beside the report URL of the last message to that
        number (the portal's callbacks are /hooks/sms/<token>/report and /inbound)."""
        for m in reversed(self.messages):
            if m.to == number and m.report_url.endswith("/report"):
                return m.report_url[: -len("report")] + "inbound"
        return ""

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "messages": [asdict(m) for m in self.messages],
                "replies": list(self.replies),
                "inbound_url": self.inbound_url,
                "auto_reports": self.auto_reports,
            }

    def reset(self) -> None:
        with self.lock:
            self.messages.clear()
            self.replies.clear()
            self.fail_status = self.fail_count = 0
