"""The offers seen from outside: the public catalogue, its feed and API, publishing pages."""

import re
from datetime import timedelta

import icalendar
import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Card, Event, Organisation, User
from webapp.services import accounts, cards, door
from webapp.services.cards import today_in_finland

from .openapi_check import check_answer
from .test_cardholder import Phone, open_card

TODAY = today_in_finland()


def offer_form(venue_id: int, **fields) -> dict:
    form = {
        "venue": str(venue_id),
        "kind": "event",
        "title": "Ensi-ilta",
        "starts_on": (TODAY + timedelta(days=2)).isoformat(),
        "starts_at": "19:00",
        "ends_at": "21:00",
        "quota": "5",
        "municipality": "Kuopio",
        "text_fi": "Uusi näytelmä.",
        "text_sv": "En ny pjäs.",
    }
    form.update(fields)
    return form


def venue_named(name: str) -> Organisation:
    return db.session.scalar(select(Organisation).where(Organisation.name == name))


def event_named(name: str) -> Event | None:
    db.session.expire_all()
    return db.session.scalar(select(Event).where(Event.name == name))


# --- the catalogue ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("", {}),
        ("?lang=sv", {}),
        ("", {"Accept-Language": "sv-FI,sv;q=0.9"}),
        ("?region=pohjois-savo&field=culture&children=y&from=2026-01-01&to=2026-01-31", {}),
        ("?from=not-a-date&field=bogus", {}),
    ],
)
def test_the_catalogue_sets_no_cookie_at_all(client, demo_cards, query, headers):
    response = client.get(f"/offers{query}", headers=headers)
    assert response.status_code in (200, 422)
    assert response.headers.getlist("Set-Cookie") == []
    assert 'name="csrf' not in response.text and "<script" not in response.text


def test_the_catalogue_sets_no_cookie_for_a_signed_in_user_either(signed_in):
    client = signed_in("ovi@example.fi")
    assert client.get("/offers").headers.getlist("Set-Cookie") == []


def test_the_catalogue_speaks_the_asked_language(client, demo_cards):
    assert '<html lang="fi">' in client.get("/offers").text
    swedish = client.get("/offers?lang=sv")
    assert '<html lang="sv">' in swedish.text and "Dockteater för hela familjen." in swedish.text
    browser = client.get("/offers", headers={"Accept-Language": "sv-FI,sv;q=0.9,en;q=0.5"})
    assert '<html lang="sv">' in browser.text
    assert '<html lang="en">' in client.get("/offers?lang=en").text
    assert "Vary" in client.get("/offers").headers


def test_this_weeks_offers_near_me_with_places_left(client, demo_cards):
    page = client.get("/offers?region=pohjois-savo").text
    assert "Tuntematon sotilas" in page and "Kevään kurssikausi" in page
    assert "10 Kaikukortti-paikkaa jäljellä" in page
    assert "Kajaani" not in page
    assert 'href="/offers/pohjois-savo.ics"' in page


def test_the_filters_work_as_a_plain_get_form(client, demo_cards):
    page = client.get("/offers?field=education").text
    assert "Kevään kurssikausi" in page and "Tuntematon sotilas" not in page
    page = client.get("/offers?children=y").text
    assert "Lasten lauantai" in page and "Tuntematon sotilas" not in page
    page = client.get("/offers?municipality=Kuopio&region=kainuu").text
    assert "Tuntematon sotilas" not in page
    assert 'method="get"' in client.get("/offers").text


def test_bad_filters_get_a_clear_error_not_a_500(client, demo_cards):
    for query in ("from=2026-02-01&to=2026-01-01", "from=31.12.2026", "region=atlantis"):
        response = client.get(f"/offers?{query}&lang=fi")
        assert response.status_code == 422, query
        assert 'class="error"' in response.text
    assert "Virheellinen valinta" in client.get("/offers?region=atlantis&lang=fi").text
    too_long = client.get("/offers?from=2026-01-01&to=2027-06-01&lang=sv")
    assert "Välj högst ett år." in too_long.text
    api = client.get("/api/v1/offers?region=" + "x" * 41, headers={"Accept-Language": "fi"})
    assert api.status_code == 422 and api.json["fields"]["region"]


