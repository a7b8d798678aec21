"""Offers: publishing rules, the catalogue's filters, places left as the door counts them."""

from datetime import UTC, datetime, time, timedelta

import icalendar
import pytest

from webapp.extensions import db
from webapp.models import Event, OfferKind, Role, VenueCategory
from webapp.rules import HELSINKI, WarningCode
from webapp.services import cards, door, offers
from webapp.services.cards import today_in_finland

from ..factories import create_card, create_distributor, create_region, create_user, create_venue

TODAY = today_in_finland()


@pytest.fixture
def network():
    savo = create_region("pohjois-savo", "Pohjois-Savo")
    kainuu = create_region("kainuu", "Kainuu")
    theatre = create_venue(savo, "Teatteri")
    hall = create_venue(savo, "Uimahalli", category=VenueCategory.SPORT)
    kajaani = create_venue(kainuu, "Kajaanin teatteri")
    staff = create_user("ovi@example.fi", Role.VENUE, [theatre], region=savo)
    coordinator = create_user("k@example.fi", Role.COORDINATOR, region=savo)
    card = create_card(create_distributor(savo), children=2, today=TODAY - timedelta(days=10))
    db.session.commit()
    return {
        "savo": savo,
        "theatre": theatre,
        "hall": hall,
        "kajaani": kajaani,
        "staff": staff,
        "coordinator": coordinator,
        "card": card,
    }


def an_event(venue, days=1, **fields) -> offers.OfferInput:
    fields.setdefault("title", "Ensi-ilta")
    fields.setdefault("starts_at", time(19))
    return offers.OfferInput(
        venue=venue, kind=OfferKind.EVENT, starts_on=TODAY + timedelta(days=days), **fields
    )


def standing(venue, starts_on, ends_on=None, **fields) -> offers.OfferInput:
    fields.setdefault("title", "Uinti")
    return offers.OfferInput(
        venue=venue, kind=OfferKind.STANDING, starts_on=starts_on, ends_on=ends_on, **fields
    )


def titles(**filters) -> list[str]:
    filters.setdefault("start", TODAY)
    return [offer.event.name for offer in offers.catalogue(offers.OfferFilter(**filters))]


def test_venue_staff_publish_at_their_own_venue_only(network):
    event = offers.save_offer(None, an_event(network["theatre"]), actor=network["staff"])
    assert event.published and event.starts_at.tzinfo is not None
    with pytest.raises(offers.OfferError) as excinfo:
        offers.save_offer(None, an_event(network["hall"]), actor=network["staff"])
    assert (excinfo.value.code, excinfo.value.field) == ("not_your_venue", "venue")


def test_a_coordinator_publishes_in_their_region_only(network):
    coordinator = network["coordinator"]
    assert offers.save_offer(None, an_event(network["hall"]), actor=coordinator).published
    with pytest.raises(offers.OfferError) as excinfo:
        offers.save_offer(None, an_event(network["kajaani"]), actor=coordinator)
    assert excinfo.value.code == "not_your_venue"


def test_an_event_needs_a_start_and_ends_after_it(network):
    staff = network["staff"]
    with pytest.raises(offers.OfferError) as excinfo:
        offers.save_offer(None, an_event(network["theatre"], starts_at=None), actor=staff)
    assert (excinfo.value.code, excinfo.value.field) == ("required", "starts_at")
    with pytest.raises(offers.OfferError) as excinfo:
        offers.save_offer(None, an_event(network["theatre"], ends_at=time(18)), actor=staff)
    assert excinfo.value.code == "invalid_times"


def test_editing_changes_the_offer_in_the_catalogue(network):
    staff = network["staff"]
    event = offers.save_offer(None, an_event(network["theatre"]), actor=staff)
    offers.save_offer(event, an_event(network["theatre"], title="Kantaesitys"), actor=staff)
    assert titles() == ["Kantaesitys"]


def test_a_withdrawn_offer_leaves_the_catalogue_but_the_event_stays(network):
    event = offers.save_offer(None, an_event(network["theatre"]), actor=network["staff"])
    offers.withdraw(event, actor=network["staff"])
    assert titles() == []
    assert db.session.get(Event, event.id).active  # the door still knows the event


def test_an_unpublished_event_is_not_an_offer(network):
    db.session.add(Event(venue=network["theatre"], name="Sisäinen", starts_on=TODAY, quota=3))
    db.session.flush()
    assert titles() == []


def test_filters_by_region_municipality_field_and_children(network):
    staff, coordinator = network["staff"], network["coordinator"]
    offers.save_offer(
        None,
        an_event(network["theatre"], municipality="Kuopio", children_welcome=True),
        actor=staff,
    )
    offers.save_offer(
        None,
        standing(network["hall"], TODAY, title="Uinti", municipality="Siilinjärvi"),
        actor=coordinator,
    )
    admin = create_user("admin@example.fi", Role.ADMIN)
    offers.save_offer(None, an_event(network["kajaani"], title="Kajaani"), actor=admin)
    assert titles(region="pohjois-savo") == ["Ensi-ilta", "Uinti"]
    assert titles(region="kainuu") == ["Kajaani"]
    assert titles(municipality="Siilinjärvi") == ["Uinti"]
    assert titles(field=VenueCategory.SPORT) == ["Uinti"]
    assert titles(children=True) == ["Ensi-ilta"]
    assert offers.municipalities() == ["Kuopio", "Siilinjärvi"]


