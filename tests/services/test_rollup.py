"""The daily rollup (visit_day) and each card's first use stay equal to the raw visits.

Whatever its explicit write paths do (recording at the door, offline visits synced with
their past scan time, undoing, the test factory's visits, rolled-back transactions) the
rollup equals what a recomputation from the visits gives, across Helsinki month ends and
DST; and every visit's ``day`` is the Helsinki date of its ``recorded_at``.
"""

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, update

from webapp.extensions import db
from webapp.models import Card, Organisation, Role, UndoneVisit, User, Visit, VisitDay, VisitSource
from webapp.rules import helsinki_date
from webapp.services import door, rollup

from ..concurrency import in_threads
from ..factories import (
    create_card,
    create_distributor,
    create_region,
    create_user,
    create_venue,
    create_visit,
)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# Instants where the UTC date, the Helsinki date and the Helsinki month differ.
TRICKY = [
    utc(2024, 1, 31, 23, 30),  # 1 February 01:30 in Helsinki
    utc(2024, 1, 31, 21, 59),  # 31 January 23:59
    utc(2024, 1, 31, 22, 0),  # 1 February 00:00
    utc(2024, 2, 29, 23, 30),  # leap day, 1 March in Helsinki
    utc(2024, 3, 31, 0, 59, 59),  # last second of winter time
    utc(2024, 3, 31, 1, 0),  # summer time begins
    utc(2024, 3, 31, 20, 59),  # 31 March 23:59 summer time
    utc(2024, 3, 31, 21, 0),  # 1 April 00:00 summer time
    utc(2024, 4, 30, 23, 30),
    utc(2024, 10, 26, 20, 59),  # 26 October 23:59 summer time
    utc(2024, 10, 27, 0, 30),  # 03:30 summer time, before the clocks go back
    utc(2024, 10, 27, 1, 30),  # 03:30 winter time, after
    utc(2024, 10, 31, 21, 30),  # 31 October 23:30 winter time
    utc(2024, 10, 31, 23, 30),  # 1 November 01:30
    utc(2024, 12, 31, 22, 0),  # New Year 2025 in Helsinki
    utc(2023, 12, 31, 23, 30),
]
moments = st.sampled_from(TRICKY) | st.datetimes(
    min_value=datetime(2023, 12, 1), max_value=datetime(2025, 1, 31), timezones=st.just(UTC)
)
operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("record"),
            st.integers(0, 2),  # card
            st.integers(0, 2),  # venue
            moments,
            st.integers(0, 3),  # children
            st.integers(0, door.MAX_ASSISTANTS),
            st.sampled_from([None, "a", "b"]),  # idempotency key: a retry answers the first
        ),
        st.tuples(st.just("undo"), st.integers(0, 50)),
        st.tuples(
            st.just("insert"),
            st.integers(0, 2),
            st.integers(0, 2),
            moments,
            st.integers(0, 3),
            st.integers(0, door.MAX_ASSISTANTS),
        ),
        st.tuples(st.just("commit")),
        st.tuples(st.just("rollback")),
    ),
    max_size=25,
)


@pytest.fixture
def place():
    savo, kainuu = create_region("pohjois-savo"), create_region("kainuu")
    venues = [create_venue(savo, "Teatteri"), create_venue(savo, "Museo")]
    venues.append(create_venue(kainuu, "Kajaanin teatteri"))
    issuer = create_distributor(savo)
    staff = create_user("ovi@example.fi", Role.VENUE, venues)
    valid_until = date.today() + timedelta(days=730)
    cards = [create_card(issuer, today=date(2023, 1, 1), children=3) for _ in range(3)]
    for card in cards:
        card.valid_until = valid_until  # valid over the whole of the random writes
    db.session.commit()
    return [v.id for v in venues], [c.id for c in cards], staff.id


def start_over() -> None:
    """Remove every visit and its rollup, for the next round of a test."""
    db.session.execute(delete(Visit))
    db.session.execute(delete(UndoneVisit))
    db.session.execute(delete(VisitDay))
    db.session.execute(update(Card).values(first_used_on=None))
    db.session.commit()


def recomputed() -> tuple[dict, dict]:
    """Return the rollup as a recomputation from the raw visits gives it."""
    days, first = Counter(), {}
    for visit in db.session.scalars(select(Visit)):
        day = helsinki_date(visit.recorded_at)
        assert visit.day == day
        for name in rollup.SUMS:
            days[visit.venue_id, day, name] += 1 if name == "visits" else getattr(visit, name)
        first[visit.card_id] = min(day, first.get(visit.card_id, day))
    return dict(days), first


def stored() -> tuple[dict, dict]:
    days = {}
    for row in db.session.execute(select(VisitDay.__table__)):
        for name in rollup.SUMS:
            days[row.venue_id, row.day, name] = getattr(row, name)
    first = dict(
        db.session.execute(
            select(Card.id, Card.first_used_on).where(Card.first_used_on.is_not(None))
        ).all()
    )
    return days, first


