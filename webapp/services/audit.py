"""The audit log: who did what, when, to which object."""

from typing import Any

from ..extensions import db
from ..models import AuditEvent, User


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
