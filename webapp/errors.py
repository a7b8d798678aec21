"""The app's error vocabulary: the codes, the one catalogue of their texts, the error pages.

A service refuses with a :class:`DomainError` (its subclasses ``CardError``, ``DoorError``,
``NetworkError``, ``StatsError``, ``TokenError`` keep their names) whose ``code`` is a
:class:`webapp.rules.Reason` at the door and an :class:`ErrorCode` elsewhere. The text of
every code lives here once, as lazy gettext: the JSON API's error bodies, the pages' forms
and the scanner (its screens and its JSON answers) all read :func:`message` or
:data:`DOOR_WORDS`. Errors under ``/api/`` answer ``{"error", "message"}``; the rest of the
site answers with its error page in the user's language.
"""

import enum
from typing import NamedTuple

from flask import Flask, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from .extensions import db
from .models import ConflictCode
from .rules import Reason, WarningCode


class ErrorCode(enum.StrEnum):
    """Every machine code other than the door's reasons (:class:`webapp.rules.Reason`)."""

    # the request itself
    BAD_REQUEST = "bad_request"
    INVALID_JSON = "invalid_json"
    INVALID_REQUEST = "invalid_request"
    VALIDATION_ERROR = "validation_error"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    REQUEST_TOO_LARGE = "request_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    RATE_LIMITED = "rate_limited"
    CSRF_EXPIRED = "csrf_expired"
    UNAVAILABLE = "unavailable"
    SERVER_ERROR = "server_error"
    # cards and their holders
    HOLDER_TOO_YOUNG = "holder_too_young"
    INVALID_BIRTH_YEAR = "invalid_birth_year"
    INVALID_POSTCODE = "invalid_postcode"
    INVALID_CHILDREN = "invalid_children"
    INVALID_VALID_UNTIL = "invalid_valid_until"
    VALID_UNTIL_TOO_LATE = "valid_until_too_late"
    INVALID_REGION = "invalid_region"
    CARD_NOT_FOUND = "card_not_found"
    NOT_ON_COMMUNITY_CARD = "not_on_community_card"
    # importing cards from the national register
    INVALID_FILE = "invalid_file"
    MISSING_COLUMNS = "missing_columns"
    UNKNOWN_COLUMNS = "unknown_columns"
    ROW_LENGTH = "row_length"
    INVALID_REGISTER_ID = "invalid_register_id"
    PERSONAL_DATA = "personal_data"
    DUPLICATE_ID = "duplicate_id"
    UNKNOWN_DISTRIBUTOR = "unknown_distributor"
    INVALID_DATE = "invalid_date"
    UNSUPPORTED_KIND = "unsupported_kind"
    INVALID_UNSIGNED_END = "invalid_unsigned_end"
    # the door
    INVALID_NUMBER = "invalid_number"
    VISIT_NOT_FOUND = "visit_not_found"
    UNDO_WINDOW_PASSED = "undo_window_passed"
    SCAN_TOO_OLD = "scan_too_old"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    VISIT_UNDONE = "visit_undone"
    UNKNOWN_EVENT = "unknown_event"
    INVALID_ASSISTANTS = "invalid_assistants"
    # uses written on paper, entered later
    PAPER_ENCODING = "paper_encoding"
    PAPER_EMPTY = "paper_empty"
    PAPER_TOO_MANY_ROWS = "paper_too_many_rows"
    PAPER_TOO_LARGE = "paper_too_large"
    PAPER_MISSING_COLUMNS = "paper_missing_columns"
    PAPER_BAD_MOMENT = "paper_bad_moment"
    PAPER_FUTURE = "paper_future"
    PAPER_TOO_OLD = "paper_too_old"
    PAPER_REPEATED = "paper_repeated"
    # who acts for which organisation
    VENUE_REQUIRED = "venue_required"
    NOT_YOUR_VENUE = "not_your_venue"
    NO_VENUE = "no_venue"
    ISSUER_REQUIRED = "issuer_required"
    NOT_YOUR_ORGANISATION = "not_your_organisation"
    NO_ORGANISATION = "no_organisation"
    # statistics
    INVALID_RANGE = "invalid_range"
    RANGE_TOO_LONG = "range_too_long"
    INVALID_GROUP = "invalid_group"
    # the network: regions, organisations, events, people
    NOT_YOUR_REGION = "not_your_region"
    ADMIN_ONLY = "admin_only"
    REQUIRED = "required"
    TOO_LONG = "too_long"
    INVALID_CODE = "invalid_code"
    CODE_TAKEN = "code_taken"
    INVALID_PERIOD = "invalid_period"
    MEMBERSHIP_OVERLAP = "membership_overlap"
    CATEGORY_REQUIRED = "category_required"
    NAME_TAKEN = "name_taken"
    NOT_A_VENUE = "not_a_venue"
    INVALID_QUOTA = "invalid_quota"
    INVALID_TIMES = "invalid_times"
    TERM_REQUIRED = "term_required"
    TERM_TOO_LONG = "term_too_long"
    INVALID_EMAIL = "invalid_email"
    EMAIL_TAKEN = "email_taken"
    ORGANISATION_REQUIRED = "organisation_required"
    WRONG_ORGANISATION = "wrong_organisation"
    NO_ORGANISATIONS_FOR_ROLE = "no_organisations_for_role"
    CANNOT_CHANGE_OWN_ROLE = "cannot_change_own_role"
    CANNOT_DEACTIVATE_SELF = "cannot_deactivate_self"
    INACTIVE = "inactive"
    INVALID_INVITE = "invalid_invite"
    # the digital card
    INVALID_PUBLIC_KEY = "invalid_public_key"
    PASSWORD_SET = "password_set"
    NO_PASSWORD = "no_password"
    PASSWORD_TOO_SHORT = "password_too_short"
    PASSWORD_TOO_LONG = "password_too_long"


