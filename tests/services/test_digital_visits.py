"""Visits of codes that a card's phone signed: undone by the scanner's own key, counted once
per venue, and a second use (another venue, another scanner) kept as a conflict."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import (
    ConflictCode,
    Organisation,
    Role,
    UndoneVisit,
    User,
    Visit,
    VisitConflict,
)
from webapp.services import digital, door

from ..concurrency import in_threads
from ..factories import create_card, create_distributor, create_region, create_user, create_venue
from ..test_device_codes import Phone


@pytest.fixture
def place():
    region = create_region()
    theatre, museum = create_venue(region, "Teatteri"), create_venue(region, "Museo")
    staff = create_user("ovi@example.fi", Role.VENUE, [theatre, museum])
    card = create_card(create_distributor(region), children=2)
    db.session.flush()
    phone = Phone()
    _device, certificate = digital.register_device(card, digital.b64(phone.public_raw))
    db.session.commit()
    return theatre, museum, staff, phone, certificate


def code_of(place, at: datetime) -> str:
    *_, phone, certificate = place
    return phone.code(certificate, at)


def record_online(place, venue, code, key):
    staff = place[2]
    return door.record_visit(
        door.Shown.scanned(code), venue=venue, user=staff, children=0, idempotency_key=key
    )


def record_offline(place, venue, code, key, moment):
    staff = place[2]
    return door.record_offline_visit(
        door.Shown.scanned(code),
        venue=venue,
        user=staff,
        children=0,
        idempotency_key=key,
        moment=moment,
    )


def visit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Visit))


def conflicts_at(venue) -> list[ConflictCode]:
    query = select(VisitConflict.code).join(Visit).where(Visit.venue_id == venue.id)
    return list(db.session.scalars(query))


def test_a_phone_code_visit_keeps_the_scanners_key_and_its_undo_reaches_it(place):
    theatre, _museum, staff, *_ = place
    visit, created = record_online(place, theatre, code_of(place, datetime.now(UTC)), "scan-1")
    db.session.commit()
    assert created and db.session.get(Visit, visit.id).idempotency_key == "scan-1"
    door.undo_by_key(theatre, "scan-1", user=staff)
    db.session.commit()
    assert visit_count() == 0


def test_a_replay_at_the_same_venue_online_answers_its_first_visit(place):
    theatre, *_ = place
    code = code_of(place, datetime.now(UTC))
    first, _ = record_online(place, theatre, code, "scan-1")
    again, created = record_online(place, theatre, code, "scan-2")
    assert (again.id, created) == (first.id, False) and visit_count() == 1


def test_a_live_code_used_at_a_second_venue_is_stored_as_a_second_use(place):
    theatre, museum, *_ = place
    code = code_of(place, datetime.now(UTC))
    record_online(place, theatre, code, "scan-1")
    second, created = record_online(place, museum, code, "scan-2")
    db.session.commit()
    assert created and second.venue_id == museum.id
    assert conflicts_at(museum) == [ConflictCode.SECOND_USE] and conflicts_at(theatre) == []


def test_a_code_two_scanners_accepted_offline_at_one_venue_is_a_second_use(place):
    theatre, *_ = place
    moment = datetime.now(UTC) - timedelta(minutes=30)
    code = code_of(place, moment)
    first, created, conflicts = record_offline(place, theatre, code, "phone-a-1", moment)
    assert created and conflicts == []
    second, created, conflicts = record_offline(
        place, theatre, code, "phone-b-1", moment + timedelta(seconds=20)
    )
    db.session.commit()
    assert created and second.id != first.id and conflicts == [ConflictCode.SECOND_USE]
    assert conflicts_at(theatre) == [ConflictCode.SECOND_USE] and visit_count() == 2
    resent, created, _ = record_offline(place, theatre, code, "phone-b-1", moment)
    assert (resent.id, created) == (second.id, False)  # a retry is still the same visit


def test_a_code_accepted_offline_at_two_venues_is_a_second_use(place):
    theatre, museum, *_ = place
    moment = datetime.now(UTC) - timedelta(minutes=30)
    code = code_of(place, moment)
    record_offline(place, theatre, code, "phone-a-1", moment)
    _visit, created, conflicts = record_offline(place, museum, code, "phone-b-1", moment)
    assert created and conflicts == [ConflictCode.SECOND_USE]


def test_an_undo_that_overtakes_its_visit_leaves_a_tombstone_and_the_visit_stores_nothing(
    place,
):
    theatre, _museum, staff, *_ = place
    moment = datetime.now(UTC) - timedelta(seconds=20)
    unsent = {
        "shown": door.Shown.scanned(code_of(place, moment)),
        "children": 1,
        "idempotency_key": "scan-1",
        "event": None,
        "moment": moment,
    }
    door.undo_by_key(theatre, "scan-1", user=staff, unsent=unsent)
    db.session.commit()
    assert visit_count() == 0
    assert db.session.scalar(select(UndoneVisit.idempotency_key)) == "scan-1"
    with pytest.raises(door.DoorError) as excinfo:  # the record arrives after its undo
        door.record_offline_visit(venue=theatre, user=staff, **unsent)
    assert excinfo.value.code == "visit_undone" and visit_count() == 0
    door.undo_by_key(theatre, "scan-1", user=staff)  # the undo retried: done, nothing else
    assert visit_count() == 0


def test_an_undo_without_the_visit_it_overtook_is_not_found(place):
    theatre, _museum, staff, *_ = place
    with pytest.raises(door.DoorError) as excinfo:
        door.undo_by_key(theatre, "scan-1", user=staff)
    assert excinfo.value.code == "not_found"


def test_one_code_recorded_at_once_by_eight_scanners_is_one_visit(app, place):
    theatre, _museum, staff, *_ = place
    code = code_of(place, datetime.now(UTC))
    venue_id, staff_id = theatre.id, staff.id

    def record(key):
        venue, user = db.session.get(Organisation, venue_id), db.session.get(User, staff_id)
        door.record_visit(
            door.Shown.scanned(code), venue=venue, user=user, children=0, idempotency_key=key
        )

    errors = in_threads(app, *(lambda key=f"scanner-{i}": record(key) for i in range(8)))
    db.session.rollback()
    assert errors == [] and visit_count() == 1
