"""Statistics equal the figures counted by hand on a small fixture (Helsinki months, DST)."""

import secrets
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text

from tests.factories import create_distributor, create_region, create_venue, create_visit
from webapp.cardnumbers import new_number
from webapp.extensions import db
from webapp.models import Card, VenueCategory, Visit
from webapp.services import stats

from ..statements import work


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def make_card(issuer, region, created_at) -> Card:
    card = Card(
        number=new_number(),
        region=region,
        issuer=issuer,
        birth_year=1980,
        postcode="70100",
        children=3,
        valid_from=date(2023, 1, 1),
        valid_until=date(2026, 1, 1),
        digital_key=secrets.token_urlsafe(16),
        created_at=created_at,
    )
    db.session.add(card)
    return card


def visit(card, venue, at, children=0) -> Visit:
    return create_visit(card, venue, recorded_at=at, children=children)


@pytest.fixture
def network():
    """Two regions, four venues, three cards and visits around month ends and DST changes.

    Helsinki is UTC+2 in winter and UTC+3 in summer (2024: from 31 March to 27 October).
    """
    savo = create_region("pohjois-savo", "Pohjois-Savo")
    kainuu = create_region("kainuu", "Kainuu")
    teatteri = create_venue(savo, "Kuopion teatteri")
    opisto = create_venue(savo, "Opisto", category=VenueCategory.EDUCATION, course_provider=True)
    kajaani = create_venue(kainuu, "Kajaanin teatteri")
    hiihto = create_venue(kainuu, "Hiihtokeskus", category=VenueCategory.SPORT)
    jakaja = create_distributor(savo)
    a = make_card(jakaja, savo, utc(2023, 12, 31, 21, 59))  # 31 Dec 2023 23:59 Helsinki
    b = make_card(jakaja, savo, utc(2023, 12, 31, 22, 0))  # 1 Jan 2024 00:00 Helsinki
    c = make_card(jakaja, kainuu, utc(2024, 6, 1, 9, 0))
    make_card(jakaja, kainuu, utc(2024, 11, 30, 22, 0))  # 1 Dec 2024: after the range
    # before the range: 31 Dec 2023 23:59 in Helsinki
    visit(a, teatteri, utc(2023, 12, 31, 21, 59), children=5)
    # January: the first Helsinki minute of the year, and 31 Jan 23:59
    visit(a, teatteri, utc(2023, 12, 31, 22, 0), children=2)
    visit(b, teatteri, utc(2024, 1, 31, 21, 59))
    # 31 Jan 23:30 UTC is already 1 February 01:30 in Helsinki
    visit(b, kajaani, utc(2024, 1, 31, 23, 30), children=1)
    # 31 March: 23:59 EEST (20:59 UTC) is March, 00:00 EEST 1 April (21:00 UTC) is April
    visit(a, opisto, utc(2024, 3, 31, 20, 59))
    visit(b, opisto, utc(2024, 3, 31, 21, 0))
    # 31 October, back on winter time: 23:30 EET (21:30 UTC) is still October
    visit(c, hiihto, utc(2024, 10, 31, 21, 30), children=3)
    visit(c, kajaani, utc(2024, 10, 31, 22, 0), children=1)  # 1 November 00:00
    # the range ends 30 November inclusive: 23:59 is in, 1 December 00:00 is out
    visit(c, kajaani, utc(2024, 11, 30, 21, 59))
    visit(c, kajaani, utc(2024, 11, 30, 22, 0), children=4)
    db.session.commit()
    return {"savo": savo, "kainuu": kainuu, "teatteri": teatteri, "kajaani": kajaani}


START, END = date(2024, 1, 1), date(2024, 11, 30)


def figures(visits, adults, children) -> stats.Figures:
    return stats.Figures(visits=visits, adults=adults, children=children)


def test_months_are_helsinki_months_across_month_ends_and_dst(network):
    result = stats.visit_stats(START, END, "month", None)
    by_month = {row.key: (row.visits, row.adults, row.children) for row in result.rows}
    assert list(by_month) == [f"2024-{m:02d}" for m in range(1, 12)]
    assert by_month["2024-01"] == (2, 2, 2)
    assert by_month["2024-02"] == (1, 1, 1)
    assert by_month["2024-03"] == (1, 1, 0)
    assert by_month["2024-04"] == (1, 1, 0)
    assert by_month["2024-10"] == (1, 1, 3)
    assert by_month["2024-11"] == (2, 2, 1)
    assert by_month["2024-05"] == (0, 0, 0)
    assert result.totals == figures(8, 8, 7)


def test_range_is_inclusive_in_helsinki_dates(network):
    assert stats.visit_stats(date(2024, 1, 31), date(2024, 1, 31), "month", None).totals == (
        figures(1, 1, 0)
    )
    assert stats.visit_stats(date(2024, 2, 1), date(2024, 2, 1), "month", None).rows == [
        stats.Row(key="2024-02", visits=1, adults=1, children=1)
    ]
    assert stats.visit_stats(
        date(2023, 12, 31), date(2023, 12, 31), "region", None
    ).totals == figures(1, 1, 5)


def test_by_venue_keys_are_names_with_id_and_region(network):
    rows = stats.visit_stats(START, END, "venue", None).rows
    assert [(r.key, r.region, r.visits, r.children) for r in rows] == [
        ("Hiihtokeskus", "kainuu", 1, 3),
        ("Kajaanin teatteri", "kainuu", 3, 2),
        ("Kuopion teatteri", "pohjois-savo", 2, 2),
        ("Opisto", "pohjois-savo", 2, 0),
    ]
    assert rows[1].id == network["kajaani"].id


