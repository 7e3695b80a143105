"""The provider-side send goes out from the campaign's own sender, and a cancel that comes once the
provider has the send leaves a true record: refused when the acceptance is recorded, and a cancel that
crossed the send on its way ends as a sent campaign saying why, with every delivery sent. Against the
emulator over real HTTP."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from portal.backends.mailup import MailupClient
from portal.extensions import db
from portal.models import Campaign, Client, SenderIdentity
from portal.providers import send as provider_send
from portal.sending import control
from portal.sending.sweeper import sweep
from portal.services import DomainError
from portal.services import campaigns as campaign_svc
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
from .support import client_for


def _sender_of(app, s) -> tuple[str, str]:
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
        identity = db.session.scalar(select(SenderIdentity).where(SenderIdentity.id == campaign.sender_id))
        return identity.name, identity.email


def _cancel(app, s) -> None:
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
        control.cancel(actor=None, campaign=campaign)
        db.session.commit()


def test_the_send_and_test_copies_go_out_from_the_campaigns_sender(app, world, emulator):
    url, handle = emulator
    s = mailup_campaign(app, world, url)
    name, email = _sender_of(app, s)
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
        client = db.session.scalar(select(Client).where(Client.id == s.client_id))
        campaign_svc.send_test(actor=None, client=client, campaign=campaign, addresses=["qa@example.net"])
        db.session.commit()
    start(app, s)
    run_jobs(app)

    sent = handle.state.deliveries(ACCOUNT.username)
    assert len(sent) == len(PEOPLE) + 1
    assert {(d["sender_name"], d["sender_email"]) for d in sent} == {(name, email)}
    # the provider takes the sender from the list (reference §5.2): that is where it was set
    settings = handle.state.account(ACCOUNT.username).lists[binding_row(app, s).list_id].settings
    assert (settings["NLSenderName"], settings["ReplyTo"]) == (name, email)


def test_a_second_campaign_with_another_sender_sets_its_own(app, world, emulator):
    url, handle = emulator
    s = mailup_campaign(app, world, url)
    start(app, s)
    run_jobs(app)
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        client = db.session.scalar(select(Client).where(Client.id == s.client_id))
        first = db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
        identity = db.session.scalar(select(SenderIdentity).where(SenderIdentity.id == first.sender_id))
        other = SenderIdentity(
            agency_id=identity.agency_id,
            client_id=identity.client_id,
            domain_id=identity.domain_id,
            name="Offers Desk",
            email=identity.email.replace("hello@", "offers@"),
        )
        db.session.add(other)
        db.session.flush()
        second = campaign_svc.create_campaign(actor=None, client=client, name="Second")
        second.subject, second.html, second.text = first.subject, first.html, first.text
        second.audience, second.sender_id = dict(first.audience), other.id
        db.session.commit()
        second_id = second.id
    s2 = dataclasses.replace(s, campaign_id=second_id)
    start(app, s2)
    run_jobs(app)
    by_message: dict[int, set] = {}
    for d in handle.state.deliveries(ACCOUNT.username):
        by_message.setdefault(d["message_id"], set()).add((d["sender_name"], d["sender_email"]))
    first_mid = campaign_row(app, s).provider_state["message_id"]
    second_mid = campaign_row(app, s2).provider_state["message_id"]
    assert by_message[first_mid] == {_sender_of(app, s)}
    assert by_message[second_mid] == {("Offers Desk", _sender_of(app, s2)[1])}
    assert _sender_of(app, s2)[1].startswith("offers@")


def test_cancel_is_refused_once_the_provider_accepted_the_send(app, world, emulator, monkeypatch):
    url, handle = emulator
    s = mailup_campaign(app, world, url)

    def killed(campaign_id, state):
        raise SystemExit("worker killed after the send was accepted and recorded")

    monkeypatch.setattr(provider_send, "_mark_sent", killed)
    start(app, s)
    with pytest.raises(SystemExit), app.app_context(), bind_tenant(s.agency_id, s.client_id):
        provider_send.run_send(s.campaign_id)
    monkeypatch.undo()
    assert campaign_row(app, s).status == "sending" and campaign_row(app, s).provider_state["sending_id"]

    with pytest.raises(DomainError, match="can no longer be cancelled"):
        _cancel(app, s)
    page = client_for(app, world, "A1.admin")
    base = f"/app/campaigns/{s.campaign_id}"
    resp = page.post(f"{base}/cancel", csrf_path=base, follow_redirects=True)
    assert "can no longer be cancelled" in resp.get_data(as_text=True)
    assert campaign_row(app, s).status == "sending"

    with app.app_context():
        sweep()
    run_jobs(app)  # the resumed job finds the send in the record: marks it, sends nothing again
    assert campaign_row(app, s).status == "sent"
    assert counts(handle.state.account(ACCOUNT.username)) == (1, 1, 1)
    assert set(deliveries(app, s).values()) == {("sent", "")}


def test_a_cancel_that_crosses_the_send_ends_as_sent_saying_why(app, world, emulator, monkeypatch):
    """The cancel lands while the send call is on its way: the provider sends to the whole group all
    the same. The portal records the acceptance, marks every delivery sent and says so."""
    url, handle = emulator
    s = mailup_campaign(app, world, url)
    real = MailupClient.send_to_group

    def crossed(self, group_id, message_id, **kwargs):
        _cancel(app, s)  # another request, in a session of its own, commits the cancel first
        return real(self, group_id, message_id, **kwargs)

    monkeypatch.setattr(MailupClient, "send_to_group", crossed)
    start(app, s)
    run_jobs(app)

    campaign = campaign_row(app, s)
    assert campaign.status == "sent" and campaign.provider_state["sending_id"]
    assert campaign.message == provider_send.TOO_LATE
    assert set(deliveries(app, s).values()) == {("sent", "")}
    assert counts(handle.state.account(ACCOUNT.username)) == (1, 1, 1)
    assert len(handle.state.deliveries(ACCOUNT.username)) == len(PEOPLE)


def test_a_cancel_before_the_send_sends_nothing(app, world, emulator, monkeypatch):
    url, handle = emulator
    s = mailup_campaign(app, world, url)
    real = provider_send.MailupCampaign.create_message

    def cancelled_first(self, state, **kwargs):
        _cancel(app, s)
        return real(self, state, **kwargs)

    monkeypatch.setattr(provider_send.MailupCampaign, "create_message", cancelled_first)
    start(app, s)
    run_jobs(app)
    assert campaign_row(app, s).status == "cancelled"
    assert handle.state.deliveries(ACCOUNT.username) == []
    assert set(deliveries(app, s).values()) == {("skipped", "campaign cancelled")}
