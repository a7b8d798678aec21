"""The venue scanner page: scan or type a card, see the verdict, record the visit, undo it.

HTML endpoints answer htmx requests with a fragment and plain form posts with the
whole page (``Vary: HX-Request``). The page itself is revalidated on every use
(``no-cache``) and answers 304 to a copy that differs from it only in its fresh tokens
(:func:`_same_page`), so the service worker keeps the copy the browser has just loaded.
The JSON endpoints of the page's offline machinery are in :mod:`webapp.views.scanner_sync`.
Every request reads the staff's venues with the door's own read
(:func:`webapp.services.door.staff`), as the API does.
"""

import hashlib
import hmac
import time
from uuid import uuid4

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    make_response,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from .. import cardnumbers, ratelimits, tokens
from ..access import roles_required
from ..errors import ErrorCode
from ..extensions import db
from ..models import Event, Role
from ..rules import Verdict
from ..schemas import MAX_ID
from ..services import door
from . import scanner_texts as texts

bp = Blueprint("scanner", __name__)

SESSION_VENUE = "scanner_venue"
SESSION_EVENT = "scanner_event"
MAX_KEY_LENGTH = 64
# How old a copy of the page the browser may keep using after a 304: its CSRF token lasts
# an hour (WTF_CSRF_TIME_LIMIT) and the page renews it every 15 minutes and on a 400.
SAME_PAGE_SECONDS = 600
_EVENT_GONE = texts.WORDS[ErrorCode.UNKNOWN_EVENT]


@bp.get("/scan")
@roles_required(Role.VENUE)
def scan():
    venues = own_venues()
    venue = _remembered_venue(venues, request.args.get("venue"))
    if venue is None:
        return render_template("scanner/choose_venue.html", venues=venues)
    event, gone = _remembered_event(venue, request.args.get("event"))
    notice = {"fragment": "scanner/_event_gone.html", "words": _EVENT_GONE} if gone else {}
    response = _page(venue, event, **notice)
    response.headers["Cache-Control"] = "no-cache, private"
    return _same_page(response)


@bp.post("/scan/verify")
@roles_required(Role.VENUE)
@ratelimits.door_checks
def verify():
    venue, event = _place(request.form, refusal_status=200)  # a check's verdict, as any
    shown = _shown(request.form)
    return _verdict(door.verify(shown, venue, event=event), venue, event, shown)


@bp.post("/scan/visits")
@roles_required(Role.VENUE)
@ratelimits.door_checks
def record():
    venue, event = _place(request.form, refusal_status=422)
    shown = _shown(request.form)
    try:
        visit, created = door.record_visit(
            shown,
            venue=venue,
            user=own_staff(),
            children=_count(request.form.get("children")),
            assistants=_count(request.form.get("assistants")),
            idempotency_key=idempotency_key(request.form.get("idempotency_key")),
            event=event,
        )
    except door.DoorError as error:
        db.session.rollback()
        return _verdict(error.verdict, venue, event, shown, code=error.code)
    db.session.commit()
    context = {
        "visit": visit,
        "created": created,
        "card_number": cardnumbers.format_number(visit.printed_number),
        "undo_until": (visit.recorded_at + door.UNDO_WINDOW).isoformat(),
        "idempotency_key": idempotency_key(request.form.get("idempotency_key")),
        "enrolled": texts.enrolled_words() if visit.already_enrolled else None,
    }
    return _respond("scanner/_recorded.html", venue, event, 201 if created else 200, **context)


@bp.post("/scan/visits/<int:visit_id>/undo")
@roles_required(Role.VENUE)
def undo(visit_id: int):
    venue = _venue(request.form)
    event = event_at(venue, request.form.get("event"))  # (shown again: an undo needs none)
    try:
        door.undo_visit(visit_id, user=current_user._get_current_object())
    except door.DoorError as error:
        db.session.rollback()
        status = 404 if error.code == "not_found" else 409
        context = {"visit_id": visit_id, "error": error.code}
        return _respond("scanner/_undone.html", venue, event, status, **context)
    db.session.commit()
    return _respond("scanner/_undone.html", venue, event, 200, visit_id=visit_id, error=None)


@bp.context_processor
def _limits() -> dict:
    return {
        "max_assistants": door.MAX_ASSISTANTS,
        "max_number_length": cardnumbers.MAX_SHOWN_LENGTH,
    }


# --- choosing the venue and event ---------------------------------------------------------


def recorder_token() -> str:
    """Return the signed-in staff member's recorder token, for the visits their phone queues."""
    if "recorder_token" not in g:
        user = current_user
        keys = [current_app.secret_key]
        g.recorder_token = tokens.sign_recorder(user.id, user.session_version, keys)
    return g.recorder_token


def own_staff() -> door.DoorStaff:
    """Return the signed-in user as the door reads them, once per request."""
    if "door_staff" not in g:
        g.door_staff = door.staff(current_user.id)
    return g.door_staff


def own_venues() -> list[door.DoorVenue]:
    """Return the active venues where the signed-in user works."""
    staff = own_staff()
    return staff.venues if staff is not None else []


def own_venue(venue_id) -> door.DoorVenue | None:
    return next((v for v in own_venues() if str(v.id) == str(venue_id)), None)


def event_at(venue: door.DoorVenue, event_id, *, in_use: bool = True) -> Event | None:
    """Return the venue's event in use with that id (as sent: text or a number), or None;
    with ``in_use`` false, the venue's event whatever its state (:func:`door.event_at`)."""
    text = str(event_id or "")
    digits = text.isascii() and text.isdigit() and len(text) <= len(str(MAX_ID))
    if not digits or int(text) > MAX_ID:  # (int() refuses text of over 4,300 digits)
        return None
    return door.event_at(venue.id, int(text), in_use=in_use)


