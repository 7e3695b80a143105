"""Checklist E30/E31: ZIP members that are archives, links, absolute or escaping paths, names with a NUL
byte, duplicates, sizes that lie, and archives with too many members are refused with an error naming
the archive and the entry; nothing is unpacked outside the import's own work directory and nothing stays
behind. The archives are real ZIP files, some patched byte by byte as a hostile tool would write them."""

from __future__ import annotations

import io
import stat
import struct
import warnings
import zipfile

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.imports.sources import MAX_ZIP_MEMBERS, SourceError, unpack
from portal.models import Contact, ContactImport
from portal.services import DomainError
from portal.tenancy import bind_tenant

from .test_imports import _import, _setup

GOOD = "email\nuno@example.com\n"


def _zip(*members, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names: that is the point
        with zipfile.ZipFile(buf, "w", compression) as z:
            for name, data in members:
                z.writestr(name, data)
    return buf.getvalue()


def _unpack(tmp_path, data: bytes, name: str = "batch.zip"):
    upload = tmp_path / "upload.bin"
    upload.write_bytes(data)
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return unpack(upload, name, work)


def _symlink_zip() -> bytes:
    info = zipfile.ZipInfo("contacts.csv")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.csv", GOOD)
        z.writestr(info, "/etc/passwd")
    return buf.getvalue()


def _nul_name_zip() -> bytes:
    # zipfile cannot write a NUL in a name: write a placeholder of the same length, patch both copies.
    data = _zip(("a.csv", GOOD), ("b.csvXevil.sh", GOOD))
    assert data.count(b"b.csvXevil.sh") == 2
    return data.replace(b"b.csvXevil.sh", b"b.csv\x00evil.sh")


def _lying_size_zip(claimed: int = 1024) -> bytes:
    """A member whose local header and central directory both claim 1 KB but which streams 3 MB."""
    data = bytearray(_zip(("big.csv", "email\n" + "x@example.com\n" * 230_000)))
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, claimed)
    struct.pack_into("<I", data, central + 24, claimed)
    return bytes(data)


REFUSED = [
    (
        "nested-zip",
        lambda: _zip(("a.csv", GOOD), ("more.zip", _zip(("b.csv", GOOD)))),
        "'more.zip'",
        "itself an archive",
    ),
    (
        "nested-gz",
        lambda: _zip(("a.csv", GOOD), ("b.csv.gz", b"\x1f\x8b\x08\x00")),
        "'b.csv.gz'",
        "itself an archive",
    ),
    ("zip-named-csv", lambda: _zip(("a.csv", _zip(("b.csv", GOOD)))), "a.csv", "archives inside archives"),
    ("symlink", _symlink_zip, "'contacts.csv'", "is a link"),
    ("absolute", lambda: _zip(("/etc/cron.d/x.csv", GOOD)), "'/etc/cron.d/x.csv'", "leaves the archive"),
    ("drive", lambda: _zip(("C:\\x.csv", GOOD)), "x.csv", "leaves the archive"),
    ("dotdot", lambda: _zip(("../../app/config.csv", GOOD)), "'../../app/config.csv'", "leaves the archive"),
    ("backslash-dotdot", lambda: _zip(("..\\..\\x.csv", GOOD)), "x.csv", "leaves the archive"),
    ("nul", _nul_name_zip, "b.csv\\\\0evil.sh", "NUL byte"),
    (
        "duplicate",
        lambda: _zip(("a.csv", GOOD), ("a.csv", "email\nother@example.com\n")),
        "'a.csv'",
        "appears twice",
    ),
    ("duplicate-case", lambda: _zip(("List.csv", GOOD), ("list.CSV", GOOD)), "'list.CSV'", "appears twice"),
    ("lying-size", _lying_size_zip, "big.csv", "cannot be unpacked"),
    (
        "many-entries",
        lambda: _zip(*[(f"n{i}.txt", "x") for i in range(MAX_ZIP_MEMBERS * 5 + 1)]),
        "batch.zip",
        "too many entries",
    ),
    (
        "many-csv",
        lambda: _zip(*[(f"n{i}.csv", GOOD) for i in range(MAX_ZIP_MEMBERS + 1)]),
        "batch.zip",
        f"more than {MAX_ZIP_MEMBERS} CSV",
    ),
]


@pytest.mark.parametrize("make,where,why", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_hostile_archives_are_refused_with_a_clear_error(tmp_path, make, where, why):
    with pytest.raises(SourceError) as refused:
        _unpack(tmp_path, make())
    message = str(refused.value)
    assert message.startswith("batch.zip"), message
    assert where in message and why in message, message
    # Whatever was written before the refusal sits in the work directory under server-chosen names (the
    # import service removes that directory; the last test shows nothing stays).
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "upload.bin"]
    assert all(p.parent == tmp_path / "work" and p.name.startswith("member-") for p in written), written


def test_an_honest_archive_still_unpacks_under_server_chosen_names(tmp_path):
    files, notes = _unpack(
        tmp_path,
        _zip(("dir/a.csv", GOOD), ("b.txt", GOOD), ("__MACOSX/._a.csv", "junk"), ("photo.png", b"\x89PNG")),
    )
    assert [f.name for f in files] == ["batch.zip/a.csv", "batch.zip/b.txt"]
    assert [f.path.name for f in files] == ["member-1.csv", "member-2.csv"]
    assert all(f.path.parent == tmp_path / "work" for f in files)
    assert notes == ["batch.zip: skipped 'photo.png': only .csv and .txt files are imported"]


def test_the_import_shows_the_refusal_and_keeps_nothing(app, world):
    ag, cid, list_id = _setup(app, world)
    storage = app.config["PORTAL_SETTINGS"].storage_dir
    before = {p for p in storage.rglob("*") if p.is_file()}
    with pytest.raises(DomainError, match="appears twice"):
        _import(app, ag, cid, list_id, _zip(("a.csv", GOOD), ("a.csv", GOOD)), name="batch.zip")
    with app.app_context(), bind_tenant(ag, cid):
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 0
        assert db.session.scalar(select(func.count()).select_from(ContactImport)) == 0
    assert {p for p in storage.rglob("*") if p.is_file()} == before
