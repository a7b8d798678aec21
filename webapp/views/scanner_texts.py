"""What the scanner says: a headline, a line for the staff and a line to tell the holder.

One set of words for every verdict, used by the server-rendered verdict and (as JSON
in the scanner page) by the verdicts the phone makes itself while offline. The words
stay discreet: they speak of the card, never of the holder's circumstances.
"""

from typing import NamedTuple

from flask_babel import format_date
from flask_babel import lazy_gettext as _l

from ..rules import Reason, Verdict, WarningCode


class Words(NamedTuple):
    title: str
    staff: str
    holder: str


# Keys are reason codes, warning codes and the scanner's own offline situations.
WORDS: dict[str, Words] = {
    Reason.OK: Words(
        _l("Card accepted"), _l("The Kaikukortti card is valid here."), _l("Welcome!")
    ),
    Reason.INVALID_TOKEN: Words(
        _l("Not a valid card"),
        _l("The code is not a genuine Kaikukortti code. If the card is damaged, type its number."),
        _l("Sorry, this code cannot be read as a Kaikukortti card. May I see the card number?"),
    ),
    "invalid_number": Words(
        _l("Check the number"),
        _l("This is not a Kaikukortti card number. Check for typing mistakes."),
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
    "invalid_children": Words(
        _l("Check the children"),
        _l("The number of children is not valid."),
        _l("How many children are with you?"),
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
    "offline_visited_today": Words(
        _l("Accepted – already used today"),
        _l("This phone already recorded this card today. Record again only for a new visit."),
        _l("Your card has already been used here today."),
    ),
}

# Short labels the page needs for verdicts it makes itself.
LABELS = {
    "offline": _l("Offline check"),
    "card_number": _l("Card number"),
    "valid_until": _l("Valid until"),
    "children_allowed": _l("Children free"),
    "no_children": _l("No children with this card here"),
    "queued": _l("Saved on this phone. It will be sent when the network returns."),
    "queued_title": _l("Visit saved"),
    "sent": _l("Sent"),
    "waiting": _l("Waiting to be sent"),
    "refused_at_sync": _l("Not accepted when sent"),
    "undo": _l("Undo"),
    "undone": _l("Undone"),
    "adults_children": _l("1 adult, %(children)s children"),
    "invalid_number": _l("Check the number: it is not a Kaikukortti card number."),
    "camera_denied": _l("The camera is not allowed. Allow it in the browser, or type numbers."),
    "camera_missing": _l("No camera found. Type the card numbers."),
    "camera_ready": _l("Point the camera at the card's QR code."),
    "decoder_failed": _l("The code reader could not start. Type the card numbers."),
    "signed_out": _l("You have been signed out. Sign in again to go on scanning."),
    "already_sent": _l("This visit has already been sent and cannot be undone here."),
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
    """Return the words for the verdict (or for ``code`` about it), filled in."""
    key: str = code or verdict.reason
    if code is not None and code not in WORDS:
        key = verdict.reason
    elif code is None and verdict.valid and verdict.warnings:
        key = verdict.warnings[0]
    elif manual and verdict.reason is Reason.INVALID_TOKEN:
        key = "invalid_number"
    return fill(WORDS[key], verdict)


def fill(words: Words, verdict: Verdict) -> Words:
    """Put the card's dates and children into the words."""
    card = verdict.card
    values = {"count": verdict.max_children if verdict.valid else getattr(card, "children", 0)}
    if card is not None:
        day = card.valid_from if verdict.reason is Reason.NOT_YET_VALID else card.valid_until
        values["date"] = format_date(day)
    texts = [str(text) for text in words]
    return Words(*(text % values if "%(" in text else text for text in texts))


def words_as_json() -> dict:
    """Return every set of words and label as plain strings for the page's own verdicts."""
    return {
        "words": {
            str(key): {"title": str(w.title), "staff": str(w.staff), "holder": str(w.holder)}
            for key, w in WORDS.items()
        },
        "labels": {key: str(text) for key, text in LABELS.items()},
    }
