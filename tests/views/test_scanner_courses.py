"""The scanner at a course provider: the event choice is the course, one place per term."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Event
from webapp.rules import today_in_finland
from webapp.services import cards

from .test_scanner import HX, card, venue_id, verdict_of, visits

SCHOOL = "Kuopion kansalaisopisto"


@pytest.fixture
def desk(signed_in, demo_cards):
    """The course provider's staff, signed in, with the demo's course of this season."""
    client = signed_in("opisto@example.fi")
    client.venue = venue_id(SCHOOL)
    client.course = db.session.scalar(select(Event).where(Event.name == "Kevään kurssikausi"))
    client.token = cards.printed_token(card(demo_cards["active"]))
    return client


def post(client, path, **data):
    data = {"venue": client.venue, "event": client.course.id, "token": client.token, **data}
    return client.post(path, data=data, headers=HX)


def title_of(response) -> str:
    return re.search(r'id="verdict-title"[^>]*>([^<]*)<', response.text).group(1).strip()


def test_enrolling_on_the_course_records_one_place(desk):
    response = post(desk, "/scan/visits", children="0")
    assert response.status_code == 201
    assert [visit.event_id for visit in visits()] == [desk.course.id]


@pytest.mark.parametrize(
    ("language", "title", "recorded"),
    [
        ("fi", "Kurssipaikka on jo varattu", "Uutta käyttökertaa ei kirjattu"),
        ("sv", "Har redan en plats på kursen", "Ingen ny användning registrerades"),
        ("en", "Already has a place on this course", "No new use was recorded"),
    ],
)
def test_a_second_enrolment_the_same_term_shows_the_existing_place(desk, language, title, recorded):
    first = post(desk, "/scan/visits", children="0", idempotency_key="one")
    desk.get(f"/language/{language}?next=/scan")
    check = post(desk, "/scan/verify")
    assert verdict_of(check) == ("warn", "ok")
    assert title_of(check) == title
    again = post(desk, "/scan/visits", children="0", idempotency_key="two")
    assert again.status_code == 200
    assert 'data-reason="already_enrolled"' in again.text
    assert title_of(again) == title and recorded in again.text
    visit_id = re.search(r'data-visit="(\d+)"', first.text).group(1)
    assert f'data-visit="{visit_id}"' in again.text
    assert len(visits()) == 1


def test_the_existing_place_offers_no_undo_that_would_delete_it(desk):
    post(desk, "/scan/visits", children="0", idempotency_key="one")
    again = post(desk, "/scan/visits", children="0", idempotency_key="two")
    assert "undo-button" not in again.text
    assert "recent-visits" not in again.text  # no new row in the list of recent visits
    assert 'data-created="false"' in again.text


def test_children_cannot_come_free_to_a_course(desk):
    response = post(desk, "/scan/visits", children="1")
    assert response.status_code == 422
    assert verdict_of(response) == ("refuse", "children_not_allowed")
    assert visits() == []


def test_the_same_course_next_term_is_a_new_place(desk):
    post(desk, "/scan/visits", children="0")
    course = db.session.get(Event, desk.course.id)
    course.starts_on, course.ends_on = course.ends_on + timedelta(1), course.ends_on + timedelta(90)
    db.session.commit()
    response = post(desk, "/scan/visits", children="0")
    assert response.status_code == 201 and len(visits()) == 2


def test_a_course_already_running_is_in_the_event_choice_until_its_term_ends(desk):
    course = db.session.get(Event, desk.course.id)
    today = today_in_finland()
    course.starts_on, course.ends_on = today - timedelta(30), today
    db.session.commit()
    assert f'<option value="{course.id}"' in desk.get("/scan").text
    course.ends_on = today - timedelta(1)
    db.session.commit()
    assert f'<option value="{course.id}"' not in desk.get("/scan").text


def test_an_offline_enrolment_sent_after_the_card_took_its_place_stores_nothing(desk):
    first = post(desk, "/scan/visits", children="0")
    visit_id = int(re.search(r'data-visit="(\d+)"', first.text).group(1))
    payload = {
        "venue": desk.venue,
        "event": desk.course.id,
        "idempotency_key": "phone-1",
        "token": desk.token,
        "children": 0,
        "scanned_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
    }
    response = desk.post("/scan/sync", json=payload)
    assert response.status_code == 200
    assert (response.json["id"], response.json["created"]) == (visit_id, False)
    assert len(visits()) == 1
