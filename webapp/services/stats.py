"""Statistics for the national Kaikukortti report: uses of the cards and cards registered.

Definitions (the same on every page, export and in ``GET /api/v1/stats``):

* A *use* is one recorded visit: ``adults`` (the cardholder, always 1) plus the children
  they brought. ``visits`` counts the uses, ``adults`` and ``children`` the people.
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

The figures come from the daily rollup, not the raw visits: ``visit_day`` (the visits of
each venue on each Helsinki day) is summed in SQL by (venue, Helsinki month), and Python
only rolls up those few thousand rows into each table; cards compare ``Card.created_at``
and ``Card.first_used_on`` (the Helsinki date of the first use) on a covering index.
:mod:`.rollup` keeps both equal to the visits.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, bindparam, case, func, literal, select, union_all
from sqlalchemy.dialects.postgresql import ARRAY

from ..errors import DomainError, ErrorCode
from ..extensions import db
from ..models import Card, Organisation, OrganisationKind, Region, VenueCategory, VisitDay
from ..rules import HELSINKI

GROUPS = ("month", "venue", "region", "category")
MAX_YEARS = 10


class StatsError(DomainError):
    """Statistics cannot be computed for the request; ``code`` tells why."""


def utc_start_of(day: date) -> datetime:
    """Return the UTC instant at which the Helsinki day begins."""
    return datetime.combine(day, time(), HELSINKI).astimezone(UTC)


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


@dataclass
class _Venue:
    id: int
    name: str
    region_code: str
    region_name: str
    category: str | None


def _venues(region_ids: list[int] | None, venue_ids: list[int] | None) -> dict[int, _Venue]:
    stmt = select(Organisation, Region).join(Region, Organisation.region_id == Region.id)
    stmt = stmt.where(Organisation.kind == OrganisationKind.VENUE)
    if region_ids is not None:
        stmt = stmt.where(Organisation.region_id.in_(region_ids))
    if venue_ids is not None:
        stmt = stmt.where(Organisation.id.in_(venue_ids))
    return {
        org.id: _Venue(
            org.id, org.name, region.code, region.name, org.category and org.category.value
        )
        for org, region in db.session.execute(stmt)
    }


def _sum_columns():
    return func.sum(VisitDay.visits), func.sum(VisitDay.adults), func.sum(VisitDay.children)


def _sums(start, end, venues: dict[int, _Venue], filtered: bool):
    """Yield (venue_id, month key, visits, adults, children) summed in SQL from visit_day."""
    months = month_starts(start, end)
    keys = [month.strftime("%Y-%m") for month in months]
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = _postgres_sums(start, end, months, list(venues) if filtered else None)
    else:
        stmt = _sqlite_sums(start, end, months, list(venues))
    for venue_id, month, visits, adults, children in db.session.execute(stmt):
        if venue_id in venues:
            yield venue_id, keys[month], int(visits), int(adults), int(children)


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


def _empty() -> dict[str, int]:
    return {"visits": 0, "adults": 0, "children": 0}


def _add(target: dict[str, int], visits: int, adults: int, children: int) -> None:
    target["visits"] += visits
    target["adults"] += adults
    target["children"] += children


@dataclass
class Report:
    """Every table of the statistics page, from one scan of the visits."""

    start: date
    end: date
    month: list[dict[str, Any]] = field(default_factory=list)
    venue: list[dict[str, Any]] = field(default_factory=list)
    category: list[dict[str, Any]] = field(default_factory=list)
    region: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=_empty)
    cards: dict[str, Any] = field(default_factory=dict)

    def table(self, group: str) -> dict[str, Any]:
        return {"rows": getattr(self, group), "totals": self.totals}


def _rollup(sums, group: str, venues: dict[int, _Venue], start: date, end: date) -> list[dict]:
    buckets: dict[Any, dict[str, int]] = defaultdict(_empty)
    if group == "month":
        for month in month_starts(start, end):
            buckets[month.strftime("%Y-%m")]  # every month, zeros included
    if group == "category":
        for category in VenueCategory:
            buckets[category.value]
    for venue_id, month, visits, adults, children in sums:
        venue = venues[venue_id]
        key = {"month": month, "venue": venue_id, "region": venue.region_code}.get(group)
        if group == "category":
            key = venue.category or ""
        _add(buckets[key], visits, adults, children)
    return [_row(group, key, figures, venues) for key, figures in _sorted(group, buckets, venues)]


def _sorted(group: str, buckets: dict, venues: dict[int, _Venue]):
    if group == "venue":
        return sorted(buckets.items(), key=lambda kv: (venues[kv[0]].name, venues[kv[0]].id))
    if group == "category":
        order = [c.value for c in VenueCategory] + [""]
        return sorted(buckets.items(), key=lambda kv: order.index(kv[0]))
    return sorted(buckets.items())


def _row(group: str, key, figures: dict[str, int], venues: dict[int, _Venue]) -> dict[str, Any]:
    if group == "venue":
        venue = venues[key]
        return {"key": venue.name, "id": venue.id, "region": venue.region_code, **figures}
    if group == "region":
        names = {v.region_code: v.region_name for v in venues.values()}
        return {"key": key, "name": names.get(key, key), **figures}
    return {"key": key, **figures}


def _scope(regions: list[Region] | None, venues: list[Organisation] | None):
    region_ids = None if regions is None else [r.id for r in regions]
    venue_ids = None if venues is None else [v.id for v in venues]
    return _venues(region_ids, venue_ids), (regions is not None or venues is not None)


def visit_stats(
    start: date,
    end: date,
    group: str,
    regions: list[Region] | None,
    *,
    venues: list[Organisation] | None = None,
) -> dict:
    """Sum the uses in the inclusive Helsinki date range by month, venue, region or category.

    ``regions`` (and ``venues``) limit the uses to venues of those regions (None: all).
    Raises StatsError("invalid_group" | "invalid_range" | "range_too_long").
    """
    if group not in GROUPS:
        raise StatsError(ErrorCode.INVALID_GROUP)
    _check_range(start, end)
    venue_info, filtered = _scope(regions, venues)
    sums = list(_sums(start, end, venue_info, filtered))
    totals = _empty()
    for *_, visits, adults, children in sums:
        _add(totals, visits, adults, children)
    return {"rows": _rollup(sums, group, venue_info, start, end), "totals": totals}


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
        venue_info, filtered = _scope(regions, None)
        sums = list(_sums(start, end, venue_info, filtered))
        for *_, visits, adults, children in sums:
            _add(result.totals, visits, adults, children)
        for group in GROUPS if only is None else (only,):
            setattr(result, group, _rollup(sums, group, venue_info, start, end))
    if only in (None, "cards"):
        result.cards = card_stats(start, end, regions)
    else:
        result.cards = {"rows": [], "totals": {"registered": 0, "activated": 0}}
    return result


def card_stats(start: date, end: date, regions: list[Region] | None) -> dict:
    """Count the cards registered in the range and, of those, the ones used by its end.

    By the card's region: {"rows": [{"key", "name", "registered", "activated"}],
    "totals": {"registered", "activated"}}. A card is used by the end of the range when the
    Helsinki date of its first use is at the latest ``end``.
    Raises StatsError("invalid_range" | "range_too_long").
    """
    _check_range(start, end)
    lo, hi = utc_start_of(start), utc_start_of(end + timedelta(days=1))
    used_by_end = case((Card.first_used_on <= end, 1), else_=0)
    stmt = (
        select(Card.region_id, func.count(), func.sum(used_by_end))
        .where(Card.created_at >= lo, Card.created_at < hi)
        .group_by(Card.region_id)
    )
    if regions is not None:
        stmt = stmt.where(Card.region_id.in_([r.id for r in regions]))
    figures = {
        region_id: {"registered": int(count), "activated": int(activated or 0)}
        for region_id, count, activated in db.session.execute(stmt)
    }
    names = {
        r.id: r for r in db.session.scalars(select(Region).where(Region.id.in_(list(figures))))
    }
    rows = sorted(
        ({"key": names[rid].code, "name": names[rid].name, **f} for rid, f in figures.items()),
        key=lambda row: row["key"],
    )
    totals = {k: sum(row[k] for row in rows) for k in ("registered", "activated")}
    return {"rows": rows, "totals": totals}
