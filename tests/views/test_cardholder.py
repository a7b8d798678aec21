"""The cardholder's digital card at /k/<key>: one phone, no account, nothing personal."""

import re

import pytest
from sqlalchemy import select

from webapp.cardnumbers import format_number
from webapp.extensions import db
from webapp.models import AuditEvent, Card
from webapp.services import cards, digital
from webapp.views.cardholder import DEVICE_COOKIE

from ..conftest import Client


class Phone(Client):
    """A browser of its own. Each request runs in a fresh app context, as in production,
    so nothing cached in flask.g (CSRF token, language) passes from one phone to another."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def phone(app):
    return lambda: Phone(app, app.response_class)


@pytest.fixture
def client(phone):
    return phone()


@pytest.fixture
def card(demo_cards) -> Card:
    return db.session.scalar(select(Card).where(Card.number == demo_cards["active"]))


def reload(card: Card) -> Card:
    db.session.expire_all()
    return db.session.get(Card, card.id)


def open_card(client, card: Card):
    """Open the link as a phone does: the page activates itself, then shows the card."""
    url = f"/k/{card.digital_key}"
    first = client.get(url)
    assert first.status_code == 200 and 'id="activate-form"' in first.text
    activated = client.post(url)
    assert activated.status_code == 303 and activated.headers["Location"] == url
    return client.get(url)


def test_first_device_activates_the_card_and_sees_it(client, card):
    page = open_card(client, card)
    assert page.status_code == 200
    assert format_number(card.number) in page.text
    assert "<svg" in page.text  # the printed card's code, for offline use
    assert reload(card).digital_device is not None
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_id == card.number)
    )
    assert "card.digital_activated" in list(actions)


def test_opening_the_link_alone_does_not_take_the_card(client, card):
    """Link previews and prefetching only GET: the card waits for a real browser."""
    page = client.get(f"/k/{card.digital_key}")
    assert cards.printed_token(card) not in page.text
    assert reload(card).digital_device is None


def test_device_cookie_is_long_lived_private_and_scoped_to_the_card_pages(client, card):
    client.get(f"/k/{card.digital_key}")
    response = client.post(f"/k/{card.digital_key}")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith(DEVICE_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/k/" in cookie
    assert int(re.search(r"Max-Age=(\d+)", cookie).group(1)) > 365 * 24 * 3600
    secret = cookie.split(";")[0].split("=", 1)[1]
    assert reload(card).digital_device == digital.device_hash(secret)  # only the hash is kept


def test_second_device_is_refused_politely(phone, client, card):
    open_card(client, card)
    other = phone()
    page = other.get(f"/k/{card.digital_key}")
    assert page.status_code == 403
    assert format_number(card.number) not in page.text and "<svg" not in page.text
    assert other.post(f"/k/{card.digital_key}").status_code == 403
    assert other.get(f"/k/{card.digital_key}/code").status_code == 403


def test_page_shows_validity_and_children_but_nothing_personal(client, card):
    text = open_card(client, card).text
    assert str(card.children) in text
    assert str(card.valid_until.year) in text
    assert str(card.birth_year) not in text
    assert card.postcode not in text
    assert card.issuer.name not in text


def test_code_is_a_fresh_time_limited_qr(app, client, card):
    open_card(client, card)
    response = client.get(f"/k/{card.digital_key}/code")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["svg"].startswith("<svg") and "<path" in body["svg"]
    assert body["expires_in"] == app.config["DIGITAL_TOKEN_MAX_AGE"]
    assert body["refresh_in"] < body["expires_in"]


def test_moving_the_card_retires_the_old_link(phone, client, card):
    open_card(client, card)
    card = reload(card)
    old_key = card.digital_key
    cards.move_digital_card(card, actor=None)
    db.session.commit()
    assert client.get(f"/k/{old_key}").status_code == 404
    assert client.get(f"/k/{old_key}/code").status_code == 404
    new_phone = phone()
    assert open_card(new_phone, reload(card)).status_code == 200


def test_revoked_card_shows_no_code(client, card):
    open_card(client, card)
    card = reload(card)
    cards.revoke_card(card, actor=None, reason="lost")
    db.session.commit()
    page = client.get(f"/k/{card.digital_key}")
    assert page.status_code == 200 and "<svg" not in page.text
    assert client.get(f"/k/{card.digital_key}/code").status_code == 410


def test_unknown_link_is_not_found(client, demo_cards):
    assert client.get("/k/" + "x" * 43).status_code == 404
    assert client.get("/k/short").status_code == 404
    assert client.post("/k/" + "x" * 43).status_code == 404


def test_card_pages_stay_out_of_shared_caches_and_referrers(client, card):
    page = open_card(client, card)
    assert (
        "no-cache" in page.headers["Cache-Control"] and "private" in page.headers["Cache-Control"]
    )
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "noindex" in page.headers["X-Robots-Tag"]


def test_card_has_its_own_installable_manifest(client, card):
    page = open_card(client, card)
    manifest_url = re.search(r'<link rel="manifest" href="([^"]+)"', page.text).group(1)
    assert manifest_url == f"/k/{card.digital_key}/manifest.json"
    response = client.get(manifest_url)
    assert response.mimetype == "application/manifest+json"
    manifest = response.get_json()
    assert manifest["start_url"] == f"/k/{card.digital_key}"
    assert manifest["display"] == "standalone"
    assert {icon["sizes"] for icon in manifest["icons"]} >= {"192x192", "512x512"}


def test_service_worker_is_served_for_the_card_pages_scope(client):
    response = client.get("/k/sw.js")
    assert response.status_code == 200
    assert "caches.open" in response.text
    assert "javascript" in response.mimetype
    assert response.headers["Cache-Control"] == "no-cache"


def test_page_runs_no_inline_script(client, card):
    text = open_card(client, card).text
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", text) == []
    assert "style=" not in text
