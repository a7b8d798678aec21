"""The daily rollup of the visits (``visit_day``) and each card's first use (``first_used_on``).

The statistics read these instead of the raw visits. Every visit carries its Helsinki
``day``, and the rollup has one explicit write path, in the same transaction as the visit:

* :func:`count` after a visit is inserted (``door.record_visit``, ``tests.factories``):
  it upserts the (venue, day) row and moves the card's first use earlier when it is;
* :func:`remove` deletes a visit (``door.undo_visit``): it decrements the row (removing
  it at zero) and, when the visit may have been the card's first use, recomputes the
  first use from the remaining visits;
* :func:`rebuild` (``flask stats rebuild``) recomputes both from the visits, after writes
  that bypass these: COPY, executemany, a bulk ``delete(Visit)``.

Concurrency on PostgreSQL (READ COMMITTED). A recorded visit locks its one (venue, day) row
until commit, so concurrent visits at a venue on a day queue for a few milliseconds there,
and then, only on a card's first use, the card row. An undo first deletes the visit row
(two undos of one visit: the second finds it gone and counts nothing off), locks its card row
``FOR UPDATE`` (which waits for any uncommitted visit of the card: inserting a visit holds
the card ``FOR KEY SHARE`` through its foreign key), then the (venue, day) row, so the first
use it recomputes sees every committed visit. Recording and undoing touch one rollup row
each and take the card only before it or last, so they cannot deadlock one another.
"""

from __future__ import annotations

from datetime import date
from functools import cache

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    bindparam,
    delete,
    func,
    insert,
    not_,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, attributes
from sqlalchemy.orm.util import identity_key

from ..models import Card, Visit, VisitDay

SUMS = ("visits", "adults", "children", "assistants")

visit_table = Visit.__table__
day_table = VisitDay.__table__
card_table = Card.__table__


@cache
def _add_to_day(dialect_name: str, unless: ColumnElement[bool] | None):
    """Return the upsert of a visit's sums into its (venue, day) row, made once for each
    dialect and condition: nothing is added when ``unless`` holds, read by this statement."""
    values = select(
        bindparam("venue_id", type_=Integer),
        bindparam("day", type_=Date),
        *(bindparam(name, type_=Integer) for name in SUMS),
    )
    # A WHERE always: SQLite parses an upsert's SELECT only with one.
    values = values.where(true() if unless is None else not_(unless))
    stmt = _DIALECTS[dialect_name].insert(day_table)
    stmt = stmt.from_select(["venue_id", "day", *SUMS], values)
    return stmt.on_conflict_do_update(
        index_elements=[day_table.c.venue_id, day_table.c.day],
        set_={name: day_table.c[name] + stmt.excluded[name] for name in SUMS},
    ).returning(day_table.c.visits)


_DIALECTS = {"postgresql": postgresql, "sqlite": sqlite}
# Built once, as every recorded visit runs it. It keeps ``updated_at`` (the offline lists'
# deltas follow it: a visit is not a change of the card).
EARLIER_FIRST_USE = (
    update(card_table)
    .where(
        card_table.c.id == bindparam("card"),
        or_(card_table.c.first_used_on.is_(None), card_table.c.first_used_on > bindparam("day")),
    )
    .values(first_used_on=bindparam("day"), updated_at=card_table.c.updated_at)
)
_DELETE = (
    delete(visit_table)
    .where(visit_table.c.id == bindparam("visit_id"))
    .returning(
        visit_table.c.card_id,
        visit_table.c.venue_id,
        visit_table.c.day,
        visit_table.c.adults,
        visit_table.c.children,
        visit_table.c.assistants,
    )
)


