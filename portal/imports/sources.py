"""Reading uploaded contact files safely: ZIP archives under byte/member caps, encoding and delimiter
detection, and CSV rows with their original line numbers.

Nothing here trusts a name from the upload: files are written under server-chosen names inside a private
work directory, and every limit is counted on the bytes actually streamed (checklist E30–E32).
"""

from __future__ import annotations

import codecs
import csv
import re
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_ZIP_MEMBERS = 20
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024  # 1 GiB across all members
MAX_RATIO = 200  # uncompressed : compressed, per member, measured while streaming
MAX_FIELD_BYTES = 1024 * 1024
MAX_COLUMNS = 250
SAMPLE_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
MANIFEST_NAME = "manifest.json"
_ARCHIVE_MAGIC = (b"PK\x03\x04", b"\x1f\x8b", b"BZh", b"7z\xbc\xaf", b"Rar!", b"\xfd7zXZ")
_ARCHIVE_SUFFIXES = (".zip", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".7z", ".rar", ".zst")
_DRIVE = re.compile(r"^[A-Za-z]:")
_BINARY_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"%PDF", b"\xd0\xcf\x11\xe0")

csv.field_size_limit(MAX_FIELD_BYTES)


class SourceError(ValueError):
    """The file cannot be imported; the message names the file and the reason."""


@dataclass(frozen=True)
class SourceFile:
    name: str  # the name to show the user (from the upload or the archive member), never used as a path
    path: Path  # server-chosen path inside the work directory


def unpack(upload: Path, display_name: str, workdir: Path) -> tuple[list[SourceFile], list[str]]:
    """Return the CSV files to import and notes about archive members that were skipped."""
    with upload.open("rb") as fh:
        head = fh.read(8)
    if not head:
        raise SourceError(f"{display_name}: the file is empty")
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _unpack_zip(upload, display_name, workdir)
    _refuse_binary(head, display_name)
    return [SourceFile(display_name, upload)], []


def _refuse_binary(head: bytes, name: str) -> None:
    if head.startswith(_ARCHIVE_MAGIC):
        raise SourceError(
            f"{name}: archives inside archives (or compressed files other than ZIP) are not accepted"
        )
    if head.startswith(_BINARY_MAGIC):
        raise SourceError(f"{name}: this is not a CSV text file (it looks like an image, PDF or Excel file)")


def _unpack_zip(upload: Path, display_name: str, workdir: Path) -> tuple[list[SourceFile], list[str]]:
    try:
        archive = zipfile.ZipFile(upload)
    except zipfile.BadZipFile as exc:
        raise SourceError(f"{display_name}: damaged ZIP archive ({exc})") from exc
    files: list[SourceFile] = []
    notes: list[str] = []
    total = 0
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS * 5:
            raise SourceError(f"{display_name}: too many entries in the archive ({len(members)})")
        seen: set[str] = set()
        for info in members:
            name = info.filename
            base = name.replace("\\", "/").rsplit("/", 1)[-1]
            if info.is_dir() or name.startswith("__MACOSX/") or base.startswith("._") or not base:
                continue
            refusal = member_refusal(info, seen)
            if refusal:
                raise SourceError(f"{display_name}: {refusal}")
            if base.lower() == MANIFEST_NAME:
                continue  # the options of a batch-source ZIP (portal/batch/), read there, not a contact file
            if not base.lower().endswith((".csv", ".txt")):
                notes.append(f"{display_name}: skipped {base!r}: only .csv and .txt files are imported")
                continue
            if len(files) >= MAX_ZIP_MEMBERS:
                raise SourceError(f"{display_name}: more than {MAX_ZIP_MEMBERS} CSV files in the archive")
            target = workdir / f"member-{len(files) + 1}.csv"
            total = _extract_member(archive, info, target, total, f"{display_name}/{base}")
            with target.open("rb") as fh:
                _refuse_binary(fh.read(8), f"{display_name}/{base}")
            files.append(SourceFile(f"{display_name}/{base}", target))
    if not files:
        raise SourceError(f"{display_name}: the archive holds no CSV file")
    return files, notes


