"""The scanner page's offline machinery, as JSON under /scan/: a fresh CSRF token, the
venue's validity list and the upload of visits recorded offline (idempotent by the visit's
key). The page itself is :mod:`webapp.views.scanner`.
"""

from datetime import UTC, datetime, timedelta

from flask import Blueprint, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from marshmallow import ValidationError

from ..errors import message
from ..extensions import db
from ..models import Role, VisitSource, utcnow
from ..schemas import OfflineVisitSchema
from ..services import door, offline
from .scanner import event_at, own_staff, own_venue, own_venues

bp = Blueprint("scanner_sync", __name__)

MAX_OFFLINE_AGE = timedelta(days=31)


@bp.get("/scan/session")
def session_info():
    """A fresh CSRF token for the page's own requests and the offline upload."""
    if (refusal := _json_refusal()) is not None:
        return refusal
    venues = [venue.id for venue in own_venues()]
    return _no_store(jsonify(csrf_token=generate_csrf(), venues=venues))


@bp.get("/scan/offline-list")
def offline_list():
    if (refusal := _json_refusal()) is not None:
        return refusal
    venue = own_venue(request.args.get("venue"))
    if venue is None:
        return _json_error("not_your_venue", 403)
    since = _moment(request.args.get("since"))
    return _no_store(jsonify(offline.validity_list(venue, since=since)))


@bp.post("/scan/sync")
def sync():
    """Record a visit made offline, at the moment it was scanned, once per key."""
    if (refusal := _json_refusal()) is not None:
        return refusal
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return _json_error("invalid_request", 400)
    venue = own_venue(data.get("venue"))
    if venue is None:
        return _json_error("not_your_venue", 403)
    visit_input = _offline_visit(data, venue)
    if visit_input is None:
        return _json_error("invalid_request", 400)
    if visit_input["moment"] < utcnow() - MAX_OFFLINE_AGE:
        return _json_error("scan_too_old", 422)
    try:
        visit, created = door.record_visit(
            venue=venue, user=own_staff(), source=VisitSource.OFFLINE, **visit_input
        )
    except door.DoorError as error:
        db.session.rollback()
        return _json_error(error.code, 422)
    db.session.commit()
    body = {
        "id": visit.id,
        "created": created,
        "children": visit.children,
        "recorded_at": visit.recorded_at.isoformat(),
    }
    return jsonify(body), 201 if created else 200


# --- input --------------------------------------------------------------------------------


def _moment(value) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value)[:64])
    except (ValueError, OverflowError):
        return None
    if moment.tzinfo is None:
        return None
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return None


def _offline_visit(data: dict, venue: door.DoorVenue) -> dict | None:
    """Load the JSON of a visit recorded offline; return record_visit's arguments or None."""
    try:
        visit = OfflineVisitSchema().load(data)
    except ValidationError:
        return None
    return {
        "shown": door.Shown.of(visit["token"], visit["number"]),
        "children": visit["children"],
        "idempotency_key": visit["idempotency_key"],
        "event": event_at(venue, visit["event"]),
        "moment": min(visit["scanned_at"], utcnow()),
    }


# --- answers ------------------------------------------------------------------------------


def _json_refusal():
    if not current_user.is_authenticated:
        return _json_error("unauthorized", 401)
    if current_user.role is not Role.VENUE:
        return _json_error("forbidden", 403)
    return None


def _json_error(code: str, status: int):
    response = jsonify(error=code, message=_json_message(code))
    response.status_code = status
    return _no_store(response)


def _json_message(code: str) -> str:
    return message(code)


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response
