"""The door decision: may this card be used at this venue at this moment?

A pure function of the card, the venue and the moment (plus facts the caller looked up:
whether the card was already used here today, whether the event's quota is full and, at a
course provider, whether the card already holds a place on the course this term).
The reasons are checked in this order, and the first that applies is the verdict:

1. ``invalid_token``  the token is malformed, tampered or signed with an unknown key
   ``token_expired``  a digital card's time-limited code is too old
   (both decided by the caller while parsing the token; see :mod:`webapp.tokens`)
2. ``unknown_card``   no card has that number
3. ``revoked``        the card was revoked (lost, misuse, other)
4. ``replaced``       the token is of an older generation of a reissued card (a national
   register ID, :mod:`webapp.registerids`, is the first generation of an imported card)
5. ``unsigned_not_accepted``  the card was shown by its unsigned register ID on or after
   the day from which the card's region refuses unsigned cards
6. ``expired``        the last day of validity has passed (Finnish time)
7. ``not_yet_valid``  the first day of validity has not come yet
8. ``region_not_accepted``  the card's or the venue's region is not in the network that day
9. ``home_region_only``     the venue accepts only cards of its own region
10. ``quota_full``    the event's Kaikukortti places are taken and the venue refuses then
11. ``ok``            accepted, perhaps with warnings (``already_enrolled``, ``visited_today``,
    ``quota_full``, ``check_card`` for a printed number typed by hand, which proves less
    than a signed code: the staff looks at the card, and ``unsigned_card``: shown by its
    register ID, to be reissued when convenient)

A card that already holds a place on the course is never refused for a full quota: that
place is its own (recording it again stores no new use, see :mod:`webapp.services.door`).

Children are checked when a visit is recorded: ``children_not_allowed`` at a course provider
(or for a card without registered children), ``too_many_children`` beyond the card's number.

A community card (an organisation's, shown by its worker) is judged like any other: its
``children`` are the most clients under 16 of the worker's group, and the visit records the
worker as its one adult. A course provider admits no children, so there it admits the
worker alone: the clients cannot take course places with it (the scanner says so).
"""

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Protocol
from zoneinfo import ZoneInfo

HELSINKI = ZoneInfo("Europe/Helsinki")


class Reason(enum.StrEnum):
    OK = "ok"
    INVALID_TOKEN = "invalid_token"
    TOKEN_EXPIRED = "token_expired"
    UNKNOWN_CARD = "unknown_card"
    REVOKED = "revoked"
    REPLACED = "replaced"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REGION_NOT_ACCEPTED = "region_not_accepted"
    HOME_REGION_ONLY = "home_region_only"
    QUOTA_FULL = "quota_full"
    UNSIGNED_NOT_ACCEPTED = "unsigned_not_accepted"
    CHILDREN_NOT_ALLOWED = "children_not_allowed"
    TOO_MANY_CHILDREN = "too_many_children"


class WarningCode(enum.StrEnum):
    ALREADY_ENROLLED = "already_enrolled"
    VISITED_TODAY = "visited_today"
    QUOTA_FULL = "quota_full"
    CHECK_CARD = "check_card"
    UNSIGNED_CARD = "unsigned_card"


class NetworkRegion(Protocol):
    """What the rules read of a region (a :class:`webapp.models.Region`, or the door's copy)."""

    unsigned_refused_from: date | None

    def in_network_on(self, day: date) -> bool: ...


class CardFacts(Protocol):
    """What the rules read of a card."""

    number: str
    generation: int
    revoked: bool
    valid_from: date
    valid_until: date
    children: int
    region_id: int
    region: NetworkRegion


class VenueFacts(Protocol):
    """What the rules read of a venue."""

    id: int
    region_id: int
    region: NetworkRegion
    course_provider: bool
    home_region_only: bool
    quota_full_refuses: bool


