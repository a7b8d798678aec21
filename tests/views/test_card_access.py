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
