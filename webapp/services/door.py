"""At the door: verify a card and record the visit exactly once.

What was shown at the door is parsed once, at the edge, into a :class:`Shown` (a scanned
token or a typed number). A door check is the app's hottest path, so it reads the database
with Core statements, built once, and no ORM objects: one for the staff with the active
venues where they work (:func:`staff`; :func:`webapp.services.accounts.staff_for_api_token`
runs the same read for the user of an API token), one for the card with its region's
network periods, whether it was used at the venue that Finnish day and only what the check
needs beside it (:func:`_card_read`: the course place, who holds the idempotency key, the
phone code's earlier visits). The API's plain check reads both in one statement: the card
that the request names, beside the token's staff (:func:`staff_statement` with
``card_by``, :class:`CardReadAhead`). The rows become the plain objects below, which
:func:`webapp.rules.verdict` reads like the models. A check that records nothing runs in
autocommit (:func:`read_only`).

Recording, against retries and races:

* A code the card's phone signed also has a replay key (:func:`webapp.services.digital.
  replay_key`), kept beside the client's idempotency key: a replay at the same venue answers
  its first visit online, and is stored with a ``second_use`` conflict when a phone accepted
  it offline; a use at another venue is stored with a ``second_use`` conflict.
* An idempotency key belongs to its venue *and card*. It is looked up only for a card that
  what was shown names: a garbage token never reaches a stored visit, and the same key
  with another card is refused (``idempotency_key_reused``), never answered with that
  card's visit.
* A visit is inserted with ``ON CONFLICT DO NOTHING`` (a concurrent request with the same
  key stores nothing) and counted into the daily rollup in the same transaction
  (:func:`webapp.services.rollup.count`).
* An event's places are counted under a lock (:func:`_lock_places`): the event row
  ``FOR UPDATE`` on PostgreSQL, the database's write lock on SQLite, so two doors cannot
  both take the last place.
* At a course provider an event is a course, and a use is a place on it for its term
  (:attr:`~webapp.models.Event.last_day`). A visit stores the last day of the term it took
  a place for, and holds its place while that day is not before the course's first day
  (:func:`this_term`): a card with a place gets that visit back (``already_enrolled``) and
  nothing new is stored, and the quota counts those places. Moving the course's days on to
  the next term frees the places. Enrolments take the event's lock as the places do, so
  two doors at once store one place.
* An undo deletes the visit there (:func:`webapp.services.rollup.remove`) and leaves an
  :class:`~webapp.models.UndoneVisit`: its key stays taken (a retried POST answers
  ``visit_undone`` and stores nothing) and a retried DELETE answers as done. An undo that
  overtakes its visit stores the visit as undone (:func:`undo_by_key`). Visit ids are
  never reused (a sequence on PostgreSQL, ``AUTOINCREMENT`` on SQLite), so a retried DELETE
  can never reach another visit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import cache, wraps
from itertools import groupby
from typing import TypeVar

from sqlalchemy import (
    CursorResult,
    Row,
    and_,
    bindparam,
    delete,
    false,
    func,
    insert,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from .. import cardnumbers, registerids, tokens
from ..errors import Code, DomainError, ErrorCode
from ..extensions import db
from ..models import (
    Card,
    CardKind,
    ConflictCode,
    Event,
    NetworkMembership,
    OfferKind,
    Organisation,
    OrganisationKind,
    Region,
    Role,
    UndoneVisit,
    User,
    Visit,
    VisitConflict,
    VisitSource,
    user_organisation,
    utcnow,
)
from ..rules import (
    Reason,
    VenueFacts,
    Verdict,
    WarningCode,
    children_reason,
    helsinki_date,
    in_network_on,
    max_children,
    verdict,
)
from . import audit, digital, rollup

UNDO_WINDOW = timedelta(minutes=10)
MAX_ASSISTANTS = 2  # free companions beside the holder: an assistant, guide or interpreter
NIGHT_AFTER_LAST_DAY = timedelta(hours=5)  # an event stays in use until 05:00 after its day

T = TypeVar("T")


class DoorError(DomainError):
    """A visit that cannot be recorded or undone; ``code`` says why, ``verdict`` about what."""

    def __init__(
        self, code: Code, verdict: Verdict | None = None, field: str | None = None, **values
    ):
        super().__init__(code, field, **values)
        self.verdict = verdict


@dataclass(frozen=True)
class Shown:
    """What was shown at the door: a scanned token or a typed card number, never both."""

    token: str | None = None
    number: str | None = None

    @classmethod
    def scanned(cls, token: str) -> Shown:
        return cls(token=token.strip())

    @classmethod
    def typed(cls, number: str) -> Shown:
        """A printed number typed by hand (for a damaged card); case, spaces and dashes are
        ignored. A bare 9-character number is the generation-1 printed number."""
        return cls(number=cardnumbers.normalize(number))

    @classmethod
    def given(cls, data: dict) -> Shown:
        """Return what a request's validated data showed: its ``token`` or its ``number``."""
        token = data.get("token")
        return cls.typed(data["number"]) if token is None else cls.scanned(token)

    @classmethod
    def of(cls, token, number) -> Shown | None:
        """Return what a request showed (``token`` or ``number``), None unless exactly one."""
        token = token.strip() if isinstance(token, str) else ""
        number = number.strip() if isinstance(number, str) else ""
        if bool(token) == bool(number):
            return None
        return cls.scanned(token) if token else cls.typed(number)

    @property
    def source(self) -> VisitSource:
        return VisitSource.MANUAL if self.token is None else VisitSource.CAMERA


