"""Cards from the national Kaikukortti register: ``flask --app webapp import-cards FILE.csv``.

A region moving onto this system brings its holders' cardboard cards. The register's export
is a CSV file (UTF-8, a BOM allowed; comma, semicolon or tab between values) whose header
names the columns of :data:`COLUMNS`, in any order. Each row becomes a card that keeps its
printed register ID (:mod:`webapp.registerids`), which the door accepts unsigned.

* **All or nothing.** Every row is checked, and every bad row is reported by its line with
  the reason; a file with any bad row imports nothing, dry run or not, so the coordinator
  fixes the file and runs it again instead of chasing which half of a region came across.
* **Twice changes nothing.** A row whose ID was imported before is skipped and never
  overwritten: from the import on, the card lives here (it may have been renewed or
  reissued since).
* **Nothing personal.** A column outside :data:`COLUMNS` (a name, an identity code, an
  address) refuses the whole file before any row is read, and an ID shaped like a Finnish
  personal identity code is a bad row. Only what any card holds is stored.
"""

import csv
import io
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from .. import registerids
from ..errors import Code, DomainError, ErrorCode, message
from ..extensions import db
from ..models import Card, CardKind, Organisation, OrganisationKind, Region, User
from ..rules import today_in_finland
from . import audit, cards

COLUMNS = (
    "id",
    "region",
    "distributor",
    "valid_from",
    "valid_until",
    "children",
    "birth_year",
    "postcode",
    "kind",
)
OPTIONAL = frozenset({"kind"})
DELIMITERS = ",;\t"
# A Finnish personal identity code: birth date, century sign, individual number, check.
IDENTITY_CODE = re.compile(r"\d{6}[-+A-FU-Y]\d{3}[0-9A-Y]", re.IGNORECASE)
FINNISH_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")


class CardImportError(DomainError):
    """A file that cannot be read as the register's export; nothing of it was imported."""


@dataclass(frozen=True)
class Problem:
    """Why one row cannot be imported: its line in the file, the column and the code."""

    line: int
    column: str | None
    code: Code
    values: dict = field(default_factory=dict)

    @property
    def message(self) -> str:
        return message(self.code, **self.values)


@dataclass
class ImportReport:
    new: int = 0  # the rows that are (or, in a dry run or with bad rows, would be) new cards
    already: int = 0  # the rows whose ID was imported before: left alone
    problems: list[Problem] = field(default_factory=list)
    stored: bool = False  # whether the new cards were added


def import_cards(
    data: bytes,
    *,
    dry_run: bool,
    actor: User | None = None,
    source: str = "",
    today: date | None = None,
) -> ImportReport:
    """Check every row of the register's CSV export and add its new cards, unless this is a
    dry run or a row is bad (then nothing is added).

    Raises CardImportError (``invalid_file``, ``missing_columns``, ``unknown_columns``).
    """
    today = today or today_in_finland()
    header, rows = _rows(data)
    regions = {region.code: region for region in db.session.scalars(select(Region))}
    distributors = _distributors()
    imported = set(db.session.scalars(select(Card.legacy_id).where(Card.legacy_id.is_not(None))))
    report, seen, new_cards = ImportReport(), {}, []
    for line, cells in rows:
        if len(cells) != len(header):
            found = {"found": len(cells), "expected": len(header)}
            report.problems.append(Problem(line, None, ErrorCode.ROW_LENGTH, found))
            continue
        values = {name: cell.strip() for name, cell in zip(header, cells, strict=True)}
        problems: list[Problem] = []
        card = _card(line, values, regions, distributors, today, problems.append)
        legacy_id = card.get("legacy_id")
        if legacy_id in seen:
            duplicate = Problem(line, "id", ErrorCode.DUPLICATE_ID, {"line": seen[legacy_id]})
            problems.insert(0, duplicate)  # the id's problem first, as the columns go
        elif legacy_id is not None:
            seen[legacy_id] = line
            if legacy_id in imported:
                report.already += 1
                continue
        report.problems.extend(problems)
        if not problems:
            report.new += 1
            new_cards.append(card)
    if dry_run or report.problems:
        return report
    for values in new_cards:
        key = secrets.token_urlsafe(32)
        db.session.add(Card(number=cards.unused_number(), digital_key=key, **values))
    for region in {values["region"] for values in new_cards}:
        count = sum(values["region"] is region for values in new_cards)
        audit.record(
            "cards.imported", region, actor=actor, region_id=region.id, cards=count, file=source
        )
    report.stored = True
    return report