def run(operation, venues, cards, staff) -> None:
    kind, *args = operation
    visits = db.session.scalars(select(Visit).order_by(Visit.id)).all()
    if kind == "record":
        card, venue, moment, children, assistants, key = args
        try:
            door.record_visit(
                venue=venues[venue],
                user=staff,
                children=children,
                assistants=assistants,
                shown=door.Shown.typed(cards[card].number),
                idempotency_key=key,
                moment=moment,
                source=VisitSource.OFFLINE,  # synced later with its scan time
            )
        except door.DoorError as error:  # the key is another card's, or its visit was undone
            assert error.code in ("idempotency_key_reused", "visit_undone")
    elif kind == "insert":
        card, venue, moment, children, assistants = args
        create_visit(
            cards[card], venues[venue], recorded_at=moment, children=children, assistants=assistants
        )
    elif kind == "undo" and visits:
        visit = visits[args[0] % len(visits)]
        door.undo_visit(visit.id, user=staff, moment=visit.recorded_at + timedelta(minutes=9))
        db.session.flush()
    elif kind == "commit":
        db.session.commit()
    elif kind == "rollback":
        db.session.rollback()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_rollup_equals_a_recomputation_after_any_writes(place, ops):
    venue_ids, card_ids, staff_id = place
    start_over()  # a clean slate for each example
    venues = [db.session.get(Organisation, i) for i in venue_ids]
    cards = [db.session.get(Card, i) for i in card_ids]
    staff = db.session.get(User, staff_id)
    for operation in ops:
        run(operation, venues, cards, staff)
    # the session's own copies of the cards show the first use before the commit
    assert {c.id: c.first_used_on for c in cards if c.first_used_on} == recomputed()[1]
    db.session.commit()
    expected = recomputed()
    assert stored() == expected
    assert rollup.rebuild(db.session)["days"] == len(expected[0]) // len(rollup.SUMS)
    assert stored() == expected


def test_a_visit_at_2330_utc_on_a_month_end_counts_on_the_next_helsinki_day(place):
    venue_ids, card_ids, staff_id = place
    venue, card = db.session.get(Organisation, venue_ids[0]), db.session.get(Card, card_ids[0])
    staff = db.session.get(User, staff_id)
    kwargs = {"venue": venue, "user": staff, "shown": door.Shown.typed(card.number)}
    door.record_visit(**kwargs, children=2, moment=utc(2024, 1, 31, 23, 30))
    door.record_visit(**kwargs, children=1, moment=utc(2024, 2, 1, 8, 0))
    db.session.commit()
    assert db.session.scalars(select(VisitDay)).one().day == date(2024, 2, 1)
    row = db.session.scalars(select(VisitDay)).one()
    assert (row.visits, row.adults, row.children) == (2, 2, 3)
    assert db.session.get(Card, card.id).first_used_on == date(2024, 2, 1)


def test_an_offline_visit_synced_later_moves_the_first_use_earlier(place):
    venue_ids, card_ids, staff_id = place
    venue, card = db.session.get(Organisation, venue_ids[0]), db.session.get(Card, card_ids[0])
    staff = db.session.get(User, staff_id)
    door.record_visit(venue=venue, user=staff, children=0, shown=door.Shown.typed(card.number))
    db.session.commit()
    today = helsinki_date(datetime.now(UTC))
    assert card.first_used_on == today
    scanned = datetime.now(UTC) - timedelta(days=3)
    door.record_visit(
        venue=venue,
        user=staff,
        children=0,
        shown=door.Shown.typed(card.number),
        moment=scanned,
        source=VisitSource.OFFLINE,
        idempotency_key="offline-1",
    )
    db.session.commit()
    assert card.first_used_on == helsinki_date(scanned)
    days = {row.day: row.visits for row in db.session.scalars(select(VisitDay))}
    assert days == {helsinki_date(scanned): 1, today: 1}


def test_undoing_the_first_use_recomputes_it_and_removes_the_empty_day(place):
    venue_ids, card_ids, staff_id = place
    venue, card = db.session.get(Organisation, venue_ids[0]), db.session.get(Card, card_ids[0])
    staff = db.session.get(User, staff_id)
    kwargs = {"venue": venue, "user": staff, "shown": door.Shown.typed(card.number), "children": 1}
    first, _ = door.record_visit(**kwargs, assistants=1, moment=utc(2024, 5, 1, 9, 0))
    door.record_visit(**kwargs, moment=utc(2024, 5, 3, 9, 0))
    db.session.commit()
    door.undo_visit(first.id, user=staff, moment=utc(2024, 5, 1, 9, 5))
    db.session.commit()
    assert card.first_used_on == date(2024, 5, 3)
    assert [row.day for row in db.session.scalars(select(VisitDay))] == [date(2024, 5, 3)]
    only = db.session.scalar(select(Visit))
    door.undo_visit(only.id, user=staff, moment=utc(2024, 5, 3, 9, 5))
    db.session.commit()
    assert card.first_used_on is None
    assert db.session.scalars(select(VisitDay)).all() == []


