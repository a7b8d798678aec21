"""The API's `event`: a box-office system uses quotas and course places as the scanner does.

On the demo data, through the spec-checking client of :mod:`tests.views.test_api`.
"""

from datetime import time, timedelta

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Event
from webapp.rules import finnish_moment
from webapp.services import cards

from ..factories import create_card
from .test_api import (
    COURSES,
    KAJAANI,
    VENUE,
    api,
    assert_error,
    card,
    organisation,
    spec,
    token_of,
    visit_count,
)

__all__ = ["api", "spec"]  # the fixtures, used by name


def event_named(name: str) -> Event:
    return db.session.scalar(select(Event).where(Event.name == name))


def course() -> Event:
    """The demo's course at Kuopion kansalaisopisto, with its term this season."""
    return event_named("Kevään kurssikausi")


def enrol(api, number, event_id, **body):
    body = {"token": token_of(number), "children": 0, "event": event_id, **body}
    return api(COURSES).post("/api/v1/visits", json=body)


class TestCoursePlaces:
    def test_a_second_enrolment_the_same_term_answers_200_with_the_existing_place(
        self, api, demo_cards
    ):
        number = demo_cards["active"]
        first = enrol(api, number, course().id, idempotency_key="till-1")
        assert first.status_code == 201 and first.get_json()["already_enrolled"] is False
        again = enrol(api, number, course().id, idempotency_key="till-2")
        assert again.status_code == 200
        assert again.get_json()["already_enrolled"] is True
        assert again.get_json()["id"] == first.get_json()["id"]
        assert visit_count() == 1

    def test_verify_says_the_card_already_holds_a_place(self, api, client, demo_cards):
        number = demo_cards["active"]
        body = {"token": token_of(number), "event": course().id}
        assert api(COURSES).post("/api/v1/verify", json=body).get_json()["warnings"] == []
        enrol(api, number, course().id)
        client.set_cookie("lang", "en")
        verdict = api(COURSES).post("/api/v1/verify", json=body).get_json()
        assert verdict["valid"] is True and verdict["reason"] == "ok"
        assert verdict["warnings"][0] == "already_enrolled"
        assert verdict["message"] == (
            "This card already holds a place on this course this term. "
            "Recording it again stores no new use."
        )

    def test_the_next_term_of_the_course_is_a_new_use(self, api, demo_cards):
        number = demo_cards["active"]
        enrol(api, number, course().id)
        term = course()
        term.starts_on, term.ends_on = term.ends_on + timedelta(1), term.ends_on + timedelta(120)
        db.session.commit()
        response = enrol(api, number, course().id)
        assert response.status_code == 201 and visit_count() == 2

    def test_another_course_the_same_term_is_a_new_use(self, api, demo_cards):
        term = course()
        other = Event(
            venue=term.venue, name="Espanja 1", starts_on=term.starts_on, ends_on=term.ends_on
        )
        db.session.add(other)
        db.session.commit()
        number = demo_cards["active"]
        assert enrol(api, number, course().id).status_code == 201
        assert enrol(api, number, other.id).status_code == 201
        assert visit_count() == 2

    def test_no_children_at_a_course(self, api, demo_cards):
        response = enrol(api, demo_cards["active"], course().id, children=1)
        assert_error(response, 422, "children_not_allowed")
        assert visit_count() == 0

    def test_the_place_is_told_in_the_users_language(self, api, client, demo_cards):
        number = demo_cards["active"]
        enrol(api, number, course().id)
        body = {"token": token_of(number), "event": course().id}
        for language, words in (("fi", "Kortilla on jo paikka"), ("sv", "Kortet har redan en")):
            client.set_cookie("lang", language)
            verdict = api(COURSES).post("/api/v1/verify", json=body).get_json()
            assert verdict["message"].startswith(words)


