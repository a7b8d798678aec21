"""The national table and the cardholder statistics equal figures counted by hand."""

import secrets
from datetime import UTC, date, datetime

import pytest

from tests.factories import (
    create_distributor,
    create_region,
    create_user,
    create_venue,
    create_visit,
)
from webapp import rules
from webapp.cardnumbers import new_number
from webapp.extensions import db
from webapp.models import Card, CardKind, Role, VenueCategory
from webapp.services import cards, door, stats


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def make_card(issuer, region, created_at, *, birth_year=1980, postcode="70100", **fields):
    if fields.get("kind") is CardKind.COMMUNITY:  # the organisation's: nothing of a person
        birth_year = postcode = None
    card = Card(
        number=new_number(),
        region=region,
        issuer=issuer,
        birth_year=birth_year,
        postcode=postcode,
        children=5,
        valid_from=date(2023, 1, 1),
        valid_until=date(2027, 1, 1),
        digital_key=secrets.token_urlsafe(16),
        created_at=created_at,
        **fields,
    )
    db.session.add(card)
    return card


@pytest.fixture
def year_2024():
    """Pohjois-Savo and Kainuu in 2024, with visits on both sides of the year's ends."""
    savo = create_region("pohjois-savo", "Pohjois-Savo")
    kainuu = create_region("kainuu", "Kainuu")
    teatteri = create_venue(savo, "Kuopion teatteri")
    halli = create_venue(savo, "Uimahalli", category=VenueCategory.SPORT)
    museo = create_venue(kainuu, "Museo", category=VenueCategory.SCIENCE)
    jakaja = create_distributor(savo)
    older = make_card(jakaja, savo, utc(2023, 12, 31, 21, 59))  # 2023 in Helsinki
    young = make_card(jakaja, savo, utc(2023, 12, 31, 22, 0), birth_year=2007, postcode="74100")
    group = make_card(jakaja, savo, utc(2024, 5, 2, 9), kind=CardKind.COMMUNITY)
    kajaani = make_card(jakaja, kainuu, utc(2024, 6, 1, 9), postcode="87100")
    create_visit(older, teatteri, recorded_at=utc(2023, 12, 31, 21, 59), children=4)  # 2023
    create_visit(older, teatteri, recorded_at=utc(2024, 3, 1, 10), children=2, assistants=1)
    create_visit(older, halli, recorded_at=utc(2024, 12, 31, 21, 59))  # 23:59 on 31 Dec
    create_visit(young, halli, recorded_at=utc(2024, 12, 31, 22, 0))  # 2025 in Helsinki
    create_visit(group, teatteri, recorded_at=utc(2024, 9, 3, 8), children=7)
    create_visit(young, museo, recorded_at=utc(2024, 4, 4, 12), children=0, assistants=2)
    create_visit(kajaani, museo, recorded_at=utc(2024, 4, 5, 12), children=1)
    db.session.commit()
    return savo, kainuu


def figures(table) -> dict:
    return {
        (row.field, row.kind): (row.adults, row.children, row.assistants)
        for row in table.rows
        if (row.adults, row.children, row.assistants) != (0, 0, 0)
    }


def test_the_national_table_of_a_region(year_2024):
    savo, _kainuu = year_2024
    table = stats.national_table(2024, savo)
    assert len(table.rows) == len(VenueCategory) * len(CardKind)  # zeros included
    assert [(r.field, r.kind) for r in table.rows[:2]] == [
        ("culture", "personal"),
        ("culture", "community"),
    ]
    assert figures(table) == {
        ("culture", "personal"): (1, 2, 1),
        ("culture", "community"): (1, 7, 0),
        ("sport", "personal"): (1, 0, 0),
    }
    assert (table.totals.adults, table.totals.children, table.totals.assistants) == (3, 9, 1)
    # cards of the region registered in 2024 (Helsinki), and of those the ones used in it
    assert (table.cards_registered, table.cards_used) == (2, 2)