def test_the_offer_shows_full_when_the_door_has_taken_every_place(client, demo_cards):
    event = event_named("Tuntematon sotilas")
    event.quota = 1
    theatre = venue_named("Kuopion kaupunginteatteri")
    staff = db.session.scalar(select(User).where(User.email == "ovi@example.fi"))
    card = db.session.scalar(select(Card).where(Card.number == demo_cards["active"]))
    door.record_visit(
        door.Shown.scanned(cards.printed_token(card)),
        venue=theatre,
        user=staff,
        children=0,
        event=event,
    )
    db.session.commit()
    page = client.get("/offers?lang=en").text
    assert re.search(r"Tuntematon sotilas</h3>.*?<strong class=\"tag tag-full\">Full", page, re.S)


# --- the feed and the API -----------------------------------------------------------------


def test_the_regions_calendar_feed_parses(client, demo_cards):
    response = client.get("/offers/pohjois-savo.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    calendar = icalendar.Calendar.from_ical(response.data)
    summaries = {str(e["SUMMARY"]) for e in calendar.walk("VEVENT")}
    assert summaries == {"Tuntematon sotilas", "Lasten lauantai"}  # timed offers only
    assert client.get("/offers/atlantis.ics").status_code == 404
    assert response.headers.getlist("Set-Cookie") == []


def test_the_api_lists_offers_publicly_as_documented(client, demo_cards):
    spec = client.get("/api/v1/openapi.json").get_json()
    for url in (
        "/api/v1/offers",
        "/api/v1/offers?region=pohjois-savo&field=culture",
        f"/api/v1/offers?from={TODAY.isoformat()}&to={(TODAY + timedelta(days=6)).isoformat()}",
        "/api/v1/offers?children=true",
        "/api/v1/offers?field=cooking",
        "/api/v1/offers?from=tomorrow",
    ):
        response = client.get(url)
        check_answer(spec, "GET", url, response)
    body = client.get("/api/v1/offers?region=pohjois-savo").get_json()
    by_title = {offer["title"]: offer for offer in body["offers"]}
    event, course = by_title["Tuntematon sotilas"], by_title["Kevään kurssikausi"]
    assert (event["places_left"], event["region"], event["field"]) == (
        10,
        "pohjois-savo",
        "culture",
    )
    assert event["starts_at"] and event["municipality"] == "Kuopio"
    assert (course["starts_at"], course["places_left"]) == (None, None)
    names = [offer["title"] for offer in client.get("/api/v1/offers?children=true").json["offers"]]
    assert names == ["Lasten lauantai"]
    refused = client.get("/api/v1/offers?field=cooking")
    assert refused.status_code == 422 and refused.json["error"] == "validation_error"


# --- publishing ---------------------------------------------------------------------------


def test_venue_staff_publish_an_offer_in_one_form(signed_in):
    client = signed_in("ovi@example.fi")
    theatre = venue_named("Kuopion kaupunginteatteri")
    assert client.get("/offers/manage/new").status_code == 200
    response = client.post("/offers/manage/new", data=offer_form(theatre.id))
    assert response.status_code == 303
    event = event_named("Ensi-ilta")
    assert event.published and event.quota == 5 and event.venue_id == theatre.id
    assert "Ensi-ilta" in client.get("/offers?lang=fi").text


def test_venue_staff_cannot_publish_at_or_edit_another_venue(signed_in):
    client = signed_in("ovi@example.fi")
    course = venue_named("Kuopion kansalaisopisto")
    response = client.post("/offers/manage/new", data=offer_form(course.id))
    assert response.status_code == 422 and event_named("Ensi-ilta") is None
    other = event_named("Kevään kurssikausi")
    assert client.get(f"/offers/manage/{other.id}").status_code == 404
    assert client.post(f"/offers/manage/{other.id}/withdraw").status_code == 404
    assert event_named("Kevään kurssikausi").published


def test_a_distributor_may_not_publish(signed_in):
    client = signed_in("jakaja@example.fi")
    theatre = venue_named("Kuopion kaupunginteatteri")
    assert client.post("/offers/manage/new", data=offer_form(theatre.id)).status_code == 403


def test_a_coordinator_edits_and_withdraws_an_offer_of_their_region(signed_in):
    client = signed_in("koordinaattori@example.fi")
    event = event_named("Tuntematon sotilas")
    assert client.get(f"/offers/manage/{event.id}").status_code == 200
    form = offer_form(event.venue_id, title="Tuntematon sotilas", quota="12")
    assert client.post(f"/offers/manage/{event.id}", data=form).status_code == 303
    assert event_named("Tuntematon sotilas").quota == 12
    assert "12 Kaikukortti-paikkaa" in client.get("/offers").text
    assert client.post(f"/offers/manage/{event.id}/withdraw").status_code == 303
    assert not event_named("Tuntematon sotilas").published
    assert "Tuntematon sotilas" not in client.get("/offers").text


def test_a_coordinator_cannot_touch_another_regions_offer(signed_in):
    client = signed_in("koordinaattori@example.fi")
    kajaani = venue_named("Kajaanin kaupunginteatteri")
    event = Event(venue=kajaani, name="Kainuun ilta", starts_on=TODAY, published=True)
    db.session.add(event)
    db.session.commit()
    assert client.post(f"/offers/manage/{event.id}/withdraw").status_code == 404
    assert client.post("/offers/manage/new", data=offer_form(kajaani.id)).status_code == 422


def test_a_bad_offer_form_is_answered_in_the_users_language(signed_in):
    client = signed_in("ovi@example.fi")
    theatre = venue_named("Kuopion kaupunginteatteri")
    response = client.post(
        "/offers/manage/new", data=offer_form(theatre.id, starts_at="", quota="-3", title="")
    )
    assert response.status_code == 422
    assert "Anna otsikko." in response.text


# --- the holder's own uses ----------------------------------------------------------------


def test_the_holder_sees_their_own_uses_on_the_bound_phone_only(app, demo_cards):
    card = db.session.scalar(select(Card).where(Card.number == demo_cards["active"]))
    theatre = venue_named("Kuopion kaupunginteatteri")
    staff = db.session.scalar(select(User).where(User.email == "ovi@example.fi"))
    door.record_visit(
        door.Shown.scanned(cards.printed_token(card)), venue=theatre, user=staff, children=2
    )
    db.session.commit()
    phone = Phone(app, app.response_class)
    page = open_card(phone, card).text
    assert f'href="/k/{card.digital_key}/uses"' in page
    assert 'href="/offers?region=pohjois-savo' in page
    uses = phone.get(f"/k/{card.digital_key}/uses")
    assert uses.status_code == 200 and "Kuopion kaupunginteatteri" in uses.text
    assert uses.headers["Cache-Control"] == "no-store"
    assert "<td>2</td>" in uses.text
    stranger = Phone(app, app.response_class)
    refused = stranger.get(f"/k/{card.digital_key}/uses")
    assert refused.status_code == 403 and "Kuopion kaupunginteatteri" not in refused.text


def test_api_token_users_see_the_same_offers_as_anyone(client, demo_cards):
    staff = db.session.scalar(select(User).where(User.email == "ovi@example.fi"))
    headers = {"Authorization": f"Bearer {accounts.create_api_token(staff)}"}
    db.session.commit()
    assert client.get("/api/v1/offers", headers=headers).json == client.get("/api/v1/offers").json
