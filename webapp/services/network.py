"""Running the Kaikukortti network: regions, organisations, events and people.

A coordinator acts only inside their own region; a national admin everywhere. The
``*_visible_to`` queries scope every lookup, so an object outside the caller's reach is
simply not found. The write functions check the actor again, flush, write an audit event
and raise NetworkError with a machine code (and the form field it concerns).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import date, datetime, timedelta

from sqlalchemy import Select, func, select

from ..errors import DomainError, ErrorCode
from ..extensions import db
from ..models import (
    Event,
    NetworkMembership,
    Organisation,
    OrganisationKind,
    Region,
    Role,
    User,
    VenueCategory,
    utcnow,
)
from ..rules import today_in_finland
from . import accounts, audit, door
from .cards import one_year_after

INVITE_VALID_FOR = timedelta(days=14)
MAX_TERM = timedelta(days=366)  # a course's term: at most a season, never a standing pass
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
CODE_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
STAFF_ORGANISATION = {
    Role.DISTRIBUTOR: OrganisationKind.DISTRIBUTOR,
    Role.VENUE: OrganisationKind.VENUE,
}


class NetworkError(DomainError):
    """A change to the network that cannot be made; ``code`` says why, ``field`` where."""


# --- who sees what ------------------------------------------------------------------------


def is_admin(user: User) -> bool:
    return user.role is Role.ADMIN


def regions_visible_to(user: User) -> Select:
    """Return a query of the regions the user may see: their own, or all for an admin."""
    query = select(Region).order_by(Region.name)
    return query if is_admin(user) else query.where(Region.id == user.region_id)


def organisations_visible_to(user: User, kind: OrganisationKind | None = None) -> Select:
    query = select(Organisation).order_by(Organisation.name)
    if kind is not None:
        query = query.where(Organisation.kind == kind)
    return query if is_admin(user) else query.where(Organisation.region_id == user.region_id)


def events_visible_to(user: User) -> Select:
    query = (
        select(Event)
        .join(Organisation, Event.venue_id == Organisation.id)
        .order_by(Event.starts_on.desc(), Event.name)
    )
    return query if is_admin(user) else query.where(Organisation.region_id == user.region_id)


def people_visible_to(user: User) -> Select:
    """Return the people the user may manage: their region's (never admins), or everyone."""
    query = select(User).order_by(User.email)
    if is_admin(user):
        return query
    return query.where(User.region_id == user.region_id, User.role != Role.ADMIN)


def counts_visible_to(user: User) -> dict[str, int]:
    """Count what the user may see: {"venue": n, "distributor": n, "people": n}."""

    def count(query: Select) -> int:
        return db.session.scalar(select(func.count()).select_from(query.subquery())) or 0

    counts = {kind.value: count(organisations_visible_to(user, kind)) for kind in OrganisationKind}
    return {**counts, "people": count(people_visible_to(user))}


def find_visible(query: Select, object_id: int):
    """Return the object of the scoped query with that id, or None."""
    entity = query.column_descriptions[0]["entity"]
    return db.session.scalar(query.where(entity.id == object_id))


def _require_region(actor: User, region_id: int | None) -> None:
    if not is_admin(actor) and (region_id is None or region_id != actor.region_id):
        raise NetworkError(ErrorCode.NOT_YOUR_REGION, "region")


def _require_admin(actor: User) -> None:
    if not is_admin(actor):
        raise NetworkError(ErrorCode.ADMIN_ONLY)


def _require_manager(actor: User, user: User) -> None:
    if user.role is Role.ADMIN:
        _require_admin(actor)
    else:
        _require_region(actor, user.region_id)


def _text(value: str | None, field: str, max_length: int) -> str:
    value = (value or "").strip()
    if not value:
        raise NetworkError(ErrorCode.REQUIRED, field)
    if len(value) > max_length:
        raise NetworkError(ErrorCode.TOO_LONG, field)
    return value


def _optional_text(value: str | None, field: str, max_length: int) -> str | None:
    return _text(value, field, max_length) if (value or "").strip() else None


# --- regions and their network membership -------------------------------------------------


