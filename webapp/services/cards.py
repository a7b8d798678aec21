"""The card life cycle: issue, renew, change validity, reissue, revoke, move the digital card."""

import secrets
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import Select, false, func, select

from .. import cardnumbers, registerids, tokens
from ..errors import DomainError, ErrorCode
from ..extensions import db
from ..models import (
    Card,
    CardKind,
    CardStatus,
    Organisation,
    Region,
    RevokeReason,
    Role,
    User,
    Visit,
    utcnow,
)
from ..rules import Reason, today_in_finland
from . import audit, digital, offline

MIN_AGE = 16
MAX_CHILDREN = 20
# A community card's group: its worker and at most this many clients under 16 at one visit.
MAX_GROUP = 15
CHILDREN_BOUNDS = {CardKind.PERSONAL: (0, MAX_CHILDREN), CardKind.COMMUNITY: (1, MAX_GROUP)}
MIN_BIRTH_YEAR = 1900
# The renewal worklist: cards that expire within 30 days or expired in the last 60.
RENEWAL_AHEAD = timedelta(days=30)
RENEWAL_BEHIND = timedelta(days=60)


class CardError(DomainError):
    """A card change that cannot be made; ``code`` says why, ``field`` which input is wrong."""


def one_year_after(day: date) -> date:
    """Return the same date a year later (28 February for 29 February)."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def issue_card(
    *,
    issuer: Organisation,
    actor: User | None,
    birth_year: int | None = None,
    postcode: str | None = None,
    children: int,
    kind: CardKind = CardKind.PERSONAL,
    region: Region | None = None,
    valid_until: date | None = None,
    today: date | None = None,
) -> Card:
    """Register a new card; raise CardError (e.g. ``holder_too_young``) for bad input.

    A personal card needs the holder's birth year and postcode. A community card is the
    issuer's own, for its workers' groups: it takes neither (``not_on_community_card``), and
    its ``children`` is the most clients under 16 one visit may bring (1 to 15).
    """
    today = today or today_in_finland()
    region = region or issuer.region
    if kind is CardKind.COMMUNITY:
        _check_nothing_personal(birth_year=birth_year, postcode=postcode)
    else:
        check_birth_year(_given(birth_year, "birth_year"), today)
        check_postcode(_given(postcode, "postcode"))
    check_children(children, kind)
    valid_until = _validity_end(region, today, valid_until)
    card = Card(
        number=unused_number(),
        kind=kind,
        generation=1,
        region=region,
        issuer=issuer,
        birth_year=birth_year,
        postcode=postcode,
        children=children,
        valid_from=today,
        valid_until=valid_until,
        digital_key=secrets.token_urlsafe(32),
    )
    offline.cache_number_hash(card)
    db.session.add(card)
    audit.record(
        "card.issued",
        card,
        actor=actor,
        valid_until=valid_until,
        key_id=signing_key_id(),
        kind=kind,
    )
    return card


def renew_card(
    card: Card,
    *,
    actor: User | None,
    valid_until: date | None = None,
    children: int | None = None,
    postcode: str | None = None,
    today: date | None = None,
) -> Card:
    """Extend the card's validity (by default one year from today), correcting its children
    and postcode where given; raise CardError if revoked or for bad input."""
    today = today or today_in_finland()
    _check_not_revoked(card)
    card.valid_until = _validity_end(card.region, today, valid_until)
    card.valid_from = min(card.valid_from, today)
    audit.record("card.renewed", card, actor=actor, valid_until=card.valid_until)
    return correct_card(
        card,
        actor=actor,
        children=card.children if children is None else children,
        postcode=postcode or card.postcode,
    )


def correct_card(card: Card, *, actor: User | None, children: int, postcode: str | None) -> Card:
    """Correct a mistyped number of children or postcode (a community card has none),
    audit-logged; raise CardError (``revoked``, ``invalid_children``, ``invalid_postcode``,
    ``not_on_community_card``)."""
    _check_not_revoked(card)
    if card.is_community:
        _check_nothing_personal(postcode=postcode)
    else:
        check_postcode(_given(postcode, "postcode"))
    check_children(children, card.kind)
    changed = {
        name: value
        for name, value in (("children", children), ("postcode", postcode))
        if getattr(card, name) != value
    }
    if changed:
        card.children = children
        card.postcode = postcode
        audit.record("card.corrected", card, actor=actor, **changed)
    return card


def change_validity(card: Card, *, actor: User | None, valid_until: date) -> Card:
    """Set the card's last day of validity (a coordinator extending a pilot's cards)."""
    if valid_until < card.valid_from:
        raise CardError(ErrorCode.INVALID_VALID_UNTIL, "valid_until")
    years = current_app.config.get("CARD_EXTENSION_YEARS", 2)
    latest = today_in_finland()
    for _ in range(years):
        latest = one_year_after(latest)
    if valid_until > latest:
        raise CardError(ErrorCode.VALID_UNTIL_TOO_LATE, "valid_until")
    card.valid_until = valid_until
    audit.record("card.validity_changed", card, actor=actor, valid_until=valid_until)
    return card


def reissue_card(card: Card, *, actor: User | None) -> Card:
    """Replace a lost card: same number, next generation and a new printed number; the old
    token and printed number stop working. Raise CardError ``revoked``."""
    _check_not_revoked(card)
    card.generation += 1
    card.printed_secret = cardnumbers.new_secret()
    offline.cache_number_hash(card)
    audit.record(
        "card.reissued", card, actor=actor, generation=card.generation, key_id=signing_key_id()
    )
    return card


def revoke_card(card: Card, *, actor: User | None, reason: RevokeReason) -> Card:
    """Revoke the card for good; revoking a revoked card changes nothing."""
    if card.revoked:
        return card
    card.revoked = True
    card.revoke_reason = reason
    card.revoked_at = utcnow()
    audit.record("card.revoked", card, actor=actor, reason=reason)
    return card


def move_digital_card(card: Card, *, actor: User | None) -> Card:
    """Give the digital card a new link for a new phone; the old link stops working."""
    _check_not_revoked(card)
    card.digital_key = secrets.token_urlsafe(32)
    card.digital_device = None
    digital.retire_devices(card)
    audit.record("card.digital_moved", card, actor=actor)
    return card


def signing_key_id() -> str:
    """Return the id of the key that signs new tokens now."""
    return tokens.key_id(current_app.config["CARD_SIGNING_KEYS"][-1])


def printed_token(card: Card) -> str:
    """Return the signed token printed in the card's QR code."""
    return tokens.sign_card(card.number, card.generation, current_app.config["CARD_SIGNING_KEYS"])


