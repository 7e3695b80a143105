"""The FTP-ZIP package (reference §17.4): Settings.xml, Recipients.csv with the field-id header (§17.2),
Markup.htm and its images. Read and checked here; what each ActionType does is decided in process.py and
written down in the README.

Settings.xml is parsed by the standard library after refusing any DOCTYPE, so no entity (billion laughs,
external files) is ever expanded. Element names are matched without regard to case, as the format's
producers are not consistent.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

from ..imports.sources import read_rows, sniff
from ..services import DomainError
from ..services.images import inspect_image  # the image library's content check: one rule for all images
from .package import KIND_PACKAGE, Message, Package, PackageError, Problem, extract_to, read_small

SETTINGS_NAME = "settings.xml"
RECIPIENTS_NAME = "recipients.csv"
MARKUP_NAMES = ("markup.htm", "markup.html")
ACTIONS = ("save", "full", "send")
SPECIAL_IDS = {"111": "email", "222": "phone_prefix", "333": "phone_number", "444": "phone"}
_REF = re.compile(r"""(?:\bsrc|\bbackground)\s*=\s*["']([^"']+)["']|url\(\s*["']?([^"')]+)["']?\s*\)""", re.I)
_EXTERNAL = ("http:", "https:", "data:", "cid:", "mailto:", "#", "/", "{{", "[")


def read_ftpzip(archive: zipfile.ZipFile, by_name: dict, name: str, workdir: Path) -> Package:
    problems: list[Problem] = []
    settings = _parse_settings(
        read_small(archive, by_name[SETTINGS_NAME], workdir, f"{name}/Settings.xml"), name
    )
    where = f"{name}/Settings.xml"
    action = settings.get("header/actiontype", "").lower()
    if action not in ACTIONS:
        shown = settings.get("header/actiontype", "")
        problems.append(Problem(f"{where}: Header/ActionType", f"{shown!r} is not save, full or send"))
    if settings.get("advancedsettings/sendtype", "massive").lower() not in ("massive", ""):
        problems.append(
            Problem(
                f"{where}: AdvancedSettings/SendType", "only massive sends are accepted (not transactional)"
            )
        )
    if _true(settings.get("advancedsettings/attachments", "")) or any(
        k.startswith("attachments/") for k in by_name
    ):
        problems.append(Problem(name, "attachments are not sent: link to the file from the message instead"))
    package = Package(KIND_PACKAGE, None, f"{name}/Recipients.csv", action=action)
    package.separator = settings.get("advancedsettings/separator", "")
    list_id = settings.get("content/listid", "")
    if list_id and not list_id.isdigit():
        problems.append(Problem(f"{where}: Content/ListId", f"{list_id!r} is not a list number"))
    package.list_ref = int(list_id) if list_id.isdigit() else None
    message = _message(settings, where, problems)
    markup = next((by_name[n] for n in MARKUP_NAMES if n in by_name), None)
    recipients = by_name.get(RECIPIENTS_NAME)
    _required(action, markup, recipients, message, name, problems)
    if recipients is not None:
        target = workdir / "recipients.csv"
        extract_to(archive, recipients, target, package.import_name)
        package.import_path = target
        package.field_ids = _header(target, package, problems)
    if markup is not None and action in ACTIONS:
        _read_markup(archive, by_name, markup, name, workdir, message, problems)
    if problems:
        raise PackageError(problems)
    package.message = message
    used = {SETTINGS_NAME, RECIPIENTS_NAME, *MARKUP_NAMES, *message.image_members}
    ignored = sorted(k for k in by_name if k not in used)
    if ignored:
        package.notes.append(f"{name}: not used: {', '.join(ignored)}")
    return package


def _parse_settings(raw: bytes, name: str) -> dict[str, str]:
    """Settings.xml as {"header/actiontype": "send", ...} (lower-case paths below the root, text trimmed)."""
    where = f"{name}/Settings.xml"
    if b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
        raise PackageError([Problem(where, "a DOCTYPE or ENTITY declaration is not accepted")])
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise PackageError([Problem(where, f"not well-formed XML ({exc})")]) from exc
    if _local(root.tag).lower() != "ftpzip":
        raise PackageError([Problem(where, f"the root element is <{_local(root.tag)}>, not <FtpZip>")])
    values: dict[str, str] = {}

    def walk(node, prefix: str) -> None:
        for child in node:
            path = f"{prefix}{_local(child.tag).lower()}"
            values[path] = (child.text or "").strip()
            walk(child, path + "/")

    walk(root, "")
    return values


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _true(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "y")


def _message(settings: dict, where: str, problems: list[Problem]) -> Message:
    m = Message(
        subject=settings.get("content/emailsubject", ""),
        sender_email=settings.get("content/senderemail", "").lower(),
        sender_name=settings.get("content/sendername", ""),
        reply_to=settings.get("content/replytoemail", ""),
        campaign_code=settings.get("header/campaigncode", ""),
        track_clicks=settings.get("advancedsettings/linktracking", "true").lower()
        not in ("0", "false", "no"),
    )
    copy_of = settings.get("advancedsettings/contentoverride/messageid", "")
    if copy_of:
        if not copy_of.isdigit():
            problems.append(
                Problem(
                    f"{where}: AdvancedSettings/ContentOverride/MessageId", f"{copy_of!r} is not a number"
                )
            )
        else:
            m.copy_campaign_id = int(copy_of)
    return m


def _required(action, markup, recipients, message: Message, name: str, problems: list[Problem]) -> None:
    """What each ActionType needs (the format ignores extra files, and refuses missing ones)."""
    where = f"{name}/Settings.xml"
    if action in ("save", "full") and markup is None:
        problems.append(Problem(name, f"ActionType {action} needs Markup.htm (the message)"))
    if action == "send" and markup is None and message.copy_campaign_id is None:
        problems.append(
            Problem(
                name, "ActionType send needs Markup.htm or ContentOverride/MessageId (the message to send)"
            )
        )
    if action in ("full", "send"):
        if recipients is None:
            problems.append(Problem(name, f"ActionType {action} needs Recipients.csv"))
        if not message.sender_email:
            problems.append(Problem(f"{where}: Content/SenderEmail", "the sender's address is missing"))
        if not message.subject and message.copy_campaign_id is None:
            problems.append(Problem(f"{where}: Content/EmailSubject", "the subject is missing"))


def _header(path: Path, package: Package, problems: list[Problem]) -> list[str]:
    """The §17.2 header: a MailUp field id per column (111 email, 222/333/444 mobile, 1…39 fields)."""
    where = package.import_name
    dialect = sniff(path)
    if package.separator and package.separator != dialect.delimiter:
        problems.append(
            Problem(
                where,
                f"Settings.xml names the separator {package.separator!r} but the file uses {dialect.delimiter!r}",
            )
        )
    first = next((values for _line, values, _err in read_rows(path, dialect) if values is not None), None)
    if first is None:
        problems.append(Problem(where, "the file is empty"))
        return []
    ids = [cell.strip() for cell in first]
    seen: set[str] = set()
    for i, cell in enumerate(ids, start=1):
        if not cell:
            continue  # an empty header cell: the column is ignored (§17.2)
        if cell not in SPECIAL_IDS and not (cell.isdigit() and 1 <= int(cell) <= 39):
            problems.append(
                Problem(f"{where}, column {i}", f"{cell!r} is not a field id (111, 222, 333, 444 or 1–39)")
            )
        elif cell in seen:
            problems.append(Problem(f"{where}, column {i}", f"field id {cell} appears twice"))
        seen.add(cell)
    if not seen & {"111", "444", "333"}:
        problems.append(Problem(where, "the header has no 111 (email) nor 444 or 333 (mobile number) column"))
    return ids


def _read_markup(
    archive, by_name: dict, markup, name: str, workdir: Path, message: Message, problems
) -> None:
    raw = read_small(archive, markup, workdir, f"{name}/Markup.htm")
    try:
        html = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        html = raw.decode("cp1252", errors="replace")
    if not html.strip():
        problems.append(Problem(f"{name}/Markup.htm", "the message is empty"))
    message.html = html
    folder = markup.filename.replace("\\", "/").rpartition("/")[0]
    for ref in sorted({a or b for a, b in _REF.findall(html)}):
        ref = ref.strip()
        if not ref or ref.lower().startswith(_EXTERNAL):
            continue
        path = ref.split("?", 1)[0].split("#", 1)[0].lstrip("./")
        key = f"{folder}/{path}".lower().lstrip("/") if folder else path.lower()
        info = by_name.get(key) or by_name.get(path.lower())
        if info is None:
            problems.append(Problem(f"{name}/Markup.htm", f"the image {ref!r} is not in the package"))
            continue
        data = read_small(archive, info, workdir, f"{name}/{info.filename}")
        try:
            inspect_image(data)
        except DomainError as exc:
            problems.append(Problem(f"{name}/{info.filename}", str(exc)))
            continue
        message.images[ref] = data
        message.image_members.add(info.filename.replace("\\", "/").lower())


def rewrite_references(html: str, urls: dict[str, str]) -> str:
    """Replace image references inside src=, background= and url() only (never the same text elsewhere)."""

    def swap(match: re.Match) -> str:
        ref = (match.group(1) or match.group(2) or "").strip()
        if ref not in urls:
            return match.group(0)
        return match.group(0).replace(ref, urls[ref], 1)

    return _REF.sub(swap, html)
