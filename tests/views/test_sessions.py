"""Sessions end on the server: sign-out, deactivation and a new password end every session."""

import re

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import AuditEvent, User
from webapp.services import network

from ..conftest import PASSWORD

COORDINATOR = "koordinaattori@example.fi"


def one(model, **where):
    return db.session.scalar(select(model).filter_by(**where))


def _session_cookie(client) -> str:
    return client.get_cookie("session").value


def test_a_session_cookie_copied_before_sign_out_no_longer_opens_pages(client, demo_cards):
    client.sign_in("jakaja@example.fi")
    copied = _session_cookie(client)
    assert client.get("/distributor/").status_code == 200
    client.post("/sign-out")

    thief = client.application.test_client()
    thief.set_cookie("session", copied)
    answer = thief.get("/distributor/")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/?next=")


def test_sign_out_ends_the_persons_sessions_on_other_devices(app, demo_cards):
    phone, desk = app.test_client(), app.test_client()
    phone.sign_in("jakaja@example.fi")
    desk.sign_in("jakaja@example.fi")
    desk.post("/sign-out")
    assert phone.get("/distributor/").status_code == 302


def _page_csrf_token(client, path: str) -> str:
    page = client.get(path)
    return re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)


def test_sign_in_rotates_the_session_and_the_csrf_secret(client, demo_cards):
    before_token = _page_csrf_token(client, "/")
    before_cookie = _session_cookie(client)
    client.sign_in("jakaja@example.fi")
    after_token = _page_csrf_token(client, "/distributor/")
    assert after_token.split(".")[0] != before_token.split(".")[0]
    # the form token of before sign-in is refused afterwards
    refused = client.post("/sign-out", headers={"X-CSRFToken": before_token})
    assert refused.status_code == 400
    thief = client.application.test_client()
    thief.set_cookie("session", before_cookie)
    assert thief.get("/distributor/").status_code == 302


def test_invitation_link_is_refused_for_a_person_who_has_a_password(client, demo_cards):
    ovi = one(User, email="ovi@example.fi")
    client.sign_in(COORDINATOR)
    answer = client.post(f"/coordinator/people/{ovi.id}/invite")
    assert answer.status_code == 303
    assert "/invite/" not in client.get(answer.headers["Location"]).text


def _reset_link(client, user_id: int) -> str:
    page = client.post(f"/coordinator/people/{user_id}/reset")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    return re.search(r'value="http://localhost(/invite/[^"]+)"', page.text).group(1)


def test_a_reset_link_ends_the_persons_sessions_and_is_audited(app, demo_cards):
    ovi_phone, coordinator = app.test_client(), app.test_client()
    ovi_phone.sign_in("ovi@example.fi")
    assert ovi_phone.get("/scan").status_code == 200
    coordinator.sign_in(COORDINATOR)
    ovi = one(User, email="ovi@example.fi")
    path = _reset_link(coordinator, ovi.id)
    assert ovi_phone.get("/scan").status_code == 302
    event = db.session.scalar(select(AuditEvent).filter_by(action="user.password_reset"))
    assert event.object_id == str(ovi.id)
    assert event.actor.email == COORDINATOR

    # the old password still works until the link is used; the link sets a new one
    ovi_phone.sign_in("ovi@example.fi")
    new = "uusi-salasana-2026"
    assert ovi_phone.get(path).status_code == 200
    other = app.test_client()
    assert other.post(path, data={"password": new, "confirm": new}).status_code == 303
    assert ovi_phone.get("/scan").status_code == 302  # a new password ends the sessions
    assert other.sign_in("ovi@example.fi", PASSWORD).status_code == 400
    assert other.sign_in("ovi@example.fi", new).status_code == 302


def test_a_reset_link_is_refused_for_a_person_who_never_set_a_password(client, demo_cards):
    coordinator = one(User, email=COORDINATOR)
    person, _token = network.invite_person(
        actor=coordinator,
        email="uusi@example.fi",
        role=coordinator.role,
        region=coordinator.region,
        organisations=[],
    )
    db.session.commit()
    client.sign_in(COORDINATOR)
    assert client.post(f"/coordinator/people/{person.id}/reset").status_code == 303
    invite = client.post(f"/coordinator/people/{person.id}/invite")
    assert invite.status_code == 200
    assert invite.headers["Cache-Control"] == "no-store"


def test_deactivation_ends_the_persons_sessions(app, demo_cards):
    phone = app.test_client()
    phone.sign_in("ovi@example.fi")
    coordinator = app.test_client()
    coordinator.sign_in(COORDINATOR)
    ovi = one(User, email="ovi@example.fi")
    coordinator.post(f"/coordinator/people/{ovi.id}/deactivate")
    coordinator.post(f"/coordinator/people/{ovi.id}/reactivate")
    assert phone.get("/scan").status_code == 302
