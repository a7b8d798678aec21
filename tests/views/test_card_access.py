"""Bearer secrets of a card reach only the staff of its issuing organisation while in use."""

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Card, Organisation, User
from webapp.services import accounts


def _bearer(email: str) -> dict:
    user = db.session.scalar(select(User).filter_by(email=email))
    token = accounts.create_api_token(user)
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_coordinators_never_receive_the_digital_card_link_or_token(client, demo_cards):
    number = demo_cards["active"]
    body = client.get(
        f"/api/v1/cards/{number}", headers=_bearer("koordinaattori@example.fi")
    ).get_json()
    assert body["number"] == number
    assert "digital_card_url" not in body and "token" not in body
    issuer = client.get(f"/api/v1/cards/{number}", headers=_bearer("jakaja@example.fi"))
    assert "/k/" in issuer.get_json()["digital_card_url"]


def test_staff_of_a_deactivated_distributor_lose_its_cards(client, signed_in, demo_cards):
    number = demo_cards["active"]
    headers = _bearer("jakaja@example.fi")
    staff = signed_in("jakaja@example.fi")
    assert staff.get(f"/distributor/cards/{number}").status_code == 200
    db.session.scalar(
        select(Organisation).filter_by(name="Kuopion sosiaalipalvelut")
    ).active = False
    db.session.commit()

    for path in ("", "/handover", "/card.pdf", "/revoke"):
        assert staff.get(f"/distributor/cards/{number}{path}").status_code == 404, path
    assert (
        staff.post(f"/distributor/cards/{number}/revoke", data={"reason": "lost"}).status_code
        == 404
    )
    assert client.get(f"/api/v1/cards/{number}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/cards/{number}/card.pdf", headers=headers).status_code == 404
    revoke = client.post(f"/api/v1/cards/{number}/revoke", json={"reason": "lost"}, headers=headers)
    assert revoke.status_code == 404
    assert db.session.scalar(select(Card).filter_by(number=number)).revoked_at is None


def test_valid_until_beyond_the_rules_is_refused_everywhere(client, signed_in, demo_cards):
    from datetime import date

    number = demo_cards["active"]
    distributor = _bearer("jakaja@example.fi")
    new_card = {"birth_year": 1980, "postcode": "70100", "children": 0}
    api = client.post(
        "/api/v1/cards", json={**new_card, "valid_until": "9999-12-31"}, headers=distributor
    )
    assert api.status_code == 422
    assert api.get_json()["error"] == "valid_until_too_late"

    patch = client.patch(
        f"/api/v1/cards/{number}",
        json={"valid_until": "9999-12-31"},
        headers=_bearer("koordinaattori@example.fi"),
    )
    assert patch.status_code == 422
    assert patch.get_json()["error"] == "valid_until_too_late"
    year_ahead = date.today().replace(year=date.today().year + 1, day=1)
    extended = client.patch(
        f"/api/v1/cards/{number}",
        json={"valid_until": year_ahead.replace(year=year_ahead.year + 1).isoformat()},
        headers=_bearer("koordinaattori@example.fi"),
    )
    assert extended.status_code == 200  # a coordinator may extend up to two years

    staff = signed_in("jakaja@example.fi")
    renewal = staff.post(
        f"/distributor/cards/{number}/renew",
        data={"valid_until": "2999-12-31"},
        follow_redirects=True,
    )
    assert "liian kaukana" in renewal.text
    card = db.session.scalar(select(Card).filter_by(number=number))
    db.session.refresh(card)
    assert card.valid_until.year < 2999


def _actions() -> list[str]:
    from webapp.models import AuditEvent

    db.session.rollback()
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_every_hand_out_of_a_token_is_audited_and_viewing_is_not(client, signed_in, demo_cards):
    number = demo_cards["active"]
    coordinator = _bearer("koordinaattori@example.fi")
    distributor = _bearer("jakaja@example.fi")
    before = len(_actions())
    client.get(f"/api/v1/cards/{number}", headers=coordinator)
    assert len(_actions()) == before  # viewing without a secret

    client.get(f"/api/v1/cards/{number}", headers=distributor)
    client.get(f"/api/v1/cards/{number}/card.pdf", headers=distributor)
    assert _actions()[before:] == ["card.token_handed_out", "card.printed"]

    staff = signed_in("jakaja@example.fi")
    staff.get(f"/distributor/cards/{number}")
    assert len(_actions()) == before + 2
    handover = staff.get(f"/distributor/cards/{number}/handover")
    assert handover.headers["Cache-Control"] == "no-store"
    assert _actions()[-1] == "card.token_handed_out"