def create_region(
    *,
    actor: User,
    code: str,
    name: str,
    name_sv: str | None = None,
    pilot_ends_on: date | None = None,
) -> Region:
    """Add a region (admins only). Raises NetworkError(admin_only, invalid_code, code_taken)."""
    _require_admin(actor)
    code = _text(code, "code", 40).lower()
    if not CODE_PATTERN.match(code):
        raise NetworkError(ErrorCode.INVALID_CODE, "code")
    if db.session.scalar(select(Region.id).where(Region.code == code)) is not None:
        raise NetworkError(ErrorCode.CODE_TAKEN, "code")
    region = Region(
        code=code,
        name=_text(name, "name", 120),
        name_sv=_optional_text(name_sv, "name_sv", 120),
        pilot_ends_on=pilot_ends_on,
    )
    db.session.add(region)
    audit.record("region.created", region, actor=actor, region_id=None, code=code)
    return region


def update_region(
    region: Region,
    *,
    actor: User,
    name: str,
    pilot_ends_on: date | None,
    name_sv: str | None = None,
) -> Region:
    """Rename a region (in Finnish and Swedish) or change the end of its pilot (admins only)."""
    _require_admin(actor)
    region.name = _text(name, "name", 120)
    region.name_sv = _optional_text(name_sv, "name_sv", 120)
    region.pilot_ends_on = pilot_ends_on
    db.session.flush()
    audit.record(
        "region.updated", region, actor=actor, region_id=region.id, pilot_ends_on=pilot_ends_on
    )
    return region


def set_unsigned_refused_from(
    region: Region, *, actor: User, refused_from: date | None, today: date | None = None
) -> Region:
    """Set the day from which the door refuses the region's unsigned national-register cards
    (None: accepted until reissued); the region's coordinator or an admin.

    Raises NetworkError(not_your_region; invalid_unsigned_end: a new day before today or more
    than a year ahead, after which no imported card is valid anyway).
    """
    _require_region(actor, region.id)
    today = today or today_in_finland()
    latest = one_year_after(today)
    changed = refused_from != region.unsigned_refused_from
    if changed and refused_from is not None and not today <= refused_from <= latest:
        raise NetworkError(
            ErrorCode.INVALID_UNSIGNED_END, "unsigned_refused_from", date=latest.isoformat()
        )
    if changed:
        region.unsigned_refused_from = refused_from
        audit.record(
            "region.unsigned_refused_from",
            region,
            actor=actor,
            region_id=region.id,
            unsigned_refused_from=refused_from,
        )
    return region


def add_membership(
    region: Region, *, actor: User, starts_on: date, ends_on: date | None = None
) -> NetworkMembership:
    """Add a period of network membership (admins only).

    Raises NetworkError(admin_only, invalid_period, membership_overlap).
    """
    _require_admin(actor)
    if ends_on is not None and ends_on < starts_on:
        raise NetworkError(ErrorCode.INVALID_PERIOD, "ends_on")
    far = date.max
    for other in region.memberships:
        if starts_on <= (other.ends_on or far) and other.starts_on <= (ends_on or far):
            raise NetworkError(ErrorCode.MEMBERSHIP_OVERLAP, "starts_on")
    membership = NetworkMembership(starts_on=starts_on, ends_on=ends_on)
    region.memberships.append(membership)
    db.session.flush()
    audit.record("membership.added", membership, actor=actor, starts_on=starts_on, ends_on=ends_on)
    return membership


def remove_membership(membership: NetworkMembership, *, actor: User) -> None:
    """Delete a period of network membership (admins only)."""
    _require_admin(actor)
    audit.record(
        "membership.removed",
        membership,
        actor=actor,
        starts_on=membership.starts_on,
        ends_on=membership.ends_on,
    )
    membership.region.memberships.remove(membership)
    db.session.flush()


# --- venues and distributors --------------------------------------------------------------


def save_organisation(
    organisation: Organisation | None,
    *,
    actor: User,
    kind: OrganisationKind,
    region: Region,
    name: str,
    category: VenueCategory | None = None,
    course_provider: bool = False,
    home_region_only: bool = False,
    quota_full_refuses: bool = False,
    active: bool = True,
) -> Organisation:
    """Create a venue or distributor, or change one, in a region the actor runs.

    Raises NetworkError(not_your_region, required, too_long, category_required, name_taken).
    """
    _require_region(actor, region.id)
    if organisation is not None:
        _require_region(actor, organisation.region_id)
    name = _text(name, "name", 200)
    venue = kind is OrganisationKind.VENUE
    if venue and category is None:
        raise NetworkError(ErrorCode.CATEGORY_REQUIRED, "category")
    clash = select(Organisation.id).where(
        Organisation.region_id == region.id, func.lower(Organisation.name) == name.lower()
    )
    if organisation is not None:
        clash = clash.where(Organisation.id != organisation.id)
    if db.session.scalar(clash) is not None:
        raise NetworkError(ErrorCode.NAME_TAKEN, "name")
    created = organisation is None
    if created:
        organisation = Organisation(kind=kind)
        db.session.add(organisation)
    organisation.region = region
    organisation.name = name
    organisation.category = category if venue else None
    organisation.course_provider = venue and course_provider
    organisation.home_region_only = venue and home_region_only
    organisation.quota_full_refuses = venue and quota_full_refuses
    organisation.active = active
    db.session.flush()
    audit.record(
        "organisation.created" if created else "organisation.updated",
        organisation,
        actor=actor,
        name=name,
        kind=kind,
        active=active,
    )
    return organisation


