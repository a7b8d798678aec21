"""Statistics for the national Kaikukortti report: uses of the cards and cards registered.

Definitions (the same on every page, export and in ``GET /api/v1/stats``):

* A *use* is one recorded visit: ``adults`` (the cardholder, always 1) plus the children
  they brought and the ``assistants`` (assistants, guides, interpreters) beside them, who
  come free. ``visits`` counts the uses, ``adults``, ``children`` and ``assistants`` the
  people.
* Times are Finnish (Europe/Helsinki). The date range is inclusive: from the Helsinki
  midnight that starts ``start`` to the one that ends ``end``. Months are Helsinki
  calendar months keyed ``"YYYY-MM"``; a visit at 23:30 UTC on 31 January is in February.
* A use belongs to the VENUE's region; a card belongs to the card's region.
* Group keys: ``month`` "YYYY-MM" (every month of the range, zeros included),
  ``venue`` the venue's name (names are unique within a region; each row also carries the
  venue's ``id`` and ``region`` code), ``region`` the region code, ``category`` the venue
  category (culture, education, science, sport, nature; every category, zeros included).
  Venue and region rows appear only when they have uses.
* Cards: ``registered`` = cards created in the range; ``activated`` = of those, the cards
  used at least once by the end of the range.
* Rows are small dataclasses: :class:`Row` (``key`` and the :class:`Figures`),
  :class:`VenueRow` and :class:`RegionRow` with their extra fields, :class:`CardRow`; each
  carries its ``Region`` (``region_record``) so that pages name it in the user's language.

The figures come from the daily rollup, not the raw visits: ``visit_day`` (the visits of
each venue on each Helsinki day) is summed in SQL by (venue, Helsinki month), and Python
only rolls up those few thousand rows into each table; cards compare ``Card.created_at``
and ``Card.first_used_on`` (the Helsinki date of the first use) on a covering index.
:mod:`.rollup` keeps both equal to the visits.
"""

from __future__ import annotations

import copy
import csv
import functools
from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Date, bindparam, case, func, literal, select, union_all
from sqlalchemy.dialects.postgresql import ARRAY

from ..errors import DomainError, ErrorCode
from ..extensions import db
from ..models import (
    Card,
    CardKind,
    Organisation,
    OrganisationKind,
    Region,
    VenueCategory,
    Visit,
    VisitDay,
)
from ..rules import finnish_moment
from . import rollup

GROUPS = ("month", "venue", "region", "category")
MAX_YEARS = 10


class StatsError(DomainError):
    """Statistics cannot be computed for the request; ``code`` tells why."""


def month_starts(start: date, end: date) -> list[date]:
    """Return the first day of every month that the range touches."""
    months, month = [], start.replace(day=1)
    while month <= end:
        months.append(month)
        month = _next_month(month)
    return months


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _check_range(start: date, end: date) -> None:
    if end < start:
        raise StatsError(ErrorCode.INVALID_RANGE)
    if end.year - start.year > MAX_YEARS:
        raise StatsError(ErrorCode.RANGE_TOO_LONG, years=MAX_YEARS)


@dataclass(kw_only=True)
class Figures:
    """Uses and the people they brought: the totals of a table, and each row's figures."""

    visits: int = 0
    adults: int = 0
    children: int = 0
    assistants: int = 0

    def add(self, figures: tuple[int, ...]) -> None:
        """Add sums given in the order of :data:`webapp.services.rollup.SUMS` (the fields'
        order, checked below), once for every venue's month of a table: spelt out."""
        visits, adults, children, assistants = figures
        self.visits += visits
        self.adults += adults
        self.children += children
        self.assistants += assistants


assert tuple(figure.name for figure in fields(Figures)) == rollup.SUMS


@dataclass(kw_only=True)
class Row(Figures):
    """One row of a table of uses; ``key`` as the module docstring defines it."""

    key: str


@dataclass(kw_only=True)
class VenueRow(Row):
    id: int
    region: str  # the venue's region code
    region_record: Region = field(compare=False, repr=False)