# --- what a door check reads ---------------------------------------------------------------


@dataclass(frozen=True)
class DoorRegion:
    id: int
    code: str
    periods: tuple[tuple[date, date | None], ...]  # the network membership periods
    unsigned_refused_from: date | None

    def in_network_on(self, day: date) -> bool:
        return in_network_on(self.periods, day)


@dataclass(frozen=True)
class DoorVenue:
    id: int
    name: str
    region: DoorRegion
    course_provider: bool
    home_region_only: bool
    quota_full_refuses: bool

    @property
    def region_id(self) -> int:
        return self.region.id


@dataclass(frozen=True)
class CardReadAhead:
    """What a door request showed and the card it names (:func:`name_of`, at the moment of
    the read), read in the statement that read its staff (:func:`staff_statement` with
    ``card_by``) on the Finnish ``day``: the card read's rows at each of their venues (none
    for an unknown card)."""

    shown: Shown
    named: Named
    day: date
    rows: dict[int, list[Row]] = field(default_factory=dict)

    def rows_at(self, shown: Shown, day: date, venue_id: int) -> list[Row] | None:
        """Return the rows of the card shown, as its card read at the venue that day would
        give them, or None when that is not what was read ahead."""
        if (shown, day) != (self.shown, self.day):
            return None
        return self.rows.get(venue_id)


@dataclass(frozen=True)
class DoorStaff:
    """A user at the door, with the active venues where they work (and the card that the
    request names, when it was read with them)."""

    id: int
    role: Role
    venues: list[DoorVenue]
    read_ahead: CardReadAhead | None = None


@dataclass(frozen=True)
class DoorCard:
    id: int
    number: str
    generation: int
    revoked: bool
    valid_from: date
    valid_until: date
    children: int
    region: DoorRegion
    kind: CardKind = CardKind.PERSONAL
    printed_secret: str | None = None

    @property
    def region_id(self) -> int:
        return self.region.id

    @property
    def printed_number(self) -> str:
        """What the card of the current generation shows (and staff type)."""
        return cardnumbers.printed_number(self.number, self.generation, self.printed_secret)

    @property
    def is_community(self) -> bool:
        return self.kind is CardKind.COMMUNITY


@dataclass(frozen=True)
class RecordedVisit:
    id: int
    card_number: str
    venue_id: int
    adults: int
    children: int
    assistants: int
    recorded_at: datetime
    offline: bool
    generation: int  # the card's current generation and its printed characters
    printed_secret: str | None
    already_enrolled: bool = False  # the card's existing place on the course, nothing new

    @property
    def printed_number(self) -> str:
        """What the card carries now (the recent list shows it)."""
        return cardnumbers.printed_number(self.card_number, self.generation, self.printed_secret)


@dataclass(frozen=True)
class Named:
    """The card that what was shown names: by its ``number`` (a genuine token or printed
    number) or, for what is neither, perhaps by an imported card's register ID
    (``legacy_id``); ``by`` None when it names none. ``refusal``: why it is not a genuine
    token or number."""

    by: str | None
    value: str | None
    generation: int | None = None  # the token's; a register ID names the first, unsigned
    printed: cardnumbers.Printed | None = None  # the printed number typed
    refusal: Reason | None = None


def name_of(shown: Shown, moment: datetime) -> Named:
    """Return the card that what was shown names (a token's signature checked at
    ``moment``). What is neither a genuine token nor a printed number may be an imported
    card's national register ID (:mod:`webapp.registerids`), scanned or typed."""
    if shown.token is not None:
        try:
            parsed = digital.parse_token(shown.token, moment)
        except tokens.TokenError as error:
            return _legacy(shown.token, Reason(error.code))
        return Named("number", parsed.number, parsed.generation)
    if shown.number is not None and (printed := cardnumbers.parse_printed(shown.number)):
        return Named("number", printed.number, printed=printed)
    return _legacy(shown.number or "", Reason.INVALID_TOKEN)


def _legacy(shown: str, refusal: Reason) -> Named:
    legacy_id = registerids.normalize(shown)
    if legacy_id is None:
        return Named(None, None, refusal=refusal)
    return Named("legacy_id", legacy_id, 1, refusal=refusal)


