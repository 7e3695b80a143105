"""Where an import's files live: the upload until the import ends, and the folder a ZIP is unpacked into.

Both are named after the import, so whoever ends it — the import itself, or the sweeper after its worker
was killed — can remove them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from flask import current_app

from ..models import ContactImport


def folder(agency_id: int, client_id: int) -> Path:
    root = current_app.config["PORTAL_SETTINGS"].storage_dir
    path = root / f"agency-{agency_id}" / f"client-{client_id}" / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def upload_path(imp: ContactImport) -> Path:
    return folder(imp.agency_id, imp.client_id) / imp.stored_name


def fresh_work_dir(imp: ContactImport) -> Path:
    """An empty folder for the unpacked files (what a killed earlier attempt left there is removed)."""
    path = _work_dir(imp)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    return path


def remove_all(imp: ContactImport) -> None:
    """The upload is not kept once the import has ended (its error report is, in the database)."""
    upload_path(imp).unlink(missing_ok=True)
    shutil.rmtree(_work_dir(imp), ignore_errors=True)


def _work_dir(imp: ContactImport) -> Path:
    return folder(imp.agency_id, imp.client_id) / f"import-{imp.id}.work"