def test_dates_match_an_event_on_its_day_and_a_standing_offer_while_it_runs(network):
    coordinator = network["coordinator"]
    offers.save_offer(None, an_event(network["theatre"], days=10, title="Later"), actor=coordinator)
    offers.save_offer(
        None,
        standing(
            network["hall"], TODAY - timedelta(days=30), TODAY - timedelta(days=1), title="Over"
        ),
        actor=coordinator,
    )
    offers.save_offer(
        None,
        standing(network["hall"], TODAY + timedelta(days=3), None, title="Open"),
        actor=coordinator,
    )
    week = TODAY + timedelta(days=6)
    assert titles(end=week) == ["Open"]
    assert titles(end=TODAY + timedelta(days=1)) == []
    assert titles() == ["Later", "Open"]  # no last day: everything from today on
    assert titles(start=TODAY - timedelta(days=5), end=TODAY - timedelta(days=5)) == ["Over"]


def test_places_left_fall_with_each_visit_and_the_offer_is_full_as_the_door_says(network):
    theatre, staff, card = network["theatre"], network["staff"], network["card"]
    event = offers.save_offer(None, an_event(network["theatre"], days=0, quota=2), actor=staff)
    other = create_card(create_distributor(network["savo"], "Toinen"), children=0)
    db.session.commit()
    [offer] = offers.catalogue(offers.OfferFilter(start=TODAY))
    assert (offer.places_left, offer.full) == (2, False)
    shown = door.Shown.scanned(cards.printed_token(card))
    door.record_visit(shown, venue=theatre, user=staff, children=2, event=event)
    [offer] = offers.catalogue(offers.OfferFilter(start=TODAY))
    assert offer.places_left == 1  # children do not use up places
    other_shown = door.Shown.scanned(cards.printed_token(other))
    door.record_visit(other_shown, venue=theatre, user=staff, children=0, event=event)
    [offer] = offers.catalogue(offers.OfferFilter(start=TODAY))
    assert (offer.places_left, offer.full) == (0, True)
    assert WarningCode.QUOTA_FULL in door.verify(other_shown, theatre, event=event).warnings


def test_an_offer_without_places_has_no_limit(network):
    offers.save_offer(None, standing(network["hall"], TODAY), actor=network["coordinator"])
    [offer] = offers.catalogue(offers.OfferFilter(start=TODAY))
    assert (offer.places_left, offer.full) == (None, False)


def test_own_uses_are_the_cards_latest_first_with_finnish_dates(network):
    theatre, staff, card = network["theatre"], network["staff"], network["card"]
    token = cards.printed_token(card)
    late = datetime.combine(TODAY - timedelta(days=2), time(23, 30), HELSINKI)
    door.record_visit(door.Shown.scanned(token), venue=theatre, user=staff, children=1, moment=late)
    door.record_visit(door.Shown.scanned(token), venue=theatre, user=staff, children=0)
    other = create_card(create_distributor(network["savo"], "Toinen"))
    door.record_visit(
        door.Shown.scanned(cards.printed_token(other)), venue=theatre, user=staff, children=2
    )
    uses = offers.own_uses(card)
    assert uses == [
        offers.Use("Teatteri", today_in_finland(), 0),  # recorded now: TODAY may be past
        offers.Use("Teatteri", TODAY - timedelta(days=2), 1),  # 21:30 UTC, still that day
    ]


def test_the_calendar_feed_parses_with_each_timed_offer_once(network):
    staff = network["staff"]
    offers.save_offer(
        None,
        an_event(
            network["theatre"],
            title="Näytös; osa 1, ensi-ilta",
            quota=5,
            ends_at=time(21, 30),
            text_fi="Pitkä teksti " * 20,
        ),
        actor=staff,
    )
    offers.save_offer(None, standing(network["hall"], TODAY), actor=network["coordinator"])
    rows = offers.catalogue(offers.OfferFilter(start=TODAY, region="pohjois-savo"))
    body = offers.ical(
        network["savo"], rows, url="http://127.0.0.1/offers", stamp=datetime.now(UTC)
    )
    assert all(len(line.encode()) <= 75 for line in body.split("\r\n"))
    calendar = icalendar.Calendar.from_ical(body)
    [vevent] = calendar.walk("VEVENT")
    assert str(vevent["SUMMARY"]) == "Näytös; osa 1, ensi-ilta"
    starts = vevent.decoded("DTSTART")
    assert starts == datetime.combine(TODAY + timedelta(days=1), time(19), HELSINKI)
    assert vevent.decoded("DTEND") - starts == timedelta(hours=2, minutes=30)
    assert "Kaikukortti: 5" in str(vevent["DESCRIPTION"])
    assert str(calendar["X-WR-CALNAME"]) == "Kaikukortti Pohjois-Savo"


def test_demo_holds_a_limited_event_and_a_standing_offer_in_pohjois_savo(demo_cards):
    rows = offers.catalogue(offers.OfferFilter(start=TODAY, region="pohjois-savo"))
    kinds = {(o.event.kind, o.places_left is not None) for o in rows}
    assert (OfferKind.EVENT, True) in kinds and (OfferKind.STANDING, False) in kinds