# --- events -------------------------------------------------------------------------------


def save_event(
    event: Event | None,
    *,
    actor: User,
    venue: Organisation,
    name: str,
    starts_on: date,
    ends_on: date | None = None,
    quota: int | None = None,
    active: bool = True,
) -> Event:
    """Create or change an event at a venue of the actor's region; at a course provider it
    is a course, whose term runs from ``starts_on`` to ``ends_on`` (or that one day).

    Raises NetworkError(not_your_region, not_a_venue, required, too_long, invalid_quota,
    invalid_period, term_too_long).
    """
    _require_region(actor, venue.region_id)
    if not venue.is_venue:
        raise NetworkError(ErrorCode.NOT_A_VENUE, "venue")
    if quota is not None and quota < 0:
        raise NetworkError(ErrorCode.INVALID_QUOTA, "quota")
    if (wrong := period_error(venue, starts_on, ends_on)) is not None:
        raise NetworkError(wrong, "ends_on")
    created = event is None
    if created:
        event = Event()
        db.session.add(event)
    else:
        _require_region(actor, event.venue.region_id)
    event.venue = venue
    event.name = _text(name, "name", 200)
    event.starts_on = starts_on
    event.ends_on = ends_on
    event.quota = quota
    event.active = active
    db.session.flush()
    audit.record(
        "event.created" if created else "event.updated",
        event,
        actor=actor,
        region_id=venue.region_id,
        name=event.name,
        quota=quota,
    )
    return event


def period_error(venue: Organisation, starts_on: date, ends_on: date | None) -> ErrorCode | None:
    """Return what is wrong with an event's days, None when nothing: ``invalid_period`` (it
    ends before it starts) or, at a course provider, ``term_too_long`` (over a year)."""
    if ends_on is None:
        return None
    if ends_on < starts_on:
        return ErrorCode.INVALID_PERIOD
    if venue.course_provider and ends_on - starts_on >= MAX_TERM:
        return ErrorCode.TERM_TOO_LONG
    return None


def event_usage(event: Event) -> int:
    """Return how many Kaikukortti places of the event are taken."""
    return door.visits_per_event([event.id]).get(event.id, 0)


def latest_events(venue: Organisation, limit: int = 20) -> list[Event]:
    """Return the venue's events, the latest first."""
    query = select(Event).where(Event.venue_id == venue.id).order_by(Event.starts_on.desc())
    return list(db.session.scalars(query.limit(limit)))


# --- people -------------------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_invite(user: User, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    user.invite_hash = _hash(token)
    user.invite_expires_at = now + INVITE_VALID_FOR
    return token


def _check_person(
    actor: User, role: Role, region: Region | None, organisations: list[Organisation]
) -> None:
    if role is Role.ADMIN:
        _require_admin(actor)
        if organisations:
            raise NetworkError(ErrorCode.NO_ORGANISATIONS_FOR_ROLE, "organisations")
        return
    if region is None:
        raise NetworkError(ErrorCode.REQUIRED, "region")
    _require_region(actor, region.id)
    kind = STAFF_ORGANISATION.get(role)
    if kind is None:
        if organisations:
            raise NetworkError(ErrorCode.NO_ORGANISATIONS_FOR_ROLE, "organisations")
        return
    if not organisations:
        raise NetworkError(ErrorCode.ORGANISATION_REQUIRED, "organisations")
    for org in organisations:
        if org.kind is not kind or org.region_id != region.id:
            raise NetworkError(ErrorCode.WRONG_ORGANISATION, "organisations")