def _remembered_venue(venues: list[door.DoorVenue], chosen: str | None) -> door.DoorVenue | None:
    by_id = {str(venue.id): venue for venue in venues}
    if chosen in by_id:
        session[SESSION_VENUE] = by_id[chosen].id
    elif len(venues) == 1:
        return venues[0]
    return by_id.get(str(session.get(SESSION_VENUE)))


def _remembered_event(venue: door.DoorVenue, chosen: str | None) -> tuple[Event | None, bool]:
    """Return the event chosen now or earlier in the session, and whether it is one of the
    venue's events no longer in use (then forgotten: the page says so, and shows none)."""
    if chosen is not None:
        session[SESSION_EVENT] = chosen
    named = session.get(SESSION_EVENT)
    event = event_at(venue, named)
    if event is None and named and event_at(venue, named, in_use=False) is not None:
        session.pop(SESSION_EVENT)
        return None, True
    return event, False


def _place(form, *, refusal_status: int) -> tuple[door.DoorVenue, Event | None]:
    """Return the staff's venue and the event the form names (403 for another venue).

    An event named that is not in use at the venue (deactivated since the page was loaded)
    answers a refusal of its own, with the view's status for a refusal: a check is never
    made, nor a visit recorded, without the event the doorkeeper chose.
    """
    venue = _venue(form)
    named = form.get("event", "").strip()
    event = event_at(venue, named) if named else None
    if named and event is None:
        abort(_respond("scanner/_event_gone.html", venue, None, refusal_status, words=_EVENT_GONE))
    return venue, event


def _venue(form) -> door.DoorVenue:
    venue = own_venue(form.get("venue"))
    if venue is None:
        abort(403)
    return venue


# --- input --------------------------------------------------------------------------------


def _shown(form) -> door.Shown:
    """What the form showed: the scanned token when there is one, else the typed number."""
    token = form.get("token", "").strip()
    return door.Shown.scanned(token) if token else door.Shown.typed(form.get("number", ""))


def _count(value) -> int:
    """Return a stepper's count (missing: 0), -1 for what is no count, which the door refuses."""
    text = str(value if value is not None else "0").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 3 else -1


def idempotency_key(value) -> str | None:
    """Return the client's key for the visit, None when it is missing or unusable."""
    value = (value or "").strip()
    return value if 0 < len(value) <= MAX_KEY_LENGTH and value.isprintable() else None


# --- answers ------------------------------------------------------------------------------


def _verdict(result: Verdict, venue, event, shown: door.Shown, *, code=None):
    manual = shown.token is None
    card = result.card
    context = {
        "verdict": result,
        "state": "refuse" if code else texts.state_of(result),
        "reason": code or result.reason,
        "words": texts.words_for(result, code=code, manual=manual),
        "card_number": cardnumbers.format_number(card.printed_number) if card else None,
        "token": shown.token,
        "number": shown.number,
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


def _same_page(response):
    """Tag the page; answer 304 when the browser's copy is the same page for this session.

    The page's CSRF and recorder tokens are signed afresh each second, so its bytes never
    repeat. The tag is a digest of the page without them, bound to what they sign (the
    session's CSRF secret, the person and their session version) and to the moment they
    were issued, which it carries: a copy of this session younger than SAME_PAGE_SECONDS
    whose page is otherwise unchanged (venue, events, words, templates) is as good.
    """
    body = response.get_data(as_text=True)
    for token in (generate_csrf(), recorder_token()):
        body = body.replace(token, "")
    secret = session.get(current_app.config["WTF_CSRF_FIELD_NAME"], "")
    bound = f"{current_user.id}\n{current_user.session_version}\n{secret}\n{body}".encode()

    def tag(issued: int) -> str:
        digest = hashlib.sha256(b"%d\n%s" % (issued, bound)).hexdigest()[:32]
        return f"{issued}-{digest}"

    def same(kept: str) -> bool:
        issued = kept.partition("-")[0]
        if not (kept.isascii() and issued.isdigit()) or len(issued) > 12:
            return False  # (compare_digest refuses text beyond ASCII: a made-up tag)
        fresh = 0 <= now - int(issued) <= SAME_PAGE_SECONDS
        return fresh and hmac.compare_digest(tag(int(issued)), kept)

    now = int(time.time())
    offered = sorted(request.if_none_match.as_set(include_weak=True))[:4]
    kept = next(filter(same, offered), None)
    response.set_etag(kept or tag(now), weak=True)
    return response.make_conditional(request) if kept else response


def _page(venue: door.DoorVenue | None, event: Event | None, **context):
    if venue is None:
        abort(403)
    config = {
        "venue": venue.id,
        "event": event.id if event else None,
        "recorder": recorder_token(),
        "urls": {
            "verify": url_for("scanner.verify"),
            "visits": url_for("scanner.record"),
            "session": url_for("scanner_sync.session_info"),
            "offlineList": url_for("scanner_sync.offline_list"),
            "sync": url_for("scanner_sync.sync"),
            "undo": url_for("scanner_sync.undo"),
            "serviceWorker": url_for("pwa.service_worker"),
        },
        **texts.words_as_json(),
    }
    return make_response(
        render_template(
            "scanner/scan.html",
            venues=own_venues(),
            venue=venue,
            event=event,
            events=door.coming_events(venue.id),
            config=config,
            **context,
        )
    )
