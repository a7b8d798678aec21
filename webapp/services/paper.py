"""Uses written on paper or in a spreadsheet while a venue had no signal, entered later.

A CSV file of at most :data:`MAX_ROWS` uses (UTF-8 with or without a BOM, or Excel's own
Windows encoding; separated by commas, semicolons as a Finnish Excel writes, or tabs, or as
Excel's ``sep=`` line says) names its columns on its first line (:data:`COLUMNS`, in Finnish,
Swedish or English): the card (its printed number as typed, or the card number), the date
and time in Finnish local time (in one column, or a date and a time column), the children
and, optionally, the assistants and the event's id. :func:`enter` judges every row by the
door as at the row's own moment (a card revoked after it was still valid then) and, when
told to store, records the accepted rows as visits of source ``paper``; refused and
unreadable rows are listed with their line and stored nowhere.

Each row's idempotency key is a hash of the venue, the card's stable number and the minute
of the use, so the same file twice (or a second file with the same use, even with the card
written as its printed number the first time and its bare number the second) stores each
use once. Nothing of the file is kept beyond the request: a confirmation sends the file
again and is judged again from scratch, so a confirmation edited in the browser is
just another file, checked like the first.
"""

from __future__ import annotations

import codecs
import csv
import enum
import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import cache, partial

from sqlalchemy import select

from .. import cardnumbers
from ..errors import Code, DomainError, ErrorCode
from ..extensions import db
from ..models import Event, Organisation, User, Visit, VisitSource, utcnow
from ..rules import Verdict, children_reason, finnish_moment
from ..schemas import MAX_ID
from . import door

MAX_ROWS = (
    2000  # a worker confirms them well inside its timeout (5,000 took 30 s on a busy PostgreSQL)
)
MAX_AGE = timedelta(days=366)  # a use older than a year is no longer entered
MAX_CHILDREN = 999

# The names a column may have on the file's first line (compared without case or spaces
# around them). The first of each language is the one the page suggests.
COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "card": {
        "fi": ("kortti", "kortin numero", "korttinumero"),
        "sv": ("kort", "kortnummer", "kortets nummer"),
        "en": ("card", "card number"),
    },
    "date": {"fi": ("päivämäärä", "pvm", "päivä"), "sv": ("datum",), "en": ("date",)},
    "time": {  # the time of day, or the date and time in one column
        "fi": ("aika", "kellonaika", "klo", "päivämäärä ja aika", "ajankohta"),
        "sv": ("tid", "klockslag", "datum och tid", "tidpunkt"),
        "en": ("time", "date and time"),
    },
    "children": {"fi": ("lapset", "lapsia"), "sv": ("barn",), "en": ("children",)},
    "assistants": {
        "fi": ("avustajat", "avustajia"),
        "sv": ("assistenter", "ledsagare"),
        "en": ("assistants",),
    },
    "event": {
        "fi": ("tapahtuma", "tapahtuman tunnus"),
        "sv": ("evenemang",),
        "en": ("event", "event id"),
    },
}
REQUIRED = (("card",), ("date", "time"), ("children",))  # one column of each
_COLUMN_OF = {
    name: column
    for column, languages in COLUMNS.items()
    for names in languages.values()
    for name in names
}

_CLOCK = r"(?:klo\s*|kl\.?\s*)?(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?"
_MOMENTS = (  # (pattern, the order of year, month and day in its groups)
    (re.compile(rf"(\d{{4}})-(\d{{1,2}})-(\d{{1,2}})(?:\s+|T){_CLOCK}", re.I | re.A), (0, 1, 2)),
    (re.compile(rf"(\d{{1,2}})\.(\d{{1,2}})\.(\d{{4}})\s+{_CLOCK}", re.I | re.A), (2, 1, 0)),
)


class PaperError(DomainError):
    """A file that cannot be read at all; ``code`` says why."""


class Status(enum.StrEnum):
    NEW = "new"  # accepted: stored by the confirmation (or just now)
    STORED = "stored"  # this use was already stored (by an earlier file)
    REPEATED = "repeated"  # the same use as an earlier line of this file
    REFUSED = "refused"  # the door refuses the card at the row's moment
    INVALID = "invalid"  # the row cannot be read


@dataclass(frozen=True)
class Outcome:
    """What became of one row of the file."""

    line: int
    card: str  # as written
    moment: datetime | None = None
    children: int | None = None
    assistants: int | None = None
    status: Status = Status.INVALID
    code: Code | None = None  # why refused or invalid
    values: dict = field(default_factory=dict)  # the placeholders of the code's text
    verdict: Verdict | None = None