Code = ErrorCode | Reason


class DomainError(Exception):
    """A service's refusal: ``code`` says why, ``field`` which input is wrong (if one is).

    ``values`` fill the placeholders of the code's text (e.g. the minimum age). A code
    outside the vocabulary is a ValueError: every refusal has its words.
    """

    def __init__(self, code: Code, field: str | None = None, **values) -> None:
        super().__init__(str(code))
        self.code = _known(code)
        self.field = field
        self.values = values

    @property
    def message(self) -> str:
        """Return the refusal in the user's language."""
        return message(self.code, **self.values)


def _known(code: str) -> Code:
    try:
        return Reason(code)
    except ValueError:
        return ErrorCode(code)


class Words(NamedTuple):
    """What the scanner shows: a headline, a line for the staff and a line for the holder."""

    title: str
    staff: str
    holder: str


MESSAGES = {
    ErrorCode.BAD_REQUEST: _l("The request could not be understood."),
    ErrorCode.INVALID_JSON: _l("The request body is not valid JSON."),
    ErrorCode.INVALID_REQUEST: _l("The request could not be understood."),
    ErrorCode.VALIDATION_ERROR: _l("Some fields are missing or not valid."),
    ErrorCode.UNAUTHORIZED: _l(
        "Send a valid API token in the header Authorization: Bearer <token>."
    ),
    ErrorCode.FORBIDDEN: _l("Your role does not allow this."),
    ErrorCode.NOT_FOUND: _l("The page was not found."),
    ErrorCode.METHOD_NOT_ALLOWED: _l("This method is not allowed here."),
    ErrorCode.CONFLICT: _l("Someone changed the same data at the same time. Try again."),
    ErrorCode.REQUEST_TOO_LARGE: _l("The request is too large."),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: _l("The request could not be understood."),
    ErrorCode.RATE_LIMITED: _l("Too many attempts. Wait a moment and try again."),
    ErrorCode.CSRF_EXPIRED: _l("The page had expired. Go back, reload the page and try again."),
    ErrorCode.UNAVAILABLE: _l("The service is briefly unavailable. Try again in a moment."),
    ErrorCode.SERVER_ERROR: _l("Something went wrong. Please try again in a moment."),
    ErrorCode.HOLDER_TOO_YOUNG: _l("The cardholder must turn %(age)s this year or be older."),
    ErrorCode.INVALID_BIRTH_YEAR: _l("Enter a year from 1900 to %(year)s."),
    ErrorCode.INVALID_POSTCODE: _l("Enter the postcode as five digits, e.g. 70100."),
    ErrorCode.INVALID_CHILDREN: _l("Enter a number from %(min)s to %(max)s."),
    ErrorCode.INVALID_VALID_UNTIL: _l(
        "The last day of validity cannot be in the past or before the first day of validity."
    ),
    ErrorCode.VALID_UNTIL_TOO_LATE: _l("The last day of validity is too far in the future."),
    ErrorCode.INVALID_REGION: _l("No region has this code."),
    ErrorCode.CARD_NOT_FOUND: _l("No card with this number."),
    ErrorCode.NOT_ON_COMMUNITY_CARD: _l(
        "A community card is the organisation's own: it has no birth year or postcode."
    ),
    ErrorCode.INVALID_FILE: _l("The file is not a CSV file in UTF-8."),
    ErrorCode.MISSING_COLUMNS: _l("The file lacks the columns: %(columns)s."),
    ErrorCode.UNKNOWN_COLUMNS: _l(
        "The file has columns that are not imported: %(columns)s. Remove them: only %(known)s "
        "are read, and nothing personal is ever stored."
    ),
    ErrorCode.ROW_LENGTH: _l("The line has %(found)s values, the header %(expected)s."),
    ErrorCode.INVALID_REGISTER_ID: _l(
        "The ID must be 4 to 20 letters A-Z and digits, and not shaped like a Kaikukortti "
        "card number."
    ),
    ErrorCode.PERSONAL_DATA: _l(
        "This looks like a personal identity code. It is not imported: give the card's ID."
    ),
    ErrorCode.DUPLICATE_ID: _l("The same ID is already on line %(line)s."),
    ErrorCode.UNKNOWN_DISTRIBUTOR: _l("The region has no distributor with this name or id."),
    ErrorCode.INVALID_DATE: _l("Enter the date as 2026-12-31 or 31.12.2026."),
    ErrorCode.UNSUPPORTED_KIND: _l(
        "Only personal cards are imported: leave kind empty or write personal. A community "
        "card is issued anew to its organisation."
    ),
    ErrorCode.INVALID_UNSIGNED_END: _l("Choose a day from today to %(date)s."),
    ErrorCode.INVALID_NUMBER: _l(
        "This is not a Kaikukortti card number. Check for typing mistakes."
    ),
    ErrorCode.VISIT_NOT_FOUND: _l("No visit with this id at your venues."),
    ErrorCode.UNDO_WINDOW_PASSED: _l(
        "A visit can be undone only within 10 minutes of recording it."
    ),
    ErrorCode.SCAN_TOO_OLD: _l("The visit was saved on the phone too long ago to be recorded."),
    ErrorCode.IDEMPOTENCY_KEY_REUSED: _l(
        "This idempotency key was already used for another card at this venue. "
        "Send a new key for each visit."
    ),
    ErrorCode.VISIT_UNDONE: _l(
        "This visit was undone, so it was not recorded again. "
        "Scan the card again to record a new visit."
    ),
    ErrorCode.UNKNOWN_EVENT: _l("The venue has no event in use with this id."),
    ErrorCode.INVALID_ASSISTANTS: _l(
        "Enter the assistants, guides or interpreters beside the holder as a number from "
        "%(min)s to %(max)s."
    ),
    ErrorCode.PAPER_ENCODING: _l(
        "The file could not be read as CSV. In Excel, save it as CSV UTF-8 or as CSV "
        "(semicolon separated)."
    ),
    ErrorCode.PAPER_EMPTY: _l(
        "The file has no uses: its first line names the columns, each line after it is one use."
    ),
    ErrorCode.PAPER_TOO_MANY_ROWS: _l(
        "The file has more than %(max)s uses. Split it into smaller files."
    ),
    ErrorCode.PAPER_TOO_LARGE: _l(
        "The file is larger than %(size)s kB. Split it into smaller files."
    ),
    ErrorCode.PAPER_MISSING_COLUMNS: _l("Line 1 must name the columns. Missing: %(columns)s."),
    ErrorCode.PAPER_BAD_MOMENT: _l(
        "Write the date and time in Finnish time, like 28.11.2026 18:30 or 2026-11-28 18:30."
    ),
    ErrorCode.PAPER_FUTURE: _l("The date and time is in the future."),
    ErrorCode.PAPER_TOO_OLD: _l("The use is more than a year old and can no longer be entered."),
    ErrorCode.PAPER_REPEATED: _l("The same use as on line %(line)s: stored once."),
    ErrorCode.VENUE_REQUIRED: _l("You work at several venues: give the venue's id in venue."),
    ErrorCode.NOT_YOUR_VENUE: _l("You do not work at this venue."),
    ErrorCode.NO_VENUE: _l("Your account is not attached to any venue."),
    ErrorCode.ISSUER_REQUIRED: _l(
        "You work at several distributors: give the organisation's id in issuer."
    ),
    ErrorCode.NOT_YOUR_ORGANISATION: _l("You do not work at this organisation."),
    ErrorCode.NO_ORGANISATION: _l("Your account is not attached to any distributor."),
    ErrorCode.INVALID_RANGE: _l("The end date is before the start date."),
    ErrorCode.RANGE_TOO_LONG: _l("Choose a period of at most %(years)s years."),
    ErrorCode.INVALID_GROUP: _l("Group by month, venue, region or category."),
    ErrorCode.NOT_YOUR_REGION: _l("You can act only inside your own region."),
    ErrorCode.ADMIN_ONLY: _l("Only a national administrator can do this."),
    ErrorCode.REQUIRED: _l("This field is required."),
    ErrorCode.TOO_LONG: _l("This is too long."),
    ErrorCode.INVALID_CODE: _l(
        "Use lower-case letters, digits and dashes, for example pohjois-savo."
    ),
    ErrorCode.CODE_TAKEN: _l("A region with this code already exists."),
    ErrorCode.INVALID_PERIOD: _l("The period cannot end before it starts."),
    ErrorCode.MEMBERSHIP_OVERLAP: _l(
        "The period overlaps another membership period of the region."
    ),
    ErrorCode.CATEGORY_REQUIRED: _l("Choose the venue's category."),
    ErrorCode.NAME_TAKEN: _l("The region already has an organisation with this name."),
    ErrorCode.NOT_A_VENUE: _l("Choose a venue."),
    ErrorCode.INVALID_QUOTA: _l("Enter a number of 0 or more."),
    ErrorCode.INVALID_TIMES: _l("The end must be after the start."),
    ErrorCode.TERM_REQUIRED: _l("A course needs its term: enter the last day of the term."),
    ErrorCode.TERM_TOO_LONG: _l("A course term can last at most a year."),
    ErrorCode.INVALID_EMAIL: _l("Enter an email address, for example name@example.fi."),
    ErrorCode.EMAIL_TAKEN: _l("Someone already uses this email address."),
    ErrorCode.ORGANISATION_REQUIRED: _l("Choose at least one organisation for this role."),
    ErrorCode.WRONG_ORGANISATION: _l(
        "Choose organisations of the right kind in the person's region."
    ),
    ErrorCode.NO_ORGANISATIONS_FOR_ROLE: _l(
        "Coordinators and administrators belong to no organisation."
    ),
    ErrorCode.CANNOT_CHANGE_OWN_ROLE: _l("You cannot change your own role."),
    ErrorCode.CANNOT_DEACTIVATE_SELF: _l("You cannot deactivate yourself."),
    ErrorCode.INACTIVE: _l("The person is deactivated."),
    ErrorCode.INVALID_INVITE: _l("This invitation link is not valid or has already been used."),
    ErrorCode.INVALID_PUBLIC_KEY: _l(
        "This phone could not make a key for the card. Please try again."
    ),
    ErrorCode.PASSWORD_SET: _l(
        "The person has set a password: make a password reset link instead."
    ),
    ErrorCode.NO_PASSWORD: _l("The person has not set a password yet: make a new invitation link."),
    ErrorCode.PASSWORD_TOO_SHORT: _l("The password must be at least %(min)d characters long."),
    ErrorCode.PASSWORD_TOO_LONG: _l("The password is too long."),
}

