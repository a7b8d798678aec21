"""What the scanner says: a headline, a line for the staff and a line to tell the holder.

One set of words for every verdict, used by the server-rendered verdict and (as JSON
in the scanner page) by the verdicts the phone makes itself while offline. The words
stay discreet: they speak of the card, never of the holder's circumstances.
"""

from flask_babel import format_date
from flask_babel import lazy_gettext as _l

from ..errors import (
    COMMUNITY_AT_COURSE,
    COMMUNITY_WORDS,
    DOOR_WORDS,
    WARNING_WORDS,
    ErrorCode,
    Words,
)
from ..rules import Reason, Verdict, WarningCode

# The door's refusals (and ``ok``) come from the error catalogue; these are the scanner's
# own offline situations. Keys are what the page's offline verdicts and sync answers name.
WORDS: dict[str, Words] = {
    **DOOR_WORDS,
    "offline_unknown": Words(
        _l("Not on the offline list"),
        _l(
            "Checked offline: this code is not among the valid cards on this phone. It may be "
            "revoked, replaced, expired or forged, or newer than the last update."
        ),
        _l("Sorry, we cannot accept this card right now. Please try again in a moment."),
    ),
    "offline_digital": Words(
        _l("Type the card number"),
        _l(
            "A digital card's code cannot be checked offline. Type the card number shown "
            "on the holder's phone."
        ),
        _l("May I see the card number on your phone?"),
    ),
    "offline_no_list": Words(
        _l("Cannot check offline"),
        _l("This phone has no list of valid cards yet. Connect to the network once."),
        _l("Sorry, we cannot check the card right now. Please wait a moment."),
    ),
    WarningCode.CHECK_CARD: WARNING_WORDS[WarningCode.CHECK_CARD],  # offline as online
    "offline_list_old": Words(
        _l("Check online"),
        _l(
            "The list of valid cards on this phone is more than 48 hours old, too old to "
            "decide offline. Connect to the network and check the card online."
        ),
        _l("Sorry, we cannot check the card right now. Please wait a moment."),
    ),
    "offline_unsigned": Words(
        _l("Check online"),
        _l(
            "An unsigned card of the national register cannot be checked offline. Check it "
            "online when the network is back, or type the number of the holder's new card."
        ),
        _l("Sorry, we cannot check the card right now. Please wait a moment."),
    ),
    "offline_visited_today": Words(
        _l("Accepted – already used today"),
        _l("This phone already recorded this card today. Record again only for a new visit."),
        _l("Your card has already been used here today."),
    ),
}

# What the phone decides itself from its offline list (static/js/offline-verdict.js): the
# scanner's own situations above and these answers of the door.
PHONE_DECIDES = (WORDS.keys() - DOOR_WORDS.keys()) | {
    Reason.OK,
    Reason.TOKEN_EXPIRED,
    Reason.REPLACED,
    Reason.EXPIRED,
    Reason.NOT_YET_VALID,
}

# Short texts the page's script writes itself (the markup's own words are in its templates).
LABELS = {
    "clock_off": _l(
        "This phone's clock was more than 5 minutes off at the last update: set it right."
    ),
    "sent": _l("Sent"),
    "refused_at_sync": _l("Not accepted when sent"),
    "undone": _l("Undone"),
    "adults_children": _l("1 adult, %(children)s children"),
    "adults_children_assistants": _l("1 adult, %(children)s children, assistants: %(assistants)s"),
    "invalid_number": _l("Check the number: it is not a Kaikukortti card number."),
    "camera_denied": _l("The camera is not allowed. Allow it in the browser, or type numbers."),
    "camera_missing": _l("No camera found. Type the card numbers."),
    "camera_ready": _l("Point the camera at the card's QR code."),
    "decoder_failed": _l("The code reader could not start. Type the card numbers."),
    "signed_out": _l("You have been signed out. Sign in again to go on scanning."),
    "already_sent": _l("This visit can no longer be undone."),
    "undo_waiting": _l("Undo waiting to be sent"),
    "undo_refused": _l("Not undone: the visit stays recorded"),
    "handled": _l("Handled"),
    "try_again": _l("That did not work. Please try again."),
    "online": _l("Online"),
    "offline_status": _l("Offline"),
    "queue_count": _l("Visits waiting to be sent: %(count)s"),
    "list_updated": _l("Offline list updated %(time)s"),
    "no_list": _l("No offline list yet"),
}


def state_of(verdict: Verdict) -> str:
    """Return the colour of the verdict: "ok" (green), "warn" (orange) or "refuse" (red)."""
    if not verdict.valid:
        return "refuse"
    return "warn" if verdict.warnings else "ok"


def words_for(verdict: Verdict, *, code: str | None = None, manual: bool = False) -> Words:
    """Return the words for the verdict (or for ``code`` about it), filled in.

    A refusal reads the refusal's words, an accepted card with warnings its first warning's:
    ``quota_full`` is both, and only the warning says that the venue accepts the card.
    """
    return fill(_words(verdict, code, manual), verdict)


def staff_line(verdict: Verdict, *, code: str | None = None) -> str:
    """Return the staff's line of :func:`words_for` alone (the API's ``message``)."""
    return _filled(_words(verdict, code, False).staff, verdict)


def _words(verdict: Verdict, code: str | None, manual: bool) -> Words:
    if code is None and verdict.valid and verdict.warnings:
        return WARNING_WORDS[verdict.warnings[0]]
    key: str = code if code in WORDS else verdict.reason
    if manual and key == Reason.INVALID_TOKEN:
        key = ErrorCode.INVALID_NUMBER
    return _community_words(verdict, key) or WORDS[key]


def _community_words(verdict: Verdict, key: str) -> Words | None:
    """Return a community card's own words for the key, None for a personal card's."""
    if not getattr(verdict.card, "is_community", False):
        return None
    if key == Reason.OK and verdict.venue.course_provider:
        return COMMUNITY_AT_COURSE
    return COMMUNITY_WORDS.get(key)


def enrolled_words() -> Words:
    """Return the words for a card's existing place on a course, which a recording returned."""
    return WARNING_WORDS[WarningCode.ALREADY_ENROLLED]


def fill(words: Words, verdict: Verdict) -> Words:
    """Put the card's dates and children into the words."""
    return Words(*(_filled(text, verdict) for text in words))


def _filled(text, verdict: Verdict) -> str:
    """Return the text in the current language with the card's date and children put in
    (the date is formatted only for a text that shows it)."""
    text = str(text)
    if "%(" not in text:
        return text
    card = verdict.card
    values = {"count": verdict.max_children if verdict.valid else getattr(card, "children", 0)}
    if card is not None and "%(date)" in text:
        day = card.valid_from if verdict.reason is Reason.NOT_YET_VALID else card.valid_until
        values["date"] = format_date(day)
    return text % values


def words_as_json() -> dict:
    """Return the words and labels as plain strings for what the page says itself.

    A verdict the phone makes (``PHONE_DECIDES``) needs all its words; of any other refusal
    the page only names the title (a visit refused when it was sent).
    """
    return {
        "words": {
            str(key): (
                {"title": str(w.title), "staff": str(w.staff), "holder": str(w.holder)}
                if key in PHONE_DECIDES
                else {"title": str(w.title)}
            )
            for key, w in WORDS.items()
        },
        "labels": {key: str(text) for key, text in LABELS.items()},
    }