def _rows(data: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Return the file's column names and its (line, values) rows, blank lines left out.

    Raises CardImportError for a file that is no UTF-8 CSV or whose header is wrong.
    """
    try:
        text = data.decode("utf-8-sig")
        first_line = text.split("\n", 1)[0]
        delimiter = max(DELIMITERS, key=first_line.count)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        header = [name.strip().lower() for name in next(reader, [])]
        rows = []
        for cells in reader:
            if any(cell.strip() for cell in cells):
                rows.append((reader.line_num, cells))
    except (UnicodeDecodeError, csv.Error):
        raise CardImportError(ErrorCode.INVALID_FILE) from None
    if len(set(header)) != len(header):
        raise CardImportError(ErrorCode.INVALID_FILE)
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        known = ", ".join(COLUMNS)
        raise CardImportError(ErrorCode.UNKNOWN_COLUMNS, columns=", ".join(unknown), known=known)
    missing = [name for name in COLUMNS if name not in header and name not in OPTIONAL]
    if missing:
        raise CardImportError(ErrorCode.MISSING_COLUMNS, columns=", ".join(missing))
    return header, rows


def _distributors() -> dict[tuple[int, str], Organisation]:
    """Return the active distributors by (region id, id) and (region id, name in any case)."""
    query = select(Organisation).where(
        Organisation.kind == OrganisationKind.DISTRIBUTOR, Organisation.active
    )
    found = {}
    for org in db.session.scalars(query):
        found[org.region_id, str(org.id)] = org
        found[org.region_id, org.name.casefold()] = org
    return found


def _card(
    line: int,
    values: dict[str, str],
    regions: dict[str, Region],
    distributors: dict[tuple[int, str], Organisation],
    today: date,
    problem: Callable[[Problem], None],
) -> dict:
    """Return the card's fields of one row, reporting each bad value to ``problem``."""

    def bad(column: str, code: Code, **details) -> None:
        problem(Problem(line, column, code, details))

    card: dict = {}
    raw_id = values["id"]
    if not raw_id:
        bad("id", ErrorCode.REQUIRED)
    elif IDENTITY_CODE.fullmatch(raw_id):
        bad("id", ErrorCode.PERSONAL_DATA)
    elif (legacy_id := registerids.normalize(raw_id)) is None:
        bad("id", ErrorCode.INVALID_REGISTER_ID)
    else:
        card["legacy_id"] = legacy_id

    region = regions.get(values["region"].lower())
    if region is None:
        bad("region", ErrorCode.REQUIRED if not values["region"] else ErrorCode.INVALID_REGION)
    else:
        card["region"] = region
        issuer = distributors.get((region.id, values["distributor"].casefold()))
        if issuer is None:
            bad("distributor", ErrorCode.UNKNOWN_DISTRIBUTOR)
        card["issuer"] = issuer

    valid_from = _date(values["valid_from"])
    valid_until = _date(values["valid_until"])
    for column, day in (("valid_from", valid_from), ("valid_until", valid_until)):
        if day is None:
            bad(column, ErrorCode.INVALID_DATE)
    if valid_from is not None and valid_until is not None:
        if valid_until < valid_from:
            bad("valid_until", ErrorCode.INVALID_PERIOD)
        elif region is not None and valid_until > cards.latest_valid_until(region, today):
            bad("valid_until", ErrorCode.VALID_UNTIL_TOO_LATE)
    card.update(valid_from=valid_from, valid_until=valid_until)

    checks = (
        ("children", lambda text: cards.check_children(_number(text, -1))),
        ("birth_year", lambda text: cards.check_birth_year(_number(text, 0), today)),
        ("postcode", cards.check_postcode),
    )
    for column, check in checks:
        try:
            check(values[column])
        except cards.CardError as error:
            bad(column, error.code, **error.values)
    card.update(
        children=_number(values["children"], -1),
        birth_year=_number(values["birth_year"], 0),
        postcode=values["postcode"],
    )

    if values.get("kind", "").lower() not in ("", CardKind.PERSONAL):
        bad("kind", ErrorCode.UNSUPPORTED_KIND)
    return card


def _number(text: str, default: int) -> int:
    """Return the digits as a number, ``default`` for anything else (the check refuses it)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 4 else default


def _date(text: str) -> date | None:
    """Return the date written as 2026-12-31 or 31.12.2026, None for anything else."""
    try:
        if match := FINNISH_DATE.fullmatch(text):
            day, month, year = (int(part) for part in match.groups())
            return date(year, month, day)
        return date.fromisoformat(text) if text.isascii() and len(text) == 10 else None
    except ValueError:
        return None
