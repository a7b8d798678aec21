"""The conflicts of offline visits, seen by the venue and its region's coordinator."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Card, Organisation
from webapp.services import cards


def sync_revoked(client, demo_cards):
    revoked = db.session.scalar(select(Card).where(Card.number == demo_cards["revoked"]))
    theatre = "Kuopion kaupunginteatteri"
    venue = db.session.scalar(select(Organisation.id).where(Organisation.name == theatre))
    payload = {
        "venue": venue,
        "idempotency_key": "offline-conflict",
        "token": cards.printed_token(revoked),
        "children": 5,
        "scanned_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
    }
    response = client.post("/scan/sync", json=payload)
    assert response.status_code == 201
    return response.json


def test_the_venue_sees_the_conflicts_of_its_offline_visits(signed_in, demo_cards):
    door = signed_in("ovi@example.fi")
    answer = sync_revoked(door, demo_cards)
    assert "too_many_children" in answer["conflicts"]
    page = door.get("/venue/conflicts")
    assert page.status_code == 200
    assert demo_cards["revoked"] in page.text
    assert "Enemmän lapsia kuin kortti sallii" in page.text
    assert 'data-conflict="too_many_children"' in page.text


def test_another_venue_does_not_see_them(signed_in, demo_cards):
    sync_revoked(signed_in("ovi@example.fi"), demo_cards)
    signed_in("ovi@example.fi").post("/sign-out")
    page = signed_in("kajaani@example.fi").get("/venue/conflicts")
    assert page.status_code == 200 and demo_cards["revoked"] not in page.text


def test_the_regions_coordinator_sees_them(signed_in, demo_cards):
    sync_revoked(signed_in("ovi@example.fi"), demo_cards)
    signed_in("ovi@example.fi").post("/sign-out")
    page = signed_in("koordinaattori@example.fi").get("/coordinator/conflicts")
    assert page.status_code == 200
    assert demo_cards["revoked"] in page.text and "Kuopion kaupunginteatteri" in page.text
