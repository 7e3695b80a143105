"""Campaign reports: figures computed in SQL (unique vs total, rates), timeline data island, clicks per link,
per-recipient drill-down with filters, formula-safe CSV, isolation, CSP-safe page."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Campaign, Client
from portal.services import reports
from portal.tenancy import bind_tenant

from .reports_support import add_events, sent_campaign
from .support import client_for

PEOPLE = [
    "anna@example.org",
    "bruno@example.org",
    "carla@example.org",
    "dario@example.org",
    "=1+2@example.org",
]
SALE = "https://shop.example.com/sale?utm=1&x=2"
ABOUT = "https://shop.example.com/about"


def _events(app, s):
    h = timedelta(hours=1)
    add_events(
        app,
        s,
        [
            ("anna@example.org", "open", {"after": h}),
            ("anna@example.org", "open", {"after": 2 * h}),
            ("anna@example.org", "open", {"after": timedelta(days=3)}),
            ("anna@example.org", "click", {"link_index": 0, "detail": SALE, "after": h}),
            ("anna@example.org", "click", {"link_index": 0, "detail": SALE, "after": 2 * h}),
            ("anna@example.org", "click", {"link_index": 1, "detail": ABOUT, "after": timedelta(days=3)}),
            ("bruno@example.org", "open", {"after": h}),
            ("bruno@example.org", "click", {"link_index": 0, "detail": SALE, "after": h}),
            ("bruno@example.org", "unsubscribe", {"after": 2 * h}),
            ("carla@example.org", "open", {"after": 5 * h}),
            ("carla@example.org", "complaint", {"after": 6 * h}),
            ("dario@example.org", "bounce", {"bounce_class": "hard", "status_code": "5.1.1"}),
            ("=1+2@example.org", "bounce", {"bounce_class": "soft", "status_code": "4.2.2"}),
            ("=1+2@example.org", "bounce", {"bounce_class": "soft", "status_code": "4.2.2"}),
        ],
    )


@pytest.fixture
def report(app, world):
    s = sent_campaign(app, world, PEOPLE, started_ago=timedelta(days=5))
    _events(app, s)
    return s


def _stats(app, s) -> reports.Stats:
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        client = db.session.scalar(select(Client).where(Client.id == s.client_id))
        return reports.campaign_stats(client, [s.campaign_id])[s.campaign_id]


def test_figures_unique_and_total_and_rates(app, report):
    st = _stats(app, report)
    assert (st.sent, st.bounced, st.hard_bounces, st.soft_bounces) == (5, 2, 1, 1)
    assert st.delivered == 3  # no "delivered" events: sent minus bounced deliveries
    assert (st.unique_opens, st.total_opens) == (3, 5)
    assert (st.unique_clicks, st.total_clicks) == (2, 4)
    assert (st.unsubscribes, st.complaints) == (1, 1)
    assert st.open_rate == pytest.approx(1.0)
    assert st.click_rate == pytest.approx(2 / 3)
    assert st.click_to_open == pytest.approx(2 / 3)
    assert st.bounce_rate == pytest.approx(2 / 5)
    assert st.complaint_rate == pytest.approx(1 / 3)


def test_delivered_events_win_when_the_provider_reports_them(app, report):
    add_events(app, report, [("anna@example.org", "delivered"), ("bruno@example.org", "delivered")])
    st = _stats(app, report)
    assert st.delivered == 2 and st.open_rate == pytest.approx(3 / 2)


def _page(app, world, s, key="A1.admin", query=""):
    resp = client_for(app, world, key).get(f"/app/reports/campaigns/{s.campaign_id}{query}")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def _metric(html: str, name: str) -> str:
    m = re.search(rf'data-metric="{name}"><div class="value">([^<]+)<', html)
    assert m, name
    return m.group(1)


def test_report_page_shows_figures_links_and_valid_chart_island(app, world, report):
    html = _page(app, world, report)
    assert [_metric(html, n) for n in ("sent", "delivered", "opens", "clicks", "bounces")] == list("53322")
    assert _metric(html, "complaints") == "1" and _metric(html, "unsubscribes") == "1"
    assert "CTR 66.67%" in html
    links = re.findall(
        r'<tr data-link="(\d+)"><td class="url">([^<]+)</td><td class="num">(\d+)</td>'
        r'<td class="num">(\d+)</td>',
        html,
    )
    assert links == [("0", SALE.replace("&", "&amp;"), "2", "3"), ("1", ABOUT, "1", "1")]
    island = re.search(
        r'<script type="application/json" id="report-timeline" nonce="[^"]+">(.*?)</script>', html, re.S
    )
    data = json.loads(island.group(1))
    hourly, daily = data["hourly"], data["daily"]
    assert len(hourly["labels"]) == 48 and len(hourly["opens"]) == 48
    assert hourly["opens"][1] == 2 and hourly["opens"][2] == 1 and hourly["opens"][5] == 1
    assert hourly["clicks"][1] == 2 and hourly["clicks"][2] == 1
    assert sum(daily["opens"]) == 1 and sum(daily["clicks"]) == 1  # day 3, after the first 48 hours
    assert len(daily["labels"]) == len(daily["opens"]) >= 3


def test_page_has_no_script_without_nonce(app, world, report):
    html = _page(app, world, report)
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert len(scripts) >= 3
    assert all("nonce=" in tag for tag in scripts), scripts
    assert "vendor/chart.umd.min.js" in html and "js/charts.js" in html
    assert "onclick=" not in html and "javascript:" not in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", set(PEOPLE)),
        ("?opened=yes", {"anna@example.org", "bruno@example.org", "carla@example.org"}),
        ("?clicked=no", {"carla@example.org", "dario@example.org", "=1+2@example.org"}),
        ("?bounced=yes", {"dario@example.org", "=1+2@example.org"}),
        ("?bounced=hard", {"dario@example.org"}),
        ("?bounced=soft", {"=1+2@example.org"}),
        ("?unsubscribed=yes", {"bruno@example.org"}),
        ("?complained=yes", {"carla@example.org"}),
        ("?opened=yes&clicked=no", {"carla@example.org"}),
        ("?opened=bogus", set(PEOPLE)),  # a bad filter value is ignored
    ],
)
def test_recipient_filters(app, world, report, query, expected):
    html = _page(app, world, report, query=query)
    found = set(re.findall(r'<tr data-recipient="([^"]+)">', html))
    assert found == expected


def test_recipient_table_pages(app, world, report):
    with app.app_context(), bind_tenant(report.agency_id, report.client_id):
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == report.campaign_id))
        first = reports.recipient_page(campaign, {}, 1, per_page=2)
        last = reports.recipient_page(campaign, {}, 3, per_page=2)
        assert (first.total, first.pages, len(first.items), len(last.items)) == (5, 3, 2, 1)
        assert not last.has_next and last.has_prev


def test_csv_export_is_filtered_and_formula_safe(app, world, report):
    http = client_for(app, world, "A1.editor")
    resp = http.get(f"/app/reports/campaigns/{report.campaign_id}/recipients.csv?bounced=yes")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:2] == ["email", "status"]
    by_email = {r[0]: r for r in rows[1:]}
    assert set(by_email) == {"dario@example.org", "'=1+2@example.org"}
    assert by_email["dario@example.org"][5] == "hard" and by_email["'=1+2@example.org"][5] == "soft"
    everyone = http.get(f"/app/reports/campaigns/{report.campaign_id}/recipients.csv")
    lines = everyone.get_data(as_text=True).strip().splitlines()
    assert len(lines) == 6
    assert all(not line.split(",")[0].startswith(("=", "+", "-", "@")) for line in lines)


def test_viewer_reads_the_report_but_cannot_download(app, world, report):
    assert "Download as CSV" not in _page(app, world, report, key="A1.viewer")
    http = client_for(app, world, "A1.viewer")
    assert http.get(f"/app/reports/campaigns/{report.campaign_id}/recipients.csv").status_code == 403


@pytest.mark.parametrize("key", ["A2.admin", "B1.admin", "AG2.owner", "AG2.staff"])
def test_other_tenants_get_404(app, world, report, key):
    http = client_for(app, world, key)
    for path in ("", "/recipients.csv", "?opened=yes"):
        resp = http.get(f"/app/reports/campaigns/{report.campaign_id}{path}")
        assert resp.status_code == 404, (key, path, resp.status_code)


def test_draft_has_no_report_and_missing_is_404(app, world, report):
    with app.app_context(), bind_tenant(report.agency_id, report.client_id):
        draft = Campaign(agency_id=report.agency_id, client_id=report.client_id, name="Draft")
        db.session.add(draft)
        db.session.commit()
        draft_id = draft.id
    http = client_for(app, world, "A1.admin")
    assert http.get(f"/app/reports/campaigns/{draft_id}").status_code == 404
    assert http.get("/app/reports/campaigns/987654").status_code == 404


def test_index_lists_sent_campaigns_with_rates_and_audience_health(app, world, report):
    resp = client_for(app, world, "A1.viewer").get("/app/reports/")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert f'data-campaign="{report.campaign_id}"' in html
    assert re.search(r'data-metric="open_rate">100%<', html)
    assert re.search(r'data-metric="click_rate">66.67%<', html)
    health = html.split('data-testid="audience-health"', 1)[1].split("</section>", 1)[0]
    assert "/app/suppression" in health
    assert re.search(r'data-metric="unsubscribes"><div class="value">1<', health)
    assert re.search(r'data-metric="bounces"><div class="value">3<', health)  # events, soft retried
    assert re.search(r'data-metric="complaints"><div class="value">1<', health)


def test_index_empty_state(app, world):
    html = client_for(app, world, "A1.admin").get("/app/reports/").get_data(as_text=True)
    assert "No campaigns sent yet" in html
