"""A campaign of a client bound to a `mailup` connection goes out through the provider: the same start,
audience and consent rule as the SMTP path, then a resumable job (group, message, send) that never makes
a second group, message or sending, whatever stops it. Against the emulator over real HTTP."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Campaign, Client
from portal.providers import send as provider_send
from portal.sending import control
from portal.sending.sweeper import sweep
from portal.services import DomainError
from portal.tenancy import bind_tenant

from .mailup_backend_support import (  # noqa: F401 (fixtures)
    ACCOUNT,
    PEOPLE,
    binding_row,
    campaign_row,
    counts,
    deliveries,
    emulator_fixture,
    mailup_campaign,
    run_jobs,
    start,
)


def test_a_campaign_goes_out_through_the_provider_once(app, world, emulator):
    url, handle = emulator
    s = mailup_campaign(app, world, url)
    start(app, s)
    run_jobs(app)

    account = handle.state.account(ACCOUNT.username)
    assert counts(account) == (1, 1, 1)
    sent = handle.state.deliveries(ACCOUNT.username)
    assert sorted(d["address"] for d in sent) == sorted(a for a, _ in PEOPLE)
    assert set(deliveries(app, s).values()) == {("sent", "")}
    campaign = campaign_row(app, s)
    assert campaign.status == "sent" and campaign.provider_state["sending_id"]
    assert campaign.provider_lease_until is None

    binding = binding_row(app, s)
    assert binding.list_id in account.lists and binding.list_id != 1  # its own list in a shared account
    (message,) = account.messages.values()
    first_name = binding.field_map["fields"]["1"]["name"]
    unsubscribe = binding.field_map["links"]["unsubscribe_url"]["name"]
    html = message.body["Content"]
    assert f"Hello [{first_name}]" in html and "[email]" in html and f"[{unsubscribe}]" in html
    assert message.subject == f"News for [{first_name}]"
    anna = account.recipients[account.by_email["anna@example.org"]]
    assert anna.fields[1] == "Anna"
    link = anna.fields[binding.field_map["links"]["unsubscribe_url"]["id"]]
    assert link.startswith("https://") and "/u/" in link  # the agency's own unsubscribe page

    with app.app_context():
        sweep()
    run_jobs(app)
    assert counts(account) == (1, 1, 1)  # nothing left to do: nothing done again


@pytest.mark.parametrize("dies_at", ["group_id", "audience_done", "message_id", "sending_id"])
def test_a_worker_killed_between_steps_resumes_without_duplicates(app, world, emulator, monkeypatch, dies_at):
    url, handle = emulator
    s = mailup_campaign(app, world, url)
    real = provider_send.MailupCampaign._save

    def dying(self, state, updates):
        if dies_at in updates and not getattr(dying, "done", False):
            dying.done = True
            real(self, state, updates) if dies_at == "audience_done" else None
            raise SystemExit("worker killed")  # not an Exception: nothing in the job catches it
        real(self, state, updates)

    monkeypatch.setattr(provider_send.MailupCampaign, "_save", dying)
    start(app, s)
    with pytest.raises(SystemExit):
        with app.app_context(), bind_tenant(s.agency_id, s.client_id):
            provider_send.run_send(s.campaign_id)
    monkeypatch.setattr(provider_send.MailupCampaign, "_save", real)
    assert campaign_row(app, s).status == "sending"

    with app.app_context():
        sweep()  # the lease was given back on the way out, so the sweeper requeues it at once
    run_jobs(app)

    account = handle.state.account(ACCOUNT.username)
    assert counts(account) == (1, 1, 1)
    assert len(handle.state.deliveries(ACCOUNT.username)) == 3
    assert campaign_row(app, s).status == "sent"


def test_a_lease_held_by_a_live_worker_is_left_alone(app, world, emulator):
    url, handle = emulator
    s = mailup_campaign(app, world, url)
    start(app, s)
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        assert provider_send._claim(s.campaign_id)  # another worker holds it
        assert provider_send.run_send(s.campaign_id) == "busy-or-done"
    with app.app_context():
        assert sweep()["requeued"] == 0
    assert counts(handle.state.account(ACCOUNT.username)) == (0, 0, 0)


def test_an_outage_waits_then_pauses_and_is_never_the_recipients_fault(app, world, emulator):
    url, handle = emulator
    s = mailup_campaign(app, world, url)
    handle.state.inject_fault(503, count=10_000)
    start(app, s)
    run_jobs(app)
    campaign = campaign_row(app, s)
    assert campaign.status == "sending" and campaign.backend_failures == 1 and campaign.retry_at
    assert set(deliveries(app, s).values()) == {("pending", "")}
    for _ in range(3):
        with app.app_context(), bind_tenant(s.agency_id, s.client_id):
            provider_send.run_send(s.campaign_id)
    campaign = campaign_row(app, s)
    assert campaign.status == "paused" and "delivery service" in campaign.message
    assert "mailup" not in campaign.message.lower()
    assert set(deliveries(app, s).values()) == {("pending", "")}

    handle.state.faults.clear()
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
        control.resume(actor=None, campaign=campaign)
        db.session.commit()
    run_jobs(app)
    assert campaign_row(app, s).status == "sent"
    assert counts(handle.state.account(ACCOUNT.username)) == (1, 1, 1)


def test_merge_tags_the_provider_cannot_translate_are_refused_at_review(app, world, emulator):
    url, _ = emulator
    s = mailup_campaign(app, world, url, html="<p>Hi {{ first_name | default('there') }}</p>")
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
        with pytest.raises(DomainError) as refused:
            control.ready_to_send(campaign)
        campaign.html = "<p>Hi {{ nickname }}</p>"
        with pytest.raises(DomainError) as unknown:
            control.ready_to_send(campaign)
        campaign.html = "<p>Hi {{ first_name }}</p>{% if email %}x{% endif %}"
        with pytest.raises(DomainError) as block:
            control.ready_to_send(campaign)
        campaign.html = "<p>Hi {{first_name}} {{ email }} {{ unsubscribe_url }}</p>"
        control.ready_to_send(campaign)  # plain tags pass
    assert "default" in str(refused.value) and "{{ nickname }}" in str(unknown.value)
    assert "{% if email %}" in str(block.value)
    for message in (refused.value, unknown.value, block.value):
        assert "mailup" not in str(message).lower()


def test_test_sends_use_the_single_recipient_send(app, world, emulator):
    from portal.services import campaigns as campaign_svc

    url, handle = emulator
    s = mailup_campaign(app, world, url)
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        client = db.session.scalar(select(Client).where(Client.id == s.client_id))
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
        n = campaign_svc.send_test(actor=None, client=client, campaign=campaign, addresses=["qa@example.net"])
        db.session.commit()
    account = handle.state.account(ACCOUNT.username)
    assert n == 1
    (sending,) = account.sendings.values()
    assert sending.target == "single"
    (message,) = account.messages.values()
    assert message.subject.startswith("[Test] ")
    assert [d["address"] for d in handle.state.deliveries(ACCOUNT.username)] == ["qa@example.net"]
    assert campaign_row(app, s).status == "draft"


def test_the_campaign_page_shows_which_step_the_provider_send_is_at(app, world, emulator):
    from .support import client_for

    url, _ = emulator
    s = mailup_campaign(app, world, url)
    start(app, s)
    web = client_for(app, world, "A1.admin")
    path = f"/app/campaigns/{s.campaign_id}/progress.json"
    steps = []
    for state in (
        {"ref": "c1-x"},
        {"ref": "c1-x", "audience_done": True},
        {"ref": "c1-x", "audience_done": True, "message_id": 5},
    ):
        with app.app_context(), bind_tenant(s.agency_id, s.client_id):
            db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id)).provider_state = state
            db.session.commit()
        steps.append(web.get(path).get_json()["message"])
    assert steps == [
        "Handing the recipients over to the delivery service…",
        "Preparing the message…",
        "Starting the send…",
    ]
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):  # the made-up steps above undone
        db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id)).provider_state = {}
        db.session.commit()
    run_jobs(app)
    assert web.get(path).get_json()["message"] == "Sent."


def test_one_account_per_client_uses_its_list_and_the_operator_sees_the_binding(app, world, emulator):
    from .support import client_for

    url, handle = emulator
    s = mailup_campaign(app, world, url, account_model="per_client")
    start(app, s)
    run_jobs(app)
    account = handle.state.account(ACCOUNT.username)
    binding = binding_row(app, s)
    assert binding.list_id == 1 and list(account.lists) == [1]  # no list created
    assert campaign_row(app, s).status == "sent"

    connection_id = campaign_row(app, s).connection_id
    page = client_for(app, world, "admin").get(
        f"/admin/agencies/{s.agency_id}/connections/{connection_id}/edit"
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-testid="provider-bindings"' in html
    assert f"/hooks/e/{binding.webhook_token}" in html and "1 → 1 (nome)" in html


def test_the_provider_path_rechecks_consent_before_the_push(app, world, emulator):
    """Suppressed and unsubscribed between the start and the push to the provider: neither reaches the
    provider's group, both deliveries are skipped, the third goes out."""
    from portal.models import Contact, Subscription
    from portal.services import suppression

    url, handle = emulator
    s = mailup_campaign(app, world, url)
    start(app, s)
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        client = db.session.scalar(select(Client).where(Client.id == s.client_id))
        suppression.add(
            actor=None,
            client=client,
            channel="email",
            raw_address="bruno@example.org",
            reason="manual",
            source="ui",
        )
        carla = db.session.scalar(select(Contact.id).where(Contact.email == "carla@example.org"))
        db.session.scalar(
            select(Subscription).where(Subscription.contact_id == carla)
        ).status = "unsubscribed"
        db.session.commit()
    run_jobs(app)
    sent = handle.state.deliveries(ACCOUNT.username)
    assert [d["address"] for d in sent] == ["anna@example.org"]
    rows = deliveries(app, s)
    assert rows["anna@example.org"][0] == "sent"
    assert rows["bruno@example.org"][0] == rows["carla@example.org"][0] == "skipped"
