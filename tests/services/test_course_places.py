"""Course places: at a course provider one use is one place on a course for its term."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Event, Organisation, Role, User, Visit, VisitDay
from webapp.rules import Reason, WarningCode, today_in_finland
from webapp.services import cards, door, network, offers

from ..concurrency import in_threads
from ..factories import create_card, create_distributor, create_region, create_user, create_venue


@pytest.fixture
def school():
    """A course provider with one autumn course, its staff and a card of its region."""
    region = create_region()
    venue = create_venue(region, "Kansalaisopisto", course_provider=True, home_region_only=True)
    issuer = create_distributor(region)
    staff = create_user("opisto@example.fi", Role.VENUE, [venue])
    card = create_card(issuer, children=2)
    today = today_in_finland()
    course = Event(venue=venue, name="Keramiikka", starts_on=today, ends_on=today + timedelta(90))
    db.session.add(course)
    db.session.commit()
    return venue, staff, card, course


def enrol(school, card=None, course=None, key=None, children=0):
    venue, staff, own_card, own_course = school
    return door.record_visit(
        door.Shown.scanned(cards.printed_token(card or own_card)),
        venue=venue,
        user=staff,
        children=children,
        idempotency_key=key,
        event=course or own_course,
    )


def uses() -> int:
    return db.session.scalar(select(func.count()).select_from(Visit))


def counted_uses() -> int:
    return db.session.scalar(select(func.coalesce(func.sum(VisitDay.visits), 0)))


def test_a_second_enrolment_on_a_course_the_same_term_is_the_same_place(school):
    first, created = enrol(school, key="a")
    db.session.commit()
    again, created_again = enrol(school, key="b")
    db.session.commit()
    assert created and not first.already_enrolled
    assert (again.id, created_again, again.already_enrolled) == (first.id, False, True)
    assert (uses(), counted_uses()) == (1, 1)


def test_a_card_on_a_course_verifies_with_the_already_enrolled_warning(school):
    venue, _staff, card, course = school
    shown = door.Shown.scanned(cards.printed_token(card))
    assert door.verify(shown, venue, event=course).warnings == ()
    enrol(school)
    db.session.commit()
    verdict = door.verify(shown, venue, event=course)
    assert verdict.valid and verdict.warnings[0] is WarningCode.ALREADY_ENROLLED
    assert door.verify(shown, venue).warnings == (WarningCode.VISITED_TODAY,)  # no course


def test_another_course_the_same_term_is_a_new_use(school):
    venue, _staff, _card, course = school
    other = Event(venue=venue, name="Espanja", starts_on=course.starts_on, ends_on=course.ends_on)
    db.session.add(other)
    enrol(school)
    _visit, created = enrol(school, course=other)
    assert created and uses() == 2


def test_the_same_course_next_term_is_a_new_use(school):
    venue, _staff, _card, course = school
    first, _created = enrol(school)
    db.session.commit()
    spring = course.ends_on + timedelta(days=20)
    coordinator = create_user("k@example.fi", Role.COORDINATOR, region=venue.region)
    network.save_event(
        course,
        actor=coordinator,
        venue=venue,
        name=course.name,
        starts_on=spring,
        ends_on=spring + timedelta(days=100),
    )
    db.session.commit()
    second, created = enrol(school)
    assert created and not second.already_enrolled and second.id != first.id
    assert uses() == 2


def test_the_next_term_counts_the_courses_places_anew(school):
    venue, _staff, card, course = school
    venue.quota_full_refuses = True
    course.quota = 1
    enrol(school)
    db.session.commit()
    assert (network.event_usage(course), offers.places_left([course])) == (1, {course.id: 0})
    course.starts_on, course.ends_on = course.ends_on + timedelta(1), course.ends_on + timedelta(90)
    db.session.commit()
    assert (network.event_usage(course), offers.places_left([course])) == (0, {course.id: 1})
    _visit, created = enrol(school, card=create_card(card.issuer))
    assert created
    with pytest.raises(door.DoorError) as excinfo:
        enrol(school)  # last term's place is not this term's
    assert excinfo.value.code is Reason.QUOTA_FULL


def test_correcting_the_term_keeps_the_places_taken(school):
    _venue, _staff, _card, course = school
    first, _created = enrol(school)
    db.session.commit()
    course.starts_on += timedelta(days=7)  # the term moved by a week, not to the next term
    db.session.commit()
    again, created = enrol(school)
    assert (again.id, created) == (first.id, False)


def test_another_card_on_the_same_course_is_a_new_use(school):
    _venue, _staff, card, _course = school
    other = create_card(card.issuer)
    enrol(school)
    _visit, created = enrol(school, card=other)
    assert created and uses() == 2


def test_an_enrolled_card_keeps_its_place_on_a_full_course(school):
    venue, _staff, card, course = school
    venue.quota_full_refuses = True
    course.quota = 1
    first, _created = enrol(school)
    db.session.commit()
    shown = door.Shown.scanned(cards.printed_token(card))
    assert door.verify(shown, venue, event=course).valid
    again, created = enrol(school)
    assert (again.id, created, again.already_enrolled) == (first.id, False, True)
    with pytest.raises(door.DoorError) as excinfo:
        enrol(school, card=create_card(card.issuer))
    assert excinfo.value.code is Reason.QUOTA_FULL


def test_an_enrolled_card_that_has_expired_is_refused_not_given_its_place(school):
    _venue, _staff, card, _course = school
    enrol(school)
    card.valid_until = today_in_finland() - timedelta(days=1)
    db.session.commit()
    with pytest.raises(door.DoorError) as excinfo:
        enrol(school)
    assert excinfo.value.code is Reason.EXPIRED


def test_no_children_on_a_course_even_for_an_enrolled_card(school):
    enrol(school)
    with pytest.raises(door.DoorError) as excinfo:
        enrol(school, children=1)
    assert excinfo.value.code is Reason.CHILDREN_NOT_ALLOWED
    assert uses() == 1


def test_an_undone_enrolment_frees_the_place(school):
    _venue, staff, _card, _course = school
    first, _created = enrol(school)
    db.session.commit()
    door.undo_visit(first.id, user=staff)
    db.session.commit()
    again, created = enrol(school)
    assert created and again.id != first.id


def test_events_of_other_venues_have_no_course_places(school):
    venue, staff, card, _course = school
    theatre = create_venue(venue.region, "Teatteri")
    staff.organisations.append(theatre)
    show = Event(venue=theatre, name="Seitsemän veljestä", starts_on=today_in_finland())
    db.session.add(show)
    db.session.commit()
    shown = door.Shown.scanned(cards.printed_token(card))
    for key in ("a", "b"):
        door.record_visit(
            shown, venue=theatre, user=staff, children=0, idempotency_key=key, event=show
        )
    assert uses() == 2


def test_an_offline_enrolment_of_an_enrolled_card_stores_nothing(school):
    venue, staff, card, course = school
    first, _created = enrol(school)
    db.session.commit()
    visit, created, conflicts = door.record_offline_visit(
        door.Shown.scanned(cards.printed_token(card)),
        venue=venue,
        user=staff,
        children=0,
        idempotency_key="phone-1",
        event=course,
        moment=first.recorded_at + timedelta(minutes=1),
    )
    assert (visit.id, created, visit.already_enrolled, conflicts) == (first.id, False, True, [])
    assert uses() == 1


def test_undoing_an_offline_rescan_of_an_enrolled_card_keeps_its_place(school):
    venue, staff, card, course = school
    first, _created = enrol(school, key="desk")
    db.session.commit()
    unsent = {  # scanned again offline by mistake, undone before the phone sent it
        "shown": door.Shown.scanned(cards.printed_token(card)),
        "children": 0,
        "idempotency_key": "phone-1",
        "event": course,
        "moment": first.recorded_at + timedelta(minutes=1),
    }
    door.undo_by_key(venue, "phone-1", user=staff, unsent=unsent)
    db.session.commit()
    assert (uses(), counted_uses()) == (1, 1)
    assert db.session.get(Visit, first.id) is not None


@pytest.mark.parametrize("round_", range(5))
def test_two_doors_enrolling_one_card_at_once_store_one_place(app, school, round_):
    venue, staff, card, course = school
    venue_id, staff_id, course_id = venue.id, staff.id, course.id
    token = cards.printed_token(card)
    answers = []

    def job(key):
        def run():
            visit, created = door.record_visit(
                door.Shown.scanned(token),
                venue=db.session.get(Organisation, venue_id),
                user=db.session.get(User, staff_id),
                children=0,
                idempotency_key=key,
                event=db.session.get(Event, course_id),
            )
            answers.append((visit.id, created))

        return run

    errors = in_threads(app, job("door-1"), job("door-2"))
    assert errors == []
    assert sorted(created for _id, created in answers) == [False, True]
    assert len({visit_id for visit_id, _created in answers}) == 1
    assert (uses(), counted_uses()) == (1, 1), f"round {round_}"
