"""A course's term is entered where events and offers are made: bounded, with clear errors."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Event, Organisation
from webapp.rules import today_in_finland

TODAY = today_in_finland()
SCHOOL = "Kuopion kansalaisopisto"
THEATRE = "Kuopion kaupunginteatteri"


def venue(name: str) -> Organisation:
    return db.session.scalar(select(Organisation).where(Organisation.name == name))


def events_named(name: str) -> list[Event]:
    db.session.rollback()
    return list(db.session.scalars(select(Event).where(Event.name == name)))


def course_form(venue_name=SCHOOL, days=120, **fields) -> dict:
    return {
        "venue": str(venue(venue_name).id),
        "name": "Keramiikka",
        "starts_on": TODAY.isoformat(),
        "ends_on": (TODAY + timedelta(days=days)).isoformat(),
        **fields,
    }


def offer_form(venue_name=SCHOOL, **fields) -> dict:
    return {
        "venue": str(venue(venue_name).id),
        "kind": "standing",
        "title": "Keramiikka",
        "starts_on": TODAY.isoformat(),
        "hours": "ti 17–20",
        "municipality": "Kuopio",
        **fields,
    }


@pytest.fixture
def coordinator(signed_in):
    return signed_in("koordinaattori@example.fi")


def test_the_coordinator_makes_a_course_with_its_term(coordinator):
    response = coordinator.post("/coordinator/events/new", data=course_form(quota="12"))
    assert response.status_code == 303
    [course] = events_named("Keramiikka")
    assert (course.starts_on, course.ends_on, course.quota) == (
        TODAY,
        TODAY + timedelta(days=120),
        12,
    )


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"days": 366}, "Kurssin lukukausi voi kestää enintään vuoden."),
        ({"days": -1}, "Jakso ei voi päättyä ennen kuin se alkaa."),
    ],
)
def test_a_course_term_out_of_bounds_is_refused_in_finnish(coordinator, form, error):
    response = coordinator.post("/coordinator/events/new", data=course_form(**form))
    assert response.status_code == 422
    assert error in response.text
    assert events_named("Keramiikka") == []


def test_a_year_long_term_is_a_course_term_but_a_day_more_is_not(coordinator):
    assert (
        coordinator.post("/coordinator/events/new", data=course_form(days=365)).status_code == 303
    )
    too_long = course_form(days=366, name="Espanja")
    assert coordinator.post("/coordinator/events/new", data=too_long).status_code == 422


def test_events_elsewhere_may_run_longer_than_a_term(coordinator):
    response = coordinator.post("/coordinator/events/new", data=course_form(THEATRE, days=500))
    assert response.status_code == 303


def test_a_garbled_last_day_is_a_form_error_not_a_500(coordinator):
    for wrong in ("31.12.2026", "2026-02-30", "99999-01-01", "\x00"):
        response = coordinator.post("/coordinator/events/new", data=course_form(ends_on=wrong))
        assert response.status_code == 422, wrong
    assert events_named("Keramiikka") == []


def test_a_course_offer_needs_the_last_day_of_its_term(signed_in):
    client = signed_in("opisto@example.fi")
    response = client.post("/offers/manage/new", data=offer_form())
    assert response.status_code == 422
    assert "Kurssilla on oltava lukukausi: anna lukukauden viimeinen päivä." in response.text
    longest = offer_form(ends_on=(TODAY + timedelta(days=366)).isoformat())
    assert client.post("/offers/manage/new", data=longest).status_code == 422
    term = offer_form(ends_on=(TODAY + timedelta(days=100)).isoformat())
    assert client.post("/offers/manage/new", data=term).status_code == 303
    assert [event.ends_on for event in events_named("Keramiikka")] == [TODAY + timedelta(100)]


def test_a_standing_offer_elsewhere_may_run_until_further_notice(signed_in):
    client = signed_in("ovi@example.fi")
    response = client.post("/offers/manage/new", data=offer_form(THEATRE))
    assert response.status_code == 303
    assert [event.ends_on for event in events_named("Keramiikka")] == [None]