def _region_of(rows, prefix: str = "") -> DoorRegion:
    """Return the region of the rows (one per network period, or one with none; a period
    may come again in rows of a statement that joins two regions' periods), its columns
    named with ``prefix``."""
    starts_on, ends_on = prefix + "starts_on", prefix + "ends_on"
    periods = tuple(
        dict.fromkeys(
            (getattr(row, starts_on), getattr(row, ends_on))
            for row in rows
            if getattr(row, starts_on) is not None
        )
    )
    first = rows[0]
    return DoorRegion(
        getattr(first, prefix + "region_id"),
        getattr(first, prefix + "code"),
        periods,
        getattr(first, prefix + "unsigned_refused_from"),
    )


_user, _org = User.__table__, Organisation.__table__
_region, _period = Region.__table__, NetworkMembership.__table__
_card, _visit, _undone = Card.__table__, Visit.__table__, UndoneVisit.__table__


_venue_region, _venue_period = _region.alias("venue_region"), _period.alias("venue_period")
CARD_KEYS = ("number", "legacy_id")  # what a card read looks a card up by (Named.by)


def staff_statement(user_id, card_by: str | None = None):
    """Return the read of the active user (``user_id``: a bound id or a subquery) with the
    active venues where they work, one row per venue and network period.

    With ``card_by`` (one of :data:`CARD_KEYS`, bound under its name, and the ``day``) it
    also reads that card as a plain check's card read at each venue would (:func:`_card_read`:
    no course, key or phone code), its columns beside the staff's, one row per venue and
    both regions' periods: the door's API then checks a card with one statement
    (:class:`CardReadAhead`). The staff's region columns are named ``venue_…``.
    """
    columns = [
        _user.c.id.label("user_id"),
        _user.c.role,
        _org.c.id.label("venue_id"),
        _org.c.name,
        _org.c.course_provider,
        _org.c.home_region_only,
        _org.c.quota_full_refuses,
        _venue_region.c.id.label("venue_region_id"),
        _venue_region.c.code.label("venue_code"),
        _venue_region.c.unsigned_refused_from.label("venue_unsigned_refused_from"),
        _venue_period.c.starts_on.label("venue_starts_on"),
        _venue_period.c.ends_on.label("venue_ends_on"),
    ]
    joined = (
        _user.outerjoin(user_organisation, user_organisation.c.user_id == _user.c.id)
        .outerjoin(_org, Organisation.where_works(OrganisationKind.VENUE))
        .outerjoin(_venue_region, _venue_region.c.id == _org.c.region_id)
        .outerjoin(_venue_period, _venue_period.c.region_id == _venue_region.c.id)
    )
    if card_by is not None:
        columns += _card_columns(_org.c.id)
        joined = (
            joined.outerjoin(_card, _card.c[card_by] == bindparam(card_by))
            .outerjoin(_region, _region.c.id == _card.c.region_id)
            .outerjoin(_period, _period.c.region_id == _region.c.id)
        )
    return (
        select(*columns)
        .select_from(joined)
        .where(_user.c.id == user_id, _user.c.active)
        .order_by(_org.c.name, _org.c.id)  # the venues in the order the pages list them
    )


_STAFF = staff_statement(bindparam("user_id"))


def this_term(term_ends_on, starts_on):
    """Return the condition that a visit holds one of the event's places now: every visit of
    an event, but at a course only one for a term that had not ended when this term starts."""
    return or_(term_ends_on.is_(None), term_ends_on >= starts_on)


_VENUE = bindparam("venue_id")  # the venue of a check
_KEYED = {"venue_id": _VENUE, "idempotency_key": bindparam("key")}
# Who holds the idempotency key at the venue: the visit stored under it, and its card (that
# of the visit, or of the visit undone under it).
_KEY_VISIT = select(_visit.c.id).filter_by(**_KEYED).scalar_subquery().label("key_visit")
_KEY_CARD = func.coalesce(
    select(_visit.c.card_id).filter_by(**_KEYED).scalar_subquery(),
    select(_undone.c.card_id).filter_by(**_KEYED).scalar_subquery(),
).label("key_card")
_KEY_HOLDER = select(_KEY_VISIT, _KEY_CARD)
_KEY_UNDONE = select(_undone.c.visit_id).filter_by(**_KEYED)
_UNDONE_KEY = _KEY_UNDONE.exists()  # read by the visit's day upsert (rollup.count)
# The visits of the phone's code (its replay key): the one at this venue, and any elsewhere.
_REPLAY = _visit.c.replay_key == bindparam("replay")
_REPLAY_HERE = select(_visit.c.id).where(_REPLAY, _visit.c.venue_id == _VENUE)
_REPLAY_ELSEWHERE = (
    select(_visit.c.id)
    .where(_REPLAY, _visit.c.venue_id != _VENUE)
    .limit(1)
    .exists()
    .label("replay_elsewhere")
)