@dataclass(frozen=True)
class Verdict:
    reason: Reason
    card: CardFacts | None
    venue: VenueFacts
    max_children: int = 0
    warnings: tuple[WarningCode, ...] = ()
    offline: bool = False

    @property
    def valid(self) -> bool:
        return self.reason is Reason.OK

    @property
    def children_allowed(self) -> bool:
        return self.valid and self.max_children > 0


def helsinki_date(moment: datetime) -> date:
    """Return the calendar date in Finland at that moment."""
    return moment.astimezone(HELSINKI).date()


MIDNIGHT = time()


def finnish_moment(day: date, clock: time = MIDNIGHT) -> datetime:
    """Return the UTC instant of a Finnish date and wall-clock time (midnight by default)."""
    return datetime.combine(day, clock, HELSINKI).astimezone(UTC)


def today_in_finland() -> date:
    """Return today's date in Finland."""
    return helsinki_date(datetime.now(UTC))


def in_network_on(periods: Iterable[tuple[date, date | None]], day: date) -> bool:
    """Tell whether one of the membership periods (first day, last day or None) covers the day."""
    return any(start <= day and (end is None or day <= end) for start, end in periods)


def max_children(card: CardFacts, venue: VenueFacts) -> int:
    """Return how many children may come free with the card at the venue."""
    return 0 if venue.course_provider else card.children


def verdict(
    card: CardFacts | None,
    generation: int,
    venue: VenueFacts,
    moment: datetime,
    *,
    visited_today: bool = False,
    quota_full: bool = False,
    enrolled: bool = False,
    typed: bool = False,
    unsigned: bool = False,
) -> Verdict:
    """Decide whether the card, shown with a token (or, ``typed``, a printed number) of that
    generation, is accepted.

    ``unsigned``: it was shown by its national register ID, not by a signed code.
    """
    if card is None:
        return Verdict(Reason.UNKNOWN_CARD, None, venue)
    today = helsinki_date(moment)
    reason = _refusal(card, generation, venue, today, unsigned)
    quota_full = quota_full and not enrolled
    if reason is None and quota_full and venue.quota_full_refuses:
        reason = Reason.QUOTA_FULL
    if reason is not None:
        return Verdict(reason, card, venue)
    warnings = []
    if enrolled:
        warnings.append(WarningCode.ALREADY_ENROLLED)
    if visited_today:
        warnings.append(WarningCode.VISITED_TODAY)
    if quota_full:
        warnings.append(WarningCode.QUOTA_FULL)
    if typed:
        warnings.append(WarningCode.CHECK_CARD)
    if unsigned:
        warnings.append(WarningCode.UNSIGNED_CARD)
    return Verdict(Reason.OK, card, venue, max_children(card, venue), tuple(warnings))


def _refusal(
    card: CardFacts, generation: int, venue: VenueFacts, today: date, unsigned: bool
) -> Reason | None:
    if card.revoked:
        return Reason.REVOKED
    if generation < card.generation:
        return Reason.REPLACED
    if generation > card.generation:
        return Reason.INVALID_TOKEN
    refused_from = card.region.unsigned_refused_from
    if unsigned and refused_from is not None and today >= refused_from:
        return Reason.UNSIGNED_NOT_ACCEPTED
    if today > card.valid_until:
        return Reason.EXPIRED
    if today < card.valid_from:
        return Reason.NOT_YET_VALID
    if not (card.region.in_network_on(today) and venue.region.in_network_on(today)):
        return Reason.REGION_NOT_ACCEPTED
    if venue.home_region_only and card.region_id != venue.region_id:
        return Reason.HOME_REGION_ONLY
    return None


def children_reason(verdict: Verdict, children: int) -> Reason | None:
    """Return why that many children may not come with the card, or None when they may."""
    if children <= 0:
        return None
    if verdict.max_children == 0:
        return Reason.CHILDREN_NOT_ALLOWED
    if children > verdict.max_children:
        return Reason.TOO_MANY_CHILDREN
    return None