# The door's refusals: what the scanner's red screen says (its ``staff`` line is also the
# message of the reason in the API and in the scanner's JSON answers).
DOOR_WORDS: dict[Code, Words] = {
    Reason.OK: Words(
        _l("Card accepted"), _l("The Kaikukortti card is valid here."), _l("Welcome!")
    ),
    Reason.INVALID_TOKEN: Words(
        _l("Not a valid card"),
        _l("The code is not a genuine Kaikukortti code. If the card is damaged, type its number."),
        _l("Sorry, this code cannot be read as a Kaikukortti card. May I see the card number?"),
    ),
    ErrorCode.INVALID_NUMBER: Words(
        _l("Check the number"),
        MESSAGES[ErrorCode.INVALID_NUMBER],
        _l("May I see the card number once more?"),
    ),
    Reason.TOKEN_EXPIRED: Words(
        _l("Code too old"),
        _l("The digital card's code is out of date: it may be a screenshot."),
        _l("Please open the digital card again so that its code refreshes."),
    ),
    Reason.UNKNOWN_CARD: Words(
        _l("Unknown card"),
        _l("No Kaikukortti card has this number."),
        _l("This card is not in the register. Please contact the place that gave it to you."),
    ),
    Reason.REVOKED: Words(
        _l("Card revoked"),
        _l("This card has been revoked and cannot be used."),
        _l("This card is no longer in use. Please contact the place that gave it to you."),
    ),
    Reason.REPLACED: Words(
        _l("Card replaced"),
        _l("This card has been replaced by a new card with the same number."),
        _l("Please use your new card."),
    ),
    Reason.UNSIGNED_NOT_ACCEPTED: Words(
        _l("Card must be renewed"),
        _l(
            "Unsigned cards of the national register are no longer accepted in this card's "
            "region. The place that gave the card can give a new one."
        ),
        _l("This card needs to be renewed. Please contact the place that gave it to you."),
    ),
    Reason.EXPIRED: Words(
        _l("Card expired"),
        _l("The card was valid until %(date)s."),
        _l("Your card has expired. It can be renewed where you got it."),
    ),
    Reason.NOT_YET_VALID: Words(
        _l("Not valid yet"),
        _l("The card becomes valid on %(date)s."),
        _l("Your card is not valid yet."),
    ),
    Reason.REGION_NOT_ACCEPTED: Words(
        _l("Not accepted here"),
        _l("Cards of this region are not accepted here on this day."),
        _l("Sorry, your card cannot be used here yet."),
    ),
    Reason.HOME_REGION_ONLY: Words(
        _l("Own region only"),
        _l("This venue accepts only cards of its own region."),
        _l("Sorry, here only cards of this region are accepted."),
    ),
    Reason.QUOTA_FULL: Words(
        _l("Places taken"),
        _l("All Kaikukortti places of this event are taken."),
        _l("Sorry, the Kaikukortti places of this event are taken."),
    ),
    Reason.CHILDREN_NOT_ALLOWED: Words(
        _l("No children with this card"),
        _l("Children cannot come free with this card here."),
        _l("Here the card is for you only."),
    ),
    Reason.TOO_MANY_CHILDREN: Words(
        _l("Too many children"),
        _l("At most %(count)s children may come free with this card."),
        _l("The card covers %(count)s children."),
    ),
    ErrorCode.VISIT_UNDONE: Words(
        _l("Visit undone"),
        MESSAGES[ErrorCode.VISIT_UNDONE],
        _l("One moment, please."),
    ),
    ErrorCode.IDEMPOTENCY_KEY_REUSED: Words(
        _l("Scan the card again"),
        MESSAGES[ErrorCode.IDEMPOTENCY_KEY_REUSED],
        _l("One moment, please."),
    ),
    ErrorCode.INVALID_CHILDREN: Words(
        _l("Check the children"),
        _l("The number of children is not valid."),
        _l("How many children are with you?"),
    ),
    ErrorCode.INVALID_ASSISTANTS: Words(
        _l("Check the assistants"),
        _l("The number of assistants is not valid."),
        _l("One moment, please."),
    ),
    ErrorCode.UNKNOWN_EVENT: Words(
        _l("Choose the event again"),
        _l(
            "The event chosen on this page is no longer in use at the venue. Nothing was "
            "recorded: choose the event again."
        ),
        _l("One moment, please."),
    ),
}

