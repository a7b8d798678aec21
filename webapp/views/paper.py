"""Uses written on paper or in a spreadsheet, entered later: upload a CSV file, see every
row's verdict at its moment, confirm (:mod:`webapp.services.paper`).

Venue staff enter them for the venues where they work, a coordinator for the active venues
of their region (an admin: of every region); another venue is not found (404). The preview
carries the file itself back (compressed) for the confirmation, which judges it again.
"""

import base64
import binascii
import zlib

from flask import Blueprint, abort, current_app, render_template, request
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from ..access import roles_required
from ..errors import WARNING_WORDS, ErrorCode, http_error, message
from ..extensions import db
from ..models import Organisation, OrganisationKind, Role
from ..rules import WarningCode
from ..services import network, paper
from . import scanner_texts as texts

ROLES = (Role.VENUE, Role.COORDINATOR, Role.ADMIN)

bp = Blueprint("paper", __name__, url_prefix="/paper")
bp.before_request(roles_required(*ROLES)(lambda: None))


@bp.get("")
def upload():
    return _page(_venues())


@bp.post("/preview")
def preview():
    venues = _venues()
    venue = _venue(venues)
    file = request.files.get("file")
    if file is None or not file.filename:
        return _page(venues, venue, error=message(ErrorCode.REQUIRED), status=422)
    data = file.read()
    try:
        entry = paper.enter(data, venue=venue, user=current_user, store=False)
    except paper.PaperError as error:
        return _page(venues, venue, error=error.message, status=422)
    return _page(venues, venue, entry=entry, content=_pack(data))


@bp.post("/confirm")
def confirm():
    venues = _venues()
    venue = _venue(venues)
    data = _unpack(request.form.get("content", ""))
    try:
        entry = paper.enter(data, venue=venue, user=current_user, store=True)
    except paper.PaperError as error:
        db.session.rollback()
        return _page(venues, venue, error=error.message, status=422)
    db.session.commit()
    return _page(venues, venue, entry=entry)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error: RequestEntityTooLarge):
    """Name a file too large for a request on the page (the CSRF check reads it first)."""
    if not current_user.is_authenticated or current_user.role not in ROLES:
        return http_error(error)
    size = current_app.config["MAX_CONTENT_LENGTH"] // 1024
    return _page(_venues(), error=message(ErrorCode.PAPER_TOO_LARGE, size=size), status=413)


def _venues() -> list[Organisation]:
    """Return the venues the user may enter uses for: where they work, or of their region."""
    if current_user.role is Role.VENUE:
        return current_user.venues
    query = network.organisations_visible_to(current_user, OrganisationKind.VENUE)
    return list(db.session.scalars(query.where(Organisation.active)))


def _venue(venues: list[Organisation]) -> Organisation:
    chosen = request.form.get("venue", "")
    return next((venue for venue in venues if str(venue.id) == chosen), None) or abort(404)


def _pack(data: bytes) -> str:
    return base64.b64encode(zlib.compress(data)).decode()


def _unpack(content: str) -> bytes:
    """Return the file a preview packed, or nothing (an empty file) for anything else."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    try:
        inflate = zlib.decompressobj()
        data = inflate.decompress(base64.b64decode(content, validate=True), limit)
    except (binascii.Error, ValueError, zlib.error):
        return b""
    return b"" if inflate.unconsumed_tail else data


def outcome_text(outcome: paper.Outcome) -> str:
    """Return what the preview says of a row: why it is refused or unreadable, or its warning."""
    if outcome.status is paper.Status.REFUSED and outcome.verdict is not None:
        words = texts.words_for(outcome.verdict, code=outcome.code, manual=True)
        return f"{words.title}. {words.staff}"
    if outcome.code is not None:
        return message(outcome.code, **outcome.values)
    if outcome.verdict is None:
        return ""
    # Every row is a typed number, but no card is at hand to look at (check_card).
    warnings = [w for w in outcome.verdict.warnings if w is not WarningCode.CHECK_CARD]
    return str(WARNING_WORDS[warnings[0]].title) if warnings else ""


def _page(venues, venue=None, *, entry=None, content=None, error=None, status=200):
    context = {
        "venues": venues,
        "venue": venue,
        "entry": entry,
        "content": content,
        "error": error,
        "Status": paper.Status,
        "outcome_text": outcome_text,
        "columns": paper.COLUMNS,
    }
    return render_template("venue/paper.html", **context), status
