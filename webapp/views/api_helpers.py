"""What the API's views share: the card, verdict and visit objects, the organisation a user
acts for, and the door's refusals in words."""

from typing import TypeVar

from flask import url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..errors import ErrorCode, message
from ..extensions import db
from ..models import Card, Event, Organisation, Region, Role, User
from ..rules import Reason, Verdict, today_in_finland
from ..services import cards, door
from . import scanner_texts as texts
from .apikit import ApiError

Place = TypeVar("Place", Organisation, door.DoorVenue)


def card_body(card: Card, user: User) -> dict:
    """Return the card object; the token and digital-card link only for the issuer's staff."""
    body = {
        "number": card.number,
        "printed_number": card.printed_number,
        "kind": str(card.kind),
        "status": str(card.status_on(today_in_finland())),
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
        if card.has_digital_card:
            body["digital_card_url"] = url_for(
                "cardholder.card", key=card.digital_key, _external=True
            )
    return body


def verdict_body(verdict: Verdict) -> dict:
    """Return the verdict object, ready for JSON (the door's answer skips marshmallow's dump,
    which took as long as the check's reads of the database; tests hold it to VerdictSchema).

    The card only when the token was genuine and the card known.
    """
    body = {
        "valid": verdict.valid,
        "reason": str(verdict.reason),
        "message": texts.staff_line(verdict),
        "children_allowed": verdict.children_allowed,
        "max_children": verdict.max_children,
        "warnings": [str(warning) for warning in verdict.warnings],
    }
    card = verdict.card
    if card is not None and verdict.reason is not Reason.INVALID_TOKEN:
        body["card"] = {
            "number": card.number,
            "kind": str(card.kind),
            "valid_until": card.valid_until.isoformat(),
            "region": card.region.code,
            "children": card.children,
        }
    return body


def visit_body(visit: door.RecordedVisit) -> dict:
    """Return the visit object, ready for JSON (as :func:`verdict_body`, without
    marshmallow's dump; tests hold it to VisitSchema)."""
    return {
        "id": visit.id,
        "card_number": visit.card_number,
        "venue": visit.venue_id,
        "children": visit.children,
        "adults": visit.adults,
        "assistants": visit.assistants,
        "recorded_at": visit.recorded_at.isoformat(),
        "offline": visit.offline,
        "already_enrolled": visit.already_enrolled,
    }


def visible_card(number: str, user: User) -> Card:
    """Return the card if the user may see it; 404 alike for unknown and out-of-scope cards."""
    card = cards.find_card(number, user)
    if card is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, message(ErrorCode.CARD_NOT_FOUND))
    return card


def _pick(
    organisations: list[Place],
    wanted: int | None,
    *,
    field: str,
    required: ErrorCode,
    wrong: ErrorCode,
    none: ErrorCode,
) -> Place:
    """Return the organisation the user acts for: the one asked for, or their only one."""
    if not organisations:
        raise ApiError(403, ErrorCode.FORBIDDEN, message(none))
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
        user.distributors,
        wanted,
        field="issuer",
        required=ErrorCode.ISSUER_REQUIRED,
        wrong=ErrorCode.NOT_YOUR_ORGANISATION,
        none=ErrorCode.NO_ORGANISATION,
    )


def acting_venue(user: door.DoorStaff, wanted: int | None) -> door.DoorVenue:
    """Return the venue the user works for (``venue`` when they have several)."""
    return _pick(
        user.venues,
        wanted,
        field="venue",
        required=ErrorCode.VENUE_REQUIRED,
        wrong=ErrorCode.NOT_YOUR_VENUE,
        none=ErrorCode.NO_VENUE,
    )


def acting_event(venue: door.DoorVenue, wanted: int | None) -> Event | None:
    """Return the venue's event in use with the id asked for (None when none was asked for),
    else 422 ``unknown_event`` alike for an unknown event and another venue's."""
    if wanted is None:
        return None
    event = door.event_at(venue.id, wanted)
    if event is None:
        text = message(ErrorCode.UNKNOWN_EVENT)
        raise ApiError(422, ErrorCode.UNKNOWN_EVENT, fields={"event": text})
    return event


def region_by_code(code: str) -> Region:
    """Return the region with that code (any case), else 422 ``invalid_region``."""
    region = db.session.scalar(select(Region).where(Region.code == code.strip().lower()))
    if region is None:
        text = message(ErrorCode.INVALID_REGION)
        raise ApiError(422, ErrorCode.INVALID_REGION, fields={"region": text})
    return region


def door_message(error: door.DoorError) -> str:
    """Say why the visit was refused, in the scanner's words when it was the card."""
    if error.verdict is not None:
        return texts.staff_line(error.verdict, code=error.code)
    return error.message


def commit() -> None:
    """Commit the request's changes; a clash with a concurrent request is 409 ``conflict``."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ApiError(409, ErrorCode.CONFLICT) from None


def offer_body(offer) -> dict:
    """Return the offer object of the API (see :class:`webapp.schemas.OfferSchema`)."""
    event = offer.event
    return {
        "id": event.id,
        "title": event.name,
        "kind": event.kind.value,
        "venue": event.venue.name,
        "venue_id": event.venue_id,
        "place": event.place,
        "municipality": event.municipality,
        "region": event.venue.region.code,
        "field": event.venue.category.value if event.venue.category else None,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "starts_on": event.starts_on,
        "ends_on": event.ends_on,
        "hours": event.hours,
        "places_left": offer.places_left,
        "children_welcome": event.children_welcome,
        "text": {"fi": event.text_fi, "sv": event.text_sv, "en": event.text_en},
    }
