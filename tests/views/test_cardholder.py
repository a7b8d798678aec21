"""The cardholder's digital card at /k/<key>: one phone, no account, nothing personal."""

import base64
import re
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select

from webapp import tokens
from webapp.cardnumbers import format_number
from webapp.extensions import db
from webapp.models import AuditEvent, Card, Organisation, User, utcnow
from webapp.rules import Reason, WarningCode, finnish_moment
from webapp.services import accounts, cards, digital, door
from webapp.views.cardholder import DEVICE_COOKIE

from ..conftest import Client


class PhoneKey:
    """What the page's WebCrypto key does: sign codes over the certificate and the time."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        raw = self.key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        self.b64 = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def code(self, certificate: str, seconds_ago: int = 0) -> str:
        cert = base64.urlsafe_b64decode(certificate + "=" * (-len(certificate) % 4))
        at = int(utcnow().timestamp()) - seconds_ago
        der = self.key.sign(tokens.device_code_message(cert, at), ec.ECDSA(tokens.hashes.SHA256()))
        return tokens.encode_device_code(cert, at, tokens._raw_signature(der))


def activate_key(client, card: Card, *, opened: bool = False) -> tuple[PhoneKey, str]:
    """Open the card on the phone (unless it is open) and have a new key certified."""
    if not opened:
        open_card(client, card)
    key = PhoneKey()
    response = client.post(f"/k/{card.digital_key}/device", json={"public_key": key.b64})
    assert response.status_code == 200
    return key, response.get_json()["certificate"]


def venue_of(card: Card) -> Organisation:
    """The demo's theatre in the card's region (Kuopion kaupunginteatteri)."""
    return db.session.scalar(
        select(Organisation).where(Organisation.name == "Kuopion kaupunginteatteri")
    )


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


def test_a_reissued_digital_card_shows_the_new_printed_number(client, card):
    cards.reissue_card(card, actor=None)
    db.session.commit()
    page = open_card(client, card)
    assert format_number(card.printed_number) in page.text
    assert len(card.printed_number) == 15 and card.printed_secret in card.printed_number


def test_first_device_activates_the_card_and_sees_it(client, card):
    page = open_card(client, card)
    assert page.status_code == 200
    assert format_number(card.number) in page.text
    assert 'id="qr-live"' in page.text  # the phone draws the code it signs itself
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
    assert other.get(f"/k/{card.digital_key}/device").status_code == 403
    refused = other.post(f"/k/{card.digital_key}/device", json={"public_key": PhoneKey().b64})
    assert refused.status_code == 403 and digital.current_device(reload(card)) is None


def test_page_shows_validity_and_children_but_nothing_personal(client, card):
    text = open_card(client, card).text
    assert str(card.children) in text
    assert str(card.valid_until.year) in text
    assert str(card.birth_year) not in text
    assert card.postcode not in text
    assert card.issuer.name not in text


def test_page_holds_no_code_of_its_own(client, card):
    """The printed token never expires: it is nowhere on the page, nor any other code."""
    text = open_card(client, card).text
    assert cards.printed_token(card) not in text
    assert cards.printed_token(card).split(".")[-1] not in text
    assert "qr-static" not in text and not re.search(r"C\.[A-Za-z0-9_-]{200}", text)
    assert "<svg" not in text.split('id="qr-live"')[1].split("</div>")[0]


def test_phone_key_is_certified_for_the_card_and_its_codes_verify(app, client, card):
    open_card(client, card)
    key = PhoneKey()
    response = client.post(f"/k/{card.digital_key}/device", json={"public_key": key.b64})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["serial"] == digital.current_device(reload(card)).id
    assert body["generation"] == card.generation
    assert body["max_age"] == app.config["DIGITAL_TOKEN_MAX_AGE"]
    assert body["refresh_in"] < body["max_age"]
    code = key.code(body["certificate"])
    assert len(code) < 300
    assert door.verify(door.Shown.scanned(code), venue_of(card)).reason is Reason.OK
    state = client.get(f"/k/{card.digital_key}/device").get_json()
    assert (state["serial"], state["certificate"]) == (body["serial"], None)


def test_a_code_older_than_the_window_is_token_expired(app, client, card):
    key, certificate = activate_key(client, card)
    code = key.code(certificate)
    later = utcnow() + timedelta(seconds=app.config["DIGITAL_TOKEN_MAX_AGE"] + 1)
    assert (
        door.verify(door.Shown.scanned(code), venue_of(card), moment=later).reason
        is Reason.TOKEN_EXPIRED
    )


@pytest.mark.parametrize("public_key", ["", "not-a-key", "A" * 87, "A" * 200, None, 7])
def test_a_bad_public_key_gets_a_clear_error(client, card, public_key):
    open_card(client, card)
    response = client.post(
        f"/k/{card.digital_key}/device",
        json={"public_key": public_key},
        headers={"Accept-Language": "fi"},
    )
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "invalid_public_key" and body["message"]
    assert digital.current_device(reload(card)) is None


def test_a_new_key_retires_the_phones_old_one_at_once(client, card):
    old_key, old_certificate = activate_key(client, card)
    new_key, new_certificate = activate_key(client, card, opened=True)
    venue = venue_of(card)
    assert (
        door.verify(door.Shown.scanned(old_key.code(old_certificate)), venue).reason
        is Reason.REPLACED
    )
    assert door.verify(door.Shown.scanned(new_key.code(new_certificate)), venue).reason is Reason.OK


def test_moved_cards_old_phone_code_is_refused(phone, client, card):
    key, certificate = activate_key(client, card)
    code = key.code(certificate)
    cards.move_digital_card(reload(card), actor=None)
    db.session.commit()
    assert door.verify(door.Shown.scanned(code), venue_of(card)).reason is Reason.REPLACED
    new_phone = phone()
    new_key, new_certificate = activate_key(new_phone, reload(card))
    assert door.verify(door.Shown.scanned(code), venue_of(card)).reason is Reason.REPLACED
    assert (
        door.verify(door.Shown.scanned(new_key.code(new_certificate)), venue_of(card)).reason
        is Reason.OK
    )


def test_reissued_cards_old_certificate_answers_replaced(client, card):
    key, certificate = activate_key(client, card)
    cards.reissue_card(reload(card), actor=None)
    db.session.commit()
    assert (
        door.verify(door.Shown.scanned(key.code(certificate)), venue_of(card)).reason
        is Reason.REPLACED
    )


def test_a_code_counts_once_per_venue(client, card):
    key, certificate = activate_key(client, card)
    code = key.code(certificate, seconds_ago=30)  # the fresh code below is signed later
    venue = venue_of(card)
    first, created = door.record_visit(
        door.Shown.scanned(code), venue=venue, user=None, children=0, idempotency_key="scan-1"
    )
    db.session.commit()
    again, created_again = door.record_visit(
        door.Shown.scanned(code), venue=venue, user=None, children=1, idempotency_key="scan-2"
    )
    db.session.commit()
    assert created and not created_again and again.id == first.id
    assert WarningCode.VISITED_TODAY in door.verify(door.Shown.scanned(code), venue).warnings
    fresh, created_fresh = door.record_visit(
        door.Shown.scanned(key.code(certificate)), venue=venue, user=None, children=0
    )
    assert created_fresh and fresh.id != first.id  # a fresh code is a new visit


def test_a_replayed_code_through_the_api_answers_the_first_visit(phone, client, card):
    key, certificate = activate_key(client, card)
    code = key.code(certificate)
    staff = db.session.scalar(select(User).where(User.email == "ovi@example.fi"))
    bearer = {"Authorization": f"Bearer {accounts.create_api_token(staff)}"}
    db.session.commit()
    box_office = phone()
    first = box_office.post("/api/v1/visits", json={"token": code, "children": 0}, headers=bearer)
    assert first.status_code == 201
    replay = box_office.post("/api/v1/visits", json={"token": code, "children": 0}, headers=bearer)
    assert replay.status_code == 200 and replay.get_json()["id"] == first.get_json()["id"]
    verdict = box_office.post("/api/v1/verify", json={"token": code}, headers=bearer).get_json()
    assert verdict["valid"] and "visited_today" in verdict["warnings"]


def test_offline_list_carries_issuer_keys_and_the_cards_current_phone(client, card):
    from webapp.services import offline

    venue = venue_of(card)
    key, _certificate = activate_key(client, card)
    listed = offline.validity_list(venue)
    entry = next(e for e in listed["cards"] if e["id"] == card.id)
    assert entry["device"] == digital.current_device(reload(card)).id
    assert entry["generation"] == card.generation
    assert set(listed["issuers"]) == set(digital.issuer_public_keys())
    assert all(len(point) == 87 for point in listed["issuers"].values())  # 65 bytes, public
    since = utcnow()
    cards.move_digital_card(reload(card), actor=None)
    db.session.commit()
    delta = offline.validity_list(venue, since=since)
    moved = next(e for e in delta["cards"] if e["id"] == card.id)
    assert moved["device"] is None


def test_moving_the_card_retires_the_old_link(phone, client, card):
    open_card(client, card)
    card = reload(card)
    old_key = card.digital_key
    cards.move_digital_card(card, actor=None)
    db.session.commit()
    assert client.get(f"/k/{old_key}").status_code == 404
    assert client.get(f"/k/{old_key}/device").status_code == 404
    new_phone = phone()
    assert open_card(new_phone, reload(card)).status_code == 200


def test_revoked_card_shows_no_code(client, card):
    open_card(client, card)
    card = reload(card)
    cards.revoke_card(card, actor=None, reason="lost")
    db.session.commit()
    page = client.get(f"/k/{card.digital_key}")
    assert page.status_code == 200 and "<svg" not in page.text
    assert client.get(f"/k/{card.digital_key}/device").status_code == 410
    refused = client.post(f"/k/{card.digital_key}/device", json={"public_key": PhoneKey().b64})
    assert refused.status_code == 410


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


def test_a_phone_certified_before_an_issuer_rotation_still_passes(app, client, card):
    key, certificate = activate_key(client, card)
    before = app.config["DIGITAL_ISSUER_KEYS"]
    newer = ec.generate_private_key(ec.SECP256R1())
    pem = newer.private_bytes(
        Encoding.PEM, tokens.serialization.PrivateFormat.PKCS8, tokens.serialization.NoEncryption()
    ).decode()
    app.config["DIGITAL_ISSUER_KEYS"] = [*before, pem]
    try:
        assert (
            door.verify(door.Shown.scanned(key.code(certificate)), venue_of(card)).reason
            is Reason.OK
        )
        new_key, new_certificate = activate_key(client, card, opened=True)
        assert (
            door.verify(door.Shown.scanned(new_key.code(new_certificate)), venue_of(card)).reason
            is Reason.OK
        )
        app.config["DIGITAL_ISSUER_KEYS"] = [pem]  # the old issuer dropped: its phones stop
        assert (
            door.verify(door.Shown.scanned(key.code(certificate)), venue_of(card)).reason
            is Reason.INVALID_TOKEN
        )
    finally:
        app.config["DIGITAL_ISSUER_KEYS"] = before


def test_a_replay_with_a_respelled_signature_is_still_the_same_visit(client, card):
    key, certificate = activate_key(client, card)
    code = key.code(certificate)
    raw = bytearray(base64.urlsafe_b64decode(code[2:] + "="))
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    raw[-32:] = (n - int.from_bytes(raw[-32:], "big")).to_bytes(32, "big")
    respelled = "C." + base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    venue = venue_of(card)
    first, _ = door.record_visit(door.Shown.scanned(code), venue=venue, user=None, children=0)
    again, created = door.record_visit(
        door.Shown.scanned(respelled), venue=venue, user=None, children=0
    )
    assert not created and again.id == first.id


def test_a_phones_certificate_ends_with_the_card_and_an_extension_asks_for_a_new_one(client, card):
    _key, certificate = activate_key(client, card)
    raw = base64.urlsafe_b64decode(certificate + "=" * (-len(certificate) % 4))
    expires = datetime.fromtimestamp(int.from_bytes(raw[13:17], "big"), UTC)
    assert expires == finnish_moment(card.valid_until + timedelta(days=1))  # not 400 days
    assert client.get(f"/k/{card.digital_key}/device").json["certificate_until"] == (
        expires.timestamp()
    )
    cards.change_validity(
        reload(card), actor=None, valid_until=card.valid_until + timedelta(days=90)
    )
    db.session.commit()
    later = client.get(f"/k/{card.digital_key}/device").json["certificate_until"]
    assert later > expires.timestamp()  # the phone then has a new key certified
