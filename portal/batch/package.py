"""What a file found on a batch source is, read and checked in full before anything is changed.

Three shapes (README "Nightly batch over FTP"):
- a CSV (or .txt) file: imported with the source's list and options;
- a ZIP of CSVs, optionally with `manifest.json` naming the list and options (and column targets);
- an FTP-ZIP package (a ZIP holding `Settings.xml`, read by ftpzip.py): recipients, and a message to
  save or send.

Archives are opened with the upload rules of portal/imports/sources.py (member count, unpacked size and
compression-ratio caps measured while streaming, no links, no nested archives). Every problem found is
collected with where it is, so a bad package is reported whole, not one mistake per night.
"""

from __future__ import annotations

import json
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ..imports.sources import MANIFEST_NAME, MAX_ZIP_MEMBERS, SourceError, extract_member

KIND_CSV, KIND_ZIP, KIND_PACKAGE = "csv", "zip", "package"
MAX_SMALL_FILE = 2 * 1024 * 1024  # manifest, Settings.xml and Markup.htm are read into memory
STATUSES = ("subscribed", "pending", "unsubscribed")
_MANIFEST_KEYS = {"list", "status", "update_existing", "clear_blanks", "columns"}


@dataclass(frozen=True)
class Problem:
    where: str  # file (and row, column or element) inside the package
    what: str

    def as_dict(self) -> dict:
        return {"where": self.where, "what": self.what}


class PackageError(Exception):
    """The file cannot be processed; nothing was changed. `problems` says every what and where."""

    def __init__(self, problems: list[Problem], import_id: int | None = None):
        super().__init__("; ".join(f"{p.where}: {p.what}" for p in problems))
        self.problems = problems
        self.import_id = import_id  # the failed import, when the engine itself refused the rows


@dataclass
class Message:
    """The message of an FTP-ZIP package (Markup.htm, or an existing campaign to copy)."""

    subject: str = ""
    sender_email: str = ""
    sender_name: str = ""
    reply_to: str = ""
    html: str = ""
    images: dict[str, bytes] = field(default_factory=dict)  # reference in Markup.htm -> bytes
    image_members: set[str] = field(default_factory=set)  # archive members those came from
    campaign_code: str = ""
    copy_campaign_id: int | None = None  # ContentOverride/MessageId
    track_clicks: bool = True


@dataclass
class Package:
    kind: str
    import_path: Path | None  # the file handed to the import engine (None: nothing to import)
    import_name: str
    action: str = ""  # FTP-ZIP ActionType: save / full / send
    list_ref: str | int | None = None  # manifest "list" or Settings.xml ListId
    options: dict = field(default_factory=dict)  # status / update_existing / clear_blanks
    columns: dict[str, str] = field(default_factory=dict)  # manifest: header -> target
    field_ids: list[str] = field(default_factory=list)  # FTP-ZIP Recipients.csv header (§17.2)
    separator: str = ""
    message: Message | None = None
    notes: list[str] = field(default_factory=list)


def safe_members(archive: zipfile.ZipFile, name: str) -> list[zipfile.ZipInfo]:
    """Files of the archive that may be read; links and names escaping the archive refuse it all."""
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS * 5:
        raise PackageError([Problem(name, f"too many entries in the archive ({len(infos)})")])
    out, problems = [], []
    for info in infos:
        member = info.filename.replace("\\", "/")
        if info.is_dir() or member.startswith("__MACOSX/") or member.rsplit("/", 1)[-1].startswith("._"):
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            problems.append(Problem(f"{name}/{member}", "links are not accepted in an archive"))
        elif "\x00" in member or member.startswith("/") or ".." in member.split("/"):
            problems.append(Problem(f"{name}/{member}", "the name leaves the archive's folder"))
        else:
            out.append(info)
    if problems:
        raise PackageError(problems)
    return out


def read_small(archive: zipfile.ZipFile, info: zipfile.ZipInfo, workdir: Path, label: str) -> bytes:
    """A member read whole (manifest, settings, markup, images) after the same capped extraction."""
    if info.file_size > MAX_SMALL_FILE:
        raise PackageError([Problem(label, f"larger than {MAX_SMALL_FILE // 2**20} MB")])
    target = workdir / f"small-{abs(hash(info.filename))}.bin"
    try:
        extract_member(archive, info, target, 0, label)
    except SourceError as exc:
        raise PackageError([Problem(label, str(exc).removeprefix(label + ": "))]) from exc
    data = target.read_bytes()
    target.unlink()
    if len(data) > MAX_SMALL_FILE:
        raise PackageError([Problem(label, f"larger than {MAX_SMALL_FILE // 2**20} MB")])
    return data


def extract_to(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, label: str) -> None:
    try:
        extract_member(archive, info, target, 0, label)
    except SourceError as exc:
        raise PackageError([Problem(label, str(exc).removeprefix(label + ": "))]) from exc


def apply_manifest(package: Package, raw: bytes) -> None:
    where = f"{package.import_name}/{MANIFEST_NAME}"
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackageError([Problem(where, f"not valid JSON ({exc})")]) from exc
    if not isinstance(data, dict):
        raise PackageError([Problem(where, "must be a JSON object")])
    problems = [Problem(where, f"unknown key {k!r}") for k in sorted(set(data) - _MANIFEST_KEYS)]
    if "list" in data:
        if isinstance(data["list"], bool) or not isinstance(data["list"], int | str) or data["list"] == "":
            problems.append(Problem(f"{where}: list", "must be a list number or a list name"))
        else:
            package.list_ref = data["list"]
    if "status" in data:
        if data["status"] not in STATUSES:
            problems.append(Problem(f"{where}: status", "must be subscribed, pending or unsubscribed"))
        else:
            package.options["status"] = data["status"]
    for key in ("update_existing", "clear_blanks"):
        if key in data:
            if not isinstance(data[key], bool):
                problems.append(Problem(f"{where}: {key}", "must be true or false"))
            else:
                package.options[key] = data[key]
    columns = data.get("columns", {})
    if not isinstance(columns, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in columns.items()
    ):
        problems.append(Problem(f"{where}: columns", "must map column headers to targets (text to text)"))
    else:
        package.columns = {k.strip().lower(): v.strip() for k, v in columns.items()}
    if problems:
        raise PackageError(problems)
