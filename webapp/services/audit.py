"""The audit log: who did what, when, to which object."""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from .. import cardnumbers
from ..extensions import db
from ..models import AuditEvent, Event, NetworkMembership, Organisation, Region, Role, User
from ..rules import finnish_moment

# object_type (the model's lower-case class name) -> the model an event's object_id names
SUBJECT_MODELS = {
    "user": User,
    "organisation": Organisation,
    "event": Event,
    "region": Region,
    "networkmembership": NetworkMembership,
}

SUBJECT_LOADS = {
    Event: (selectinload(Event.venue),),
    NetworkMembership: (selectinload(NetworkMembership.region),),
}


def record(action: str, obj: Any, *, actor: User | None, region_id: int | None = None, **details):
    """Add an audit event for the action on the object (a model instance with an id)."""
    db.session.flush()  # gives a new object its id
    event = AuditEvent(
        actor=actor,
        action=action,
        object_type=type(obj).__name__.lower(),
        object_id=str(getattr(obj, "number", None) or obj.id),
        region_id=region_id if region_id is not None else getattr(obj, "region_id", None),
        details={key: _plain(value) for key, value in details.items()},
    )
    db.session.add(event)
    return event


def _plain(value: Any) -> Any:
    """Make a detail JSON-friendly (dates and enums as strings)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


@dataclass
class AuditFilter:
    action: str | None = None
    actor_email: str | None = None  # a part of the email, any case
    subject: str | None = None  # a card number (spaces and dashes allowed) or an object id
    start: date | None = None  # Helsinki days, inclusive
    end: date | None = None


def events_visible_to(user: User, where: AuditFilter) -> Select:
    """Return the audit events the user may read (their region's, or all), newest first."""
    query = select(AuditEvent).options(selectinload(AuditEvent.actor))
    if user.role is not Role.ADMIN:
        query = query.where(AuditEvent.region_id == user.region_id)
    if where.action:
        query = query.where(AuditEvent.action == where.action)
    if where.actor_email:
        pattern = f"%{where.actor_email.lower()}%"
        query = query.join(AuditEvent.actor).where(User.email.like(pattern))
    if where.subject:
        number = cardnumbers.normalize(where.subject)
        query = query.where(AuditEvent.object_id.in_({where.subject, number}))
    if where.start:
        query = query.where(AuditEvent.at >= finnish_moment(where.start))
    if where.end:
        query = query.where(AuditEvent.at < finnish_moment(where.end + timedelta(days=1)))
    return query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())


def subjects_of(events: list[AuditEvent]) -> dict[tuple[str, str], Any]:
    """Load the objects the events name, one query per kind: {(object_type, object_id): obj}.

    Cards are named by their number already, and deleted objects are simply missing.
    """
    found: dict[tuple[str, str], Any] = {}
    for object_type, model in SUBJECT_MODELS.items():
        ids = {int(e.object_id) for e in events if e.object_type == object_type}
        if ids:
            query = select(model).where(model.id.in_(ids)).options(*SUBJECT_LOADS.get(model, ()))
            for obj in db.session.scalars(query):
                found[object_type, str(obj.id)] = obj
    return found