def member_refusal(info: zipfile.ZipInfo, seen: set[str]) -> str | None:
    """Why this member makes the whole archive unacceptable, or None (checklist E30/E31).

    Such members are never just skipped: an archive that carries a link, a name leaving its folder, a
    NUL byte, the same name twice or an archive inside it was not made by a tool the client meant to
    use, and importing "the rest" would hide that. `seen` collects the names met so far (duplicates)."""
    raw = info.orig_filename  # zipfile cuts `filename` at a NUL byte; the original keeps it
    name = raw.replace("\\", "/")
    shown = repr(raw.replace("\x00", "\\0"))
    if "\x00" in raw:
        return f"the entry {shown} has a NUL byte in its name"
    if stat.S_ISLNK(info.external_attr >> 16):
        return f"the entry {shown} is a link; links are not accepted"
    if name.startswith("/") or _DRIVE.match(name) or ".." in name.split("/"):
        return f"the entry {shown} has a path that leaves the archive's folder"
    if name.lower().endswith(_ARCHIVE_SUFFIXES):
        return f"the entry {shown} is itself an archive; archives inside archives are not accepted"
    key = name.lower()
    if key in seen:
        return f"the entry {shown} appears twice in the archive"
    seen.add(key)
    return None


def _extract_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, total: int, label: str
) -> int:
    """Stream one member, counting real bytes: declared sizes in the directory can lie."""
    written = 0
    compressed = max(info.compress_size, 1)
    try:
        with archive.open(info) as src, target.open("wb") as dst:
            while chunk := src.read(1024 * 1024):
                written += len(chunk)
                total += len(chunk)
                if total > MAX_UNPACKED_BYTES:
                    raise SourceError(
                        f"{label}: the archive unpacks to more than {MAX_UNPACKED_BYTES // 2**20} MB"
                    )
                if written > 1024 * 1024 and written / compressed > MAX_RATIO:
                    raise SourceError(f"{label}: suspicious compression ratio (more than {MAX_RATIO}:1)")
                dst.write(chunk)
    except (zipfile.BadZipFile, zlib_error(), EOFError, NotImplementedError) as exc:
        target.unlink(missing_ok=True)
        raise SourceError(f"{label}: cannot be unpacked ({exc})") from exc
    except SourceError:
        target.unlink(missing_ok=True)
        raise
    return total


def extract_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, total: int, label: str
) -> int:
    """The same capped, streamed extraction for other archive readers (batch packages); returns the new
    running total of unpacked bytes."""
    return _extract_member(archive, info, target, total, label)


def zlib_error() -> type[Exception]:
    import zlib

    return zlib.error


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 (BOM, or NUL-interleaved), else Windows-1252."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(sample) >= 4 and sample[1:40:2].count(0) > 10:
        return "utf-16-le"
    if len(sample) >= 4 and sample[0:40:2].count(0) > 10:
        return "utf-16-be"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 3:  # a character cut by the sample's end
            return "utf-8"
    return "cp1252"


def detect_delimiter(text_sample: str) -> str:
    lines = [line for line in text_sample.splitlines()[:50] if line.strip()]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        # Fall back on the delimiter that splits the header line the most.
        return max(DELIMITERS, key=lambda d: lines[0].count(d))


@dataclass(frozen=True)
class Dialect:
    encoding: str
    delimiter: str


def sniff(path: Path) -> Dialect:
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    encoding = detect_encoding(sample)
    text = sample.decode(encoding, errors="ignore")
    return Dialect(encoding, detect_delimiter(text))


def read_rows(path: Path, dialect: Dialect) -> Iterator[tuple[int, list[str] | None, str | None]]:
    """Yield (line, values, error) for every record; `line` is the 1-based physical line where the record
    starts in the original file; broken records come with values None and the error. Tuples, not objects:
    this runs once per row of million-row files."""
    with path.open("r", encoding=dialect.encoding, errors="replace", newline="") as fh:
        reader = csv.reader(fh, delimiter=dialect.delimiter, quotechar='"', doublequote=True, strict=False)
        line = 1
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield line, None, f"unreadable record ({exc})"
                line = reader.line_num + 1
                continue
            start, line = line, reader.line_num + 1
            if not values or (len(values) == 1 and not values[0].strip()):
                continue  # blank line
            if len(values) > MAX_COLUMNS:
                yield start, None, f"too many columns ({len(values)}, at most {MAX_COLUMNS})"
                continue
            yield start, values, None


def preview(path: Path, dialect: Dialect, rows: int = 10) -> list[list[str]]:
    out: list[list[str]] = []
    for _line, values, _error in read_rows(path, dialect):
        if values is not None:
            out.append(values)
        if len(out) >= rows:
            break
    return out


def text_source(text: str, workdir: Path) -> Path:
    """Pasted text becomes a UTF-8 file like any upload."""
    target = workdir / "pasted.csv"
    target.write_bytes(text.encode("utf-8"))
    return target


__all__ = [
    "Dialect",
    "SourceError",
    "SourceFile",
    "member_refusal",
    "preview",
    "read_rows",
    "sniff",
    "text_source",
    "unpack",
]