@dataclass(kw_only=True)
class RegionRow(Row):
    name: str  # the region's Finnish name
    region_record: Region = field(compare=False, repr=False)


@dataclass
class VisitTable:
    rows: list[Row]
    totals: Figures


@dataclass(kw_only=True)
class CardRow:
    """The cards of one region registered in the range, and how many of them were used."""

    key: str  # the region code
    name: str
    registered: int
    activated: int
    region_record: Region = field(compare=False, repr=False)


@dataclass(kw_only=True)
class CardTotals:
    registered: int = 0
    activated: int = 0


@dataclass
class CardTable:
    rows: list[CardRow] = field(default_factory=list)
    totals: CardTotals = field(default_factory=CardTotals)


@dataclass
class _Venue:
    id: int
    name: str
    region: Region
    category: str | None


def _venues(region_ids: list[int] | None, venue_ids: list[int] | None) -> dict[int, _Venue]:
    stmt = select(Organisation, Region).join(Region, Organisation.region_id == Region.id)
    stmt = stmt.where(Organisation.kind == OrganisationKind.VENUE)
    if region_ids is not None:
        stmt = stmt.where(Organisation.region_id.in_(region_ids))
    if venue_ids is not None:
        stmt = stmt.where(Organisation.id.in_(venue_ids))
    return {
        org.id: _Venue(org.id, org.name, region, org.category and org.category.value)
        for org, region in db.session.execute(stmt)
    }


def _sum_columns():
    return [func.sum(VisitDay.__table__.c[name]) for name in rollup.SUMS]


def _sums(start, end, venues: dict[int, _Venue], filtered: bool):
    """Yield (venue_id, month key, figures) summed in SQL from visit_day, the figures in the
    order of :data:`webapp.services.rollup.SUMS`."""
    months = month_starts(start, end)
    keys = [month.strftime("%Y-%m") for month in months]
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = _postgres_sums(start, end, months, list(venues) if filtered else None)
    else:
        stmt = _sqlite_sums(start, end, months, list(venues))
    for venue_id, month, *figures in db.session.execute(stmt):
        if venue_id in venues:
            yield venue_id, keys[month], tuple(map(int, figures))


def _postgres_sums(start: date, end: date, months: list[date], venue_ids: list[int] | None):
    """One hash aggregate; width_bucket numbers the months (a binary search on their starts).

    Chosen venues (a region) read their days by the primary key (venue_id, day).
    """
    bounds = bindparam("month_bounds", months[1:], type_=ARRAY(Date))
    index = func.width_bucket(VisitDay.day, bounds) if len(months) > 1 else literal(0)
    chosen = [] if venue_ids is None else [VisitDay.venue_id.in_(venue_ids)]
    return (
        select(VisitDay.venue_id, index.label("month"), *_sum_columns())
        .where(VisitDay.day >= start, VisitDay.day <= end, *chosen)
        .group_by(VisitDay.venue_id, "month")
    )


def _sqlite_sums(start: date, end: date, months: list[date], venue_ids: list[int]):
    """Each month by venue, in the primary key's order: SQLite sorts to group otherwise.

    The venues are always named, so that each one's days are sought by the key (unless
    ANALYZE has run, SQLite would rather scan the table); inline, because a 10-year range
    repeats them 120 times.
    """
    ids = bindparam("venue_ids", venue_ids, expanding=True, literal_execute=True)
    after = end + timedelta(days=1)
    parts = [  # one bound each way: with two, SQLite may seek by the wider one
        select(VisitDay.venue_id, literal(i), *_sum_columns())
        .where(VisitDay.venue_id.in_(ids))
        .where(VisitDay.day >= max(start, month), VisitDay.day < min(after, _next_month(month)))
        .group_by(VisitDay.venue_id)
        for i, month in enumerate(months)
    ]
    return parts[0] if len(parts) == 1 else union_all(*parts)


