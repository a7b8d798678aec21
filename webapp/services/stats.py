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

Everything is summed in SQL by (venue, Helsinki month) with range scans of the visit
indexes; Python only rolls up those few thousand rows into each table.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import DateTime, bindparam, case, exists, func, literal, select, union_all
from sqlalchemy.dialects.postgresql import ARRAY

from ..extensions import db
from ..models import Card, Organisation, OrganisationKind, Region, VenueCategory, Visit
from ..rules import HELSINKI

GROUPS = ("month", "venue", "region", "category")
MAX_YEARS = 10


class StatsError(Exception):
    """Statistics cannot be computed for the request; ``code`` tells why."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code


def helsinki_today() -> date:
    return datetime.now(HELSINKI).date()


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
        raise StatsError("invalid_range", "The end date is before the start date.")
    if end.year - start.year > MAX_YEARS:
        raise StatsError("range_too_long", f"The range may span at most {MAX_YEARS} years.")


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


def _month_index(months: list[date]):
    """Return an SQL expression: the index in ``months`` of a visit's Helsinki month.

    It compares with the UTC instants at which the Helsinki months begin (right across DST
    changes, cheaper than converting each row to local time): a binary search on
    PostgreSQL (width_bucket), a CASE on SQLite.
    """
    bounds = [utc_start_of(month) for month in months[1:]]
    if not bounds:
        return literal(0)
    if db.session.get_bind().dialect.name == "postgresql":
        array = bindparam("month_bounds", bounds, type_=ARRAY(DateTime(timezone=True)))
        return func.width_bucket(Visit.recorded_at, array)
    return case(*((Visit.recorded_at < b, i) for i, b in enumerate(bounds)), else_=len(bounds))


def _sum_columns():
    return (
        func.count(),
        func.coalesce(func.sum(Visit.adults), 0),
        func.coalesce(func.sum(Visit.children), 0),
    )


def _sums(start, end, venues: dict[int, _Venue], filtered: bool):
    """Yield (venue_id, month key, visits, adults, children) summed in SQL.

    For chosen venues (a region), one query on the (venue_id, recorded_at) index. For all
    venues, one range scan of recorded_at per month, in time order: several small GROUP BYs
    beat one big one (SQLite sorts to group).
    """
    months = month_starts(start, end)
    keys = [month.strftime("%Y-%m") for month in months]
    lo, hi = utc_start_of(start), utc_start_of(end + timedelta(days=1))
    if filtered:
        index = _month_index(months).label("month")
        stmt = (
            select(Visit.venue_id, index, *_sum_columns())
            .where(Visit.venue_id.in_(list(venues)))
            .where(Visit.recorded_at >= lo, Visit.recorded_at < hi)
            .group_by(Visit.venue_id, "month")
        )
    else:
        parts = [
            select(Visit.venue_id, literal(i), *_sum_columns())
            .where(Visit.recorded_at >= max(lo, utc_start_of(month)))
            .where(Visit.recorded_at < min(hi, utc_start_of(_next_month(month))))
            .group_by(Visit.venue_id)
            .with_hint(Visit, "INDEXED BY ix_visit_recorded_at", "sqlite")
            for i, month in enumerate(months)
        ]
        stmt = parts[0] if len(parts) == 1 else union_all(*parts)
    for venue_id, month, visits, adults, children in db.session.execute(stmt):
        if venue_id in venues:
            yield venue_id, keys[month], int(visits), int(adults), int(children)


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
        raise StatsError("invalid_group", "group must be one of: " + ", ".join(GROUPS))
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
    "totals": {"registered", "activated"}}. Each new card probes its visits by index.
    Raises StatsError("invalid_range" | "range_too_long").
    """
    _check_range(start, end)
    lo, hi = utc_start_of(start), utc_start_of(end + timedelta(days=1))
    used_before_end = exists().where(Visit.card_id == Card.id, Visit.recorded_at < hi)
    stmt = (
        select(Card.region_id, func.count(), func.sum(case((used_before_end, 1), else_=0)))
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