def test_the_national_table_of_the_whole_network(year_2024):
    table = stats.national_table(2024, None)
    assert figures(table) == {
        ("culture", "personal"): (1, 2, 1),
        ("culture", "community"): (1, 7, 0),
        ("sport", "personal"): (1, 0, 0),
        ("science", "personal"): (2, 1, 2),
    }
    assert (table.cards_registered, table.cards_used) == (3, 3)


def test_a_year_without_uses_has_every_row_at_zero(year_2024):
    table = stats.national_table(2019, None)
    assert figures(table) == {} and len(table.rows) == 10
    assert (table.cards_registered, table.cards_used) == (0, 0)


@pytest.mark.parametrize(
    ("birth_year", "group"),
    [(2008, "16-17"), (2007, "16-17"), (2006, "18-29"), (1995, "18-29"), (1994, "30-44")]
    + [(1980, "30-44"), (1979, "45-64"), (1960, "45-64"), (1959, "65+"), (1930, "65+")],
)
def test_age_groups_by_the_age_reached_in_the_year(birth_year, group):
    assert stats.age_group(2024, birth_year) == group


@pytest.mark.parametrize(
    ("postcode", "municipality"),
    [("70100", "Kuopio"), ("71800", "Siilinjärvi"), ("74100", "Iisalmi"), ("78200", "Varkaus")]
    + [("87100", "Kajaani"), ("88600", "Sotkamo"), ("96100", "Rovaniemi"), ("94100", "Kemi")]
    + [("99800", "Inari"), ("00100", "muu"), ("33100", "muu")],
)
def test_municipality_from_the_postcode(postcode, municipality):
    assert stats.municipality_of(postcode) == municipality


def test_every_region_in_the_postcode_table():
    assert {"Kuopio", "Kajaani", "Rovaniemi"} <= set(stats.postcode_prefixes().values())


def hand_out(region, count, *, birth_year=1980, postcode="70100", used=True):
    """Cards registered in 2024 in the region, each used once in 2024 when ``used``."""
    jakaja = create_distributor(region, f"Jakaja {new_number()}")
    venue = create_venue(region, f"Paikka {new_number()}")
    for _ in range(count):
        card = make_card(
            jakaja, region, utc(2024, 2, 1, 10), birth_year=birth_year, postcode=postcode
        )
        if used:
            create_visit(card, venue, recorded_at=utc(2024, 3, 1, 10))


def test_small_groups_are_hidden_and_two_need_no_second():
    savo = create_region("pohjois-savo", "Pohjois-Savo")
    hand_out(savo, 7, birth_year=1980)  # 30-44
    hand_out(savo, 6, birth_year=1970)  # 45-64
    hand_out(savo, 9, birth_year=2000)  # 18-29
    hand_out(savo, 2, birth_year=1950)  # 65+: small
    db.session.commit()
    table = stats.holder_stats(2024, "age", savo)
    cells = {row.key: (row.registered, row.users, row.uses) for row in table.rows}
    # 16-17 (0) and 65+ (2) are small; two hidden cells: the total 24 gives neither back
    assert cells == {
        "16-17": ("< 5", "< 5", "< 5"),
        "18-29": (9, 9, 9),
        "30-44": (7, 7, 7),
        "45-64": (6, 6, 6),
        "65+": ("< 5", "< 5", "< 5"),
    }
    assert (table.totals.registered, table.totals.users, table.totals.uses) == (24, 24, 24)


def test_a_lone_small_municipality_withholds_the_next_smallest_too():
    savo = create_region("pohjois-savo", "Pohjois-Savo")
    hand_out(savo, 8, postcode="70100")  # Kuopio
    hand_out(savo, 6, postcode="74100")  # Iisalmi
    hand_out(savo, 5, postcode="78200")  # Varkaus
    hand_out(savo, 3, postcode="33100", used=False)  # muu, registered only
    db.session.commit()
    table = stats.holder_stats(2024, "municipality", savo)
    cells = {row.key: (row.registered, row.users, row.uses) for row in table.rows}
    # muu is the one small cell of each column (3 registered, 0 users), so the next
    # smallest, Varkaus's 5, is withheld: the totals 22 and 19 give neither back
    assert cells == {
        "Iisalmi": (6, 6, 6),
        "Kuopio": (8, 8, 8),
        "Varkaus": ("..", "..", ".."),
        "muu": ("< 5", "< 5", "< 5"),
    }
    assert list(cells) == ["Iisalmi", "Kuopio", "Varkaus", "muu"]  # the unknown last
    assert (table.totals.registered, table.totals.users, table.totals.uses) == (22, 19, 19)


