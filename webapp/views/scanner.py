"""The venue scanner: scan or type a card, see the verdict, record the visit, also offline.

HTML endpoints answer htmx requests with a fragment and plain form posts with the
whole page (``Vary: HX-Request``). The JSON endpoints under /scan/ serve the page's
offline machinery: the validity list, a fresh CSRF token and the upload of visits
recorded offline (idempotent by the visit's key).
"""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from flask import (
    Blueprint,
    abort,
    jsonify,
    make_response,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from .. import cardnumbers, ratelimits
from ..access import roles_required
from ..extensions import db
from ..models import Event, Organisation, Role, VisitSource, utcnow
from ..rules import Verdict, helsinki_date
from ..schemas import MAX_ID
from ..services import door, offline
from . import scanner_texts as texts

bp = Blueprint("scanner", __name__)

SESSION_VENUE = "scanner_venue"
SESSION_EVENT = "scanner_event"
MAX_KEY_LENGTH = 64
MAX_OFFLINE_AGE = timedelta(days=31)


@bp.get("/scan")
@roles_required(Role.VENUE)
def scan():
    venues = current_user.venues
    venue = _remembered_venue(venues, request.args.get("venue"))
    if venue is None:
        return render_template("scanner/choose_venue.html", venues=venues)
    response = _page(venue, _remembered_event(venue, request.args.get("event")))
    response.headers["Cache-Control"] = "no-cache, private"
    return response


@bp.post("/scan/verify")
@roles_required(Role.VENUE)
@ratelimits.door_checks
def verify():
    venue, event = _place(request.form)
    token = request.form.get("token", "").strip()
    if token:
        result = door.verify(token, venue, event=event)
        return _verdict(result, venue, event, token=token)
    number = request.form.get("number", "")
    result = door.verify_number(number, venue, event=event)
    return _verdict(result, venue, event, number=cardnumbers.normalize(number))


@bp.post("/scan/visits")
@roles_required(Role.VENUE)
def record():
    venue, event = _place(request.form)
    token = request.form.get("token", "").strip() or None
    number = None if token else request.form.get("number", "")
    try:
        visit, created = door.record_visit(
            venue=venue,
            user=current_user._get_current_object(),
            children=_children(request.form.get("children")),
            token=token,
            number=number,
            idempotency_key=_key(request.form.get("idempotency_key")),
            event=event,
            source=VisitSource.CAMERA if token else VisitSource.MANUAL,
        )
    except door.DoorError as error:
        db.session.rollback()
        return _verdict(error.verdict, venue, event, token=token, number=number, code=error.code)
    db.session.commit()
    context = {
        "visit": visit,
        "created": created,
        "card_number": cardnumbers.format_number(visit.card_number),
        "undo_until": (visit.recorded_at + door.UNDO_WINDOW).isoformat(),
    }
    return _respond("scanner/_recorded.html", venue, event, 201 if created else 200, **context)


@bp.post("/scan/visits/<int:visit_id>/undo")
@roles_required(Role.VENUE)
def undo(visit_id: int):
    venue, event = _place(request.form)
    try:
        door.undo_visit(visit_id, user=current_user._get_current_object())
    except door.DoorError as error:
        db.session.rollback()
        status = 404 if error.code == "not_found" else 409
        context = {"visit_id": visit_id, "error": error.code}
        return _respond("scanner/_undone.html", venue, event, status, **context)
    db.session.commit()
    return _respond("scanner/_undone.html", venue, event, 200, visit_id=visit_id, error=None)


@bp.get("/scan/session")
def session_info():
    """A fresh CSRF token for the page's own requests and the offline upload."""
    if (refusal := _json_refusal()) is not None:
        return refusal
    venues = [venue.id for venue in current_user.venues]
    return _no_store(jsonify(csrf_token=generate_csrf(), venues=venues))


@bp.get("/scan/offline-list")
def offline_list():
    if (refusal := _json_refusal()) is not None:
        return refusal
    venue = _own_venue(request.args.get("venue"))
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
    venue = _own_venue(data.get("venue"))
    if venue is None:
        return _json_error("not_your_venue", 403)
    visit_input = _offline_visit(data, venue)
    if visit_input is None:
        return _json_error("invalid_request", 400)
    if visit_input["moment"] < utcnow() - MAX_OFFLINE_AGE:
        return _json_error("scan_too_old", 422)
    try:
        visit, created = door.record_visit(
            venue=venue,
            user=current_user._get_current_object(),
            source=VisitSource.OFFLINE,
            **visit_input,
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


# --- choosing the venue and event ---------------------------------------------------------


def _remembered_venue(venues: list[Organisation], chosen: str | None) -> Organisation | None:
    by_id = {str(venue.id): venue for venue in venues}
    if chosen in by_id:
        session[SESSION_VENUE] = by_id[chosen].id
    elif len(venues) == 1:
        return venues[0]
    return by_id.get(str(session.get(SESSION_VENUE)))


def _remembered_event(venue: Organisation, chosen: str | None) -> Event | None:
    if chosen is not None:
        session[SESSION_EVENT] = chosen
    return _event(venue, session.get(SESSION_EVENT))


def _event(venue: Organisation, event_id) -> Event | None:
    text = str(event_id or "")
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_ID:
        return None
    return db.session.scalar(
        select(Event).where(Event.id == int(event_id), Event.venue_id == venue.id, Event.active)
    )


def _events(venue: Organisation) -> list[Event]:
    today = helsinki_date(utcnow())
    query = (
        select(Event)
        .where(Event.venue_id == venue.id, Event.active, Event.starts_on >= today)
        .order_by(Event.starts_on, Event.name)
        .limit(30)
    )
    return list(db.session.scalars(query))


def _own_venue(venue_id) -> Organisation | None:
    return next((v for v in current_user.venues if str(v.id) == str(venue_id)), None)


def _place(form) -> tuple[Organisation, Event | None]:
    venue = _own_venue(form.get("venue"))
    if venue is None:
        abort(403)
    return venue, _event(venue, form.get("event"))


# --- input --------------------------------------------------------------------------------


def _children(value) -> int:
    text = str(value if value is not None else "0").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 3 else -1


def _key(value) -> str | None:
    value = (value or "").strip()
    return value if 0 < len(value) <= MAX_KEY_LENGTH and value.isprintable() else None


def _moment(value) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value)[:64])
        return moment.astimezone(UTC) if moment.tzinfo is not None else None
    except (ValueError, OverflowError):  # not a moment, or one beyond year 1 or 9999 in UTC
        return None