# A community card's own words where a group changes what the door says: the card is shown
# by an organisation's worker with clients under 16 (its ``children``). Neutral: they speak of
# a group, never of why the organisation holds the card.
COMMUNITY_WORDS: dict[Reason, Words] = {
    Reason.OK: Words(
        _l("Community card accepted"),
        _l("A community card: its worker and a group of at most %(count)s come free."),
        _l("Welcome, all of you!"),
    ),
    Reason.CHILDREN_NOT_ALLOWED: Words(
        _l("No group at courses"),
        _l("A group cannot come to courses with a community card: it admits its worker only."),
        _l("Here the card is for you only."),
    ),
    Reason.TOO_MANY_CHILDREN: Words(
        _l("Group too large"),
        _l("At most %(count)s in the group may come free with this community card."),
        _l("The card covers a group of %(count)s."),
    ),
}
# A community card at a course provider, which admits no children: the worker alone.
COMMUNITY_AT_COURSE = Words(
    _l("Community card: worker only"),
    _l("At courses a community card admits its worker only: the group cannot come to courses."),
    _l("Here the card is for you only."),
)

# The door's warnings: what the scanner's orange screen says. They are kept apart from the
# refusals because a code may be both (``quota_full`` refuses at some venues, warns at others).
WARNING_WORDS: dict[WarningCode, Words] = {
    WarningCode.ALREADY_ENROLLED: Words(
        _l("Already has a place on this course"),
        _l(
            "This card already holds a place on this course this term. Recording it again "
            "stores no new use."
        ),
        _l("Welcome! You already have a place on this course."),
    ),
    WarningCode.VISITED_TODAY: Words(
        _l("Accepted – already used today"),
        _l("This card was already recorded here today. Record again only for a new visit."),
        _l("Your card has already been used here today."),
    ),
    WarningCode.QUOTA_FULL: Words(
        _l("Accepted – places taken"),
        _l("The Kaikukortti places of this event are taken, but this venue still accepts."),
        _l("Welcome!"),
    ),
    WarningCode.CHECK_CARD: Words(
        _l("Look at the card"),
        _l(
            "Checked from a typed number, which proves less than the card's code. Check that "
            "the card shown bears this number before you record the visit."
        ),
        _l("May I see your card for a moment?"),
    ),
    WarningCode.UNSIGNED_CARD: Words(
        _l("Accepted – unsigned card"),
        _l(
            "An unsigned card of the national register: valid. The place that gave it can "
            "reissue it as a signed card when convenient."
        ),
        _l("Welcome!"),
    ),
}