def test_by_region_counts_the_venue_region(network):
    result = stats.visit_stats(START, END, "region", None)
    assert [(r.key, r.visits, r.adults, r.children) for r in result.rows] == [
        ("kainuu", 4, 4, 5),
        ("pohjois-savo", 4, 4, 2),
    ]


def test_by_category_lists_every_category(network):
    rows = stats.visit_stats(START, END, "category", None).rows
    assert {r.key: r.visits for r in rows} == {
        "culture": 5,
        "education": 2,
        "science": 0,
        "sport": 1,
        "nature": 0,
    }


def test_region_filter_uses_the_venue_region(network):
    # card b (Pohjois-Savo) visited Kajaani: that use counts for Kainuu only
    savo = stats.visit_stats(START, END, "month", [network["savo"]])
    assert savo.totals == figures(4, 4, 2)
    assert {r.key: r.visits for r in savo.rows}["2024-02"] == 0
    kainuu = stats.visit_stats(START, END, "venue", [network["kainuu"]])
    assert [r.key for r in kainuu.rows] == ["Hiihtokeskus", "Kajaanin teatteri"]
    assert stats.visit_stats(START, END, "venue", []).totals == figures(0, 0, 0)


def test_venue_filter_counts_one_venue(network):
    result = stats.visit_stats(START, END, "month", None, venues=[network["kajaani"]])
    assert result.totals == figures(3, 3, 2)


def test_single_month_range(network):
    result = stats.visit_stats(date(2024, 11, 1), date(2024, 11, 30), "month", None)
    assert result.rows == [stats.Row(key="2024-11", visits=2, adults=2, children=1)]


def test_cards_registered_and_activated(network):
    result = stats.card_stats(START, END, None)
    assert [(r.key, r.name, r.registered, r.activated) for r in result.rows] == [
        ("kainuu", "Kainuu", 1, 1),
        ("pohjois-savo", "Pohjois-Savo", 1, 1),
    ]
    assert result.totals == stats.CardTotals(registered=2, activated=2)
    # registered in the range, but its only use comes after the range: not activated
    june = stats.card_stats(date(2024, 6, 1), date(2024, 6, 30), [network["kainuu"]])
    assert june.totals == stats.CardTotals(registered=1, activated=0)


def planned_at_national_scale() -> None:
    """Have the planner plan as for the network's 100,000 cards in 20 regions: SQLite takes
    the statistics it keeps (the benchmark's, written in), PostgreSQL those of the tables."""
    db.session.execute(text("ANALYZE"))
    if db.session.connection().dialect.name == "sqlite":
        for index, stat in NATIONAL_STATISTICS.items():
            db.session.execute(
                text("UPDATE sqlite_stat1 SET stat = :stat WHERE idx = :index"),
                {"stat": stat, "index": index},
            )
        db.session.execute(text("ANALYZE sqlite_schema"))  # read them again


NATIONAL_STATISTICS = {  # sqlite_stat1 of bench.gen_data's database, its regions and cards
    "sqlite_autoindex_region_1": "20 1",
    "sqlite_autoindex_card_1": "100000 1",
    "sqlite_autoindex_card_2": "100000 1",
    "ix_card_created": "100000 1 1 1",
    "ix_card_issuer_id": "100000 1667",
    "ix_card_legacy_id": "100000 100000",
    "ix_card_region_id": "100000 5000",
    "ix_card_updated_at": "100000 1",
    "ix_card_valid_until": "100000 92",
}


def test_the_cards_of_a_range_are_read_once_however_many_regions():
    """The network's cards counted once by region, not read again for each region (an
    expensive plan on SQLite, where counting 100,000 cards took 63 ms instead of 10)."""
    savo = create_region("pohjois-savo", "Pohjois-Savo")
    jakaja = create_distributor(savo)
    for minute in range(200):
        make_card(jakaja, savo, utc(2024, 3, 1, 12, minute % 60))
    db.session.flush()

    def counted() -> int:
        return work(lambda: stats.card_stats(date(2024, 1, 1), date(2024, 12, 31), None), "card")

    one_region = counted()
    for number in range(15):
        create_region(f"alue-{number}", f"Alue {number}")
    db.session.flush()
    planned_at_national_scale()
    assert counted() < one_region * 2, one_region
    table = stats.card_stats(date(2024, 1, 1), date(2024, 12, 31), None)
    assert [(row.key, row.registered) for row in table.rows] == [("pohjois-savo", 200)]


def test_report_holds_every_table_from_one_scan(network):
    report = stats.report(START, END, [network["savo"], network["kainuu"]])
    assert report.totals == figures(8, 8, 7)
    assert report.table("month") == stats.visit_stats(START, END, "month", None)
    assert [r.key for r in report.region] == ["kainuu", "pohjois-savo"]
    assert report.cards.totals == stats.CardTotals(registered=2, activated=2)


@pytest.mark.parametrize(
    ("start", "end", "group", "code"),
    [
        (date(2024, 2, 1), date(2024, 1, 1), "month", "invalid_range"),
        (date(2000, 1, 1), date(2024, 1, 1), "month", "range_too_long"),
        (START, END, "card", "invalid_group"),
    ],
)
def test_bad_requests_raise_a_coded_error(start, end, group, code):
    with pytest.raises(stats.StatsError) as excinfo:
        stats.visit_stats(start, end, group, None)
    assert excinfo.value.code == code