def count(
    session: Session,
    *,
    card_id: int,
    venue_id: int,
    day: date,
    adults: int,
    children: int,
    assistants: int,
    unless: ColumnElement[bool] | None = None,
    **params,
) -> bool:
    """Count a visit just inserted: add it to its day's row, move the card's first use.

    ``unless``: a condition, built once, with its bound ``params``, under which the visit is
    not counted (False): it is read by the day's upsert itself, after the visit's insert,
    so that what committed meanwhile is seen without a statement of its own.
    """
    connection = session.connection()
    sums = {"visits": 1, "adults": adults, "children": children, "assistants": assistants}
    add = _add_to_day(connection.dialect.name, unless)
    if connection.execute(add, {"venue_id": venue_id, "day": day} | sums | params).first() is None:
        return False
    if connection.execute(EARLIER_FIRST_USE, {"card": card_id, "day": day}).rowcount:
        _sync_card(session, card_id, day)
    return True


def remove(session: Session, visit_id: int) -> bool:
    """Delete a visit and take it off the rollup; False when it was already gone.

    The DELETE comes first: it locks the visit row (a concurrent removal of the same visit
    waits, then deletes nothing), then the card row, then the rollup row (see the notes).
    """
    connection = session.connection()
    row = connection.execute(_DELETE, {"visit_id": visit_id}).one_or_none()
    if row is None:
        return False
    first_used_on = connection.scalar(
        select(card_table.c.first_used_on).where(card_table.c.id == row.card_id).with_for_update()
    )
    key = (day_table.c.venue_id == row.venue_id, day_table.c.day == row.day)
    connection.execute(
        update(day_table)
        .where(*key)
        .values(
            visits=day_table.c.visits - 1,
            adults=day_table.c.adults - row.adults,
            children=day_table.c.children - row.children,
            assistants=day_table.c.assistants - row.assistants,
        )
    )
    connection.execute(delete(day_table).where(*key, day_table.c.visits == 0))
    if first_used_on is None or first_used_on >= row.day:
        day = connection.scalar(
            select(func.min(visit_table.c.day)).where(visit_table.c.card_id == row.card_id)
        )
        connection.execute(
            update(card_table)
            .where(card_table.c.id == row.card_id)
            .values(first_used_on=day, updated_at=card_table.c.updated_at)
        )
        _sync_card(session, row.card_id, day)
    return True


def _sync_card(session: Session, card_id: int, day: date | None) -> None:
    """Show the new first use on the session's copy of the card, if it holds one."""
    card = session.identity_map.get(identity_key(Card, card_id))
    if card is not None:
        attributes.set_committed_value(card, "first_used_on", day)


# --- rebuilding from the visits -------------------------------------------------------------


def rebuild(session: Session) -> dict[str, int]:
    """Recompute ``visit_day`` and every card's ``first_used_on`` from the visits.

    For use after writes that bypass :func:`count` and :func:`uncount`. On PostgreSQL it
    holds off visits being recorded or undone meanwhile (a SHARE lock on ``visit``); on
    SQLite its write transaction does. The caller commits. Returns the numbers of
    venue-days and used cards.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.connection().exec_driver_sql("LOCK TABLE visit IN SHARE MODE")
    session.execute(delete(day_table))  # on SQLite, takes the write lock before reading
    sums = select(
        visit_table.c.venue_id,
        visit_table.c.day,
        func.count(),
        func.sum(visit_table.c.adults),
        func.sum(visit_table.c.children),
        func.sum(visit_table.c.assistants),
    ).group_by(visit_table.c.venue_id, visit_table.c.day)
    names = ["venue_id", "day", *SUMS]
    session.execute(insert(day_table).from_select(names, sums))
    first = (
        select(func.min(visit_table.c.day))
        .where(visit_table.c.card_id == card_table.c.id)
        .scalar_subquery()
    )
    session.execute(
        update(card_table).values(first_used_on=first, updated_at=card_table.c.updated_at)
    )
    used = card_table.c.first_used_on.is_not(None)
    return {
        "days": session.scalar(select(func.count()).select_from(day_table)),
        "cards": session.scalar(select(func.count()).select_from(card_table).where(used)),
    }