class TestEventQuota:
    def test_a_full_event_refuses_as_in_the_scanner(self, api, demo_cards):
        play = event_named("Tuntematon sotilas")
        play.quota = 1
        play.venue.quota_full_refuses = True
        db.session.commit()
        first = {"token": token_of(demo_cards["active"]), "children": 0, "event": play.id}
        assert api(VENUE).post("/api/v1/visits", json=first).status_code == 201
        other = create_card(card(demo_cards["active"]).issuer)
        db.session.commit()
        second = {"token": cards.printed_token(other), "event": play.id}
        verdict = api(VENUE).post("/api/v1/verify", json=second).get_json()
        assert (verdict["valid"], verdict["reason"]) == (False, "quota_full")
        response = api(VENUE).post("/api/v1/visits", json={**second, "children": 0})
        assert_error(response, 422, "quota_full")
        assert visit_count() == 1

    def test_a_full_event_warns_where_the_venue_still_accepts(self, api, demo_cards):
        play = event_named("Tuntematon sotilas")
        play.quota = 0
        db.session.commit()
        body = {"token": token_of(demo_cards["active"]), "event": play.id}
        verdict = api(VENUE).post("/api/v1/verify", json=body).get_json()
        assert verdict["valid"] and verdict["warnings"] == ["quota_full"]
        response = api(VENUE).post("/api/v1/visits", json={**body, "children": 0})
        assert response.status_code == 201

    def test_the_visit_takes_one_of_the_events_places(self, api, demo_cards):
        play = event_named("Tuntematon sotilas")
        body = {"token": token_of(demo_cards["active"]), "children": 1, "event": play.id}
        api(VENUE).post("/api/v1/visits", json=body)
        offers = api().get("/api/v1/offers").get_json()["offers"]
        places = {offer["title"]: offer["places_left"] for offer in offers}
        assert places["Tuntematon sotilas"] == play.quota - 1


class TestUnknownEvent:
    def test_an_unknown_event_is_422_unknown_event(self, api, demo_cards):
        body = {"token": token_of(demo_cards["active"]), "event": 999999}
        for path, extra in (("/api/v1/verify", {}), ("/api/v1/visits", {"children": 0})):
            response = api(VENUE).post(path, json={**body, **extra})
            error = assert_error(response, 422, "unknown_event")
            assert error["fields"] == {
                "event": "Kohteella ei ole käytössä olevaa tapahtumaa tällä tunnisteella."
            }
        assert visit_count() == 0

    def test_another_venues_event_is_refused_like_an_unknown_one(self, api, demo_cards):
        kajaani_event = Event(
            venue=organisation("Kajaanin kaupunginteatteri"),
            name="Kajaanin ilta",
            starts_on=course().starts_on,
        )
        db.session.add(kajaani_event)
        db.session.commit()
        body = {"token": token_of(demo_cards["active"]), "children": 0, "event": kajaani_event.id}
        assert_error(api(VENUE).post("/api/v1/visits", json=body), 422, "unknown_event")
        assert visit_count() == 0
        kajaani_card = create_card(card(demo_cards["active"]).issuer)  # accepted in Kainuu
        db.session.commit()
        body["token"] = cards.printed_token(kajaani_card)
        assert api(KAJAANI).post("/api/v1/visits", json=body).status_code == 201

    def test_a_cancelled_event_is_unknown(self, api, demo_cards):
        play = event_named("Tuntematon sotilas")
        play.active = False
        db.session.commit()
        body = {"token": token_of(demo_cards["active"]), "event": play.id}
        assert_error(api(VENUE).post("/api/v1/verify", json=body), 422, "unknown_event")

    def test_an_event_over_is_unknown_and_records_nothing(self, api, demo_cards):
        play = event_named("Tuntematon sotilas")  # 19.00–21.30
        play.starts_on = cards.today_in_finland() - timedelta(days=2)
        play.starts_at = finnish_moment(play.starts_on, time(19))
        play.ends_at = play.starts_at + timedelta(hours=2, minutes=30)
        db.session.commit()
        body = {"token": token_of(demo_cards["active"]), "children": 0, "event": play.id}
        assert_error(api(VENUE).post("/api/v1/visits", json=body), 422, "unknown_event")
        assert visit_count() == 0
        play.starts_on = cards.today_in_finland()  # its day is today
        db.session.commit()
        assert api(VENUE).post("/api/v1/visits", json=body).status_code == 201

    def test_an_event_that_is_not_an_id_is_a_validation_error(self, api, demo_cards):
        for wrong in ("1", 0, -1, 2**31, 1.5, True, None):
            body = {"token": token_of(demo_cards["active"]), "event": wrong}
            response = api(VENUE).post("/api/v1/verify", json=body)
            assert_error(response, 422, "validation_error")