def test_a_small_total_is_hidden_too():
    kainuu = create_region("kainuu", "Kainuu")
    hand_out(kainuu, 3, postcode="87100")
    db.session.commit()
    table = stats.holder_stats(2024, "municipality", kainuu)
    assert [(r.key, r.registered, r.users, r.uses) for r in table.rows] == [
        ("Kajaani", "< 5", "< 5", "< 5")
    ]
    assert (table.totals.registered, table.totals.users, table.totals.uses) == ("< 5",) * 3


def test_community_cards_are_not_counted_among_the_holders(year_2024):
    savo, _ = year_2024
    hand_out(savo, 5, birth_year=2000)
    db.session.commit()
    table = stats.holder_stats(2024, "age", savo)
    # 2024's personal cards: the young one and these five; not the community card
    assert table.totals.registered == 6
    assert {r.key: r.registered for r in table.rows}["18-29"] == 5


def test_the_networks_table_hides_what_a_region_hides():
    """Network less Kainuu would give Pohjois-Savo's 2 holders of 65+ back: hidden too."""
    savo = create_region("pohjois-savo", "Pohjois-Savo")
    kainuu = create_region("kainuu", "Kainuu")
    hand_out(savo, 2, birth_year=1950)  # 65+: small in Pohjois-Savo
    hand_out(savo, 9, birth_year=1980)
    hand_out(savo, 7, birth_year=1970)
    hand_out(kainuu, 6, birth_year=1950, postcode="87100")
    hand_out(kainuu, 8, birth_year=1980, postcode="87100")
    hand_out(kainuu, 9, birth_year=2000, postcode="87100")
    db.session.commit()
    own = {r.key: r.users for r in stats.holder_stats(2024, "age", kainuu).rows}
    assert own["65+"] == 6  # shown in Kainuu's own table
    network = stats.holder_stats(2024, "age", None)
    cells = {r.key: r.users for r in network.rows}
    assert cells["65+"] == ".."  # 8, but Pohjois-Savo's part of it is hidden
    assert cells["30-44"] == 17 and network.totals.users == 41
    # 18-29 and 45-64 are each hidden in one region's table (0 there: shown, it would give
    # that region's other small cell back through its total), 16-17 is small everywhere
    assert cells == {"16-17": "< 5", "18-29": "..", "30-44": 17, "45-64": "..", "65+": ".."}


def test_a_community_card_issued_and_used_at_the_door_counts_under_its_kind():
    """The whole way: issued by the card service, its group recorded by the door service."""
    today = rules.today_in_finland()
    region = create_region("pohjois-savo", "Pohjois-Savo")
    theatre, museum = (
        create_venue(region, "Teatteri"),
        create_venue(region, "Museo", category=VenueCategory.SCIENCE),
    )
    issuer = create_distributor(region)
    staff = create_user("ovi@example.fi", Role.VENUE, [theatre, museum])
    group = cards.issue_card(
        issuer=issuer, actor=None, kind=CardKind.COMMUNITY, children=6, today=today
    )
    person = cards.issue_card(
        issuer=issuer, actor=None, birth_year=1980, postcode="70100", children=2, today=today
    )
    db.session.commit()
    for card, venue, children in ((group, theatre, 6), (group, museum, 4), (person, theatre, 1)):
        shown = door.Shown.scanned(cards.printed_token(card))
        door.record_visit(shown, venue=venue, user=staff, children=children)
    db.session.commit()
    table = stats.national_table(today.year, region)
    assert figures(table) == {
        ("culture", "community"): (1, 6, 0),
        ("science", "community"): (1, 4, 0),
        ("culture", "personal"): (1, 1, 0),
    }
    assert (table.cards_registered, table.cards_used) == (2, 2)
