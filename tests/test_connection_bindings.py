"""Which connection a client sends through: resolve_connection's precedence, the checks of the binding
services (tenant, kind, running sends), the delete refusal while a connection is in use, and the naming
rule that keeps the provider out of the labels agencies see."""

from __future__ import annotations

from html import unescape

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Agency, AuditEvent, Campaign, Client, Connection, User
from portal.services import DomainError, NotFound
from portal.services import connection_bindings as bindings
from portal.services import connections as service
from portal.tenancy import all_tenants, bind_tenant

from .support import client_for
from .test_i18n import compiled_catalogs  # noqa: F401  (autouse: the Italian test needs the .mo files)


def add_connection(agency_id: int, kind: str, name: str) -> int:
    with all_tenants():
        connection = Connection(agency_id=agency_id, kind=kind, name=name, options={})
        db.session.add(connection)
        db.session.commit()
        return connection.id


def _client(world, key: str) -> Client:
    return db.session.scalar(select(Client).where(Client.id == world.client_ids[key]))


def _admin(world) -> User:
    with all_tenants():
        return db.session.get(User, world.user_ids["admin"])


def _owner(world) -> User:
    return db.session.scalar(select(User).where(User.id == world.user_ids["AG1.owner"]))


def _resolved(world, key: str, channel: str) -> int | None:
    connection = service.resolve_connection(_client(world, key), channel)
    return connection.id if connection is not None else None


def test_resolve_connection_precedence(app, world):
    ag1 = world.agency_ids["AG1"]
    with app.app_context():
        relay = add_connection(ag1, "smtp", "Relay")
        api = add_connection(ag1, "mailup", "API account")
        gateway = add_connection(ag1, "sms", "Gateway")
        with bind_tenant(ag1):
            # Nothing chosen: None, the platform's relay, on both channels.
            assert _resolved(world, "A1", "email") is None and _resolved(world, "A1", "sms") is None
            agency = db.session.get(Agency, ag1)
            agency.default_email_connection_id, agency.default_sms_connection_id = relay, gateway
            db.session.flush()
            # The agency default, per channel.
            assert (_resolved(world, "A1", "email"), _resolved(world, "A1", "sms")) == (relay, gateway)
            # The client's own binding wins on its channel only, and for that client only.
            _client(world, "A1").email_connection_id = api
            db.session.flush()
            assert (_resolved(world, "A1", "email"), _resolved(world, "A1", "sms")) == (api, gateway)
            assert _resolved(world, "A2", "email") == relay
            _client(world, "A1").sms_connection_id = api
            agency.default_email_connection_id = None
            db.session.flush()
            assert (_resolved(world, "A1", "email"), _resolved(world, "A1", "sms")) == (api, api)
            assert _resolved(world, "A2", "email") is None
            # Unbinding falls back to the agency default again.
            _client(world, "A1").sms_connection_id = None
            db.session.flush()
            assert _resolved(world, "A1", "sms") == gateway
            with pytest.raises(ValueError):
                service.resolve_connection(_client(world, "A1"), "fax")


def test_client_routes_say_what_resolve_connection_says(app, world):
    ag1 = world.agency_ids["AG1"]
    with app.app_context():
        relay = add_connection(ag1, "smtp", "Relay")
        api = add_connection(ag1, "mailup", "API account")
        with bind_tenant(ag1):
            agency = db.session.get(Agency, ag1)
            agency.default_email_connection_id = relay
            _client(world, "A2").email_connection_id = api
            db.session.flush()
            clients = [_client(world, "A1"), _client(world, "A2")]
            routes = bindings.client_routes(agency, clients)
            for client in clients:
                for channel in bindings.CHANNELS:
                    route = routes[client.id][channel]
                    expected = service.resolve_connection(client, channel)
                    assert (route.connection.id if route.connection else None) == (
                        expected.id if expected else None
                    )
            a1, a2 = routes[world.client_ids["A1"]], routes[world.client_ids["A2"]]
            assert (a1["email"].label, a1["email"].inherited) == ("Relay", True)
            assert (a2["email"].label, a2["email"].inherited) == ("API account", False)
            assert (a1["sms"].label, a1["sms"].inherited) == ("No SMS connection", True)


def test_binding_checks_tenant_and_kind(app, world):
    ag1, ag2 = world.agency_ids["AG1"], world.agency_ids["AG2"]
    with app.app_context():
        relay = add_connection(ag1, "smtp", "Relay")
        foreign = add_connection(ag2, "smtp", "AG2 relay")
        with bind_tenant(ag1):
            owner, client = _owner(world), _client(world, "A1")
            with pytest.raises(NotFound):
                bindings.bind_client(actor=owner, client=client, connection_ids={"email": foreign})
            with pytest.raises(DomainError, match="cannot send SMS messages"):
                bindings.bind_client(actor=owner, client=client, connection_ids={"sms": relay})
            assert (client.email_connection_id, client.sms_connection_id) == (None, None)
        with all_tenants():
            agency = db.session.get(Agency, ag1)
            with pytest.raises(NotFound):
                bindings.set_agency_defaults(
                    actor=_admin(world), agency=agency, connection_ids={"email": foreign}
                )
            with pytest.raises(DomainError, match="cannot send SMS messages"):
                bindings.set_agency_defaults(
                    actor=_admin(world), agency=agency, connection_ids={"sms": relay}
                )
            assert agency.default_email_connection_id is None and agency.default_sms_connection_id is None


def _campaign(ag1: int, a1: int, channel: str, status: str, connection_id: int | None = None) -> int:
    with bind_tenant(ag1):
        campaign = Campaign(
            agency_id=ag1,
            client_id=a1,
            name=f"{channel} {status}",
            channel=channel,
            status=status,
            connection_id=connection_id,
        )
        db.session.add(campaign)
        db.session.commit()
        return campaign.id