@dataclass
class Report:
    """Every table of the statistics page, from one scan of the visits."""

    start: date
    end: date
    month: list[Row] = field(default_factory=list)
    venue: list[Row] = field(default_factory=list)
    category: list[Row] = field(default_factory=list)
    region: list[Row] = field(default_factory=list)
    totals: Figures = field(default_factory=Figures)
    cards: CardTable = field(default_factory=CardTable)

    def table(self, group: str) -> VisitTable:
        return VisitTable(getattr(self, group), self.totals)


def _rollup(sums, group: str, venues: dict[int, _Venue], start: date, end: date) -> list[Row]:
    buckets: dict[Any, Figures] = defaultdict(Figures)
    if group == "month":
        for month in month_starts(start, end):
            buckets[month.strftime("%Y-%m")]  # every month, zeros included
    if group == "category":
        for category in VenueCategory:
            buckets[category.value]
    key_of = _KEYS[group]
    for venue_id, month, figures in sums:
        buckets[key_of(venues[venue_id], month)].add(figures)
    return [_row(group, key, figures, venues) for key, figures in _sorted(group, buckets, venues)]


# The key of a venue's month in each table (the rows are summed once for each of them).
_KEYS = {
    "month": lambda venue, month: month,
    "venue": lambda venue, month: venue.id,
    "region": lambda venue, month: venue.region.code,
    "category": lambda venue, month: venue.category or "",
}


def _sorted(group: str, buckets: dict, venues: dict[int, _Venue]):
    if group == "venue":
        return sorted(buckets.items(), key=lambda kv: (venues[kv[0]].name, venues[kv[0]].id))
    if group == "category":
        order = [c.value for c in VenueCategory] + [""]
        return sorted(buckets.items(), key=lambda kv: order.index(kv[0]))
    return sorted(buckets.items())


def _row(group: str, key, figures: Figures, venues: dict[int, _Venue]) -> Row:
    counts = vars(figures)
    if group == "venue":
        venue = venues[key]
        return VenueRow(
            key=venue.name,
            id=venue.id,
            region=venue.region.code,
            region_record=venue.region,
            **counts,
        )
    if group == "region":
        region = next(v.region for v in venues.values() if v.region.code == key)
        return RegionRow(key=key, name=region.name, region_record=region, **counts)
    return Row(key=key, **counts)


def _scoped_sums(start, end, regions: list[Region] | None, venues: list[Organisation] | None):
    """Return the venues in scope, the (venue, month) sums of their uses, and their totals."""
    region_ids = None if regions is None else [r.id for r in regions]
    venue_ids = None if venues is None else [v.id for v in venues]
    venue_info = _venues(region_ids, venue_ids)
    sums = list(_sums(start, end, venue_info, regions is not None or venues is not None))
    totals = Figures()
    for *_, figures in sums:
        totals.add(figures)
    return venue_info, sums, totals


def visit_stats(
    start: date,
    end: date,
    group: str,
    regions: list[Region] | None,
    *,
    venues: list[Organisation] | None = None,
) -> VisitTable:
    """Sum the uses in the inclusive Helsinki date range by month, venue, region or category.

    ``regions`` (and ``venues``) limit the uses to venues of those regions (None: all).
    Raises StatsError("invalid_group" | "invalid_range" | "range_too_long").
    """
    if group not in GROUPS:
        raise StatsError(ErrorCode.INVALID_GROUP)
    _check_range(start, end)
    venue_info, sums, totals = _scoped_sums(start, end, regions, venues)
    return VisitTable(_rollup(sums, group, venue_info, start, end), totals)


def report(
    start: date, end: date, regions: list[Region] | None, *, only: str | None = None
) -> Report:
    """Return every statistics table and the card figures for the range and regions.

    ``only`` (a group name or "cards") computes just that table, e.g. for one CSV file.
    Raises StatsError("invalid_range" | "range_too_long").
    """
    _check_range(start, end)
    result = Report(start, end)
    if only != "cards":
        venue_info, sums, result.totals = _scoped_sums(start, end, regions, None)
        for group in GROUPS if only is None else (only,):
            setattr(result, group, _rollup(sums, group, venue_info, start, end))
    if only in (None, "cards"):
        result.cards = card_stats(start, end, regions)
    return result