def test_an_undo_takes_the_visits_assistants_off_its_day(place):
    venue_ids, card_ids, staff_id = place
    venue, staff = db.session.get(Organisation, venue_ids[0]), db.session.get(User, staff_id)
    shown = [door.Shown.typed(db.session.get(Card, i).number) for i in card_ids[:2]]
    moment = utc(2024, 5, 1, 9, 0)
    kwargs = {"venue": venue, "user": staff, "children": 0, "moment": moment}
    guided, _ = door.record_visit(shown=shown[0], assistants=2, **kwargs)
    door.record_visit(shown=shown[1], assistants=1, **kwargs)
    db.session.commit()
    row = db.session.scalars(select(VisitDay)).one()
    assert (row.visits, row.adults, row.assistants) == (2, 2, 3)
    door.undo_visit(guided.id, user=staff, moment=moment + timedelta(minutes=5))
    db.session.commit()
    db.session.expire_all()
    row = db.session.scalars(select(VisitDay)).one()
    assert (row.visits, row.adults, row.assistants) == (1, 1, 1)


def test_a_card_first_use_leaves_its_updated_at_alone(place):
    # the scanners' offline lists are deltas of Card.updated_at: a visit is not a card change
    venue_ids, card_ids, staff_id = place
    card = db.session.get(Card, card_ids[0])
    before = card.updated_at
    create_visit(card, db.session.get(Organisation, venue_ids[0]), recorded_at=TRICKY[0])
    db.session.commit()
    assert (card.first_used_on, card.updated_at) == (date(2024, 2, 1), before)


def test_stats_rebuild_command_repairs_visits_written_around_the_orm(place, runner):
    venue_ids, card_ids, _ = place
    rows = [
        {"card_id": card_ids[i % 2], "generation": 1, "venue_id": venue_ids[i % 3]}
        | {"adults": 1, "children": i % 3, "assistants": i % 2, "recorded_at": TRICKY[i]}
        | {"source": "api"}
        | {"day": helsinki_date(TRICKY[i])}
        for i in range(len(TRICKY))
    ]
    db.session.execute(insert(Visit.__table__), rows)  # like a bulk import: not counted
    db.session.commit()
    assert stored() == ({}, {})
    db.session.commit()
    result = runner.invoke(args=["stats", "rebuild"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert stored() == recomputed()
    assert stored()[1] == {card_ids[0]: date(2024, 2, 1), card_ids[1]: date(2024, 1, 1)}


def test_undoing_a_first_use_while_the_card_is_used_elsewhere_keeps_both_exact(app, place):
    """An undo and a new visit of the same card race, at the same venue and at another."""
    venue_ids, card_ids, staff_id = place

    def record(venue_id):
        def job():
            venue = db.session.get(Organisation, venue_id)
            staff = db.session.get(User, staff_id)
            number = db.session.get(Card, card_ids[0]).number
            door.record_visit(venue=venue, user=staff, children=1, shown=door.Shown.typed(number))

        return job

    def undo(visit_id):
        return lambda: door.undo_visit(visit_id, user=db.session.get(User, staff_id))

    for round_ in range(6):
        first, _ = door.record_visit(
            venue=db.session.get(Organisation, venue_ids[0]),
            user=db.session.get(User, staff_id),
            children=0,
            shown=door.Shown.typed(db.session.get(Card, card_ids[0]).number),
        )
        db.session.commit()
        errors = in_threads(app, undo(first.id), record(venue_ids[round_ % 2]))
        assert errors == []
        db.session.expire_all()
        assert stored() == recomputed()
        start_over()


def test_a_recorded_visit_stores_its_helsinki_day(place):
    venue_ids, card_ids, staff_id = place
    venue, card = db.session.get(Organisation, venue_ids[0]), db.session.get(Card, card_ids[0])
    staff = db.session.get(User, staff_id)
    for moment in TRICKY[:3]:
        door.record_visit(
            door.Shown.typed(card.number), venue=venue, user=staff, children=0, moment=moment
        )
    db.session.commit()
    days = db.session.scalars(select(Visit.day).order_by(Visit.id)).all()
    assert days == [date(2024, 2, 1), date(2024, 1, 31), date(2024, 2, 1)]


def test_two_undos_of_one_visit_at_once_count_it_off_once(app, place):
    venue_ids, card_ids, staff_id = place
    venue, staff = db.session.get(Organisation, venue_ids[0]), db.session.get(User, staff_id)
    number = db.session.get(Card, card_ids[0]).number
    for _ in range(6):
        door.record_visit(venue=venue, user=staff, children=1, shown=door.Shown.typed(number))
        visit, _ = door.record_visit(
            venue=venue, user=staff, children=2, shown=door.Shown.typed(number)
        )
        db.session.commit()
        visit_id = visit.id

        def undo(visit_id=visit_id):
            door.undo_visit(visit_id, user=db.session.get(User, staff_id))

        errors = in_threads(app, undo, undo)
        # The later undo finds the visit already undone, before or after it waited for the
        # row: a quiet retry either way (no "not found" at the door), counting nothing off.
        assert errors == []
        assert db.session.get(Visit, visit_id) is None
        db.session.expire_all()
        assert stored() == recomputed()
        start_over()
