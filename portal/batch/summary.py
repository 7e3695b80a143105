"""The email summary after a run, for the client's admins, when the source asks for one."""

from __future__ import annotations

from flask_babel import force_locale, gettext
from sqlalchemy import select

from ..extensions import db
from ..links import absolute
from ..models import Agency, BatchFile, BatchRun, BatchSource, Client, Membership, User
from ..models.user import ROLE_CLIENT_ADMIN
from ..services.notifications import queue_email
from ..tenancy import all_tenants


def queue_summary(client: Client, source: BatchSource, run: BatchRun) -> int:
    """One email per active admin of the client, after the run's commit; returns how many."""
    with all_tenants():
        agency = db.session.get(Agency, client.agency_id)
    admins = db.session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.client_id == client.id, Membership.role == ROLE_CLIENT_ADMIN, User.active.is_(True))
    ).all()
    files = list(
        db.session.scalars(select(BatchFile).where(BatchFile.run_id == run.id).order_by(BatchFile.id))
    )
    link = absolute(agency, f"/app/batch/runs/{run.id}")
    for user in admins:
        with force_locale(user.locale or agency.default_locale or "en"):
            subject = gettext(
                "%(source)s: %(done)s files processed, %(failed)s failed",
                source=source.name,
                done=run.files_done,
                failed=run.files_failed,
            )
        queue_email(
            agency=agency,
            user=user,
            template="batch_summary",
            subject=subject,
            source=source,
            run=run,
            files=files,
            link=link,
        )
    return len(admins)