def card_stats(start: date, end: date, regions: list[Region] | None) -> CardTable:
    """Count the cards registered in the range and, of those, the ones used by its end.

    One row per card region. A card is used by the end of the range when the Helsinki date
    of its first use is at the latest ``end``, so "used" never counts more cards than were
    registered, and uses of cards registered earlier do not count here.
    Raises StatsError("invalid_range" | "range_too_long").
    """
    _check_range(start, end)
    lo, hi = finnish_moment(start), finnish_moment(end + timedelta(days=1))
    used_by_end = case((Card.first_used_on <= end, 1), else_=0)
    # The cards counted by region first, then named: joined the other way SQLite reads the
    # range of cards again for each region (63 ms against 10 for 100,000 cards).
    counts = (
        select(
            Card.region_id,
            func.count().label("registered"),
            func.sum(used_by_end).label("activated"),
        )
        .where(Card.created_at >= lo, Card.created_at < hi)
        .group_by(Card.region_id)
    )
    if regions is not None:
        counts = counts.where(Card.region_id.in_([r.id for r in regions]))
    counts = counts.subquery()
    stmt = (
        select(Region, counts.c.registered, counts.c.activated)
        .join(counts, counts.c.region_id == Region.id)
        .order_by(Region.code)
    )
    table = CardTable()
    for region, count, activated in db.session.execute(stmt):
        row = CardRow(
            key=region.code,
            name=region.name,
            registered=int(count),
            activated=int(activated or 0),
            region_record=region,
        )
        table.rows.append(row)
        table.totals.registered += row.registered
        table.totals.activated += row.activated
    return table


# --- the national table ---------------------------------------------------------------------
#
# What the regions hand in to the national coordinator each year: cards registered and taken
# into use (:func:`card_stats` over the calendar year) and the uses by adults, children and
# assistants per venue field and card kind. The rollup has no card kind, so these sums read
# the year's visits themselves (by ``ix_visit_venue_day``), in one grouped query.


@dataclass(kw_only=True)
class NationalRow:
    field: str  # the venue's field (VenueCategory)
    kind: str  # the card's kind (CardKind)
    adults: int = 0
    children: int = 0
    assistants: int = 0


@dataclass(kw_only=True)
class NationalTable:
    year: int
    region: Region | None  # None: the whole network
    cards_registered: int
    cards_used: int
    rows: list[NationalRow]
    totals: NationalRow


def year_range(year: int) -> tuple[date, date]:
    """Return the first and last day of the calendar year."""
    return date(year, 1, 1), date(year, 12, 31)


def national_table(year: int, region: Region | None) -> NationalTable:
    """Return the national table of the year for one region's venues and cards (None: all).

    One row for every venue field and card kind, zeros included, in the enums' order; uses
    at venues without a field are left out. ``cards_used``: of the cards registered in the
    year, those used by its end (as :func:`card_stats` counts them).
    """
    start, end = year_range(year)
    regions = None if region is None else [region]
    stmt = (
        select(
            Organisation.category,
            Card.kind,
            func.sum(Visit.adults),
            func.sum(Visit.children),
            func.sum(Visit.assistants),
        )
        .join(Organisation, Organisation.id == Visit.venue_id)
        .join(Card, Card.id == Visit.card_id)
        .where(Visit.day >= start, Visit.day <= end, Organisation.category.is_not(None))
        .group_by(Organisation.category, Card.kind)
    )
    if region is not None:
        stmt = stmt.where(Organisation.region_id == region.id)
    sums = {
        (category.value, kind.value): (int(adults), int(children), int(assistants))
        for category, kind, adults, children, assistants in db.session.execute(stmt)
    }
    rows = [
        NationalRow(
            field=f.value,
            kind=k.value,
            **dict(zip(NATIONAL_FIGURES, sums.get((f.value, k.value), (0, 0, 0)), strict=True)),
        )
        for f in VenueCategory
        for k in CardKind
    ]
    totals = NationalRow(field="", kind="")
    for row in rows:
        for name in NATIONAL_FIGURES:
            setattr(totals, name, getattr(totals, name) + getattr(row, name))
    cards = card_stats(start, end, regions).totals
    return NationalTable(
        year=year,
        region=region,
        cards_registered=cards.registered,
        cards_used=cards.activated,
        rows=rows,
        totals=totals,
    )


