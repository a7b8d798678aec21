"""At the door: verify a card and record the visit exactly once.

A door check is the app's hottest path, so it reads the database with two Core statements,
built once, and no ORM objects: one for the staff behind an API token with their venues
(:func:`staff_for_api_token`), one for the card with its region's network periods, whether
it was used at the venue that Finnish day and, when recording, the visit already stored
under the idempotency key. Their rows become the plain objects below, which
:func:`webapp.rules.verdict` reads like the models. A visit is inserted with
``ON CONFLICT DO NOTHING`` (a concurrent request with the same key stores nothing) and
counted into the daily rollup in the same transaction (:func:`webapp.services.rollup.count`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import groupby

from sqlalchemy import CursorResult, Row, and_, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite

from .. import cardnumbers, tokens
from ..extensions import db
from ..models import (
    ApiToken,
    Card,
    Event,
    NetworkMembership,
    Organisation,
    OrganisationKind,
    Region,
    Role,
    User,
    Visit,
    VisitSource,
    user_organisation,
    utcnow,
)
from ..rules import HELSINKI, Reason, VenueFacts, Verdict, children_reason, helsinki_date, verdict
from . import audit, digital, rollup
from .accounts import hash_api_token

UNDO_WINDOW = timedelta(minutes=10)


class DoorError(Exception):
    """A visit that cannot be recorded or undone; ``code`` says why."""

    def __init__(self, code: str, verdict: Verdict | None = None):
        super().__init__(code)
        self.code = str(code)
        self.verdict = verdict


# --- what a door check reads ---------------------------------------------------------------


@dataclass(frozen=True)
class DoorRegion:
    id: int
    code: str
    periods: tuple[tuple[date, date | None], ...]  # the network membership periods

    def in_network_on(self, day: date) -> bool:
        return any(start <= day and (end is None or day <= end) for start, end in self.periods)


@dataclass(frozen=True)
class DoorVenue:
    id: int
    region: DoorRegion
    course_provider: bool
    home_region_only: bool
    quota_full_refuses: bool

    @property
    def region_id(self) -> int:
        return self.region.id


@dataclass(frozen=True)
class DoorStaff:
    """The venue staff behind an API token, with the active venues where they work."""

    id: int
    role: Role
    venues: list[DoorVenue]


@dataclass(frozen=True)
class DoorCard:
    id: int
    number: str
    generation: int
    revoked: bool
    valid_from: date
    valid_until: date
    children: int
    region: DoorRegion

    @property
    def region_id(self) -> int:
        return self.region.id


@dataclass(frozen=True)
class RecordedVisit:
    id: int
    card_number: str
    venue_id: int
    adults: int
    children: int
    recorded_at: datetime


def _region_of(rows) -> DoorRegion:
    """Return the region of the rows (one per network period, or one with none)."""
    periods = tuple((row.starts_on, row.ends_on) for row in rows if row.starts_on is not None)
    return DoorRegion(rows[0].region_id, rows[0].code, periods)


_token, _user, _org = ApiToken.__table__, User.__table__, Organisation.__table__
_region, _period = Region.__table__, NetworkMembership.__table__
_card, _visit = Card.__table__, Visit.__table__

_STAFF = (
    select(
        _user.c.id,
        _user.c.role,
        _org.c.id.label("venue_id"),
        _org.c.course_provider,
        _org.c.home_region_only,
        _org.c.quota_full_refuses,
        _region.c.id.label("region_id"),
        _region.c.code,
        _period.c.starts_on,
        _period.c.ends_on,
    )
    .select_from(
        _token.join(_user, _user.c.id == _token.c.user_id)
        .outerjoin(user_organisation, user_organisation.c.user_id == _user.c.id)
        .outerjoin(
            _org,
            and_(
                _org.c.id == user_organisation.c.organisation_id,
                _org.c.kind == OrganisationKind.VENUE,
                _org.c.active,
            ),
        )
        .outerjoin(_region, _region.c.id == _org.c.region_id)
        .outerjoin(_period, _period.c.region_id == _region.c.id)
    )
    .where(_token.c.token_hash == bindparam("token_hash"), _token.c.revoked_at.is_(None))
    .where(_user.c.active)
    .order_by(_org.c.name, _org.c.id)  # the venues in the order the pages list them
)

_VISIT_BY_KEY = select(_visit.c.id).where(
    _visit.c.venue_id == bindparam("venue_id"), _visit.c.idempotency_key == bindparam("key")
)

_CARD = (
    select(
        _card.c.id,
        _card.c.number,
        _card.c.generation,
        _card.c.revoked,
        _card.c.valid_from,
        _card.c.valid_until,
        _card.c.children,
        _region.c.id.label("region_id"),
        _region.c.code,
        _period.c.starts_on,
        _period.c.ends_on,
        select(_visit.c.id)
        .where(
            _visit.c.card_id == _card.c.id,
            _visit.c.venue_id == bindparam("venue_id"),
            _visit.c.recorded_at >= bindparam("day_starts"),
            _visit.c.recorded_at < bindparam("day_ends"),
        )
        .limit(1)  # looked up for this card, not hashed over the venue's day of visits
        .exists()
        .label("visited_today"),
        _VISIT_BY_KEY.scalar_subquery().label("existing_visit"),
    )
    .select_from(_card.join(_region).outerjoin(_period, _period.c.region_id == _region.c.id))
    .where(_card.c.number == bindparam("number"))
)

_INSERT = {  # a visit, unless the venue has one under the same idempotency key
    name: dialect.insert(_visit)
    .on_conflict_do_nothing(index_elements=["venue_id", "idempotency_key"])
    .returning(_visit.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}

_RECORDED = (
    select(
        _visit.c.id,
        _card.c.number,
        _visit.c.venue_id,
        _visit.c.adults,
        _visit.c.children,
        _visit.c.recorded_at,
    )
    .join(_card)
    .where(_visit.c.id == bindparam("visit_id"))
)


def staff_for_api_token(token: str) -> DoorStaff | None:
    """Return the active user of the unrevoked API token with their venues, or None."""
    if not token or len(token) > 200:
        return None
    rows = _run(_STAFF, token_hash=hash_api_token(token)).all()
    if not rows:
        return None
    venues = []
    for venue_id, group in groupby(rows, lambda row: row.venue_id):
        if venue_id is not None:
            venue_rows = list(group)
            first = venue_rows[0]
            venues.append(
                DoorVenue(
                    venue_id,
                    _region_of(venue_rows),
                    first.course_provider,
                    first.home_region_only,
                    first.quota_full_refuses,
                )
            )
    return DoorStaff(rows[0].id, rows[0].role, venues)


# --- the checks ----------------------------------------------------------------------------


def verify(
    token: str, venue: VenueFacts, *, moment: datetime | None = None, event: Event | None = None
) -> Verdict:
    """Decide whether the card behind the token is accepted at the venue now."""
    return _check(token, None, venue, moment or utcnow(), event)[0]


def verify_number(
    number: str, venue: VenueFacts, *, moment: datetime | None = None, event: Event | None = None
) -> Verdict:
    """Decide on a card number typed by hand (for a damaged card)."""
    return _check(None, number, venue, moment or utcnow(), event)[0]


def record_visit(
    *,
    venue: VenueFacts,
    user: User | DoorStaff | None,
    children: int,
    token: str | None = None,
    number: str | None = None,
    idempotency_key: str | None = None,
    event: Event | None = None,
    source: VisitSource = VisitSource.API,
    moment: datetime | None = None,
) -> tuple[RecordedVisit, bool]:
    """Record a visit once per idempotency key; return it and whether it is new.

    Raises DoorError with the verdict's reason when the card is refused, or with
    ``children_not_allowed``, ``too_many_children`` or ``invalid_children``.
    """
    moment = moment or utcnow()
    idempotency_key = digital.replay_key(token) or idempotency_key  # a code counts once
    decision, row = _check(token, number, venue, moment, event, idempotency_key)
    # The visit already stored under the key, read with the card when there was a card.
    existing = row.existing_visit if row is not None else _visit_by_key(venue, idempotency_key)
    if existing is not None and (stored := _recorded(existing)) is not None:
        return stored, False
    if not decision.valid:
        raise DoorError(decision.reason, decision)
    if children < 0:
        raise DoorError("invalid_children", decision)
    refusal = children_reason(decision, children)
    if refusal is not None:
        raise DoorError(refusal, decision)

    card = decision.card
    values = {
        "card_id": card.id,
        "generation": card.generation,
        "venue_id": venue.id,
        "event_id": event.id if event is not None else None,
        "adults": 1,
        "children": children,
        "recorded_at": moment,
        "recorded_by_id": user.id if user is not None else None,
        "source": source,
        "idempotency_key": idempotency_key,
    }
    connection = db.session.connection()
    for _attempt in range(3):
        visit_id = connection.execute(_INSERT[connection.dialect.name], values).scalar()
        if visit_id is not None:
            rollup.count(db.session, card.id, venue.id, moment, 1, children)
            return RecordedVisit(visit_id, card.number, venue.id, 1, children, moment), True
        # A concurrent request with the same key stored it first; unless that visit was
        # undone in the meantime, it is the answer.
        stored = _recorded(_visit_by_key(venue, idempotency_key))
        if stored is not None:
            return stored, False
    raise DoorError("conflict", decision)


def undo_visit(visit_id: int, *, user: User, moment: datetime | None = None) -> Visit:
    """Delete a visit recorded at one of the user's venues less than 10 minutes ago."""
    venue_ids = [venue.id for venue in user.venues]
    visit = db.session.scalar(
        select(Visit).where(Visit.id == visit_id, Visit.venue_id.in_(venue_ids))
    )
    if visit is None:
        raise DoorError("not_found")
    if (moment or utcnow()) - visit.recorded_at > UNDO_WINDOW:
        raise DoorError("undo_window_passed")
    audit.record(
        "visit.undone",
        visit,
        actor=user,
        region_id=visit.venue.region_id,
        card=visit.card.number,
        venue=visit.venue.name,
        children=visit.children,
        recorded_at=visit.recorded_at.isoformat(),
    )
    db.session.delete(visit)
    return visit