def digital_token(card: Card) -> str:
    """Return a fresh time-limited token for the digital card."""
    keys = current_app.config["CARD_SIGNING_KEYS"]
    return tokens.sign_digital(card.number, card.generation, keys)


def cards_visible_to(user: User) -> Select:
    """Return a query of the cards the user may see."""
    query = select(Card)
    if user.role is Role.ADMIN:
        return query
    if user.role is Role.COORDINATOR:
        return query.where(Card.region_id == user.region_id)
    if user.role is Role.DISTRIBUTOR:
        return issued_by(user)
    return query.where(false())


def issued_by(user: User) -> Select:
    """Return a query of the cards issued by the user's organisations that are in use."""
    active = [org.id for org in user.organisations if org.active]
    return select(Card).where(Card.issuer_id.in_(active))


def due_for_renewal(user: User, today: date) -> Select:
    """Return a query of the user's organisations' unrevoked cards whose last day of validity
    is at most 30 days ahead or at most 60 days past, the earliest first."""
    return (
        issued_by(user)
        .where(
            Card.valid_until.between(today - RENEWAL_BEHIND, today + RENEWAL_AHEAD),
            Card.revoked.is_(False),
        )
        .order_by(Card.valid_until, Card.number)
    )


def find_card(number: str, user: User, *, query: Select | None = None) -> Card | None:
    """Return the card with that number, or with that national register ID (an imported card),
    if the user may see it (tolerant of case and dashes)."""
    query = query if query is not None else cards_visible_to(user)
    number = cardnumbers.normalize(number)
    if cardnumbers.is_valid(number):
        return db.session.scalar(query.where(Card.number == number))
    legacy_id = registerids.normalize(number)
    if legacy_id is None:
        return None
    return db.session.scalar(query.where(Card.legacy_id == legacy_id))


