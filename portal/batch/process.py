"""Process one checked package (checks.py): contacts through the import engine (the same services as an
upload), then, for an FTP-ZIP package, the message through the campaign services.

Order is what keeps "nothing half-done": everything that can be checked before a change is checked first;
only then the import runs (one transaction, all or nothing); only after it the campaign is created, and
the send started in a step of its own. What each ActionType does is in the README.
"""

from __future__ import annotations

from sqlalchemy import func, select

from ..extensions import db
from ..imports import engine
from ..imports import files as import_files
from ..links import absolute
from ..models import Agency, BatchSource, Campaign, Client, ContactImport, Field, MailingList, SenderIdentity
from ..models.transfer import IMPORT_ACTIVE, IMPORT_DONE
from ..sending.control import start_send
from ..services import DomainError
from ..services import campaigns as campaign_svc
from ..services import images as image_svc
from ..services import imports as import_svc
from ..services.fields import field_key
from ..tenancy import all_tenants
from .checks import campaign_of, field_targets
from .ftpzip import rewrite_references
from .package import KIND_PACKAGE, Package, PackageError, Problem


class Busy(Exception):
    """The account cannot take the file now (its import slots are full): leave it for the next run."""


def import_contacts(
    client: Client, source: BatchSource, package: Package, target: MailingList
) -> ContactImport:
    """The upload path of the import engine, with the mapping decided by the package (never guessed for an
    FTP-ZIP package: its header says each column's field). Commits (the import's own transaction)."""
    active = db.session.scalar(
        select(func.count()).select_from(ContactImport).where(ContactImport.status.in_(IMPORT_ACTIVE))
    )
    if active >= import_svc.MAX_ACTIVE_IMPORTS:
        raise Busy(f"{active} imports are already running for this account; the file waits for the next run.")
    with package.import_path.open("rb") as stream:
        try:
            imp = import_svc.create_import(
                actor=None, client=client, stream=stream, filename=package.import_name
            )
        except DomainError as exc:
            raise PackageError([Problem(package.import_name, str(exc))]) from exc
    problems: list[Problem] = []
    if package.kind == KIND_PACKAGE:
        imp.has_header = True
        imp.columns = [fid or f"Column {i + 1}" for i, fid in enumerate(package.field_ids)]
        mapping = field_targets(package, problems)
    else:
        mapping = _csv_mapping(imp, package, problems)
    if problems:
        import_files.remove_all(imp)  # the stored copy; the row goes with the caller's rollback
        raise PackageError(problems)
    options = {**source.options, **package.options}
    try:
        run = import_svc.start_import(
            actor=None,
            client=client,
            imp=imp,
            mapping=mapping,
            list_ids=[target.id],
            update_existing=options.get("update_existing", True),
            status=options.get("status", "subscribed"),
            clear_blanks=options.get("clear_blanks", False),
            consent_ip="",
            enqueue=False,
        )
    except DomainError as exc:
        import_files.remove_all(imp)
        raise PackageError([Problem(package.import_name, str(exc))]) from exc
    import_id, run_id = imp.id, run.id
    import_svc.run_import(import_id, run_id)
    imp = import_svc.get_import(import_id)
    if imp.status != IMPORT_DONE:
        raise PackageError(
            [Problem(package.import_name, imp.message or "the import failed")], import_id=import_id
        )
    return imp


def _csv_mapping(imp: ContactImport, package: Package, problems: list[Problem]) -> dict[str, str]:
    """Header names (or MailUp-style numeric ids) → targets, as the upload page suggests them; a manifest's
    "columns" decides for the headers it names."""
    fields = list(db.session.scalars(select(Field)))
    mapping = import_svc.suggest_mapping(imp.columns, fields) if imp.has_header else {}
    by_key = {f.key: f for f in fields} | {f.label.lower(): f for f in fields}
    for i, header in enumerate(imp.columns):
        wanted = package.columns.get(header.strip().lower())
        if wanted is None:
            continue
        low = wanted.lower()
        if low in ("email", "phone", "ignore", ""):
            target = "" if low in ("ignore", "") else low
        elif (f := by_key.get(low) or by_key.get(field_key(low))) is not None:
            target = engine.FIELD_PREFIX + f.key
        else:
            problems.append(
                Problem(
                    f"{package.import_name}/manifest.json: columns",
                    f"unknown target {wanted!r} for {header!r}",
                )
            )
            continue
        mapping = {k: v for k, v in mapping.items() if v != target or not target}
        mapping[str(i)] = target
    mapping = {k: v for k, v in mapping.items() if v}
    if not {engine.EMAIL, engine.PHONE, engine.PHONE_NUMBER} & set(mapping.values()):
        problems.append(
            Problem(
                package.import_name,
                "no column is the email address or the phone number (check the header row)",
            )
        )
    unmapped = [h for i, h in enumerate(imp.columns) if str(i) not in mapping]
    if unmapped and not problems:
        package.notes.append(f"{package.import_name}: columns not imported: {', '.join(unmapped)}")
    return mapping


def create_message(
    client: Client, package: Package, target: MailingList, sender: SenderIdentity | None, file_name: str
) -> Campaign:
    """The package's message as a draft campaign (images into the library, their references rewritten)."""
    m = package.message
    html = m.html
    if m.images:
        with all_tenants():
            agency = db.session.get(Agency, client.agency_id)
        urls = {}
        for ref, data in m.images.items():
            img = image_svc.upload(actor=None, client=client, filename=ref, data=data)
            urls[ref] = absolute(agency, f"/img/{img.token}")
        html = rewrite_references(html, urls)
    base = campaign_of(m.copy_campaign_id) if m.copy_campaign_id else None
    if base is not None:
        campaign = campaign_svc.duplicate(actor=None, client=client, campaign=base)
        html = html or base.html
    else:
        campaign = campaign_svc.create_campaign(
            actor=None, client=client, name=m.campaign_code or m.subject or file_name
        )
    values = campaign_svc.CampaignValues(
        name=m.campaign_code or m.subject or campaign.name,
        subject=m.subject or campaign.subject,
        sender_id=sender.id if sender else campaign.sender_id,
        reply_to=m.reply_to or campaign.reply_to,
        html=html,
        text=campaign.text if base is not None and not m.html else "",
        text_edited=base is not None and not m.html and campaign.text_edited,
        audience={"lists": [target.id], "segments": [], "exclude_lists": [], "exclude_segments": []},
        track_opens=True,
        track_clicks=m.track_clicks,
    )
    campaign_svc.update_campaign(actor=None, client=client, campaign=campaign, values=values)
    return campaign


def send_message(client: Client, campaign: Campaign) -> int:
    return start_send(actor=None, client=client, campaign=campaign)
