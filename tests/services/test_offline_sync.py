"""Visits accepted offline: stored at their scan moment, with what changed since as conflicts."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from webapp.extensions import db
from webapp.models import (
    Card,
    ConflictCode,
    RevokeReason,
    Role,
    UndoneVisit,
    User,
    Visit,
    VisitConflict,
    VisitDay,
    VisitSource,
)
from webapp.rules import Reason, finnish_moment, helsinki_date
from webapp.services import cards, door

from ..concurrency import in_threads
from ..factories import (
    create_card,
    create_distributor,
    create_region,
    create_user,
    create_venue,
    create_visit,
)


@pytest.fixture
def place():
    region = create_region()
    venue = create_venue(region)
    issuer = create_distributor(region)
    staff = create_user("ovi@example.fi", Role.VENUE, [venue])
    card = create_card(issuer, children=2)
    db.session.commit()
    return venue, staff, card


def record(place, *, key="k1", children=1, moment=None, shown=None):
    venue, staff, card = place
    moment = moment or datetime.now(UTC) - timedelta(hours=1)
    return door.record_offline_visit(
        shown or door.Shown.scanned(cards.printed_token(card)),
        venue=venue,
        user=staff,
        children=children,
        idempotency_key=key,
        moment=moment,
    )


def stored_conflicts() -> list[tuple[ConflictCode, str | None, int | None]]:
    query = select(VisitConflict.code, VisitConflict.reason, VisitConflict.children)
    return [tuple(row) for row in db.session.execute(query.order_by(VisitConflict.id))]


def test_a_clean_offline_visit_is_stored_at_its_scan_moment_without_conflicts(place):
    moment = datetime.now(UTC) - timedelta(hours=3)
    visit, created, conflicts = record(place, moment=moment)
    db.session.commit()
    stored = db.session.get(Visit, visit.id)
    assert created and visit.offline and conflicts == []
    assert (stored.recorded_at, stored.day, stored.source) == (
        moment,
        helsinki_date(moment),
        VisitSource.OFFLINE,
    )
    assert stored.recorded_by_id == place[1].id
    assert stored_conflicts() == []


def test_a_card_revoked_after_the_scan_is_judged_as_at_the_scan(place):
    venue, staff, card = place
    moment = datetime.now(UTC) - timedelta(hours=1)
    cards.revoke_card(card, actor=None, reason=RevokeReason.LOST)
    db.session.commit()
    now = door.verify(door.Shown.scanned(cards.printed_token(card)), venue)
    assert now.reason is Reason.REVOKED
    visit, created, conflicts = record(place, moment=moment)
    db.session.commit()
    assert created and conflicts == [ConflictCode.REVOKED_AFTER_SCAN]
    assert stored_conflicts() == [(ConflictCode.REVOKED_AFTER_SCAN, None, None)]
    assert door.conflicts_of(visit.id) == [ConflictCode.REVOKED_AFTER_SCAN]


def test_a_card_already_revoked_at_the_scan_is_stored_as_a_list_out_of_date(place):
    _, _, card = place
    cards.revoke_card(card, actor=None, reason=RevokeReason.LOST)
    card.revoked_at = datetime.now(UTC) - timedelta(hours=5)
    db.session.commit()
    visit, created, conflicts = record(place, moment=datetime.now(UTC) - timedelta(hours=1))
    db.session.commit()
    assert created and db.session.get(Visit, visit.id) is not None
    assert conflicts == [ConflictCode.LIST_OUT_OF_DATE]
    assert stored_conflicts() == [(ConflictCode.LIST_OUT_OF_DATE, "revoked", None)]


def test_a_second_use_the_same_day_on_another_phone_is_a_conflict(place):
    venue, _, card = place
    moment = datetime.now(UTC) - timedelta(minutes=30)
    # Five minutes earlier, but never on the Finnish day before (the run may be just past midnight).
    earlier = max(moment - timedelta(minutes=5), finnish_moment(helsinki_date(moment)))
    create_visit(card, venue, recorded_at=earlier)
    db.session.commit()
    _, created, conflicts = record(place, moment=moment)
    assert created and conflicts == [ConflictCode.SECOND_USE]


def test_children_above_the_card_are_stored_as_allowed_with_a_conflict(place):
    visit, created, conflicts = record(place, children=5)
    db.session.commit()
    assert created and visit.children == 2 and db.session.get(Visit, visit.id).children == 2
    assert stored_conflicts() == [(ConflictCode.TOO_MANY_CHILDREN, None, 5)]


def test_a_resent_visit_is_stored_once_and_answers_its_conflicts(place):
    first, _, _ = record(place, children=5)
    db.session.commit()
    again, created, conflicts = record(place, children=5)
    assert not created and again.id == first.id and again.offline
    assert conflicts == [ConflictCode.TOO_MANY_CHILDREN]
    assert db.session.scalar(select(func.count()).select_from(Visit)) == 1
    assert len(stored_conflicts()) == 1


def test_an_unknown_card_or_garbage_is_refused_and_stores_nothing(place):
    with pytest.raises(door.DoorError) as excinfo:
        record(place, shown=door.Shown.scanned("garbage"))
    assert excinfo.value.code is Reason.INVALID_TOKEN
    with pytest.raises(door.DoorError) as excinfo:
        record(place, children=-1)
    assert excinfo.value.code == "invalid_children"
    assert db.session.scalar(select(func.count()).select_from(Visit)) == 0


def test_undo_by_key_deletes_the_visit_stored_under_it(place):
    venue, staff, _ = place
    visit, _, _ = record(place, moment=datetime.now(UTC) - timedelta(minutes=2))
    db.session.commit()
    door.undo_by_key(venue, "k1", user=staff)
    db.session.commit()
    assert db.session.get(Visit, visit.id) is None
    door.undo_by_key(venue, "k1", user=staff)  # a retried undo is done: its tombstone says so
    with pytest.raises(door.DoorError) as excinfo:
        door.undo_by_key(venue, "k2", user=staff)  # nothing known under the key
    assert excinfo.value.code == "not_found"


def test_an_undo_whose_visit_is_sent_meanwhile_still_undoes_it(app, place):
    """The phone sends a visit and its undo at once (the visit's request slow, the undo
    carrying it as unsent): the visit commits between the undo's read of the key and its own
    insert of the visit. The undo undoes that visit, as it would have undone it sent before."""
    venue, staff, card = place
    moment = datetime.now(UTC) - timedelta(minutes=2)
    unsent = {
        "shown": door.Shown.scanned(cards.printed_token(card)),
        "children": 1,
        "idempotency_key": "k1",
        "event": None,
        "moment": moment,
    }
    sent = []

    def sent_meanwhile(conn, cursor, statement, *args):
        if statement.startswith("INSERT INTO visit ") and not sent:
            sent.append(True)
            with app.app_context():  # the visit's own request, committed first
                door.record_offline_visit(venue=venue, user=staff, **unsent)
                db.session.commit()

    event.listen(db.engine, "before_cursor_execute", sent_meanwhile)
    try:
        door.undo_by_key(venue, "k1", user=staff, unsent=unsent)
    finally:
        event.remove(db.engine, "before_cursor_execute", sent_meanwhile)
    db.session.commit()
    assert sent  # the visit arrived after the undo looked for it
    assert db.session.scalar(select(func.count()).select_from(Visit)) == 0
    assert db.session.scalar(select(UndoneVisit.idempotency_key)) == "k1"
    assert db.session.scalar(select(func.count()).select_from(VisitDay)) == 0
    assert db.session.scalar(select(Card.first_used_on).where(Card.id == card.id)) is None


def test_a_visit_and_its_undo_sent_at_once_leave_nothing_counted(app, place):
    """Whichever of the two stores the visit first, the undo wins: no visit, no count."""
    _venue, staff, card = place
    staff_id, token = staff.id, cards.printed_token(card)
    for round_ in range(8):
        unsent = {
            "shown": door.Shown.scanned(token),
            "children": 1,
            "idempotency_key": f"k{round_}",
            "event": None,
            "moment": datetime.now(UTC) - timedelta(minutes=2),
        }

        def sync(unsent=unsent):
            recorder = door.staff(staff_id)
            door.record_offline_visit(venue=recorder.venues[0], user=recorder, **unsent)

        def undo(unsent=unsent):
            venue = door.staff(staff_id).venues[0]
            user = db.session.get(User, staff_id)
            door.undo_by_key(venue, unsent["idempotency_key"], user=user, unsent=unsent)

        errors = in_threads(app, sync, undo)
        assert {getattr(error, "code", repr(error)) for error in errors} <= {"visit_undone"}, errors
        assert db.session.scalar(select(func.count()).select_from(Visit)) == 0, f"round {round_}"
        assert db.session.scalar(select(func.count()).select_from(VisitDay)) == 0
    assert db.session.scalar(select(Card.first_used_on).where(Card.id == card.id)) is None


def test_undo_by_key_keeps_the_ten_minute_window(place):
    venue, staff, _ = place
    record(place, moment=datetime.now(UTC) - timedelta(minutes=11))
    db.session.commit()
    with pytest.raises(door.DoorError) as excinfo:
        door.undo_by_key(venue, "k1", user=staff)
    assert excinfo.value.code == "undo_window_passed"
