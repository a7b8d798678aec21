"""What the API's views share: the card, verdict and visit objects, the organisation a user
acts for, and the messages of the API's own error codes."""

from typing import TypeVar

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Card, Organisation, OrganisationKind, Region, Role, User
from ..rules import Reason, Verdict
from ..services import cards, door
from . import scanner_texts as texts
from .apikit import ApiError

MESSAGES = {
    "holder_too_young": _l("The holder must turn 16 this year or be older."),
    "invalid_birth_year": _l("Give a year of birth from 1900 to this year."),
    "invalid_postcode": _l("Give a postcode of five digits."),
    "invalid_children": _l("Give a number of children from 0 to 20."),
    "invalid_valid_until": _l(
        "The last day of validity cannot be before the first day of validity."
    ),
    "valid_until_too_late": _l("The last day of validity is too far in the future."),
    "invalid_region": _l("No region has this code."),
    "card_not_found": _l("No card with this number."),
    "visit_not_found": _l("No visit with this id at your venues."),
    "venue_required": _l("You work at several venues: give the venue's id in venue."),
    "not_your_venue": _l("You do not work at this venue."),
    "no_venue": _l("Your account is not attached to any venue."),
    "issuer_required": _l(
        "You work at several distributors: give the organisation's id in issuer."
    ),
    "not_your_organisation": _l("You do not work at this organisation."),
    "no_organisation": _l("Your account is not attached to any distributor."),
    "undo_window_passed": _l("A visit can be undone only within 10 minutes of recording it."),
    "invalid_range": _l("The end date is before the start date."),
    "range_too_long": _l("The dates may span at most ten years."),
    "invalid_group": _l("Group by month, venue, region or category."),
}


Place = TypeVar("Place", Organisation, door.DoorVenue)


def message(code: str) -> str:
    """Return the human text of one of the API's error codes."""
    if code == Reason.REVOKED:
        return str(texts.WORDS[Reason.REVOKED].staff)
    return str(MESSAGES[code])


def card_body(card: Card, user: User) -> dict:
    """Return the card object; the token and digital-card link only for the issuer's staff."""
    body = {
        "number": card.number,
        "status": str(card.status_on(cards.today_in_finland())),
        "region": card.region.code,
        "valid_from": card.valid_from,
        "valid_until": card.valid_until,
        "birth_year": card.birth_year,
        "postcode": card.postcode,
        "children": card.children,
    }
    # The token and the link are bearer secrets: only the issuing organisation's staff get
    # them, while it is in use (a coordinator could otherwise claim a card nobody opened).
    if user.role is Role.DISTRIBUTOR and card.issuer in user.organisations and card.issuer.active:
        body["token"] = cards.printed_token(card)
        body["digital_card_url"] = url_for("cardholder.card", key=card.digital_key, _external=True)
    return body


def verdict_body(verdict: Verdict) -> dict:
    """Return the verdict object, ready for JSON (the door's answer skips marshmallow's dump,
    which took as long as the check's two queries; tests hold it to VerdictSchema).

    The card only when the token was genuine and the card known.
    """
    body = {
        "valid": verdict.valid,
        "reason": str(verdict.reason),
        "message": texts.words_for(verdict).staff,
        "children_allowed": verdict.children_allowed,
        "max_children": verdict.max_children,
        "warnings": [str(warning) for warning in verdict.warnings],
    }
    card = verdict.card
    if card is not None and verdict.reason is not Reason.INVALID_TOKEN:
        body["card"] = {
            "number": card.number,
            "valid_until": card.valid_until.isoformat(),
            "region": card.region.code,
            "children": card.children,
        }
    return body


def visit_body(visit: door.RecordedVisit) -> dict:
    """Return the visit object."""
    return {
        "id": visit.id,
        "card_number": visit.card_number,
        "venue": visit.venue_id,
        "children": visit.children,
        "adults": visit.adults,
        "recorded_at": visit.recorded_at,
    }


def visible_card(number: str, user: User) -> Card:
    """Return the card if the user may see it; 404 alike for unknown and out-of-scope cards."""
    card = cards.find_card(number, user)
    if card is None:
        raise ApiError(404, "not_found", message("card_not_found"))
    return card


def _pick(
    organisations: list[Place],
    wanted: int | None,
    *,
    field: str,
    required: str,
    wrong: str,
    none: str,
) -> Place:
    """Return the organisation the user acts for: the one asked for, or their only one."""
    if not organisations:
        raise ApiError(403, "forbidden", message(none))
    if wanted is None:
        if len(organisations) > 1:
            raise ApiError(422, required, fields={field: message(required)})
        return organisations[0]
    for organisation in organisations:
        if organisation.id == wanted:
            return organisation
    raise ApiError(422, wrong, fields={field: message(wrong)})


def acting_issuer(user: User, wanted: int | None) -> Organisation:
    """Return the distributor the user issues cards for (``issuer`` when they have several)."""
    return _pick(
        [o for o in user.organisations if o.kind is OrganisationKind.DISTRIBUTOR and o.active],
        wanted,
        field="issuer",
        required="issuer_required",
        wrong="not_your_organisation",
        none="no_organisation",
    )


def acting_venue(user: door.DoorStaff, wanted: int | None) -> door.DoorVenue:
    """Return the venue the user works for (``venue`` when they have several)."""
    return _pick(
        user.venues,
        wanted,
        field="venue",
        required="venue_required",
        wrong="not_your_venue",
        none="no_venue",
    )


def region_by_code(code: str) -> Region:
    """Return the region with that code (any case), else 422 ``invalid_region``."""
    region = db.session.scalar(select(Region).where(Region.code == code.strip().lower()))
    if region is None:
        raise ApiError(422, "invalid_region", fields={"region": message("invalid_region")})
    return region


def card_failure(error: cards.CardError) -> ApiError:
    """Return the API error for a card service's refusal, naming the wrong field."""
    text = message(error.code)
    return ApiError(422, error.code, text, {error.field: text} if error.field else None)


def door_message(error: door.DoorError) -> str:
    """Say why the visit was refused, in the scanner's words when it was the card."""
    if error.verdict is not None:
        return texts.words_for(error.verdict, code=error.code).staff
    if error.code in MESSAGES:
        return message(error.code)
    return _("The visit cannot be recorded.")


def commit() -> None:
    """Commit the request's changes; a clash with a concurrent request is 409 ``conflict``."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ApiError(409, "conflict") from None