# What changed between an offline scan and its sync: the venue's and coordinator's lists.
CONFLICT_WORDS: dict[ConflictCode, str] = {
    ConflictCode.REVOKED_AFTER_SCAN: _l("Revoked after the visit, before the phone sent it"),
    ConflictCode.SECOND_USE: _l("The card was already used here that day"),
    ConflictCode.LIST_OUT_OF_DATE: _l("Refused by then, but the phone's list was out of date"),
    ConflictCode.TOO_MANY_CHILDREN: _l(
        "More children than the card allows: stored with the allowed number"
    ),
}

_BY_STATUS = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.REQUEST_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    422: ErrorCode.VALIDATION_ERROR,
    429: ErrorCode.RATE_LIMITED,
}


def message(code: str, **values) -> str:
    """Return the text of a code in the user's language, its placeholders filled."""
    text = MESSAGES.get(code) or (DOOR_WORDS[code].staff if code in DOOR_WORDS else None)
    text = str(text or MESSAGES[ErrorCode.BAD_REQUEST])
    return text % values if values and "%(" in text else text


def conflict_text(code: str, reason: str | None = None) -> str:
    """Return what a conflict of an offline visit says, with the door's reason if it has one."""
    text = str(CONFLICT_WORDS[code])
    return f"{text}: {DOOR_WORDS[reason].title}" if reason in DOOR_WORDS else text