def invite_person(
    *,
    actor: User,
    email: str,
    role: Role,
    region: Region | None,
    organisations: list[Organisation],
    now: datetime | None = None,
) -> tuple[User, str]:
    """Add a person who sets their own password through a one-time link; return the token.

    Distributor and venue staff need organisations of their kind in their region.
    Raises NetworkError(invalid_email, email_taken, admin_only, not_your_region,
    organisation_required, wrong_organisation, no_organisations_for_role).
    """
    email = accounts.normalize_email(email or "")
    if len(email) > 254 or not EMAIL_PATTERN.match(email):
        raise NetworkError(ErrorCode.INVALID_EMAIL, "email")
    if role is Role.ADMIN:
        region = None
    _check_person(actor, role, region, organisations)
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise NetworkError(ErrorCode.EMAIL_TAKEN, "email")
    user = User(email=email, role=role, region=region, organisations=list(organisations))
    token = _new_invite(user, now or utcnow())
    db.session.add(user)
    db.session.flush()
    audit.record(
        "user.invited",
        user,
        actor=actor,
        email=email,
        role=role,
        organisations=", ".join(o.name for o in organisations),
    )
    return user, token


def update_person(
    user: User, *, actor: User, role: Role, organisations: list[Organisation]
) -> User:
    """Change a person's role and organisations (same rules as for an invitation)."""
    _require_manager(actor, user)
    _check_person(actor, role, user.region, organisations)
    if user.id == actor.id and role is not user.role:
        raise NetworkError(ErrorCode.CANNOT_CHANGE_OWN_ROLE, "role")
    user.role = role
    user.organisations = list(organisations)
    db.session.flush()
    audit.record(
        "user.updated",
        user,
        actor=actor,
        role=role,
        organisations=", ".join(o.name for o in organisations),
    )
    return user


def renew_invite(user: User, *, actor: User, now: datetime | None = None) -> str:
    """Give a person who never set a password a new one-time link; return the token.

    Raises NetworkError(inactive, password_set: an active person gets a reset link instead).
    """
    _require_manager(actor, user)
    if not user.active:
        raise NetworkError(ErrorCode.INACTIVE)
    if user.password_hash is not None:
        raise NetworkError(ErrorCode.PASSWORD_SET)
    token = _new_invite(user, now or utcnow())
    db.session.flush()
    audit.record("user.invite_renewed", user, actor=actor)
    return token


def reset_password(user: User, *, actor: User, now: datetime | None = None) -> str:
    """Give a person who forgot their password a one-time link; their sessions end now.

    Raises NetworkError(inactive, no_password: a person never signed in gets an invitation).
    """
    _require_manager(actor, user)
    if not user.active:
        raise NetworkError(ErrorCode.INACTIVE)
    if user.password_hash is None:
        raise NetworkError(ErrorCode.NO_PASSWORD)
    token = _new_invite(user, now or utcnow())
    accounts.end_sessions(user)
    db.session.flush()
    audit.record("user.password_reset", user, actor=actor)
    return token


def deactivate_person(user: User, *, actor: User, now: datetime | None = None) -> User:
    """Take a person out of use at once: sessions end, API tokens and invitation stop."""
    _require_manager(actor, user)
    if user.id == actor.id:
        raise NetworkError(ErrorCode.CANNOT_DEACTIVATE_SELF)
    user.active = False
    user.invite_hash = None
    user.invite_expires_at = None
    accounts.end_sessions(user)
    accounts.revoke_api_tokens(user, now)
    db.session.flush()
    audit.record("user.deactivated", user, actor=actor)
    return user


def reactivate_person(user: User, *, actor: User) -> User:
    """Put a deactivated person back in use (their old API tokens stay revoked)."""
    _require_manager(actor, user)
    user.active = True
    db.session.flush()
    audit.record("user.reactivated", user, actor=actor)
    return user


def person_for_invite(token: str, now: datetime | None = None) -> User | None:
    """Return the active person whose unexpired invitation this token is, or None."""
    if not token or len(token) > 200:
        return None
    user = db.session.scalar(select(User).where(User.invite_hash == _hash(token)))
    if user is None or not user.active or user.invite_expires_at is None:
        return None
    return user if (now or utcnow()) < user.invite_expires_at else None


def accept_invite(token: str, password: str, now: datetime | None = None) -> User:
    """Set the invited person's password and use up the invitation.

    Raises NetworkError(invalid_invite, password_too_short, password_too_long).
    """
    user = person_for_invite(token, now)
    if user is None:
        raise NetworkError(ErrorCode.INVALID_INVITE)
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise NetworkError(ErrorCode.PASSWORD_TOO_SHORT, "password", min=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise NetworkError(ErrorCode.PASSWORD_TOO_LONG, "password")
    accounts.set_password(user, password)
    user.invite_hash = None
    user.invite_expires_at = None
    db.session.flush()
    audit.record("user.invite_accepted", user, actor=user)
    return user
