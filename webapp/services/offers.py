"""Offers: the events and standing offers of the public catalogue, and their places left.

An offer is a published :class:`~webapp.models.Event`. Its ``quota`` is its Kaikukortti
places, the same places the door counts as ``quota_full``, so the places left are the quota
less the visits recorded for the event (:func:`webapp.services.door.visits_per_event`), and
an offer is full exactly when the door says so. Venue staff publish offers at their own
venues, coordinators at their region's, a national admin anywhere. The catalogue needs no
account and knows nothing of who reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, false, or_, select
from sqlalchemy.orm import contains_eager

from ..errors import DomainError, ErrorCode
from ..extensions import db
from ..models import (
    Card,
    Event,
    OfferKind,
    Organisation,
    OrganisationKind,
    Region,
    Role,
    User,
    VenueCategory,
    Visit,
)
from ..rules import finnish_moment, helsinki_date
from . import audit, door, network

MAX_OFFERS = 200
MAX_USES = 10
TEXT_LENGTH = 500


class OfferError(DomainError):
    """An offer that cannot be saved; ``code`` says why, ``field`` where."""


@dataclass(frozen=True)
class OfferFilter:
    """What the catalogue's reader asked for; every part is optional but the first day."""

    start: date
    end: date | None = None
    region: str | None = None
    municipality: str | None = None
    field: VenueCategory | None = None
    children: bool = False


@dataclass(frozen=True)
class Offer:
    """An offer as the catalogue shows it: the event and its places left (None: no limit)."""

    event: Event
    places_left: int | None

    @property
    def full(self) -> bool:
        return self.places_left == 0


@dataclass(frozen=True)
class Use:
    """One of the holder's own uses of their card."""

    venue: str
    day: date
    children: int


@dataclass(frozen=True)
class OfferInput:
    """What a publisher writes into an offer."""

    venue: Organisation
    kind: OfferKind
    title: str
    starts_on: date
    starts_at: time | None = None
    ends_at: time | None = None
    ends_on: date | None = None
    hours: str | None = None
    place: str | None = None
    municipality: str | None = None
    quota: int | None = None
    children_welcome: bool = False
    text_fi: str | None = None
    text_sv: str | None = None
    text_en: str | None = None


# --- the public catalogue -----------------------------------------------------------------


def catalogue(filters: OfferFilter) -> list[Offer]:
    """Return the published offers that match the filters, the soonest first."""
    query = (
        _published()
        .where(_on_days(filters.start, filters.end))
        .order_by(Event.starts_at.is_(None), Event.starts_on, Event.starts_at, Event.name)
        .limit(MAX_OFFERS)
    )
    if filters.region:
        query = query.where(Region.code == filters.region)
    if filters.municipality:
        query = query.where(Event.municipality == filters.municipality)
    if filters.field is not None:
        query = query.where(Organisation.category == filters.field)
    if filters.children:
        query = query.where(Event.children_welcome)
    events = list(db.session.scalars(query))
    left = places_left(events)
    return [Offer(event, left[event.id]) for event in events]


def places_left(events: list[Event]) -> dict[int, int | None]:
    """Return the Kaikukortti places of each event not yet taken; None when not limited."""
    taken = door.visits_per_event([event.id for event in events if event.quota is not None])
    return {
        event.id: None if event.quota is None else max(event.quota - taken.get(event.id, 0), 0)
        for event in events
    }


def municipalities() -> list[str]:
    """Return the municipalities that published offers name, in alphabetical order."""
    query = (
        select(Event.municipality)
        .where(Event.published, Event.active, Event.municipality.is_not(None))
        .distinct()
        .order_by(Event.municipality)
    )
    return list(db.session.scalars(query))


def regions() -> list[Region]:
    """Return the regions, for the catalogue's region filter."""
    return list(db.session.scalars(select(Region).order_by(Region.name)))


def region_by_code(code: str) -> Region | None:
    """Return the region with that code; None for no region or no code's shape."""
    if len(code) > 40 or not network.CODE_PATTERN.match(code):
        return None
    return db.session.scalar(select(Region).where(Region.code == code))


def _published() -> Select:
    return (
        select(Event)
        .join(Event.venue)
        .join(Organisation.region)
        .options(contains_eager(Event.venue).contains_eager(Organisation.region))
        .where(Event.published, Event.active, Organisation.active)
    )


def _on_days(start: date, end: date | None):
    """Match an event on a day of the range, or a standing offer running on one of them."""
    event = Event.kind == OfferKind.EVENT
    standing = or_(Event.ends_on.is_(None), Event.ends_on >= start)
    if end is not None:
        return or_(
            event & (Event.starts_on >= start) & (Event.starts_on <= end),
            (Event.kind == OfferKind.STANDING) & (Event.starts_on <= end) & standing,
        )
    return or_(event & (Event.starts_on >= start), (Event.kind == OfferKind.STANDING) & standing)


# --- publishing ---------------------------------------------------------------------------


def venues_of(user: User) -> Select:
    """Return a query of the venues where the user may publish offers."""
    query = (
        select(Organisation)
        .where(Organisation.kind == OrganisationKind.VENUE, Organisation.active)
        .order_by(Organisation.name)
    )
    if user.role is Role.ADMIN:
        return query
    if user.role is Role.COORDINATOR:
        return query.where(Organisation.region_id == user.region_id)
    if user.role is Role.VENUE:
        return query.where(Organisation.id.in_([venue.id for venue in user.venues]))
    return query.where(false())