def code_for(error: HTTPException) -> str:
    """Return the code of an HTTP error: the contract's for its statuses, else its name."""
    if error.code in _BY_STATUS:
        return _BY_STATUS[error.code]
    if error.code is None or error.code >= 500:
        return ErrorCode.SERVER_ERROR
    return (error.name or "error").lower().replace(" ", "_").replace("-", "_")


def http_error(error: HTTPException):
    """Answer an HTTP error: JSON under ``/api/``, else the error page."""
    if error.code is None or error.code < 400:
        return error
    code = code_for(error)
    text = message(ErrorCode.CSRF_EXPIRED if isinstance(error, CSRFError) else code)
    if request.path.startswith("/api/"):
        return jsonify(error=code, message=text), error.code
    return render_template("error.html", message=text), error.code


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, http_error)

    @app.errorhandler(OperationalError)
    def database_unavailable(error: DBAPIError):
        """The database is restarting or out of reach: ask the client to retry."""
        db.session.rollback()
        text = message(ErrorCode.UNAVAILABLE)
        if request.path.startswith("/api/"):
            response = jsonify(error=ErrorCode.UNAVAILABLE, message=text)
        else:
            response = render_template("error.html", message=text)
        return response, 503, {"Retry-After": "2"}

    @app.errorhandler(500)
    def server_error(error):
        text = message(ErrorCode.SERVER_ERROR)
        if request.path.startswith("/api/"):
            return jsonify(error=ErrorCode.SERVER_ERROR, message=text), 500
        return render_template("error.html", message=text), 500
