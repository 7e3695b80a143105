"""Which of the three shapes a downloaded file is (package.py), read and checked before anything changes."""

from __future__ import annotations

import zipfile
from pathlib import Path

from ..imports.sources import MANIFEST_NAME
from .ftpzip import SETTINGS_NAME, read_ftpzip
from .package import (
    KIND_CSV,
    KIND_ZIP,
    Package,
    PackageError,
    Problem,
    apply_manifest,
    read_small,
    safe_members,
)


def read_package(path: Path, name: str, workdir: Path) -> Package:
    """Classify and check the downloaded file; raises PackageError listing every problem."""
    with path.open("rb") as fh:
        head = fh.read(4)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _read_zip(path, name, workdir)
    if name.lower().endswith(".zip"):
        raise PackageError([Problem(name, "the file is not a ZIP archive (or it is damaged)")])
    return Package(KIND_CSV, path, name)


def _read_zip(path: Path, name: str, workdir: Path) -> Package:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise PackageError([Problem(name, f"damaged ZIP archive ({exc})")]) from exc
    with archive:
        members = safe_members(archive, name)
        by_name = {m.filename.replace("\\", "/").lower(): m for m in members}
        if SETTINGS_NAME in by_name:
            return read_ftpzip(archive, by_name, name, workdir)
        package = Package(KIND_ZIP, path, name)
        manifest = by_name.get(MANIFEST_NAME)
        if manifest is not None:
            apply_manifest(package, read_small(archive, manifest, workdir, f"{name}/{MANIFEST_NAME}"))
        if not any(k.endswith((".csv", ".txt")) for k in by_name):
            raise PackageError([Problem(name, "the archive holds no CSV file")])
        return package