def offers_of(user: User) -> Select:
    """Return a query of the events and offers the user may edit, the latest first."""
    venue_ids = venues_of(user).with_only_columns(Organisation.id)
    return (
        select(Event)
        .where(Event.venue_id.in_(venue_ids.scalar_subquery()))
        .order_by(Event.starts_on.desc(), Event.name)
    )


def save_offer(event: Event | None, data: OfferInput, *, actor: User) -> Event:
    """Publish a new offer, or change one, at a venue the actor may publish at.

    At a course provider a standing offer is a course term: it needs its last day
    (``term_required``) and lasts at most a year.

    Raises OfferError(not_your_venue, required, too_long, invalid_quota, invalid_times,
    invalid_period, term_required, term_too_long).
    """
    allowed = venues_of(actor).with_only_columns(Organisation.id)
    if data.venue.id not in db.session.scalars(allowed).all():
        raise OfferError(ErrorCode.NOT_YOUR_VENUE, "venue")
    if data.quota is not None and data.quota < 0:
        raise OfferError(ErrorCode.INVALID_QUOTA, "quota")
    created = event is None
    if created:
        event = Event()
        db.session.add(event)
    event.venue = data.venue
    event.kind = data.kind
    event.name = _text(data.title, "title", 200, required=True)
    event.starts_on = data.starts_on
    event.quota = data.quota
    event.children_welcome = data.children_welcome
    event.place = _text(data.place, "place", 200)
    event.municipality = _text(data.municipality, "municipality", 80)
    event.text_fi = _text(data.text_fi, "text_fi", TEXT_LENGTH)
    event.text_sv = _text(data.text_sv, "text_sv", TEXT_LENGTH)
    event.text_en = _text(data.text_en, "text_en", TEXT_LENGTH)
    if data.kind is OfferKind.EVENT:
        if data.starts_at is None:
            raise OfferError(ErrorCode.REQUIRED, "starts_at")
        event.starts_at = finnish_moment(data.starts_on, data.starts_at)
        event.ends_at = (
            None if data.ends_at is None else finnish_moment(data.starts_on, data.ends_at)
        )
        if event.ends_at is not None and event.ends_at <= event.starts_at:
            raise OfferError(ErrorCode.INVALID_TIMES, "ends_at")
        event.ends_on = event.hours = None
    else:
        if data.ends_on is None and data.venue.course_provider:
            raise OfferError(ErrorCode.TERM_REQUIRED, "ends_on")
        if (wrong := network.period_error(data.venue, data.starts_on, data.ends_on)) is not None:
            raise OfferError(wrong, "ends_on")
        event.starts_at = event.ends_at = None
        event.ends_on = data.ends_on
        event.hours = _text(data.hours, "hours", 200)
    event.active = True
    event.published = True
    db.session.flush()
    audit.record(
        "offer.published" if created else "offer.updated",
        event,
        actor=actor,
        region_id=data.venue.region_id,
        name=event.name,
        quota=event.quota,
    )
    return event


def withdraw(event: Event, *, actor: User) -> None:
    """Take the offer out of the catalogue; the event and its visits stay."""
    event.published = False
    db.session.flush()
    audit.record("offer.withdrawn", event, actor=actor, region_id=event.venue.region_id)


def _text(value: str | None, field: str, max_length: int, *, required: bool = False) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise OfferError(ErrorCode.REQUIRED, field)
        return None
    if len(value) > max_length:
        raise OfferError(ErrorCode.TOO_LONG, field)
    return value


# --- the holder's own uses ----------------------------------------------------------------


def own_uses(card: Card, limit: int = MAX_USES) -> list[Use]:
    """Return the card's last uses (venue, Finnish date, children), the latest first."""
    query = (
        select(Organisation.name, Visit.recorded_at, Visit.children)
        .join(Organisation, Visit.venue_id == Organisation.id)
        .where(Visit.card_id == card.id)
        .order_by(Visit.recorded_at.desc(), Visit.id.desc())
        .limit(limit)
    )
    return [
        Use(name, helsinki_date(moment), children)
        for name, moment, children in db.session.execute(query)
    ]


# --- the iCalendar feed -------------------------------------------------------------------


def ical(region: Region, offers: list[Offer], *, url: str, stamp: datetime) -> str:
    """Return the region's timed offers as an iCalendar (RFC 5545) document."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Kaikukortti//Offers//FI",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_escape('Kaikukortti ' + region.name)}",
    ]
    for offer in offers:
        event = offer.event
        if event.starts_at is None:
            continue
        ends_at = event.ends_at or event.starts_at + timedelta(hours=2)
        description = event.text("fi")
        if offer.places_left is not None:
            description = f"{description}\n\nKaikukortti: {offer.places_left}".strip()
        location = ", ".join(
            part for part in (event.venue.name, event.place, event.municipality) if part
        )
        lines += [
            "BEGIN:VEVENT",
            f"UID:offer-{event.id}@kaikukortti",
            f"DTSTAMP:{_utc(stamp)}",
            f"DTSTART:{_utc(event.starts_at)}",
            f"DTEND:{_utc(ends_at)}",
            f"SUMMARY:{_escape(event.name)}",
            f"LOCATION:{_escape(location)}",
            f"DESCRIPTION:{_escape(description)}",
            f"URL:{url}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: str, limit: int = 75) -> str:
    """Fold a content line into octet-limited pieces without splitting a character."""
    pieces, current = [], ""
    for char in line:
        if len((current + char).encode()) > limit:
            pieces.append(current)
            current = " " + char
            limit = 75
        else:
            current += char
    pieces.append(current)
    return "\r\n".join(pieces)
