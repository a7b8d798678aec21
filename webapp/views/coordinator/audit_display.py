"""The audit log as people read it: in their language, objects by name, no internal ids.

An audit event stores its object as (type, id) and its details as plain JSON values; here
the object becomes "Kortti 9PKR RX9V8", a person's email or a venue's name, and each detail
a translated name with a formatted value. Signing key ids and card generations are
internal and not shown; unknown details are left out rather than shown in English.
"""

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import format_date, format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ...cardnumbers import format_number
from ...models import AuditEvent, OrganisationKind, RevokeReason
from ...services import audit
from ..coordinator_forms import ROLE_LABELS

DETAIL_LABELS = {
    "name": _l("Name"),
    "code": _l("Code"),
    "email": _l("Email"),
    "role": _l("Role"),
    "organisations": _l("Organisations"),
    "kind": _l("Kind"),
    "active": _l("In use"),
    "quota": _l("Kaikukortti places"),
    "valid_until": _l("Valid until"),
    "pilot_ends_on": _l("Pilot ends on"),
    "unsigned_refused_from": _l("Unsigned cards refused from"),
    "cards": _l("Cards"),
    "starts_on": _l("Member from"),
    "ends_on": _l("Member until"),
    "reason": _l("Reason"),
    "card": _l("Card"),
    "venue": _l("Venue"),
    "children": _l("Children"),
    "assistants": _l("Assistants"),
    "recorded_at": _l("Recorded"),
}
KIND_LABELS = {OrganisationKind.VENUE: _l("Venue"), OrganisationKind.DISTRIBUTOR: _l("Distributor")}
REASON_LABELS = {
    RevokeReason.LOST: _l("Lost or stolen"),
    RevokeReason.MISUSE: _l("Misuse"),
    RevokeReason.OTHER: _l("Other reason"),
}
DATES = {"valid_until", "pilot_ends_on", "starts_on", "ends_on", "unsigned_refused_from"}


@dataclass(frozen=True)
class AuditLine:
    event: AuditEvent
    subject: str
    details: list[tuple[str, str]]


def audit_lines(events: list[AuditEvent]) -> list[AuditLine]:
    """Return the events as the audit log shows them."""
    subjects = audit.subjects_of(events)
    return [
        AuditLine(
            event,
            _subject(event, subjects.get((event.object_type, event.object_id))),
            _details(event),
        )
        for event in events
    ]


def _subject(event: AuditEvent, obj) -> str:
    details = event.details or {}
    kind = event.object_type
    if kind == "card":
        return _("Card %(number)s", number=format_number(event.object_id))
    if kind == "visit":
        return _("Visit at %(venue)s", venue=details.get("venue", ""))
    if obj is None:  # deleted since
        if kind == "networkmembership":
            return _("Network membership")
        return details.get("email") or details.get("name") or _("Removed")
    if kind == "user":
        return obj.email
    if kind == "organisation":
        return obj.name
    if kind == "event":
        return _("%(event)s at %(venue)s", event=obj.name, venue=obj.venue.name)
    if kind == "region":
        return obj.local_name
    if kind == "networkmembership":
        return _("Network membership of %(region)s", region=obj.region.local_name)
    return _("Other")


def _details(event: AuditEvent) -> list[tuple[str, str]]:
    shown = []
    for key, value in (event.details or {}).items():
        if key not in DETAIL_LABELS or value == "" or (value is None and key != "quota"):
            continue
        if event.object_type == "visit" and key == "venue":
            continue  # already in the subject
        shown.append((str(DETAIL_LABELS[key]), _value(key, value)))
    return shown


def _value(key: str, value) -> str:
    if key in DATES:
        return format_date(date.fromisoformat(value), "short")
    if key == "recorded_at":
        return format_datetime(datetime.fromisoformat(value), "short")
    labels = {"role": ROLE_LABELS, "kind": KIND_LABELS, "reason": REASON_LABELS}.get(key)
    if labels is not None:  # StrEnum keys: the stored value finds its label
        return str(labels.get(value, value))
    if key == "card":
        return format_number(value)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if key == "quota" and value is None:
        return _("not limited")
    return str(value)