def desk_status(card: Card, today: date) -> tuple[str, date | None]:
    """Return the card's status as the desk shows it, and the day it concerns.

    The API's status (``active``, ``expired``, ``revoked``), except that an active card of
    a region outside the network that day, which every venue refuses, is ``not_in_network``
    with the day its region joins (None when no joining is planned).
    """
    status = card.status_on(today)
    if status is not CardStatus.ACTIVE or card.region.in_network_on(today):
        return status.value, None
    joins = (m.starts_on for m in card.region.memberships if m.starts_on > today)
    return "not_in_network", min(joins, default=None)


def printable(card: Card, today: date) -> bool:
    """Tell whether the card may be printed: neither revoked nor expired."""
    return card.status_on(today) is CardStatus.ACTIVE


def usage_count(card: Card) -> int:
    """Return how many visits have been recorded with the card."""
    return db.session.scalar(select(func.count()).where(Visit.card_id == card.id))


# The card holder's rules, written once: the distributor's form checks each field with them
# as it is typed, and issuing a card checks them all.


def check_birth_year(birth_year: int, today: date | None = None) -> None:
    """Check that the holder turns 16 this year or is older; raise CardError if not."""
    this_year = (today or today_in_finland()).year
    if not MIN_BIRTH_YEAR <= birth_year <= this_year:
        raise CardError(ErrorCode.INVALID_BIRTH_YEAR, "birth_year", year=this_year)
    if birth_year > this_year - MIN_AGE:
        raise CardError(ErrorCode.HOLDER_TOO_YOUNG, "birth_year", age=MIN_AGE)


def check_postcode(postcode: str) -> None:
    """Check that the postcode has five digits; raise CardError if not."""
    if not (len(postcode) == 5 and postcode.isascii() and postcode.isdigit()):
        raise CardError(ErrorCode.INVALID_POSTCODE, "postcode")


def check_children(children: int, kind: CardKind = CardKind.PERSONAL) -> None:
    """Check the number of children who may come free: 0 to 20 with a personal card, a
    community card's group of 1 to 15 clients under 16; raise CardError if not."""
    low, high = CHILDREN_BOUNDS[kind]
    if not low <= children <= high:
        raise CardError(ErrorCode.INVALID_CHILDREN, "children", min=low, max=high)


def _given(value, field: str):
    """Return the personal card's value; raise CardError(``required``) when it is missing."""
    if value is None:
        raise CardError(ErrorCode.REQUIRED, field)
    return value


def _check_nothing_personal(**values) -> None:
    """Refuse a birth year or postcode given for a community card (it stores nothing of its
    worker or clients); raise CardError(``not_on_community_card``)."""
    for field, value in values.items():
        if value is not None:
            raise CardError(ErrorCode.NOT_ON_COMMUNITY_CARD, field)


def check_valid_until(valid_until: date, today: date | None = None) -> None:
    """Check that a new last day of validity is not in the past; raise CardError if it is."""
    if valid_until < (today or today_in_finland()):
        raise CardError(ErrorCode.INVALID_VALID_UNTIL, "valid_until")


def _validity_end(region: Region, today: date, valid_until: date | None) -> date:
    """Return the last day of a new or renewed card: at most a year, or the pilot's end.

    Raises CardError(invalid_valid_until: in the past; valid_until_too_late: beyond a year).
    """
    if valid_until is not None and valid_until > one_year_after(today):
        raise CardError(ErrorCode.VALID_UNTIL_TOO_LATE, "valid_until")
    end = min(valid_until or one_year_after(today), latest_valid_until(region, today))
    check_valid_until(end, today)
    return end


def latest_valid_until(region: Region, today: date) -> date:
    """Return the last day of validity a card of the region may get today: a year from today,
    or the end of the region's pilot if that comes first."""
    end = one_year_after(today)
    return end if region.pilot_ends_on is None else min(end, region.pilot_ends_on)


def _check_not_revoked(card: Card) -> None:
    if card.revoked:
        raise CardError(Reason.REVOKED)


def unused_number() -> str:
    """Return a new card number that no card has."""
    while True:
        number = cardnumbers.new_number()
        if db.session.scalar(select(Card.id).where(Card.number == number)) is None:
            return number