NATIONAL_FIGURES = ("adults", "children", "assistants")


# --- cardholders by age group and municipality ----------------------------------------------
#
# Counts of people, so that none can be picked out: every cell that counts fewer than
# SMALL holders is hidden as HIDDEN ("< 5"), and so is the uses cell beside it. When only
# one cell of a column is small, the next smallest one is hidden too, as WITHHELD ("..", the
# statistics' mark for a figure kept secret: it is 5 or more), so that the total (always
# shown, unless it is small itself) cannot give the small cell back by subtraction.

SMALL = 5
HIDDEN = "< 5"
WITHHELD = ".."
AGE_GROUPS = ((16, 17), (18, 29), (30, 44), (45, 64), (65, None))
HOLDER_GROUPS = ("age", "municipality")
OTHER_MUNICIPALITY = "muu"
POSTCODES_CSV = Path(__file__).resolve().parent.parent / "data" / "postcodes.csv"


def age_group(year: int, birth_year: int) -> str:
    """Return the age group ("16-17" … "65+") of a holder born then, by their age that year.

    Younger ones count in the first group: a holder turns 16 the year the card is issued.
    """
    age = year - birth_year
    for (_low, high), key in zip(AGE_GROUPS, age_group_keys(), strict=True):
        if high is None or age <= high:
            return key
    raise AssertionError("the last age group is open-ended")


def age_group_keys() -> list[str]:
    return [f"{low}+" if high is None else f"{low}-{high}" for low, high in AGE_GROUPS]


@functools.cache
def postcode_prefixes() -> dict[str, str]:
    """The shipped table of Finnish postcode prefixes -> municipality (webapp/data)."""
    with POSTCODES_CSV.open(encoding="utf-8", newline="") as source:
        return {row["prefix"]: row["municipality"] for row in csv.DictReader(source)}


def municipality_of(postcode: str) -> str:
    """Return the municipality of the postcode by its longest known prefix, else "muu"."""
    prefixes = postcode_prefixes()
    for length in range(len(postcode), 1, -1):
        if (name := prefixes.get(postcode[:length])) is not None:
            return name
    return OTHER_MUNICIPALITY


Cell = int | str  # a count, HIDDEN or WITHHELD


@dataclass(kw_only=True)
class HolderRow:
    key: str  # the age group, or the municipality's name ("muu": unknown)
    registered: Cell = 0  # cards registered in the year
    users: Cell = 0  # holders who used their card in the year
    uses: Cell = 0  # their uses


@dataclass(kw_only=True)
class HolderTable:
    year: int
    group: str  # "age" or "municipality"
    region: Region | None
    rows: list[HolderRow]
    totals: HolderRow