@dataclass(frozen=True)
class Entry:
    """A file judged row by row; ``stored``: the accepted rows were recorded."""

    outcomes: list[Outcome]
    stored: bool

    def count(self, status: Status) -> int:
        return sum(outcome.status is status for outcome in self.outcomes)


@dataclass(frozen=True)
class _Row:
    line: int
    card: str
    moment: datetime
    children: int
    assistants: int
    event_id: int | None


def decode(data: bytes) -> str:
    """Return the text of an uploaded file. Raises PaperError ``paper_encoding``."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in data:
        raise PaperError(ErrorCode.PAPER_ENCODING)  # Excel's "Unicode text"
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")  # Excel's "CSV (semicolon separated)" on Windows
    except UnicodeDecodeError:
        raise PaperError(ErrorCode.PAPER_ENCODING) from None


def enter(
    data: bytes, *, venue: Organisation, user: User, store: bool, now: datetime | None = None
) -> Entry:
    """Judge every row of the file at its moment; with ``store``, record the accepted rows.

    Raises PaperError ``paper_encoding``, ``paper_empty``, ``paper_too_many_rows`` or
    ``paper_missing_columns`` for a file that cannot be read at all.
    """
    rows = _read(decode(data), now or utcnow())
    keys = {id(row): _key(venue, row) for row in rows if isinstance(row, _Row)}
    stored = _stored_keys(venue, {key for key in keys.values() if key is not None})
    event_at = cache(partial(door.event_at, venue.id, in_use=False))  # once a file
    seen: dict[str, int] = {}
    outcomes = []
    for row in rows:
        if isinstance(row, Outcome):
            outcomes.append(row)
            continue
        key = keys[id(row)]
        if key in seen:
            outcome = _outcome(
                row, Status.REPEATED, ErrorCode.PAPER_REPEATED, values={"line": seen[key]}
            )
        elif key in stored:
            outcome = _outcome(row, Status.STORED)
        else:
            outcome = _judge(row, venue, user, key, store, event_at)
        if key is not None:
            seen.setdefault(key, row.line)
        outcomes.append(outcome)
    return Entry(outcomes, store)


def _judge(
    row: _Row,
    venue: Organisation,
    user: User,
    key: str | None,
    store: bool,
    event_at: Callable[[int], Event | None],
) -> Outcome:
    """Return the door's verdict on the row at its moment, recording the visit with ``store``."""
    event = None
    if row.event_id is not None:
        event = event_at(row.event_id)
        if event is None:
            return _outcome(row, Status.INVALID, ErrorCode.UNKNOWN_EVENT)
    shown = door.Shown.typed(row.card)
    if store:
        return _record(row, shown, venue, user, key, event)
    verdict = door.verify(shown, venue, moment=row.moment, event=event, at_scan=True)
    refusal = None if not verdict.valid else children_reason(verdict, row.children)
    if not verdict.valid or refusal is not None:
        return _outcome(row, Status.REFUSED, refusal or verdict.reason, verdict=verdict)
    return _outcome(row, Status.NEW, verdict=verdict)


def _record(
    row: _Row,
    shown: door.Shown,
    venue: Organisation,
    user: User,
    key: str | None,
    event: Event | None,
) -> Outcome:
    try:
        _visit, created = door.record_visit(
            shown,
            venue=venue,
            user=user,
            children=row.children,
            assistants=row.assistants,
            idempotency_key=key,
            event=event,
            source=VisitSource.PAPER,
            moment=row.moment,
            at_scan=True,
        )
    except door.DoorError as error:  # refused before anything was written
        return _outcome(row, Status.REFUSED, error.code, verdict=error.verdict)
    return _outcome(row, Status.NEW if created else Status.STORED)


def _outcome(row: _Row, status: Status, code: Code | None = None, **extra) -> Outcome:
    return Outcome(
        row.line, row.card, row.moment, row.children, row.assistants, status, code, **extra
    )


def _key(venue: Organisation, row: _Row) -> str | None:
    """Return the row's idempotency key: the venue, the card's stable number and the minute."""
    parsed = cardnumbers.parse_printed(row.card)
    if parsed is None:  # not a card number: the door refuses it, nothing is stored
        return None
    content = f"{venue.id}|{parsed[0]}|{row.moment.isoformat()}"
    return "paper-" + hashlib.sha256(content.encode()).hexdigest()[:58]


