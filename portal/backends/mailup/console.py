"""Console calls about the account, lists, groups, personal fields, recipients and imports (§5–§7).

Which POSTs are repeatable (retried after a 5xx or a lost answer): subscribing and importing are upserts
by email (§7.5), so a repeat changes nothing; creating a list or a group is not, so a lost answer raises
MailupOutcomeUnknown and the caller looks the group up by name (`find_group`) before creating another.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .api import CONSOLE, MailupApi, bad_answer, bare_int
from .errors import MailupNotFound
from .records import AccountInfo, DynamicField, Group, ImportStatus, MailList, NewList, Optin, Recipient

GROUP_NAME_MAX = 50
RECIPIENT_STATUSES = ("Subscribed", "Unsubscribed", "Pending")


class ConsoleCalls(MailupApi):
    # --- account ----------------------------------------------------------------------------------------

    def account_info(self) -> AccountInfo:
        return AccountInfo.from_api(self.call("GET", CONSOLE, "/Console/Authentication/Info"))

    def test_credentials(self) -> AccountInfo:
        """A password grant now (not the cached token), then the account it opens."""
        self.auth.login()
        return self.account_info()

    # --- lists ------------------------------------------------------------------------------------------

    def lists(self, *, filterby: str | None = None, orderby: str | None = None) -> list[MailList]:
        items = self.items(CONSOLE, "/Console/List", filterby=filterby, orderby=orderby)
        return [MailList.from_api(d) for d in items]

    def get_list(self, list_id: int) -> MailList:
        return MailList.from_api(self.call("GET", CONSOLE, f"/Console/List/{int(list_id)}"))

    def create_list(self, new: NewList) -> MailList:
        return MailList.from_api(self.call("POST", CONSOLE, "/Console/List", body=new.to_api()))

    def set_list_sender(self, list_id: int, name: str, email: str) -> bool:
        """Make `name <email>` the sender of the list's messages. A REST message has no sender of its
        own: the From name and address are the list's `NLSenderName` and `ReplyTo` settings (§5.2), read
        when a sending is dispatched. Read-modify-write (the update takes the whole list object, as a
        message update does, §8), and no write when they are already set. True when it wrote."""
        path = f"/Console/List/{int(list_id)}"
        current = self.call("GET", CONSOLE, path)
        if not isinstance(current, dict):
            raise bad_answer(f"GET {path}", current)
        wanted = {"NLSenderName": name, "ReplyTo": email}
        keys = {k.lower(): k for k in current}  # keep the account's own key casing (§4.4)
        if all(current.get(keys.get(k.lower(), k)) == v for k, v in wanted.items()):
            return False
        body = dict(current) | {keys.get(k.lower(), k): v for k, v in wanted.items()}
        self.call("PUT", CONSOLE, path, body=body)
        return True

    # --- groups -----------------------------------------------------------------------------------------

    def groups(self, list_id: int, *, filterby: str | None = None, orderby: str | None = None) -> list[Group]:
        path = f"/Console/List/{int(list_id)}/Groups"
        return [Group.from_api(d) for d in self.items(CONSOLE, path, filterby=filterby, orderby=orderby)]

    def find_group(self, list_id: int, name: str) -> Group | None:
        """The group of that exact name (compared here: filter support on names is not documented)."""
        return next((g for g in self.groups(list_id) if g.name == name), None)

    def create_group(self, list_id: int, name: str, notes: str = "", *, deletable: bool = True) -> Group:
        if not name.strip() or len(name) > GROUP_NAME_MAX:
            raise ValueError(f"a group name has 1 to {GROUP_NAME_MAX} characters")
        body = {"Name": name, "Notes": notes, "Deletable": deletable}
        return Group.from_api(self.call("POST", CONSOLE, f"/Console/List/{int(list_id)}/Group", body=body))

    def delete_group(self, list_id: int, group_id: int) -> None:
        self.call("DELETE", CONSOLE, f"/Console/List/{int(list_id)}/Group/{int(group_id)}")

    # --- personal fields --------------------------------------------------------------------------------

    def dynamic_fields(self) -> list[DynamicField]:
        """Every personal field, by id (an account answers newest first without orderby, §7.2)."""
        items = self.items(CONSOLE, "/Console/Recipient/DynamicFields", orderby="Id asc")
        return sorted((DynamicField.from_api(d) for d in items), key=lambda f: f.id)

    # --- recipients -------------------------------------------------------------------------------------

    def subscribe(
        self,
        recipient: Recipient,
        *,
        list_id: int | None = None,
        group_id: int | None = None,
        confirm: bool = False,
    ) -> int:
        """Synchronous subscribe of one recipient to a list, or to a group (and so its list) → its id.
        `confirm` sends the list's confirmation request and leaves the recipient pending (§7.5)."""
        path = _target(list_id, group_id, "Recipient")
        params = {"ConfirmEmail": "true"} if confirm else None
        answer = self.call("POST", CONSOLE, path, params=params, body=recipient.to_api(), repeatable=True)
        return bare_int(answer, f"POST {path}")

    def subscribe_many(
        self,
        recipients: Iterable[Recipient],
        *,
        list_id: int | None = None,
        group_id: int | None = None,
        confirm: bool = False,
    ) -> list[int]:
        """One synchronous subscribe per recipient (small audiences; each is one rate-limited call)."""
        return [self.subscribe(r, list_id=list_id, group_id=group_id, confirm=confirm) for r in recipients]

    def import_recipients(
        self,
        recipients: Iterable[Recipient],
        *,
        list_id: int | None = None,
        group_id: int | None = None,
        confirm: bool = False,
        as_optout: bool = False,
    ) -> int:
        """Asynchronous import of many recipients in one call → the import id; poll `import_status`.
        With `confirm` the confirmation mailing is queued, not sent (dispatch its sending, §7.6)."""
        path = _target(list_id, group_id, "Recipients")
        params = {}
        if confirm:
            params["ConfirmEmail"] = "true"
        if as_optout:
            params["importType"] = "asOptout"
        body = [r.to_api() for r in recipients]
        # A repeated import is an upsert of the same rows; a repeated confirmation mailing is not.
        answer = self.call("POST", CONSOLE, path, params=params or None, body=body, repeatable=not confirm)
        return bare_int(answer, f"POST {path}")

    def import_status(self, import_id: int) -> ImportStatus:
        """`/Console/Import/{id}`, or `/Console/Imports/{id}` where only that one exists (§7.7)."""
        try:
            data = self.call("GET", CONSOLE, f"/Console/Import/{int(import_id)}")
        except MailupNotFound:
            data = self.call("GET", CONSOLE, f"/Console/Imports/{int(import_id)}")
        return ImportStatus.from_api(data)

    def wait_for_import(
        self, import_id: int, *, max_wait_s: float = 600, first_poll_s: float = 1.0, max_poll_s: float = 15.0
    ) -> ImportStatus:
        """Poll until the import completed or `max_wait_s` passed (the status then says not completed:
        the job resumes polling later rather than holding a worker). Pauses grow 1.5× up to `max_poll_s`.

        A pause runs from when the previous read was asked for, not from its answer: the wait for the
        account's rate-limit token and the call itself are part of it. Sleeping a full pause after the
        answer added the pause to the limiter's own spacing, leaving part of the account's budget unused
        while an import loads (benchmarks/mailup_sync_bench.py)."""
        deadline = self.clock() + max_wait_s
        pause = first_poll_s
        while True:
            asked = self.clock()
            status = self.import_status(import_id)
            if status.completed or asked + pause > deadline:
                return status
            self.sleep(max(0.0, asked + pause - self.clock()))
            pause = min(max_poll_s, pause * 1.5)

    def import_confirmation_sending(self, import_id: int) -> int:
        """The sending id of the confirmation request a `confirm` import queued (§7.7)."""
        path = f"/Console/Import/{int(import_id)}/Sending"
        return bare_int(self.call("GET", CONSOLE, path), f"GET {path}")

    def group_recipients(self, group_id: int, **paging) -> Iterator[Recipient]:
        for d in self.items(CONSOLE, f"/Console/Group/{int(group_id)}/Recipients", **paging):
            yield Recipient.from_api(d)

    def list_recipients(self, list_id: int, status: str = "Subscribed", **paging) -> Iterator[Recipient]:
        if status not in RECIPIENT_STATUSES:
            raise ValueError(f"status is one of {', '.join(RECIPIENT_STATUSES)}")
        for d in self.items(CONSOLE, f"/Console/List/{int(list_id)}/Recipients/{status}", **paging):
            yield Recipient.from_api(d)

    def email_optins(self, list_id: int, **paging) -> Iterator[Optin]:
        """Every recipient of the list with its subscription details (opt-in, opt-out, reason codes)."""
        for d in self.items(CONSOLE, f"/Console/List/{int(list_id)}/Recipients/EmailOptins", **paging):
            yield Optin.from_api(d)

    def list_optouts(self, list_id: int, **paging) -> Iterator[Optin]:
        """The list's opt-outs (unsubscribes, bounces, complaints and admin opt-outs alike, §19)."""
        return (o for o in self.email_optins(list_id, **paging) if o.opted_out)


def _target(list_id: int | None, group_id: int | None, tail: str) -> str:
    if (list_id is None) == (group_id is None):
        raise ValueError("give either list_id or group_id")
    if group_id is not None:
        return f"/Console/Group/{int(group_id)}/{tail}"
    return f"/Console/List/{int(list_id)}/{tail}"