def _visited_today(venue_id):
    return (
        select(_visit.c.id)
        .where(
            _visit.c.card_id == _card.c.id,
            _visit.c.day == bindparam("day"),
            _visit.c.venue_id == venue_id,
        )
        .limit(1)
        # A scalar subquery, run for this card: PostgreSQL may turn an EXISTS (its LIMIT 1
        # dropped) into a hash of every visit of the venue's day, built again for each check.
        .scalar_subquery()
        .is_not(None)
        .label("visited_today")
    )


_ENROLLED_VISIT = (
    select(_visit.c.id)  # the card's place on the course this term
    .where(
        _visit.c.card_id == _card.c.id,
        _visit.c.event_id == bindparam("course_id"),
        this_term(_visit.c.term_ends_on, bindparam("term_starts_on")),
    )
    .order_by(_visit.c.id)
    .limit(1)
    .scalar_subquery()
    .label("enrolled_visit")
)


def _card_columns(venue_id, *, course=False, keyed=False, replayed=False):
    """Return the columns of a card read: the card, its region and network periods, whether
    it was used at the venue (``venue_id``) that day, and what else the check needs.

    What the check may need beside the card is read only when the check has it: the card's
    place on the ``course`` this term, who holds the idempotency key (``keyed``), and the
    visits of a phone's code (``replayed``). Without it the column is a constant NULL or
    false, so that a plain check costs PostgreSQL no subquery to plan.
    """
    return [
        _card.c.id,
        _card.c.number,
        _card.c.generation,
        _card.c.printed_secret,
        _card.c.revoked,
        _card.c.revoked_at,
        _card.c.valid_from,
        _card.c.valid_until,
        _card.c.children,
        _card.c.kind,
        _region.c.id.label("region_id"),
        _region.c.code,
        _region.c.unsigned_refused_from,
        _period.c.starts_on,
        _period.c.ends_on,
        _visited_today(venue_id),
        _ENROLLED_VISIT if course else null().label("enrolled_visit"),
        *(
            (_KEY_VISIT, _KEY_CARD)
            if keyed
            else (null().label("key_visit"), null().label("key_card"))
        ),
        _REPLAY_HERE.scalar_subquery().label("replay_visit")
        if replayed
        else null().label("replay_visit"),
        _REPLAY_ELSEWHERE if replayed else false().label("replay_elsewhere"),
    ]


@cache
def _card_read(by: str, *, course: bool, keyed: bool, replayed: bool):
    """Return the door's read of one card (``by``: its ``number`` or its register ID,
    ``legacy_id``) at the venue bound as ``venue_id``, one row per network period of its
    region (:func:`_card_columns`). Built once for each combination."""
    return (
        select(*_card_columns(_VENUE, course=course, keyed=keyed, replayed=replayed))
        .select_from(_card.join(_region).outerjoin(_period, _period.c.region_id == _region.c.id))
        .where(_card.c[by] == bindparam(by))
    )