def _offline_visit(data: dict, venue: Organisation) -> dict | None:
    """Check the JSON of a visit recorded offline; return record_visit's arguments or None."""
    key, token, number = data.get("idempotency_key"), data.get("token"), data.get("number")
    children, moment = data.get("children"), _moment(data.get("scanned_at"))
    valid = (
        isinstance(key, str)
        and _key(key) == key
        and isinstance(children, int)
        and not isinstance(children, bool)
        and moment is not None
        and bool(isinstance(token, str) and token) != bool(isinstance(number, str) and number)
    )
    if not valid:
        return None
    return {
        "children": children,
        "token": token or None,
        "number": None if token else number,
        "idempotency_key": key,
        "event": _event(venue, data.get("event")),
        "moment": min(moment, utcnow()),
    }


# --- answers ------------------------------------------------------------------------------


def _verdict(result: Verdict, venue, event, *, token=None, number=None, code=None):
    manual = token is None
    card = result.card
    context = {
        "verdict": result,
        "state": "refuse" if code else texts.state_of(result),
        "reason": code or result.reason,
        "words": texts.words_for(result, code=code, manual=manual),
        "card_number": cardnumbers.format_number(card.number) if card else None,
        "token": token,
        "number": number,
        "source": "manual" if manual else "camera",
        "idempotency_key": uuid4().hex,
    }
    status = 422 if code else 200
    return _respond("scanner/_verdict.html", venue, event, status, **context)


def _respond(template: str, venue, event, status: int, **context):
    """Render the fragment for htmx, else the whole scanner page around it."""
    if request.headers.get("HX-Request") == "true":
        html = render_template(template, htmx=True, venue=venue, event=event, **context)
        response = make_response(html, status)
    else:
        response = _page(venue, event, fragment=template, **context)
        response.status_code = status
    response.headers["Vary"] = "HX-Request"
    response.headers["Cache-Control"] = "no-store"
    return response


def _page(venue: Organisation | None, event: Event | None, **context):
    if venue is None:
        abort(403)
    venues = current_user.venues
    config = {
        "venue": venue.id,
        "event": event.id if event else None,
        "urls": {
            "verify": url_for("scanner.verify"),
            "visits": url_for("scanner.record"),
            "session": url_for("scanner.session_info"),
            "offlineList": url_for("scanner.offline_list"),
            "sync": url_for("scanner.sync"),
            "serviceWorker": url_for("pwa.service_worker"),
        },
        **texts.words_as_json(),
    }
    return make_response(
        render_template(
            "scanner/scan.html",
            venues=venues,
            venue=venue,
            event=event,
            events=_events(venue),
            config=config,
            **context,
        )
    )


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
    words = texts.WORDS.get(code)
    return str(words.staff) if words else code


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response
