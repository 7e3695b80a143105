"""Reports index (sent campaigns with key rates, audience health) and the campaign report."""

from __future__ import annotations

import csv
import io

from flask import Response, abort, g, render_template, request, stream_with_context
from sqlalchemy import select

from ..client import WRITERS, client_role
from ..csvsafe import safe_cell
from ..extensions import db
from ..guards import roles_required
from ..models import Campaign, Client
from ..services import NotFound
from ..services import reports as service
from ..tenancy import bind_tenant
from . import bp
from .forms import RecipientFilterForm


@bp.route("/")
def index():
    page = service.reported_campaigns(request.args.get("page", 1, type=int))
    stats = service.campaign_stats(g.client, [c.id for c in page.items])
    return render_template(
        "reports/index.html",
        page=page,
        stats=stats,
        health=service.audience_health(g.client),
    )


def _campaign_or_404(campaign_id: int) -> Campaign:
    try:
        return service.get_campaign(campaign_id)
    except NotFound:
        abort(404)


@bp.route("/campaigns/<int:campaign_id>")
def campaign(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    form = RecipientFilterForm(request.args)
    filters = form.values()
    return render_template(
        "reports/campaign.html",
        campaign=campaign,
        stats=service.campaign_stats(g.client, [campaign.id])[campaign.id],
        timeline=service.timeline(campaign),
        links=service.link_clicks(campaign),
        form=form,
        filters=filters,
        recipients=service.recipient_page(campaign, filters, request.args.get("page", 1, type=int)),
        bounce_names=service.BOUNCE_NAMES,
        can_export=client_role() in WRITERS,
    )


@bp.route("/campaigns/<int:campaign_id>/recipients.csv")
@roles_required(*WRITERS)
def export_recipients(campaign_id: int):
    """The drill-down, filtered like the page, streamed in keyset batches; every cell formula-safe."""
    campaign = _campaign_or_404(campaign_id)
    filters = RecipientFilterForm(request.args).values()
    agency_id, client_id, cid = g.client.agency_id, g.client.id, campaign.id

    def generate():
        with bind_tenant(agency_id, client_id):
            client = db.session.scalar(select(Client).where(Client.id == client_id))
            current = db.session.scalar(select(Campaign).where(Campaign.id == cid))
            if client is None or current is None:
                return
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\r\n")
            out.write("\ufeff")
            writer.writerow(
                [
                    "email",
                    "status",
                    "sent_at_utc",
                    "opened",
                    "clicked",
                    "bounced",
                    "unsubscribed",
                    "complained",
                ]
            )
            for rows in service.recipient_batches(current, filters):
                for r in rows:
                    writer.writerow(
                        [
                            safe_cell(v)
                            for v in (
                                r.address,
                                r.status,
                                r.sent_at.strftime("%Y-%m-%d %H:%M:%S") if r.sent_at else "",
                                "yes" if r.opened else "no",
                                "yes" if r.clicked else "no",
                                service.BOUNCE_NAMES.get(r.bounce_rank, ""),
                                "yes" if r.unsubscribed else "no",
                                "yes" if r.complained else "no",
                            )
                        ]
                    )
                yield out.getvalue()
                out.seek(0)
                out.truncate()
            yield out.getvalue()

    name = f"campaign-{cid}-recipients.csv"
    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