def holder_stats(year: int, group: str, region: Region | None) -> HolderTable:
    """Count the personal cards of the region (None: all) by age group or municipality.

    A card belongs to the card's region. ``registered``: cards registered in the year;
    ``users``: cards used at least once in the year (at any venue), ``uses`` their uses.
    Small cells are hidden as the notes above say; in the whole network's table, also each
    cell that is hidden in any region's table, so that the network's figure less the other
    regions' cannot give a region's hidden one back. Raises StatsError("invalid_group").
    """
    if group not in HOLDER_GROUPS:
        raise StatsError(ErrorCode.INVALID_GROUP)
    by_region = _holder_counts(year, group, region)
    if region is not None:
        return _holder_table(year, group, region, by_region.get(region.id, {}), {})
    network: dict[str, HolderRow] = {}
    hidden_somewhere: dict[str, set[str]] = {"registered": set(), "users": set()}
    for rows in by_region.values():
        for key, row in rows.items():
            total = network.setdefault(key, HolderRow(key=key))
            for name in ("registered", "users", "uses"):
                setattr(total, name, getattr(total, name) + getattr(row, name))
        regional = _holder_table(year, group, None, copy.deepcopy(rows), {})
        for row in regional.rows:
            for name in hidden_somewhere:
                if not isinstance(getattr(row, name), int):
                    hidden_somewhere[name].add(row.key)
    return _holder_table(year, group, None, network, hidden_somewhere)


def _holder_counts(year: int, group: str, region: Region | None) -> dict[int, dict]:
    """Return the (unhidden) rows of each card region: {region id: {key: HolderRow}}."""
    start, end = year_range(year)
    lo, hi = finnish_moment(start), finnish_moment(end + timedelta(days=1))
    personal = [Card.kind == CardKind.PERSONAL, Card.birth_year.is_not(None)]
    if region is not None:
        personal.append(Card.region_id == region.id)
    columns = (Card.region_id, Card.birth_year, Card.postcode)
    registered = (
        select(*columns, func.count(), literal(0), literal(0))
        .where(Card.created_at >= lo, Card.created_at < hi, *personal)
        .group_by(*columns)
    )
    used = (
        select(*columns, literal(0), func.count(func.distinct(Card.id)), func.count(Visit.id))
        .join(Visit, Visit.card_id == Card.id)
        .where(Visit.day >= start, Visit.day <= end, *personal)
        .group_by(*columns)
    )
    by_region: dict[int, dict[str, HolderRow]] = defaultdict(dict)
    for region_id, birth_year, postcode, cards, users, uses in db.session.execute(
        union_all(registered, used)
    ):
        key = age_group(year, birth_year) if group == "age" else municipality_of(postcode)
        row = by_region[region_id].setdefault(key, HolderRow(key=key))
        row.registered += int(cards)
        row.users += int(users)
        row.uses += int(uses)
    return by_region


def _holder_table(year, group, region, rows: dict, hidden_elsewhere: dict) -> HolderTable:
    """Order the rows (every age group; municipalities by name, "muu" last), total, hide."""
    if group == "age":
        ordered = [rows.get(key) or HolderRow(key=key) for key in age_group_keys()]
    else:
        ordered = sorted(rows.values(), key=lambda r: (r.key == OTHER_MUNICIPALITY, r.key))
    totals = HolderRow(
        key="",
        registered=sum(r.registered for r in ordered),
        users=sum(r.users for r in ordered),
        uses=sum(r.uses for r in ordered),
    )
    _hide_small([*ordered, totals], hidden_elsewhere)
    return HolderTable(year=year, group=group, region=region, rows=ordered, totals=totals)


def _hide_small(rows: list[HolderRow], hidden_elsewhere: dict[str, set[str]]) -> None:
    """Hide the small cells of the rows (the totals row last), as the notes above say.

    ``hidden_elsewhere`` names, for a count, the keys of rows whose cell must be hidden too.
    """
    *body, totals = rows
    for count, beside in (("registered", ()), ("users", ("uses",))):
        forced = hidden_elsewhere.get(count, set())
        small = [r for r in body if getattr(r, count) < SMALL or r.key in forced]
        shown = [r for r in body if r not in small]
        if getattr(totals, count) < SMALL:
            small.append(totals)
        marks = [(row, HIDDEN if getattr(row, count) < SMALL else WITHHELD) for row in small]
        if len(small) == 1 and shown:  # one alone would be the total less the others
            marks.append((min(shown, key=lambda r: getattr(r, count)), WITHHELD))
        for row, mark in marks:
            for name in (count, *beside):
                setattr(row, name, mark)