def test_binding_refused_while_a_campaign_is_sending_on_that_channel(app, world):
    ag1, a1 = world.agency_ids["AG1"], world.client_ids["A1"]
    with app.app_context():
        relay = add_connection(ag1, "smtp", "Relay")
        api = add_connection(ag1, "mailup", "API account")
        campaign_id = _campaign(ag1, a1, "email", "sending")
        with bind_tenant(ag1):
            owner = _owner(world)
            with pytest.raises(DomainError, match="“email sending” is sending"):
                bindings.bind_client(
                    actor=owner, client=_client(world, "A1"), connection_ids={"email": relay, "sms": api}
                )
            db.session.rollback()
            client = _client(world, "A1")
            # Nothing changed, not even the SMS channel of the same request.
            assert (client.email_connection_id, client.sms_connection_id) == (None, None)
            # The other channel has nothing sending: it may change; an unchanged channel is no change.
            changed = bindings.bind_client(
                actor=owner, client=client, connection_ids={"email": None, "sms": api}
            )
            assert changed == ["sms"] and client.sms_connection_id == api
            # Another client of the agency is not held back by A1's send.
            assert bindings.bind_client(
                actor=owner, client=_client(world, "A2"), connection_ids={"email": relay}
            ) == ["email"]
            db.session.commit()
            db.session.get(Campaign, campaign_id).status = "sent"
            db.session.commit()
            client = _client(world, "A1")
            assert bindings.bind_client(actor=owner, client=client, connection_ids={"email": relay}) == [
                "email"
            ]
            db.session.commit()
            assert _client(world, "A1").email_connection_id == relay


def _delete(world, connection_id: int) -> None:
    with all_tenants():
        connection = db.session.get(Connection, connection_id)
        service.delete_connection(actor=_admin(world), connection=connection)
        db.session.commit()


def test_delete_refused_while_the_connection_is_in_use(app, world):
    ag1, a1 = world.agency_ids["AG1"], world.client_ids["A1"]
    with app.test_request_context():  # the refusal is a translated message
        relay = add_connection(ag1, "smtp", "Relay")
        api = add_connection(ag1, "mailup", "API account")
        with all_tenants():
            agency = db.session.get(Agency, ag1)
            agency.default_email_connection_id = relay
            db.session.get(Client, world.client_ids["A2"]).sms_connection_id = api
            db.session.get(Client, a1).email_connection_id = api
            db.session.commit()
        with pytest.raises(DomainError, match="it is the agency's default email connection"):
            _delete(world, relay)
        with pytest.raises(DomainError, match=r"2 client accounts send through it \(Client A1, Client A2\)"):
            _delete(world, api)
        with all_tenants():
            db.session.rollback()
            db.session.get(Agency, ag1).default_email_connection_id = None
            db.session.get(Client, a1).email_connection_id = None
            db.session.get(Client, world.client_ids["A2"]).sms_connection_id = None
            db.session.commit()
        # A send that started through it and is not finished (paused counts: it resumes on it).
        campaign_id = _campaign(ag1, a1, "email", "paused", connection_id=relay)
        with pytest.raises(DomainError, match="1 campaign started through it has not finished"):
            _delete(world, relay)
        with all_tenants():
            db.session.rollback()
            db.session.get(Campaign, campaign_id).status = "cancelled"
            db.session.commit()
        _delete(world, relay)
        _delete(world, api)
        with all_tenants():
            assert db.session.scalars(select(Connection)).all() == []
            actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.agency_id == ag1)).all()
            assert actions.count("connection.deleted") == 2


def test_names_that_name_the_provider_are_refused_and_never_shown(app, world):
    ag1 = world.agency_ids["AG1"]
    with app.test_request_context(), all_tenants():
        agency = db.session.get(Agency, ag1)
        for name in ("MailUp production", "our mail up account", "MAILUP"):
            with pytest.raises(service.FieldError) as refused:
                service.create_connection(
                    actor=_admin(world), agency=agency, kind="smtp", name=name, options={}, secrets={}
                )
            assert refused.value.field == "name"
        # A row named that way before the rule (or written around it) gets a neutral label below the
        # back-office; an ordinary name is shown as the operator wrote it.
        legacy = Connection(agency_id=ag1, kind="mailup", name="MailUp legacy", options={})
        plain = Connection(agency_id=ag1, kind="smtp", name="Main relay", options={})
        db.session.add_all([legacy, plain])
        db.session.flush()
        assert service.agency_label(legacy) == f"Connection {legacy.id}"
        assert service.agency_label(plain) == "Main relay"
        # Its audit rows (the agency's activity log) carry the neutral label too.
        legacy_id = legacy.id
        service.delete_connection(actor=_admin(world), connection=legacy)
        db.session.flush()
        [target] = db.session.scalars(
            select(AuditEvent.target).where(AuditEvent.action == "connection.deleted")
        ).all()
        assert target == f"Connection {legacy_id}"


def test_delivery_card_in_italian(app, world):
    with app.app_context(), bind_tenant(world.agency_ids["AG1"]):
        db.session.scalar(select(User).where(User.id == world.user_ids["AG1.owner"])).locale = "it"
        db.session.commit()
    owner = client_for(app, world, "AG1.owner")
    html = unescape(owner.get(f"/agency/clients/{world.client_ids['A1']}").get_data(as_text=True))
    assert "Connessioni di invio" in html and "Predefinita dell'agenzia (Relay della piattaforma)" in html
    listing = owner.get("/agency/clients").get_data(as_text=True)
    assert "(predefinita)" in listing and "Nessuna connessione SMS" in listing
