"""Rate limits slow guessing (per address, per account and address) and never lock out an owner."""

from datetime import UTC, datetime, timedelta

import pytest

from webapp import create_app
from webapp.extensions import db, limiter

from ..conftest import PASSWORD, Client, app_config


@pytest.fixture
def limited_client(database_url, demo_cards):
    app = create_app(app_config(database_url, RATE_LIMITS=True))
    app.test_client_class = Client
    limiter.reset()
    with app.app_context():
        yield app.test_client()
        db.session.remove()  # give back the connection of the test's own queries
        db.engine.dispose()
    limiter.reset()


def test_repeated_failed_sign_ins_from_one_address_are_slowed(limited_client):
    for _ in range(5):
        assert limited_client.sign_in("ovi@example.fi", "wrong").status_code == 400
    refused = limited_client.sign_in("ovi@example.fi", "kaikukortti-demo")
    assert refused.status_code == 429
    assert "Liian monta yritystä" in refused.text


@pytest.fixture
def proxied_client(database_url, demo_cards):
    app = create_app(app_config(database_url, RATE_LIMITS=True, TRUSTED_PROXIES=1))
    app.test_client_class = Client
    limiter.reset()
    with app.app_context():
        yield app.test_client()
        db.session.remove()  # give back the connection of the test's own queries
        db.engine.dispose()
    limiter.reset()


def _from(address: str) -> dict:
    return {"headers": {"X-Forwarded-For": address}}


def test_thirty_bad_passwords_from_one_address_leave_the_owner_able_to_sign_in(proxied_client):
    attacker = [
        proxied_client.post(
            "/", data={"email": "ovi@example.fi", "password": "wrong"}, **_from("203.0.113.9")
        ).status_code
        for _ in range(30)
    ]
    assert attacker[:5] == [400] * 5
    assert set(attacker[5:]) == {429}
    owner = proxied_client.post(
        "/", data={"email": "ovi@example.fi", "password": PASSWORD}, **_from("198.51.100.7")
    )
    assert owner.status_code == 302


def test_failed_attempts_on_one_account_do_not_lock_out_another(limited_client):
    for _ in range(5):
        limited_client.sign_in("ovi@example.fi", "wrong")
    assert limited_client.sign_in("jakaja@example.fi").status_code == 302


def test_one_address_trying_many_accounts_is_refused(limited_client):
    for i in range(30):
        limited_client.sign_in(f"guess{i}@example.fi", "wrong")
    assert limited_client.sign_in("jakaja@example.fi").status_code == 429


def test_successful_sign_ins_are_not_counted(limited_client):
    for _ in range(12):
        assert limited_client.sign_in("ovi@example.fi").status_code == 302
        limited_client.post("/sign-out")


def _api_token(email):
    from webapp.extensions import db
    from webapp.models import User
    from webapp.services import accounts

    token = accounts.create_api_token(db.session.scalar(db.select(User).filter_by(email=email)))
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_door_checks_are_limited_per_token(limited_client):
    headers = _api_token("ovi@example.fi")
    for _ in range(120):
        ok = limited_client.post("/api/v1/verify", json={"token": "x"}, headers=headers)
        assert ok.status_code == 200
    refused = limited_client.post("/api/v1/verify", json={"token": "x"}, headers=headers)
    assert refused.status_code == 429
    assert refused.json["error"] == "rate_limited"
    other = limited_client.post(
        "/api/v1/verify", json={"token": "x"}, headers=_api_token("kajaani@example.fi")
    )
    assert other.status_code == 200


def test_card_lookups_are_limited_against_guessing_numbers(limited_client):
    headers = _api_token("jakaja@example.fi")
    for _ in range(60):
        assert limited_client.get("/api/v1/cards/K7MX4PQ2D", headers=headers).status_code == 404
    assert limited_client.get("/api/v1/cards/K7MX4PQ2D", headers=headers).status_code == 429


