"""Every check of a package that needs the database, made before anything is written: the list, the
column targets (§17.2 field ids against the account's fields), the sender (a verified identity of the
client), the campaign to copy, the content's template syntax, whether the source may send, and the send's
own checks on an unsaved campaign. PackageError lists all the problems found.
"""

from __future__ import annotations

from sqlalchemy import func, select

from ..extensions import db
from ..imports import engine
from ..models import BatchSource, Campaign, Client, Field, MailingList, SenderDomain, SenderIdentity
from ..sending.control import ready_to_send
from ..services import DomainError
from ..services import campaigns as campaign_svc
from .ftpzip import SPECIAL_IDS
from .package import KIND_PACKAGE, Package, PackageError, Problem


def check(client: Client, source: BatchSource, package: Package) -> tuple[MailingList, SenderIdentity | None]:
    """Every check that needs the database, before anything is written; PackageError lists them all."""
    problems: list[Problem] = []
    target = _target_list(source, package, problems)
    sender = None
    m = package.message
    if package.kind == KIND_PACKAGE and m is not None:
        sender = _sender(m.sender_email, package, problems) if m.sender_email else None
        if package.action in ("full", "send") and not source.options.get("allow_send"):
            problems.append(
                Problem(
                    package.import_name.rsplit("/", 1)[0], "this source may not send campaigns (its settings)"
                )
            )
        if m.copy_campaign_id is not None and campaign_of(m.copy_campaign_id) is None:
            problems.append(
                Problem(
                    f"{package.import_name.rsplit('/', 1)[0]}/Settings.xml: ContentOverride/MessageId",
                    f"campaign {m.copy_campaign_id} does not exist in this account",
                )
            )
        if package.import_path is not None:
            field_targets(package, problems)
        if m.html:
            try:
                campaign_svc.check_content(m.subject, "", m.html, "")
            except DomainError as exc:
                problems.append(Problem(f"{package.import_name.rsplit('/', 1)[0]}/Markup.htm", str(exc)))
        if not problems and package.action in ("full", "send") and target is not None:
            _check_sendable(client, target, sender, m, problems, package)
    if problems:
        raise PackageError(problems)
    return target, sender


def _where(package: Package) -> str:
    return package.import_name.rsplit("/", 1)[0] if package.kind == KIND_PACKAGE else package.import_name


def _target_list(source: BatchSource, package: Package, problems: list[Problem]) -> MailingList | None:
    ref = package.list_ref
    if ref is None:
        lst = (
            db.session.scalar(select(MailingList).where(MailingList.id == source.list_id))
            if source.list_id
            else None
        )
        if lst is None:
            problems.append(
                Problem(_where(package), "no list to import into: choose one in the source's settings")
            )
        return lst
    if isinstance(ref, int) or str(ref).isdigit():
        lst = db.session.scalar(select(MailingList).where(MailingList.id == int(ref)))  # tenant-filtered
    else:
        lst = db.session.scalar(
            select(MailingList).where(func.lower(MailingList.name) == str(ref).strip().lower())
        )
    if lst is None:
        where = f"{_where(package)}: {'ListId' if package.kind == KIND_PACKAGE else 'manifest list'}"
        problems.append(Problem(where, f"list {ref!r} is not one of this account's lists"))
    return lst


def _sender(email: str, package: Package, problems: list[Problem]) -> SenderIdentity | None:
    where = f"{_where(package)}/Settings.xml: Content/SenderEmail"
    ident = db.session.scalar(select(SenderIdentity).where(func.lower(SenderIdentity.email) == email.lower()))
    if ident is None:
        problems.append(Problem(where, f"{email} is not one of this account's senders"))
        return None
    domain = db.session.scalar(select(SenderDomain).where(SenderDomain.id == ident.domain_id))
    if domain is None or domain.verified_at is None:
        problems.append(Problem(where, f"the domain of {email} is not verified yet (Campaigns → Senders)"))
        return None
    return ident


def campaign_of(campaign_id: int) -> Campaign | None:
    return db.session.scalar(select(Campaign).where(Campaign.id == campaign_id))


def field_targets(package: Package, problems: list[Problem]) -> dict[str, str]:
    """§17.2 header → import mapping: 111/222/333/444 special, 1…39 the account's field of that number."""
    by_number = {str(f.number): f for f in db.session.scalars(select(Field))}
    mapping: dict[str, str] = {}
    for i, fid in enumerate(package.field_ids):
        if not fid:
            continue
        if fid in SPECIAL_IDS:
            mapping[str(i)] = SPECIAL_IDS[fid]
        elif fid in by_number:
            mapping[str(i)] = engine.FIELD_PREFIX + by_number[fid].key
        else:
            problems.append(
                Problem(
                    f"{package.import_name}, column {i + 1}",
                    f"field {fid} does not exist in this account (Lists → Fields)",
                )
            )
    return mapping


def _check_sendable(client, target, sender, m, problems, package) -> None:
    """The send's own checks (subject, content, audience, verified sender, delivery connection), on an
    unsaved campaign: a package that could not be sent fails before its contacts are imported."""
    base = campaign_of(m.copy_campaign_id) if m.copy_campaign_id else None
    probe = Campaign(
        agency_id=client.agency_id,
        client_id=client.id,
        channel="email",
        name="probe",
        subject=m.subject or (base.subject if base else ""),
        html=m.html or (base.html if base else ""),
        text=base.text if base and not m.html else "",
        sender_id=sender.id if sender else (base.sender_id if base else None),
        audience={"lists": [target.id], "segments": [], "exclude_lists": [], "exclude_segments": []},
    )
    try:
        ready_to_send(probe)
    except DomainError as exc:
        problems.append(Problem(_where(package), f"the campaign could not be sent: {exc}"))
    finally:
        if probe in db.session:
            db.session.expunge(probe)
