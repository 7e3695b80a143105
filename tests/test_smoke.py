from .support import HostClient, client_for


def test_each_area_answers_on_its_host(app, world):
    admin = client_for(app, world, "admin")
    assert admin.get("/admin/").status_code == 200
    owner = client_for(app, world, "AG1.owner")
    assert owner.get("/agency/").status_code == 200
    a1 = client_for(app, world, "A1.admin")
    page = a1.get("/app/")
    assert page.status_code == 200 and "Client A1" in page.get_data(as_text=True)


def test_unknown_host_is_plain_404_without_cookie(app, world):
    resp = HostClient(app, "attacker.test").get("/login")
    assert resp.status_code == 404
    assert "Set-Cookie" not in resp.headers
    assert "Agency" not in resp.get_data(as_text=True)