_INSERT = {  # a visit, unless the venue has one under the same idempotency or replay key
    name: dialect.insert(_visit).on_conflict_do_nothing().returning(_visit.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}

_UNDONE_AT = select(_undone.c.visit_id).where(
    _undone.c.visit_id == bindparam("visit_id"), _undone.c.venue_id.in_(bindparam("venue_ids"))
)

_RECORDED = (
    select(
        _visit.c.id,
        _card.c.number,
        _visit.c.venue_id,
        _visit.c.adults,
        _visit.c.children,
        _visit.c.assistants,
        _visit.c.recorded_at,
        (_visit.c.source == VisitSource.OFFLINE).label("offline"),
        _card.c.generation,
        _card.c.printed_secret,
    )
    .join(_card)
    .where(_visit.c.id == bindparam("visit_id"))
)


def staff(user_id: int) -> DoorStaff | None:
    """Return the active user with the active venues where they work, or None."""
    return staff_from(_run(_STAFF, user_id=user_id))


def staff_from(result: CursorResult, read_ahead: CardReadAhead | None = None) -> DoorStaff | None:
    """Return the staff of a :func:`staff_statement`'s rows, or None for no rows; with what
    it read ahead (``card_by``), the card's rows at each venue."""
    rows = result.all()
    if not rows:
        return None
    venues, card_rows = [], {}
    for venue_id, group in groupby(rows, lambda row: row.venue_id):
        if venue_id is not None:
            venue_rows = list(group)
            first = venue_rows[0]
            venues.append(
                DoorVenue(
                    venue_id,
                    first.name,
                    _region_of(venue_rows, "venue_"),
                    first.course_provider,
                    first.home_region_only,
                    first.quota_full_refuses,
                )
            )
            if read_ahead is not None:
                known = first.id is not None  # the card's columns are NULL for an unknown one
                card_rows[venue_id] = venue_rows if known else []
    if read_ahead is not None:
        read_ahead = replace(read_ahead, rows=card_rows)
    return DoorStaff(rows[0].user_id, rows[0].role, venues, read_ahead)


def read_only(load: Callable[..., T]) -> Callable[..., T]:
    """Run ``load`` and the rest of the request's door check in autocommit.

    For a check that records nothing (verify): no BEGIN and ROLLBACK round trips, and
    PostgreSQL keeps the connection's prepared statements, which psycopg drops on every
    ROLLBACK. Inside a transaction already begun it changes nothing.
    """

    @wraps(load)
    def wrapped(*args, **kwargs):
        if not db.session().in_transaction():
            db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        return load(*args, **kwargs)

    return wrapped


# --- the checks ----------------------------------------------------------------------------


def verify(
    shown: Shown,
    venue: VenueFacts,
    *,
    moment: datetime | None = None,
    event: Event | None = None,
    at_scan: bool = False,
    read_ahead: CardReadAhead | None = None,
) -> Verdict:
    """Decide whether the card shown is accepted at the venue now (or at ``moment``).

    ``at_scan``: judge a revocation as at ``moment`` (a card revoked later was not yet).
    ``read_ahead``: the card as the staff's statement read it, used when it is what the
    check would read (what was shown then named at the moment of that read).
    """
    moment = moment or utcnow()
    return _check(shown, venue, moment, event, at_scan=at_scan, read_ahead=read_ahead)[0]


def record_visit(
    shown: Shown,
    *,
    venue: VenueFacts,
    user: User | DoorStaff | None,
    children: int,
    assistants: int = 0,
    idempotency_key: str | None = None,
    event: Event | None = None,
    source: VisitSource | None = None,
    moment: datetime | None = None,
    at_scan: bool = False,
) -> tuple[RecordedVisit, bool]:
    """Record a visit once per idempotency key; return it and whether it is new.

    ``source`` defaults to what was shown (camera or manual); ``at_scan`` judges a revocation
    as at ``moment``, as :func:`verify` does. Raises DoorError with the verdict's
    reason when the card is refused, or with ``children_not_allowed``, ``too_many_children``,
    ``invalid_children``, ``invalid_assistants`` (not 0 to MAX_ASSISTANTS),
    ``idempotency_key_reused`` (the key is another card's), ``visit_undone`` (the key's visit
    was undone) or ``conflict``. A card that already holds a place on the course gets that
    visit back, marked ``already_enrolled``, not new. A phone's code already used at the
    venue answers that visit; one used at another venue is stored with a ``second_use``
    conflict.
    """
    moment = moment or utcnow()
    replay = digital.replay_key(shown.token)
    if event is not None and (event.quota is not None or _course(venue, event)):
        _lock_places(event)
    decision, row = _check(shown, venue, moment, event, idempotency_key, replay, at_scan=at_scan)
    if row is None:  # no card named: nothing to look up under the key
        raise DoorError(decision.reason, decision)
    if idempotency_key is not None and (stored := _keyed(row, row.id, decision)) is not None:
        return stored, False
    if (stored := _recorded(row.replay_visit)) is not None:  # the code counts once here
        return stored, False
    if not decision.valid:
        raise DoorError(decision.reason, decision)
    if children < 0:
        raise DoorError(ErrorCode.INVALID_CHILDREN, decision)
    refusal = children_reason(decision, children)
    if refusal is not None:
        raise DoorError(refusal, decision)
    _check_assistants(assistants, decision)
    if row.enrolled_visit is not None:
        return _enrolment(row.enrolled_visit), False
    visit, created = _store(
        decision,
        venue,
        user,
        children,
        assistants,
        (idempotency_key, replay),
        event,
        source or shown.source,
        moment,
    )
    if created and row.replay_elsewhere:
        _add_conflicts(visit, [(ConflictCode.SECOND_USE, None, None)])
    return visit, created


def record_offline_visit(
    shown: Shown,
    *,
    venue: VenueFacts,
    user: User | DoorStaff | None,
    children: int,
    assistants: int = 0,
    idempotency_key: str,
    event: Event | None = None,
    moment: datetime,
) -> tuple[RecordedVisit, bool, list[ConflictCode]]:
    """Store a visit the phone accepted offline, judged as at its scan moment, once per key.

    Like a forced check-in it is stored even when the card is refused by then: what no longer
    held is kept as conflicts linked to the visit (returned with it); a card that already
    holds a place on the course gets that visit back, as online. Raises DoorError
    ``invalid_children``, ``invalid_assistants``, or the verdict's reason when there is no
    genuine card to link it to. A phone's code used before (here or at another venue) is a
    ``second_use``.
    """
    replay = digital.replay_key(shown.token)
    if _course(venue, event):
        _lock_places(event)
    decision, row = _check(shown, venue, moment, event, idempotency_key, replay, at_scan=True)
    if row is None:  # no genuine card to link the visit to
        raise DoorError(decision.reason, decision)
    if (stored := _keyed(row, row.id, decision)) is not None:
        return stored, False, conflicts_of(stored.id)
    if row.enrolled_visit is not None:
        return _enrolment(row.enrolled_visit), False, []
    if children < 0:
        raise DoorError(ErrorCode.INVALID_CHILDREN, decision)
    _check_assistants(assistants, decision)
    conflicts: list[tuple[ConflictCode, str | None, int | None]] = []
    if row.revoked and decision.reason is not Reason.REVOKED:
        conflicts.append((ConflictCode.REVOKED_AFTER_SCAN, None, None))
    if not decision.valid:
        conflicts.append((ConflictCode.LIST_OUT_OF_DATE, decision.reason.value, None))
    used_before = row.replay_visit is not None or row.replay_elsewhere
    if WarningCode.VISITED_TODAY in decision.warnings or used_before:
        conflicts.append((ConflictCode.SECOND_USE, None, None))
    allowed = max_children(decision.card, venue)
    if children > allowed:
        conflicts.append((ConflictCode.TOO_MANY_CHILDREN, None, children))
        children = allowed
    if row.replay_visit is not None:  # the code's first visit here holds its replay key
        replay = None
    keys = (idempotency_key, replay)
    visit, created = _store(
        decision, venue, user, children, assistants, keys, event, VisitSource.OFFLINE, moment
    )
    if created:
        _add_conflicts(visit, conflicts)
    return visit, created, [code for code, _reason, _asked in conflicts]


def _check_assistants(assistants: int, decision: Verdict) -> None:
    if not 0 <= assistants <= MAX_ASSISTANTS:
        raise DoorError(
            ErrorCode.INVALID_ASSISTANTS, decision, "assistants", min=0, max=MAX_ASSISTANTS
        )


def _add_conflicts(
    visit: RecordedVisit, conflicts: list[tuple[ConflictCode, str | None, int | None]]
) -> None:
    db.session.add_all(
        VisitConflict(visit_id=visit.id, code=code, reason=reason, children=asked)
        for code, reason, asked in conflicts
    )
    db.session.flush()


def conflicts_of(visit_id: int) -> list[ConflictCode]:
    """Return the codes of the conflicts recorded with a visit."""
    query = select(VisitConflict.code).where(VisitConflict.visit_id == visit_id)
    return list(db.session.scalars(query.order_by(VisitConflict.id)))


def _store(
    decision: Verdict,
    venue: VenueFacts,
    user: User | DoorStaff | None,
    children: int,
    assistants: int,
    keys: tuple[str | None, str | None],
    event: Event | None,
    source: VisitSource,
    moment: datetime,
) -> tuple[RecordedVisit, bool]:
    """Insert the visit of the decision's card unless one is stored under its keys (the
    client's idempotency key, the replay key of a phone's code)."""
    idempotency_key, replay = keys
    card = decision.card
    day = helsinki_date(moment)
    values = {
        "card_id": card.id,
        "generation": card.generation,
        "venue_id": venue.id,
        "event_id": event.id if event is not None else None,
        "term_ends_on": course.last_day if (course := _course(venue, event)) else None,
        "adults": 1,
        "children": children,
        "assistants": assistants,
        "recorded_at": moment,
        "day": day,
        "recorded_by_id": user.id if user is not None else None,
        "source": source,
        "idempotency_key": idempotency_key,
        "replay_key": replay,
    }
    connection = db.session.connection()
    keyed = {"venue_id": venue.id, "key": idempotency_key}
    for _attempt in range(3):
        visit_id = connection.execute(_INSERT[connection.dialect.name], values).scalar()
        if visit_id is not None:
            counted = {"adults": 1, "children": children, "assistants": assistants}
            if not rollup.count(
                db.session,
                card_id=card.id,
                venue_id=venue.id,
                day=day,
                **counted,
                unless=_UNDONE_KEY,
                key=idempotency_key,
            ):
                # An undo of the key's visit committed while this insert waited for it (no
                # key: never; the upsert reads the tombstone itself, a round trip less).
                _run(delete(_visit).where(_visit.c.id == visit_id))
                raise DoorError(ErrorCode.VISIT_UNDONE, decision)
            offline = source is VisitSource.OFFLINE
            visit = RecordedVisit(
                visit_id,
                card.number,
                venue.id,
                **counted,
                recorded_at=moment,
                offline=offline,
                generation=card.generation,
                printed_secret=card.printed_secret,
            )
            return visit, True
        # A concurrent request with the same key stored it first: answer as for a retry.
        stored = _keyed(_run(_KEY_HOLDER, **keyed).one(), card.id, decision)
        if stored is None and replay is not None and source is not VisitSource.OFFLINE:
            stored = _recorded(_run(_REPLAY_HERE, venue_id=venue.id, replay=replay).scalar())
        if stored is not None:
            return stored, False
    raise DoorError(ErrorCode.CONFLICT, decision)


def _keyed(holder: Row, card_id: int, decision: Verdict) -> RecordedVisit | None:
    """Return the visit stored under the key for this card, None when the key is free.

    Raises DoorError ``idempotency_key_reused`` (the key is another card's) or
    ``visit_undone`` (the key's visit was undone).
    """
    if holder.key_card is None:
        return None
    if holder.key_card != card_id:
        raise DoorError(ErrorCode.IDEMPOTENCY_KEY_REUSED, decision)
    stored = _recorded(holder.key_visit)
    if stored is None:
        raise DoorError(ErrorCode.VISIT_UNDONE, decision)
    return stored


def _course(venue: VenueFacts, event: Event | None) -> Event | None:
    """Return the event when it is a course (an event of a course provider), else None."""
    return event if event is not None and venue.course_provider else None


def _enrolment(visit_id: int) -> RecordedVisit:
    """Return the visit that holds the card's place on the course, marked as no new use."""
    return replace(_recorded(visit_id), already_enrolled=True)


def _lock_places(event: Event) -> None:
    """Hold the event's places until commit, so that counting them and taking one is atomic
    (a course's places as well: a card's place is looked up and taken under the same lock).

    PostgreSQL locks the event row; SQLite, which locks the whole database for a write and
    begins its transaction at the first write, takes its write lock with a no-op update.
    """
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        table = Event.__table__
        connection.execute(update(table).where(table.c.id == event.id).values(quota=table.c.quota))
    else:
        connection.execute(select(Event.id).where(Event.id == event.id).with_for_update())


def undo_visit(visit_id: int, *, user: User, moment: datetime | None = None) -> None:
    """Delete a visit recorded at one of the user's venues less than 10 minutes ago.

    The visit leaves its tombstone (:class:`~webapp.models.UndoneVisit`); undoing it again,
    or at once from another phone, changes nothing. Raises DoorError ``not_found`` or
    ``undo_window_passed``.
    """
    venue_ids = [venue.id for venue in user.venues]
    visit = db.session.scalar(
        select(Visit).where(Visit.id == visit_id, Visit.venue_id.in_(venue_ids))
    )
    if visit is None:
        _already_undone(visit_id, venue_ids)
        return
    if (moment or utcnow()) - visit.recorded_at > UNDO_WINDOW:
        raise DoorError(ErrorCode.UNDO_WINDOW_PASSED)
    details = {
        "card": visit.card.number,
        "venue": visit.venue.name,
        "children": visit.children,
        "assistants": visit.assistants,
        "recorded_at": visit.recorded_at.isoformat(),
    }
    region_id = visit.venue.region_id
    if not rollup.remove(db.session, visit.id):  # a concurrent undo deleted it first
        _already_undone(visit_id, venue_ids)
        return
    db.session.expunge(visit)  # deleted by the rollup's statement, not by the ORM
    tombstone = {
        "visit_id": visit.id,
        "venue_id": visit.venue_id,
        "card_id": visit.card_id,
        "idempotency_key": visit.idempotency_key,
        "undone_at": utcnow(),
    }
    _run(insert(_undone).values(**tombstone))
    audit.record("visit.undone", visit, actor=user, region_id=region_id, **details)


def _already_undone(visit_id: int, venue_ids: list[int]) -> None:
    """Return quietly when the visit was undone at one of the venues (a retried or a
    concurrent undo, committed first); raise DoorError ``not_found`` otherwise."""
    if not _run(_UNDONE_AT, visit_id=visit_id, venue_ids=venue_ids).first():
        raise DoorError(ErrorCode.NOT_FOUND)


def undo_by_key(
    venue: VenueFacts,
    key: str,
    *,
    user: User,
    unsent: dict | None = None,
    moment: datetime | None = None,
) -> None:
    """Delete the visit stored under the venue's idempotency key, as :func:`undo_visit`.

    A key undone already is done. An undo that overtook its visit (``unsent``: the visit
    under the key, as :func:`record_offline_visit` takes it) stores it as undone, so that
    its record, when it arrives, stores nothing; one that would be refused is never stored
    either, and one of a card already holding its place on the course leaves that place.
    Raises DoorError ``not_found`` (nothing known under the key) or ``undo_window_passed``.
    """
    query = select(Visit.id).where(Visit.venue_id == venue.id, Visit.idempotency_key == key)
    visit_id = db.session.scalar(query)
    if visit_id is not None:
        return undo_visit(visit_id, user=user, moment=moment)
    if _run(_KEY_UNDONE, venue_id=venue.id, key=key).first():
        return None  # a retried undo
    if unsent is None:
        raise DoorError(ErrorCode.NOT_FOUND)
    try:
        visit, created, _conflicts = record_offline_visit(venue=venue, user=user, **unsent)
    except DoorError:
        return None  # refused: its record stores nothing now or when resent
    if visit.already_enrolled:  # the card's own place on the course, taken before: it keeps it
        return None
    # Undone as it arrives: the visit stored now, or the one its own request stored meanwhile.
    return undo_visit(visit.id, user=user, moment=visit.recorded_at)


def visits_per_event(event_ids: list[int]) -> dict[int, int]:
    """Return how many of each event's places are taken: its visits (a course's this term)."""
    if not event_ids:
        return {}
    query = (
        select(Visit.event_id, func.count())
        .join(Event, Event.id == Visit.event_id)
        .where(Visit.event_id.in_(event_ids), this_term(Visit.term_ends_on, Event.starts_on))
        .group_by(Visit.event_id)
    )
    return dict(db.session.execute(query).all())


def _in_use():
    """The condition that an event is in use at the door: active and not over. An open-ended
    standing offer is never over; any other event is over at 05:00 Finnish time after its
    last day (a course's, when its term ends): a night at the door goes on past midnight.
    The event chooser offers these only."""
    door_day = helsinki_date(utcnow() - NIGHT_AFTER_LAST_DAY)
    open_ended = and_(Event.kind == OfferKind.STANDING, Event.ends_on.is_(None))
    return and_(Event.active, or_(open_ended, Event.last_day >= door_day))


def event_at(venue_id: int, event_id: int, *, in_use: bool = True) -> Event | None:
    """Return the venue's event in use with that id, or None; with ``in_use`` false, the
    venue's event whatever its state (a visit made before it ended or was deactivated)."""
    query = select(Event).where(Event.id == event_id, Event.venue_id == venue_id)
    return db.session.scalar(query.where(_in_use()) if in_use else query)


def coming_events(venue_id: int, limit: int = 30) -> list[Event]:
    """Return the venue's events in use, soonest first."""
    query = (
        select(Event)
        .where(Event.venue_id == venue_id, _in_use())
        .order_by(Event.starts_on, Event.name)
        .limit(limit)
    )
    return list(db.session.scalars(query))


def _check(
    shown: Shown,
    venue: VenueFacts,
    moment: datetime,
    event: Event | None,
    idempotency_key: str | None = None,
    replay: str | None = None,
    *,
    at_scan: bool = False,
    read_ahead: CardReadAhead | None = None,
) -> tuple[Verdict, Row | None]:
    """Return the verdict and the card's row (with the keys' visits), None for no card.

    ``at_scan``: judge a revocation as at ``moment`` (a card revoked later was not yet).
    """
    course = _course(venue, event)
    params = {
        "venue_id": venue.id,
        "key": idempotency_key,
        "replay": replay,
        "course_id": course.id if course else None,
        "term_starts_on": course.starts_on if course else None,
        "day": helsinki_date(moment),
    }
    needs = {"course": course is not None, "keyed": idempotency_key is not None}
    needs["replayed"] = replay is not None
    rows = None
    if read_ahead is not None and not any(needs.values()):
        rows = read_ahead.rows_at(shown, params["day"], venue.id)
    named = name_of(shown, moment) if rows is None else read_ahead.named
    refusal = None if named.refusal is None else Verdict(named.refusal, None, venue)
    if named.by is None:
        return refusal, None
    if rows is None:
        rows = _run(_card_read(named.by, **needs), **params, **{named.by: named.value}).all()
    if not rows:
        return refusal or verdict(None, 0, venue, moment), None
    generation, printed = named.generation, named.printed
    row = rows[0]
    if printed is not None:  # an older generation's printed number: replaced
        generation = cardnumbers.shown_generation(printed, row.generation, row.printed_secret)
        if generation is None:  # never printed for this card: not a genuine number
            return Verdict(Reason.INVALID_TOKEN, None, venue), None
    card = DoorCard(
        row.id,
        row.number,
        row.generation,
        row.revoked and not (at_scan and row.revoked_at is not None and row.revoked_at > moment),
        row.valid_from,
        row.valid_until,
        row.children,
        _region_of(rows),
        row.kind,
        row.printed_secret,
    )
    decision = verdict(
        card,
        generation,
        venue,
        moment,
        visited_today=row.visited_today,
        quota_full=_quota_full(event),
        enrolled=row.enrolled_visit is not None,
        typed=printed is not None,
        unsigned=named.by == "legacy_id",
    )
    return decision, row


def _quota_full(event: Event | None) -> bool:
    if event is None or event.quota is None:
        return False
    return visits_per_event([event.id]).get(event.id, 0) >= event.quota


def _recorded(visit_id: int | None) -> RecordedVisit | None:
    row = None if visit_id is None else _run(_RECORDED, visit_id=visit_id).one_or_none()
    return None if row is None else RecordedVisit(*row)


def _run(statement, **params) -> CursorResult:
    """Run a Core statement on the session's connection (no ORM on the door's path)."""
    return db.session.connection().execute(statement, params)
