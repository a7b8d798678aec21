import pytest

from webapp.extensions import db
from webapp.models import User


@pytest.mark.parametrize(
    ("email", "home"),
    [
        ("koordinaattori@example.fi", "/coordinator/"),
        ("jakaja@example.fi", "/distributor/"),
        ("jakaja.lappi@example.fi", "/distributor/"),
        ("ovi@example.fi", "/scan"),
        ("opisto@example.fi", "/scan"),
        ("kajaani@example.fi", "/scan"),
    ],
)
def test_each_role_lands_on_its_home(client, demo_cards, email, home):
    response = client.sign_in(email)
    assert response.status_code == 302
    assert response.headers["Location"] == home
    page = client.get(home)
    assert page.status_code == 200
    assert 'lang="fi"' in page.text
    assert email in page.text


def test_signed_in_user_visiting_root_goes_home(signed_in):
    client = signed_in("jakaja@example.fi")
    assert client.get("/").headers["Location"] == "/distributor/"


def test_wrong_password_is_refused_without_telling_whether_the_account_exists(client, demo_cards):
    wrong_password = client.sign_in("ovi@example.fi", "wrong")
    no_account = client.sign_in("nobody@example.fi", "wrong")
    assert wrong_password.status_code == no_account.status_code == 400
    message = "Sähköpostiosoite tai salasana on väärin"
    assert message in wrong_password.text
    assert message in no_account.text
    assert client.get("/scan").status_code == 302


def test_sign_in_ignores_case_and_spaces_in_the_email(client, demo_cards):
    assert client.sign_in("  OVI@example.FI ").status_code == 302


def test_inactive_user_is_refused(client, demo_cards):
    user = db.session.scalar(db.select(User).where(User.email == "ovi@example.fi"))
    user.active = False
    db.session.commit()
    assert client.sign_in("ovi@example.fi").status_code == 400


def test_deactivating_a_signed_in_user_ends_their_session(signed_in):
    client = signed_in("ovi@example.fi")
    user = db.session.scalar(db.select(User).where(User.email == "ovi@example.fi"))
    user.active = False
    db.session.commit()
    assert client.get("/scan").status_code == 302


def test_sign_out(signed_in):
    client = signed_in("ovi@example.fi")
    response = client.post("/sign-out")
    assert response.headers["Location"] == "/"
    assert client.get("/scan").status_code == 302


def test_anonymous_user_is_sent_to_sign_in(client):
    response = client.get("/distributor/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/?next=")


@pytest.mark.parametrize(
    ("email", "forbidden"),
    [
        ("ovi@example.fi", "/distributor/"),
        ("ovi@example.fi", "/coordinator/"),
        ("jakaja@example.fi", "/scan"),
        ("koordinaattori@example.fi", "/scan"),
    ],
)
def test_other_roles_home_pages_are_forbidden(signed_in, email, forbidden):
    assert signed_in(email).get(forbidden).status_code == 403


def test_next_parameter_cannot_send_the_user_to_another_site(client, demo_cards):
    response = client.post(
        "/?next=//evil.example/",
        data={"email": "ovi@example.fi", "password": "kaikukortti-demo"},
    )
    assert response.headers["Location"] == "/scan"