def _check(
    token: str | None,
    number: str | None,
    venue: VenueFacts,
    moment: datetime,
    event: Event | None,
    idempotency_key: str | None = None,
) -> tuple[Verdict, Row | None]:
    """Return the verdict and the card's row (with ``existing_visit``), None for no card."""
    generation = None
    if token is not None:
        try:
            parsed = digital.parse_token(token, moment)
        except tokens.TokenError as error:
            return Verdict(Reason(error.code), None, venue), None
        number, generation = parsed.number, parsed.generation
    else:
        number = cardnumbers.normalize(number or "")
        if not cardnumbers.is_valid(number):
            return Verdict(Reason.INVALID_TOKEN, None, venue), None

    day = helsinki_date(moment)
    rows = _run(
        _CARD,
        number=number,
        venue_id=venue.id,
        day_starts=datetime.combine(day, time(), HELSINKI),
        day_ends=datetime.combine(day + timedelta(days=1), time(), HELSINKI),
        key=idempotency_key,
    ).all()
    if not rows:
        return verdict(None, 0, venue, moment), None
    row = rows[0]
    card = DoorCard(
        row.id,
        row.number,
        row.generation,
        row.revoked,
        row.valid_from,
        row.valid_until,
        row.children,
        _region_of(rows),
    )
    decision = verdict(
        card,
        card.generation if generation is None else generation,
        venue,
        moment,
        visited_today=row.visited_today,
        quota_full=_quota_full(event),
    )
    return decision, row


def _quota_full(event: Event | None) -> bool:
    if event is None or event.quota is None:
        return False
    used = db.session.scalar(select(func.count()).where(Visit.event_id == event.id))
    return used >= event.quota


def _visit_by_key(venue: VenueFacts, key: str | None) -> int | None:
    if key is None:
        return None
    return _run(_VISIT_BY_KEY, venue_id=venue.id, key=key).scalar()


def _recorded(visit_id: int | None) -> RecordedVisit | None:
    row = None if visit_id is None else _run(_RECORDED, visit_id=visit_id).one_or_none()
    return None if row is None else RecordedVisit(*row)


def _run(statement, **params) -> CursorResult:
    """Run a Core statement on the session's connection (no ORM on the door's path)."""
    return db.session.connection().execute(statement, params)
