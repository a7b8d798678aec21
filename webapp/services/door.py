"""At the door: verify a card and record the visit exactly once."""

from datetime import datetime, time, timedelta

from flask import current_app
from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from .. import cardnumbers, tokens
from ..extensions import db
from ..models import Card, Event, Organisation, Region, User, Visit, VisitSource, utcnow
from ..rules import HELSINKI, Reason, Verdict, children_reason, helsinki_date, verdict
from . import audit

UNDO_WINDOW = timedelta(minutes=10)


class DoorError(Exception):
    """A visit that cannot be recorded or undone; ``code`` says why."""

    def __init__(self, code: str, verdict: Verdict | None = None):
        super().__init__(code)
        self.code = str(code)
        self.verdict = verdict


def venues_of(user: User) -> list[Organisation]:
    """Return the active venues where the user works."""
    return [org for org in user.organisations if org.is_venue and org.active]


def verify(
    token: str, venue: Organisation, *, moment: datetime | None = None, event: Event | None = None
) -> Verdict:
    """Decide whether the card behind the token is accepted at the venue now."""
    try:
        parsed = tokens.parse(
            token,
            current_app.config["CARD_SIGNING_KEYS"],
            max_age=current_app.config["DIGITAL_TOKEN_MAX_AGE"],
        )
    except tokens.TokenError as error:
        return Verdict(Reason(error.code), None, venue)
    return _decide(parsed.number, parsed.generation, venue, moment or utcnow(), event)


def verify_number(
    number: str, venue: Organisation, *, moment: datetime | None = None, event: Event | None = None
) -> Verdict:
    """Decide on a card number typed by hand (for a damaged card)."""
    number = cardnumbers.normalize(number)
    if not cardnumbers.is_valid(number):
        return Verdict(Reason.INVALID_TOKEN, None, venue)
    return _decide(number, None, venue, moment or utcnow(), event)


def record_visit(
    *,
    venue: Organisation,
    user: User | None,
    children: int,
    token: str | None = None,
    number: str | None = None,
    idempotency_key: str | None = None,
    event: Event | None = None,
    source: VisitSource = VisitSource.API,
    moment: datetime | None = None,
) -> tuple[Visit, bool]:
    """Record a visit once per idempotency key; return it and whether it is new.

    Raises DoorError with the verdict's reason when the card is refused, or with
    ``children_not_allowed``, ``too_many_children`` or ``invalid_children``.
    """
    if idempotency_key is not None:
        existing = _visit_by_key(venue, idempotency_key)
        if existing is not None:
            return existing, False
    moment = moment or utcnow()
    if token is not None:
        decision = verify(token, venue, moment=moment, event=event)
    else:
        decision = verify_number(number or "", venue, moment=moment, event=event)
    if not decision.valid:
        raise DoorError(decision.reason, decision)
    if children < 0:
        raise DoorError("invalid_children", decision)
    refusal = children_reason(decision, children)
    if refusal is not None:
        raise DoorError(refusal, decision)

    visit = Visit(
        card=decision.card,
        generation=decision.card.generation,
        venue=venue,
        event=event,
        adults=1,
        children=children,
        recorded_at=moment,
        recorded_by_id=user.id if user is not None else None,
        source=source,
        idempotency_key=idempotency_key,
    )
    try:
        with db.session.begin_nested():
            db.session.add(visit)
    except IntegrityError:
        # The same key was recorded by a concurrent request: answer with that visit.
        existing = _visit_by_key(venue, idempotency_key) if idempotency_key else None
        if existing is None:
            raise
        return existing, False
    return visit, True


def undo_visit(visit_id: int, *, user: User, moment: datetime | None = None) -> Visit:
    """Delete a visit recorded at one of the user's venues less than 10 minutes ago."""
    venue_ids = [venue.id for venue in venues_of(user)]
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


def _decide(
    number: str, generation: int | None, venue: Organisation, moment: datetime, event: Event | None
) -> Verdict:
    card = (
        db.session.scalars(
            select(Card)
            .options(joinedload(Card.region).joinedload(Region.memberships))
            .where(Card.number == number)
        )
        .unique()
        .first()
    )
    if card is None:
        return verdict(None, 0, venue, moment)
    return verdict(
        card,
        card.generation if generation is None else generation,
        venue,
        moment,
        visited_today=_visited_today(card, venue, moment),
        quota_full=_quota_full(event),
    )


def _visited_today(card: Card, venue: Organisation, moment: datetime) -> bool:
    day = helsinki_date(moment)
    start = datetime.combine(day, time(), HELSINKI)
    end = datetime.combine(day + timedelta(days=1), time(), HELSINKI)
    return db.session.scalar(
        select(
            exists().where(
                Visit.card_id == card.id,
                Visit.venue_id == venue.id,
                Visit.recorded_at >= start,
                Visit.recorded_at < end,
            )
        )
    )


def _quota_full(event: Event | None) -> bool:
    if event is None or event.quota is None:
        return False
    used = db.session.scalar(select(func.count()).where(Visit.event_id == event.id))
    return used >= event.quota


def _visit_by_key(venue: Organisation, key: str) -> Visit | None:
    return db.session.scalar(
        select(Visit).where(Visit.venue_id == venue.id, Visit.idempotency_key == key)
    )
