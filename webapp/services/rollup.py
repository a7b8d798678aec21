"""The daily rollup of the visits (``visit_day``) and each card's first use (``first_used_on``).

The statistics read these instead of the raw visits. They stay exact on every write path:

* ORM events on Visit adjust them in the same transaction, on the same connection, for
  every insert, update and delete made through a session (``door.undo_visit``, tests adding
  rows): an insert upserts its (venue, Helsinki day) row and moves the card's first use
  earlier when it is; a delete decrements the row (removing it at zero) and, when it may
  have been the card's first use, recomputes the first use from the remaining visits.
* ``door.record_visit`` inserts its visit with a Core statement (the door's fast path) and
  calls :func:`count` itself, in the same transaction; so does any such writer.
* :func:`rebuild` (``flask stats rebuild``) recomputes both from the visits, after writes
  that bypass the ORM: COPY, executemany, a bulk ``delete(Visit)``.

Concurrency on PostgreSQL (READ COMMITTED). A recorded visit locks its one (venue, day) row
until commit, so concurrent visits at a venue on a day queue for a few milliseconds there,
and then, only on a card's first use, the card row. A delete first locks the visit row
(two undos of one visit: the second finds it gone and counts nothing off) and its card row
``FOR UPDATE`` (which waits for any uncommitted visit of the card: inserting a visit holds
the card ``FOR KEY SHARE`` through its foreign key), then the (venue, day) row, so the first
use it recomputes sees every committed visit. Recording and undoing touch one rollup row
each and take the card only before it or last, so they cannot deadlock one another. (An
ORM update of a visit, which the app never makes, moves it between two rollup rows.)
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import (
    Connection,
    Date,
    bindparam,
    case,
    cast,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, attributes, object_session
from sqlalchemy.orm.util import identity_key

from ..models import Card, Visit, VisitDay
from ..rules import HELSINKI, helsinki_date

FIELDS = ("card_id", "venue_id", "recorded_at", "adults", "children")
SUMS = ("visits", "adults", "children")
REMEMBERED = "rollup.before"

visit_table = Visit.__table__
day_table = VisitDay.__table__
card_table = Card.__table__


class _Use(NamedTuple):
    """What one visit adds to the rollup."""

    card_id: int
    venue_id: int
    day: date
    adults: int
    children: int

    @classmethod
    def of(cls, card_id, venue_id, recorded_at, adults, children) -> _Use:
        return cls(card_id, venue_id, helsinki_date(recorded_at), adults, children)


# --- the ORM events ------------------------------------------------------------------------


@event.listens_for(Visit, "after_insert")
def _after_insert(_mapper, connection: Connection, target: Visit) -> None:
    use = _Use.of(*(getattr(target, name) for name in FIELDS))
    _count(connection, use, object_session(target))


@event.listens_for(Visit, "before_delete")
def _before_delete(_mapper, connection: Connection, target: Visit) -> None:
    attributes.instance_state(target).info[REMEMBERED] = _stored(connection, target.id)


@event.listens_for(Visit, "after_delete")
def _after_delete(_mapper, connection: Connection, target: Visit) -> None:
    remembered = attributes.instance_state(target).info.pop(REMEMBERED, None)
    if remembered is not None:
        _uncount(connection, *remembered, target)


@event.listens_for(Visit, "before_update")
def _before_update(_mapper, connection: Connection, target: Visit) -> None:
    state = attributes.instance_state(target)
    if any(state.attrs[name].history.has_changes() for name in FIELDS):
        state.info[REMEMBERED] = _stored(connection, target.id)


@event.listens_for(Visit, "after_update")
def _after_update(_mapper, connection: Connection, target: Visit) -> None:
    remembered = attributes.instance_state(target).info.pop(REMEMBERED, None)
    if remembered is None:
        return
    new = _Use.of(*(getattr(target, name) for name in FIELDS))
    if remembered[0] != new:
        _uncount(connection, *remembered, target)
        _count(connection, new, object_session(target))


def _stored(connection: Connection, visit_id: int) -> tuple[_Use, date | None] | None:
    """Return the visit as stored (not as edited in memory) and its card's first use.

    Locks the visit row (a concurrent undo of the same visit then finds it gone) and the
    card row, before any rollup row (see the module's notes on concurrency).
    """
    row = connection.execute(
        select(*(visit_table.c[name] for name in FIELDS))
        .where(visit_table.c.id == visit_id)
        .with_for_update()
    ).one_or_none()
    if row is None:
        return None
    first_used_on = connection.scalar(
        select(card_table.c.first_used_on).where(card_table.c.id == row.card_id).with_for_update()
    )
    return _Use.of(*row), first_used_on


# --- adjusting the rollup ------------------------------------------------------------------


def count(
    session: Session, card_id: int, venue_id: int, recorded_at: datetime, adults: int, children: int
) -> None:
    """Count a visit inserted without the ORM (whose events count the others)."""
    use = _Use.of(card_id, venue_id, recorded_at, adults, children)
    _count(session.connection(), use, session)


def _add_to_day(dialect):
    stmt = dialect.insert(day_table)
    return stmt.on_conflict_do_update(
        index_elements=[day_table.c.venue_id, day_table.c.day],
        set_={name: day_table.c[name] + stmt.excluded[name] for name in SUMS},
    )


# Built once, as every recorded visit runs them. EARLIER_FIRST_USE keeps ``updated_at``
# like _set_first_use.
ADD_TO_DAY = {"postgresql": _add_to_day(postgresql), "sqlite": _add_to_day(sqlite)}
EARLIER_FIRST_USE = (
    update(card_table)
    .where(
        card_table.c.id == bindparam("card"),
        or_(card_table.c.first_used_on.is_(None), card_table.c.first_used_on > bindparam("day")),
    )
    .values(first_used_on=bindparam("day"), updated_at=card_table.c.updated_at)
)


def _count(connection: Connection, use: _Use, session: Session | None) -> None:
    """Add one visit to its day's row and move the card's first use earlier when it is."""
    connection.execute(
        ADD_TO_DAY[connection.dialect.name],
        {
            "venue_id": use.venue_id,
            "day": use.day,
            "visits": 1,
            "adults": use.adults,
            "children": use.children,
        },
    )
    if connection.execute(EARLIER_FIRST_USE, {"card": use.card_id, "day": use.day}).rowcount:
        _sync_card(session, use.card_id, use.day)


def _uncount(connection: Connection, use: _Use, first_used_on: date | None, visit: Visit) -> None:
    """Take one visit off its day's row; recompute the card's first use if it was this one."""
    key = (day_table.c.venue_id == use.venue_id, day_table.c.day == use.day)
    connection.execute(
        update(day_table)
        .where(*key)
        .values(
            visits=day_table.c.visits - 1,
            adults=day_table.c.adults - use.adults,
            children=day_table.c.children - use.children,
        )
    )
    connection.execute(delete(day_table).where(*key, day_table.c.visits == 0))
    if first_used_on is None or first_used_on >= use.day:
        first = connection.scalar(
            select(func.min(visit_table.c.recorded_at)).where(visit_table.c.card_id == use.card_id)
        )
        day = None if first is None else helsinki_date(first)
        _set_first_use(connection, use.card_id, day)
        _sync_card(object_session(visit), use.card_id, day)


def _set_first_use(connection: Connection, card_id: int, day: date | None) -> None:
    """Store a card's first use; keep ``updated_at`` (the offline lists' deltas follow it)."""
    connection.execute(
        update(card_table)
        .where(card_table.c.id == card_id)
        .values(first_used_on=day, updated_at=card_table.c.updated_at)
    )


def _sync_card(session: Session | None, card_id: int, day: date | None) -> None:
    """Show the new first use on the session's copy of the card, if it holds one."""
    card = session.identity_map.get(identity_key(Card, card_id)) if session else None
    if card is not None:
        attributes.set_committed_value(card, "first_used_on", day)