def test_distributor_find_is_limited(limited_client):
    limited_client.sign_in("jakaja@example.fi")
    for _ in range(60):
        limited_client.get("/distributor/find?number=K7MX4PQ2D")
    assert limited_client.get("/distributor/find?number=K7MX4PQ2D").status_code == 429


def _theatre_id() -> int:
    from webapp.models import Organisation

    name = "Kuopion kaupunginteatteri"
    return db.session.scalar(db.select(Organisation.id).filter_by(name=name))


def test_a_signed_in_scanner_cannot_escape_the_door_limit_by_varying_a_header(limited_client):
    limited_client.sign_in("ovi@example.fi")
    data = {"venue": _theatre_id(), "number": "K7MX4PQ2D"}
    answers = [
        limited_client.post(
            "/scan/verify", data=data, headers={"Authorization": f"Bearer guess-{i}"}
        ).status_code
        for i in range(121)
    ]
    assert set(answers[:120]) == {200} and answers[120] == 429


def test_an_api_token_cannot_escape_the_door_limit_by_spelling_its_header_otherwise(
    limited_client,
):
    token = _api_token("ovi@example.fi")["Authorization"].removeprefix("Bearer ")
    spellings = ["Bearer {}", "bearer {}", "BEARER {}", "Bearer  {}", "Bearer {} ", "bEaReR {}"]
    answers = [
        limited_client.post(
            "/api/v1/verify",
            json={"token": "x"},
            headers={"Authorization": spellings[i % len(spellings)].format(token)},
        ).status_code
        for i in range(121)
    ]
    assert set(answers[:120]) == {200} and answers[120] == 429


def test_recording_visits_counts_against_the_same_door_limit(limited_client):
    limited_client.sign_in("ovi@example.fi")
    data = {"venue": _theatre_id(), "number": "K7MX4PQ2D", "children": "0"}
    for _ in range(60):
        assert limited_client.post("/scan/verify", data=data).status_code == 200
        assert limited_client.post("/scan/visits", data=data).status_code == 422  # unknown card
    refused = limited_client.post("/scan/visits", data=data)
    assert refused.status_code == 429
    headers = _api_token("ovi@example.fi")
    body = {"token": "x", "children": 0}
    assert limited_client.post("/api/v1/visits", json=body, headers=headers).status_code == 429


def _theatre(client) -> int:
    return client.get("/scan/session").json["venues"][0]


def test_a_phone_sends_a_queue_of_500_visits_and_a_flood_is_stopped(limited_client, demo_cards):
    limited_client.sign_in("ovi@example.fi")
    venue = _theatre(limited_client)
    limited_client.auto_csrf = False
    csrf = {"X-CSRFToken": limited_client.get("/scan/session").json["csrf_token"]}
    scanned_at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()

    def send(i: int):
        visit = {
            "venue": venue,
            "idempotency_key": f"queued-{i}",
            "number": demo_cards["active"],
            "children": 0,
            "scanned_at": scanned_at,
        }
        return limited_client.post("/scan/sync", json=visit, headers=csrf).status_code

    assert {send(i) for i in range(500)} == {201}  # the whole queue of a long day offline
    assert {send(i) for i in range(500, 600)} == {201}
    assert send(600) == 429  # beyond: the phone keeps the rest and sends it later
    undo = {"venue": venue, "idempotency_key": "queued-1"}
    assert limited_client.post("/scan/sync/undo", json=undo, headers=csrf).status_code == 429
    assert limited_client.get(f"/scan/offline-list?venue={venue}").status_code == 200


def test_offline_list_downloads_are_limited_per_user(limited_client):
    limited_client.sign_in("ovi@example.fi")
    venue = _theatre(limited_client)
    url = f"/scan/offline-list?venue={venue}"
    assert {limited_client.get(url).status_code for _ in range(30)} == {200}
    assert limited_client.get(url).status_code == 429
    limited_client.post("/sign-out")
    limited_client.sign_in("opisto@example.fi")  # another person: their own budget
    assert (
        limited_client.get(f"/scan/offline-list?venue={_theatre(limited_client)}").status_code
        == 200
    )
