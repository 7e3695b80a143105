"""Languages: the user's own choice, the login-page switch, and the agency default for visitors."""

from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from sqlalchemy import select

from portal.extensions import db
from portal.models import Agency, User
from portal.tenancy import all_tenants, bind_tenant

from .support import HostClient, client_for

TRANSLATIONS = Path(__file__).resolve().parent.parent / "portal" / "translations"


@pytest.fixture(scope="module", autouse=True)
def compiled_catalogs(app):
    """`make` compiles the catalogs; plain `pytest` must work too, so compile any missing .mo here."""
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as src:
                catalog = read_po(src)
            with mo.open("wb") as out:
                write_mo(out, catalog)
    with app.app_context():
        from flask_babel import get_domain

        get_domain().cache.clear()  # a translation looked up before compiling must not stay cached


def _set_user_locale(app, world, key, locale):
    with app.app_context(), bind_tenant(world.agency_ids["AG1"]):
        db.session.scalar(select(User).where(User.id == world.user_ids[key])).locale = locale
        db.session.commit()


def test_italian_user_sees_italian_dashboard(app, world):
    _set_user_locale(app, world, "A1.admin", "it")
    html = client_for(app, world, "A1.admin").get("/app/").get_data(as_text=True)
    assert '<html lang="it">' in html
    assert "Benvenuto in Client A1" in html
    assert ">Utenti</a>" in html and ">Impostazioni</a>" in html and "Primi passi" in html
    assert "Getting started" not in html
    # Another user of the same client keeps English.
    english = client_for(app, world, "A1.editor").get("/app/").get_data(as_text=True)
    assert "Welcome to Client A1" in english


def test_language_switch_on_login_page(app, world):
    visitor = HostClient(app, world.hosts["AG1"])
    assert ">Sign in</button>" in visitor.get("/login").get_data(as_text=True)
    resp = visitor.post("/language", {"lang": "it", "next": "/login"}, csrf_path="/login")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login")
    html = visitor.get("/login").get_data(as_text=True)
    assert ">Accedi</button>" in html and "Password dimenticata?" in html
    visitor.post("/language", {"lang": "en", "next": "/login"}, csrf_path="/login")
    assert ">Sign in</button>" in visitor.get("/login").get_data(as_text=True)


def test_language_switch_refuses_unknown_languages(app, world):
    visitor = HostClient(app, world.hosts["AG1"])
    visitor.post("/language", {"lang": "xx", "next": "/login"}, csrf_path="/login")
    assert ">Sign in</button>" in visitor.get("/login").get_data(as_text=True)


def test_agency_default_language_applies_to_visitors(app, world):
    with app.app_context(), all_tenants():
        db.session.get(Agency, world.agency_ids["AG1"]).default_locale = "it"
        db.session.commit()
    assert ">Accedi</button>" in HostClient(app, world.hosts["AG1"]).get("/login").get_data(as_text=True)
    assert ">Sign in</button>" in HostClient(app, world.hosts["AG2"]).get("/login").get_data(as_text=True)
    # A visitor's own choice wins over the agency default.
    visitor = HostClient(app, world.hosts["AG1"])
    visitor.post("/language", {"lang": "en", "next": "/login"}, csrf_path="/login")
    assert ">Sign in</button>" in visitor.get("/login").get_data(as_text=True)


def test_italian_invitation_email(app, world, outbox):
    from .support import run_jobs

    with app.app_context(), all_tenants():
        db.session.get(Agency, world.agency_ids["AG1"]).default_locale = "it"
        db.session.commit()
    admin = client_for(app, world, "A1.admin")
    admin.post("/app/users/invite", {"email": "nuovo@a1.test", "role": "client_viewer"})
    run_jobs(app)
    [msg] = outbox.to("nuovo@a1.test")
    body = msg.get_body(("plain",)).get_content()
    assert "ti ha invitato su Agency AG1" in body and "L'invito scade tra 7 giorni." in body


def test_catalog_is_complete():
    with (TRANSLATIONS / "it" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    untranslated = [m.id for m in catalog if m.id and not m.string]
    assert untranslated == [], untranslated