# --- rebuilding from the visits -------------------------------------------------------------


def rebuild(session: Session) -> dict[str, int]:
    """Recompute ``visit_day`` and every card's ``first_used_on`` from the visits.

    For use after writes that bypass the ORM. On PostgreSQL it holds off visits being
    recorded or undone meanwhile (a SHARE lock on ``visit``); on SQLite its write
    transaction does. The caller commits. Returns the numbers of venue-days and used cards.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.connection().exec_driver_sql("LOCK TABLE visit IN SHARE MODE")
    session.execute(delete(day_table))  # on SQLite, takes the write lock before reading
    day = _day_sql(session, visit_table.c.recorded_at)
    if day is None:  # no visits
        session.execute(update(card_table).values(first_used_on=None, updated_at=_kept()))
        return _written(session)
    sums = select(
        visit_table.c.venue_id,
        day.label("day"),
        func.count(),
        func.sum(visit_table.c.adults),
        func.sum(visit_table.c.children),
    ).group_by(visit_table.c.venue_id, "day")
    names = ["venue_id", "day", "visits", "adults", "children"]
    session.execute(insert(day_table).from_select(names, sums))
    first = (
        select(_day_sql(session, func.min(visit_table.c.recorded_at)))
        .where(visit_table.c.card_id == card_table.c.id)
        .scalar_subquery()
    )
    session.execute(update(card_table).values(first_used_on=first, updated_at=_kept()))
    return _written(session)


def _written(session: Session) -> dict[str, int]:
    used = card_table.c.first_used_on.is_not(None)
    return {
        "days": session.scalar(select(func.count()).select_from(day_table)),
        "cards": session.scalar(select(func.count()).select_from(card_table).where(used)),
    }


def _kept():
    return card_table.c.updated_at


def _day_sql(session: Session, moment):
    """Return SQL for the Helsinki date of a UTC instant (None: there are no visits).

    PostgreSQL converts with its time zone database. SQLite has none, so the UTC offset
    comes from a CASE over the offset changes between the first and the last visit.
    """
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("Europe/Helsinki", moment), Date)
    first, last = session.execute(
        select(func.min(visit_table.c.recorded_at), func.max(visit_table.c.recorded_at))
    ).one()
    if first is None:
        return None
    changes = offset_changes(first, last)
    if not changes:
        return func.date(moment, _modifier(first.astimezone(HELSINKI).utcoffset()))
    whens = [(moment < at, _modifier(before)) for at, before, _ in changes]
    return func.date(moment, case(*whens, else_=_modifier(changes[-1][2])))


def _modifier(offset: timedelta) -> str:
    return f"{int(offset.total_seconds()) // 60:+d} minutes"


def offset_changes(first: datetime, last: datetime) -> list[tuple[datetime, timedelta, timedelta]]:
    """Return the instants in [first, last] at which Helsinki's UTC offset changes.

    Each as (instant, offset before, offset after): found day by day, then to the second.
    """
    changes = []
    day = first.replace(hour=0, minute=0, second=0, microsecond=0)
    while day <= last:
        following = day + timedelta(days=1)
        before, after = _offset(day), _offset(following)
        if before != after:
            changes.append((_first_second_of(after, day), before, after))
        day = following
    return changes


def _first_second_of(offset: timedelta, day: datetime) -> datetime:
    """Return the first second of the day (which ends with it) with that offset."""
    lo, hi = 0, 86_400  # seconds into the day: the offset at lo differs, the one at hi is it
    while hi - lo > 1:
        middle = (lo + hi) // 2
        if _offset(day + timedelta(seconds=middle)) == offset:
            hi = middle
        else:
            lo = middle
    return day + timedelta(seconds=hi)


def _offset(moment: datetime) -> timedelta:
    return moment.astimezone(HELSINKI).utcoffset()