def _stored_keys(venue: Organisation, keys: set[str]) -> set[str]:
    if not keys:
        return set()
    query = select(Visit.idempotency_key).where(
        Visit.venue_id == venue.id, Visit.idempotency_key.in_(keys)
    )
    return set(db.session.scalars(query))


# --- reading the file ----------------------------------------------------------------------


def _read(text: str, now: datetime) -> list[_Row | Outcome]:
    """Return the file's rows: readable ones, and an invalid Outcome for each of the others."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    hinted = re.fullmatch(r"sep=([;,\t|])", first.strip(" "), re.I)  # Excel's hint line
    delimiter = hinted[1] if hinted else max(";,\t", key=first.count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = _filled(reader)
        if hinted:
            header = _filled(reader)
        if header is None:
            raise PaperError(ErrorCode.PAPER_EMPTY)
        columns = _columns(header)
        rows = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # a blank line between the rows
            if len(rows) == MAX_ROWS:
                raise PaperError(ErrorCode.PAPER_TOO_MANY_ROWS, max=MAX_ROWS)
            rows.append(_row(reader.line_num, cells, columns, now))
    except csv.Error:
        raise PaperError(ErrorCode.PAPER_ENCODING) from None
    if not rows:
        raise PaperError(ErrorCode.PAPER_EMPTY)
    return rows


def _filled(reader) -> list[str] | None:
    """Return the reader's next row with something in it, None at the end."""
    return next((cells for cells in reader if any(cell.strip() for cell in cells)), None)


def _columns(header: list[str]) -> dict[str, int]:
    """Return the position of each known column. Raises PaperError ``paper_missing_columns``."""
    columns: dict[str, int] = {}
    for position, name in enumerate(header):
        column = _COLUMN_OF.get(" ".join(name.lower().split()))
        if column is not None:
            columns.setdefault(column, position)
    missing = [
        " / ".join(names[0] for names in COLUMNS[group[-1]].values())
        for group in REQUIRED
        if not any(column in columns for column in group)
    ]
    if missing:
        raise PaperError(ErrorCode.PAPER_MISSING_COLUMNS, columns=", ".join(missing))
    return columns


def _row(line: int, cells: list[str], columns: dict[str, int], now: datetime) -> _Row | Outcome:
    """Return the row read from its cells, or an invalid Outcome that says what is wrong."""

    def cell(column: str) -> str:
        position = columns.get(column)
        return cells[position].strip() if position is not None and position < len(cells) else ""

    card = cell("card")[:40]
    if not card:
        return Outcome(line, card, code=ErrorCode.INVALID_NUMBER)
    moment = _moment(" ".join(filter(None, (cell("date"), cell("time")))))
    if moment is None:
        return Outcome(line, card, code=ErrorCode.PAPER_BAD_MOMENT)
    if moment > now:
        return Outcome(line, card, moment, code=ErrorCode.PAPER_FUTURE)
    if moment < now - MAX_AGE:
        return Outcome(line, card, moment, code=ErrorCode.PAPER_TOO_OLD)
    children = _count(cell("children"), MAX_CHILDREN)
    if children is None:
        values = {"min": 0, "max": MAX_CHILDREN}
        return Outcome(line, card, moment, code=ErrorCode.INVALID_CHILDREN, values=values)
    assistants = _count(cell("assistants"), door.MAX_ASSISTANTS)
    if assistants is None:
        values = {"min": 0, "max": door.MAX_ASSISTANTS}
        return Outcome(
            line, card, moment, children, code=ErrorCode.INVALID_ASSISTANTS, values=values
        )
    event_id = _count(cell("event"), MAX_ID) or None  # blank: no event (no event has id 0)
    if cell("event") and event_id is None:
        return Outcome(line, card, moment, children, assistants, code=ErrorCode.UNKNOWN_EVENT)
    return _Row(line, card, moment, children, assistants, event_id)


def _count(text: str, most: int) -> int | None:
    """Return a count from 0 to ``most`` written in the cell (blank: 0), None if it is none."""
    if not text:
        return 0
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(most)):
        return None
    value = int(text)
    return value if value <= most else None


def _moment(text: str) -> datetime | None:
    """Return the UTC moment of a Finnish date and time as people type them, None if none."""
    for pattern, (year, month, day) in _MOMENTS:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        parts = match.groups()
        try:
            day_ = datetime(int(parts[year]), int(parts[month]), int(parts[day])).date()
            clock = time(int(parts[3]), int(parts[4]))  # to the minute: seconds are noise
        except ValueError:
            return None
        return finnish_moment(day_, clock) if 1900 <= day_.year <= 2999 else None
    return None
