"""The scanner page's offline machinery, as JSON under /scan/: a fresh CSRF token, the
venue's validity list, the upload of visits recorded offline (idempotent by the visit's
key) and their undo. The page itself is :mod:`webapp.views.scanner`.

A visit queued on a phone carries the recorder token that /scan/session gave the person
who recorded it (their user id and session version, signed with its time): whoever is
signed in on the phone when it is sent (the next shift, at the same venue), the visit is
stored as recorded by that person at their venue, if it was scanned while that session was
live. Sign-out and deactivation end the token as they end the session.

The three endpoints count against one budget per signed-in user (:mod:`webapp.ratelimits`),
wide enough for a phone that sends a long queue at once.
"""

from datetime import UTC, datetime, timedelta

from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from marshmallow import ValidationError

from .. import ratelimits, tokens
from ..errors import message
from ..extensions import db
from ..models import Role, User, utcnow
from ..schemas import OfflineVisitSchema
from ..services import accounts, door, offline
from .scanner import event_at, own_staff, own_venue, own_venues, recorder_token

bp = Blueprint("scanner_sync", __name__)

MAX_OFFLINE_AGE = timedelta(days=31)


@bp.get("/scan/session")
def session_info():
    """A fresh CSRF token for the page's own requests and the offline upload."""
    if (refusal := _json_refusal()) is not None:
        return refusal
    venues = [venue.id for venue in own_venues()]
    recorder = recorder_token()
    return _no_store(jsonify(csrf_token=generate_csrf(), venues=venues, recorder=recorder))


@bp.get("/scan/offline-list")
@ratelimits.offline_lists
def offline_list():
    if (refusal := _json_refusal()) is not None:
        return refusal
    venue = own_venue(request.args.get("venue"))
    if venue is None:
        return _json_error("not_your_venue", 403)
    since = _moment(request.args.get("since"))
    body = offline.wire_list(venue, since=since)
    db.session.commit()  # the number hashes it computed, cached for the next list
    return _no_store(current_app.response_class(body, mimetype="application/json"))


@bp.post("/scan/sync")
@ratelimits.offline_sync
def sync():
    """Record a visit made offline, at the moment it was scanned, once per key."""
    if (refusal := _json_refusal()) is not None:
        return refusal
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return _json_error("invalid_request", 400)
    visit_input = _offline_visit(data)
    if visit_input is None:
        return _json_error("invalid_request", 400)
    recorder = _recorder(data.get("recorder"), visit_input["moment"])
    venue = _venue_of(recorder, data.get("venue"))
    if venue is None:
        return _json_error("not_your_venue", 403)
    if visit_input["moment"] < utcnow() - MAX_OFFLINE_AGE:
        return _json_error("scan_too_old", 422)
    # The event the phone was at when it scanned, though deactivated since.
    visit_input["event"] = event_at(venue, visit_input["event"], in_use=False)
    try:
        visit, created, conflicts = door.record_offline_visit(
            venue=venue, user=recorder, **visit_input
        )
    except door.DoorError as error:
        db.session.rollback()
        return _json_error(error.code, 422)
    db.session.commit()
    body = {
        "id": visit.id,
        "card_number": visit.card_number,
        "venue": visit.venue_id,
        "children": visit.children,
        "adults": visit.adults,
        "assistants": visit.assistants,
        "recorded_at": visit.recorded_at.isoformat(),
        "offline": visit.offline,
        "created": created,
        "conflicts": [str(code) for code in conflicts],
    }
    return jsonify(body), 201 if created else 200


@bp.post("/scan/sync/undo")
@ratelimits.offline_sync
def undo():
    """Undo a visit by its idempotency key, wherever its record got to (sent or not).

    The phone sends the visit with its undo: if the undo overtook it, the visit is stored
    as undone, so that its record, arriving later, stores nothing.
    """
    if (refusal := _json_refusal()) is not None:
        return refusal
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("idempotency_key"), str):
        return _json_error("invalid_request", 400)
    unsent = _offline_visit(data)  # the visit itself, while the phone still has it
    scanned = unsent["moment"] if unsent else _moment(data.get("scanned_at"))
    recorder = _recorder(data.get("recorder"), min(scanned or utcnow(), utcnow()))
    venue = _venue_of(recorder, data.get("venue"))
    if venue is None:
        return _json_error("not_your_venue", 403)
    if unsent is not None:
        unsent["event"] = event_at(venue, unsent["event"], in_use=False)
    key = unsent["idempotency_key"] if unsent else data["idempotency_key"][:64]
    user = db.session.get(User, recorder.id)
    try:
        door.undo_by_key(venue, key, user=user, unsent=unsent)
    except door.DoorError as error:
        db.session.rollback()
        return _json_error(error.code, 404 if error.code == "not_found" else 422)
    db.session.commit()
    return _no_store(current_app.response_class(status=204))


# --- who recorded -------------------------------------------------------------------------


def _recorder(token, moment: datetime) -> door.DoorStaff | None:
    """Return the staff who recorded a visit scanned at the moment: the person of the signed
    token if their session was live then (else None), without a token the signed-in user."""
    if not isinstance(token, str) or not token:
        return own_staff()
    try:
        max_age = int(MAX_OFFLINE_AGE.total_seconds())
        user_id, version = tokens.parse_recorder(token, [current_app.secret_key], max_age)
    except tokens.TokenError:
        return None
    user = db.session.get(User, user_id)
    if user is None or not accounts.session_was_live(user, version, moment):
        return None
    staff = own_staff() if user_id == current_user.id else door.staff(user_id)
    return staff if staff is not None and staff.role is Role.VENUE else None


def _venue_of(staff: door.DoorStaff | None, venue_id) -> door.DoorVenue | None:
    """Return the venue, if both the recorder and the signed-in user work there."""
    if staff is None or own_venue(venue_id) is None:
        return None
    return next((v for v in staff.venues if str(v.id) == str(venue_id)), None)


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


def _offline_visit(data: dict) -> dict | None:
    """Load the JSON of a visit recorded offline; return record_offline_visit's arguments
    (with the event's id, for the view to look up at the venue) or None."""
    try:
        visit = OfflineVisitSchema().load(data)
    except ValidationError:
        return None
    shown = door.Shown.of(visit["token"], visit["number"])
    if shown is None:  # a token or number of only spaces
        return None
    return {
        "shown": shown,
        "children": visit["children"],
        "assistants": visit["assistants"],
        "idempotency_key": visit["idempotency_key"],
        "event": visit["event"],
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
