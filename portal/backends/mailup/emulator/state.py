"""The emulator's whole state: accounts, tokens, a clock tests can move, and the function API tests use.

Every HTTP request runs under `state.lock` (an RLock), and so does every public method here, so tests may
call them while the server thread is serving. Time is `state.now()`: the wall clock plus an offset that
`advance_clock()` moves forward (token expiry, scheduled sendings, import delays, statistics retention).
The rate limit alone runs on the real monotonic clock: it is about how fast a client really calls.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from . import events, model, recipients, sendings
from .model import Account, Group, MailList
from .util import get_ci

STATE_VERSION = 1


@dataclass
class Options:
    token_lifetime: int = 3600  # seconds (docs say 3600, one capture shows 900: clients honour expires_in)
    rate_limit: int = 0  # calls per second per account; 0 = off
    import_polls: int = 1  # an import answers Completed=false to this many status reads, then completes
    import_delay: float = 5.0  # ... or completes anyway once this many (emulator clock) seconds passed
    retention_days: float = 15.0  # per-message recipient lists (deliveries, bounces, unsubscriptions)
    view_retention_days: float = 90.0  # open and click details
    auto_deliver: bool = True  # a sent message counts as delivered unless it bounced
    soft_bounce_limit: int = 5  # soft bounces after which the address is unsubscribed account-wide
    complaint_scope: str = "list"  # "list" (the message's list) or "account" (§19: UNCERTAIN)


@dataclass
class Fault:
    status: int
    remaining: int
    username: str | None = None
    path: str | None = None  # a lower-case substring of the request path


def locked(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self.lock:
            return method(self, *args, **kwargs)

    return wrapper


class EmulatorState:
    def __init__(self, options: Options | None = None, path: str | os.PathLike | None = None):
        self.options = options or Options()
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self.access_tokens: dict[str, tuple[str, float]] = {}  # token -> (username, expires at)
        self.refresh_tokens: dict[str, str] = {}  # the one live refresh token per grant -> username
        self.codes: dict[str, str] = {}  # authorization codes -> username
        self.clock_offset = 0.0
        self.faults: list[Fault] = []
        self._buckets: dict[str, list[float]] = {}  # username -> [tokens, last refill (monotonic)]
        self._calls: dict[str, deque] = {}  # username -> monotonic times of the last second's calls
        self.path = Path(path) if path else None
        self.dirty = False
        if self.path and self.path.exists():
            self._load()

    # --- clock -----------------------------------------------------------------------------------------

    def now(self) -> float:
        return time.time() + self.clock_offset

    @locked
    def advance_clock(self, seconds: float = 0.0, *, days: float = 0.0) -> float:
        """Move the emulator's clock forward; due imports and scheduled sendings then happen."""
        self.clock_offset += seconds + days * 86400
        self.dirty = True
        self.process_due()
        return self.now()

    # --- accounts --------------------------------------------------------------------------------------

    @locked
    def add_account(
        self,
        username: str,
        password: str,
        client_id: str,
        client_secret: str,
        *,
        company: str | None = None,
        console_host: str | None = None,
    ) -> Account:
        """A new account as MailUp creates one: list 1 (with its GUID) and the standard personal fields."""
        if username.lower() in (u.lower() for u in self.accounts):
            raise ValueError(f"account {username!r} exists")
        uid = 10000 + len(self.accounts) + 1
        account = Account(
            username=username,
            password=password,
            client_id=client_id,
            client_secret=client_secret,
            uid=uid,
            company=company or f"{username} company",
            console_host=console_host or f"{username.lower()}.emulator.localhost",
            fields={i: name for i, name in enumerate(model.STANDARD_FIELDS, start=1)},
        )
        self.create_list(account, {"Name": "Newsletter", "Description": "Default list"})
        self.accounts[username] = account
        self.dirty = True
        return account

    def create_list(self, account: Account, body: dict) -> MailList:
        list_id = account.next_id("list")
        settings = {k: v for k, v in body.items() if k.lower() not in ("name", "idlist", "listguid")}
        item = MailList(
            id=list_id,
            guid=str(uuid.uuid4()),
            name=str(get_ci(body, "Name") or f"List {list_id}"),
            settings=settings,
            created=self.now(),
        )
        account.lists[list_id] = item
        return item

    def create_group(
        self, account: Account, list_id: int, name: str, notes: str = "", deletable=True
    ) -> Group:
        group = Group(account.next_id("group"), list_id, name, notes or "", bool(deletable))
        account.groups[group.id] = group
        return group

    def account(self, username: str) -> Account:
        for name, account in self.accounts.items():
            if name.lower() == username.lower():
                return account
        raise KeyError(username)

    def account_by_client(self, client_id: str) -> Account | None:
        return next((a for a in self.accounts.values() if a.client_id == client_id), None)

    # --- tokens ----------------------------------------------------------------------------------------

    @locked
    def issue_tokens(self, account: Account, old_refresh: str | None = None) -> dict:
        if old_refresh:
            self.refresh_tokens.pop(old_refresh, None)  # rotation: the old refresh token is spent
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        lifetime = self.options.token_lifetime
        self.access_tokens[access] = (account.username, self.now() + lifetime)
        self.refresh_tokens[refresh] = account.username
        self.dirty = True
        return {"access_token": access, "expires_in": lifetime, "refresh_token": refresh}

    @locked
    def token_account(self, token: str) -> tuple[Account | None, str | None]:
        """(account, None) for a live token, else (None, why)."""
        entry = self.access_tokens.get(token)
        if entry is None:
            return None, "Access token is invalid"
        username, expires = entry
        if self.now() >= expires:
            return None, "Access token is expired"
        return self.accounts.get(username), None

    @locked
    def expire_tokens(self, username: str | None = None) -> int:
        """Expire every access token (of one account): the next call answers 401, refresh still works."""
        n = 0
        for token, (user, _) in list(self.access_tokens.items()):
            if username is None or user.lower() == username.lower():
                self.access_tokens[token] = (user, self.now() - 1)
                n += 1
        return n

    # --- rate limit and injected faults ----------------------------------------------------------------

    def rate_check(self, username: str) -> tuple[bool, int]:
        """(allowed, calls in the last second): a token bucket of `rate_limit` calls refilled per second."""
        limit = self.options.rate_limit
        mono = time.monotonic()
        calls = self._calls.setdefault(username, deque())
        calls.append(mono)
        while calls and calls[0] <= mono - 1.0:
            calls.popleft()
        if limit <= 0:
            return True, len(calls)
        bucket = self._buckets.setdefault(username, [float(limit), mono])
        bucket[0] = min(float(limit), bucket[0] + (mono - bucket[1]) * limit)
        bucket[1] = mono
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return True, len(calls)
        return False, len(calls)

    @locked
    def set_rate_limit(self, calls_per_second: int) -> None:
        self.options.rate_limit = max(0, int(calls_per_second))
        self._buckets.clear()

    @locked
    def inject_fault(
        self, status: int, count: int = 1, *, username: str | None = None, path: str | None = None
    ):
        """Answer the next `count` matching API calls with `status` (429, 500, 503…) and an error body."""
        self.faults.append(Fault(int(status), int(count), username, path.lower() if path else None))

    def take_fault(self, username: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.username and fault.username.lower() != username.lower():
                continue
            if fault.path and fault.path not in path.lower():
                continue
            fault.remaining -= 1
            if fault.remaining <= 0:
                self.faults.remove(fault)
            return fault
        return None

    # --- work that happens "later" ---------------------------------------------------------------------

    @locked
    def process_due(self) -> None:
        """Complete imports whose delay passed and dispatch scheduled sendings whose time came."""
        now = self.now()
        for account in self.accounts.values():
            for imp in list(account.imports.values()):
                if not imp.completed and now >= imp.created + self.options.import_delay:
                    recipients.finish_import(self, account, imp)
            for sending in list(account.sendings.values()):
                if sending.status == "Immediate" or (
                    sending.status == "Deferred"
                    and sending.scheduled is not None
                    and sending.scheduled <= now
                ):
                    sendings.dispatch(self, account, sending)

    @locked
    def complete_imports(self, username: str | None = None) -> int:
        n = 0
        for account in self.accounts.values():
            if username and account.username.lower() != username.lower():
                continue
            for imp in account.imports.values():
                if not imp.completed:
                    recipients.finish_import(self, account, imp)
                    n += 1
        return n

    # --- persistence -----------------------------------------------------------------------------------

    @locked
    def save(self) -> None:
        if not self.path:
            return
        data = {
            "version": STATE_VERSION,
            "clock_offset": self.clock_offset,
            "accounts": [model.dump(a) for a in self.accounts.values()],
            "access_tokens": self.access_tokens,
            "refresh_tokens": self.refresh_tokens,
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.path)
        self.dirty = False

    def _load(self) -> None:
        data = json.loads(self.path.read_text())
        self.clock_offset = data.get("clock_offset", 0.0)
        for raw in data.get("accounts", []):
            account = model.load(Account, raw)
            account.reindex()
            self.accounts[account.username] = account
        self.access_tokens = {k: (v[0], v[1]) for k, v in data.get("access_tokens", {}).items()}
        self.refresh_tokens = dict(data.get("refresh_tokens", {}))

    def start_autosave(self, interval: float = 1.0) -> threading.Event:
        """Write the file at most every `interval` seconds while something changed; set the event to stop."""
        stop = threading.Event()

        def run():
            while not stop.wait(interval):
                if self.dirty:
                    self.save()
            if self.dirty:
                self.save()

        if self.path:
            threading.Thread(target=run, name="mailup-emulator-autosave", daemon=True).start()
        return stop

    # --- what was sent and simulated events (the function API; see events.py for the details) ----------

    @locked
    def deliveries(self, username: str, message_id: int | None = None, channel: str | None = None) -> list:
        account = self.account(username)
        return [
            {
                "sending_id": d.sending_id,
                "message_id": d.message_id,
                "recipient_id": d.recipient_id,
                "address": d.address,
                "channel": d.channel,
                "at": d.at,
                "sender_name": d.sender_name,
                "sender_email": d.sender_email,
            }
            for d in account.deliveries
            if (message_id is None or d.message_id == message_id)
            and (channel is None or d.channel == channel)
        ]

    @locked
    def simulate(self, username: str, kind: str, message_id: int, recipient: str | int, **details) -> dict:
        """Record an event for a delivered message: delivery, view, click, hard_bounce, soft_bounce,
        complaint or unsubscribe (details: url= for clicks, bounce_type= for bounces, at= a timestamp)."""
        result = events.simulate(self, self.account(username), kind, message_id, recipient, **details)
        self.dirty = True
        return result

    @locked
    def confirm(self, username: str, list_id: int, recipient: str | int) -> bool:
        """A pending recipient clicked the confirmation link: Subscribed from now on."""
        r = recipients.lookup(self.account(username), recipient)
        if r is None:
            raise KeyError(recipient)
        self.dirty = True
        return recipients.confirm(self, r, list_id)

    @locked
    def simulate_all(self, username: str, kind: str, message_id: int, **details) -> list[dict]:
        """The same event for every recipient the message was delivered to."""
        account = self.account(username)
        addresses = sorted({d.recipient_id for d in account.deliveries if d.message_id == message_id})
        return [self.simulate(username, kind, message_id, rid, **details) for rid in addresses]


@dataclass
class AccountSpec:
    username: str
    password: str
    client_id: str
    client_secret: str

    @classmethod
    def parse(cls, text: str) -> AccountSpec:
        """USERNAME:PASSWORD:CLIENT_ID:CLIENT_SECRET (the secret may itself contain ':')."""
        parts = text.split(":", 3)
        if len(parts) != 4 or not all(parts):
            raise ValueError("an account is USERNAME:PASSWORD:CLIENT_ID:CLIENT_SECRET")
        return cls(*parts)
