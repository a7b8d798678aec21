"""The conflicts of visits accepted offline, as the venue and the coordinator read them.

A conflict is stored by :func:`webapp.services.door.record_offline_visit` when a visit that a
phone accepted offline reaches the server and something no longer held (a revocation since,
a second use that day, a list out of date, more children than allowed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select

from ..extensions import db
from ..models import Card, ConflictCode, Organisation, User, Visit, VisitConflict

LIMIT = 200


@dataclass(frozen=True)
class ConflictLine:
    code: ConflictCode
    reason: str | None  # the door's reason of a list out of date
    children_asked: int | None
    card_number: str
    venue: str
    children: int
    scanned_at: datetime
    synced_at: datetime
    recorded_by: str | None


def conflicts_at(venue_ids: list[int] | Select, limit: int = LIMIT) -> list[ConflictLine]:
    """Return the newest conflicts of visits at the venues (ids, or a select of ids)."""
    query = (
        select(
            VisitConflict.code,
            VisitConflict.reason,
            VisitConflict.children,
            Card.number,
            Organisation.name,
            Visit.children,
            Visit.recorded_at,
            VisitConflict.created_at,
            User.email,
        )
        .join(Visit, Visit.id == VisitConflict.visit_id)
        .join(Card, Card.id == Visit.card_id)
        .join(Organisation, Organisation.id == Visit.venue_id)
        .outerjoin(User, User.id == Visit.recorded_by_id)
        .where(Visit.venue_id.in_(venue_ids))
        .order_by(VisitConflict.created_at.desc(), VisitConflict.id.desc())
        .limit(limit)
    )
    return [ConflictLine(*row) for row in db.session.execute(query)]
