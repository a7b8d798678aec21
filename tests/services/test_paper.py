"""Paper records read the dates and times people type, and store each use once."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests.factories import (
    create_card,
    create_distributor,
    create_region,
    create_user,
    create_venue,
)
from webapp.extensions import db
from webapp.models import Organisation, Role, User, Visit
from webapp.rules import finnish_moment
from webapp.services import paper

from ..concurrency import in_threads

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def place():
    region = create_region()
    venue = create_venue(region)
    card = create_card(create_distributor(region), today=datetime(2026, 1, 1).date())
    user = create_user("ovi@example.fi", Role.VENUE, organisations=[venue])
    db.session.flush()
    return venue, card, user


def enter(place, *rows, store=False):
    venue, _card, user = place
    data = "\n".join(["card;time;children;assistants", *rows]).encode()
    return paper.enter(data, venue=venue, user=user, store=store, now=NOW)


@pytest.mark.parametrize(
    "written",
    [
        "28.11.2026 18:30",
        "28.11.2026 klo 18.30",
        "28.11.2026 Klo 18.30",
        "2026-11-28 18:30",
        "2026-11-28T18:30",
        "2026-11-28 18:30:59",
        "28.11.2026   18:30",
    ],
)
def test_the_ways_people_write_a_finnish_time_are_read(place, written):
    _venue, card, _user = place
    (outcome,) = enter(place, f"{card.number};{written};0").outcomes
    assert outcome.status is paper.Status.NEW
    assert outcome.moment == finnish_moment(
        datetime(2026, 11, 28).date(), datetime(1, 1, 1, 18, 30).time()
    )


@pytest.mark.parametrize(
    "written",
    [
        "28/11/2026 18:30",
        "28.11.2026",
        "2026-11-28",
        "28.11.26 18:30",
        "1.1.0001 10:00",
        "28.11.2026 25:00",
        "٢٨.١١.٢٠٢٦ 18:30",
    ],
)
def test_a_time_written_otherwise_is_a_row_to_correct(place, written):
    _venue, card, _user = place
    (outcome,) = enter(place, f"{card.number};{written};0").outcomes
    assert (outcome.status, outcome.code) == (paper.Status.INVALID, "paper_bad_moment")


def test_summer_and_winter_time_give_the_right_instant(place):
    _venue, card, _user = place
    summer, winter = enter(
        place, f"{card.number};1.7.2026 12:00;0", f"{card.number};1.11.2026 12:00;0"
    ).outcomes
    assert summer.moment == datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
    assert winter.moment == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def test_stored_uses_carry_their_moment_and_assistants_and_are_stored_once(place):
    venue, card, _user = place
    rows = (f"{card.number};28.11.2026 18:30;1;2",)
    assert enter(place, *rows, store=True).count(paper.Status.NEW) == 1
    again = enter(place, *rows, store=True)
    assert [o.status for o in again.outcomes] == [paper.Status.STORED]
    (visit,) = db.session.scalars(select(Visit).where(Visit.venue_id == venue.id))
    assert (visit.recorded_at, visit.children, visit.assistants, visit.source) == (
        datetime(2026, 11, 28, 16, 30, tzinfo=UTC),
        1,
        2,
        "paper",
    )


def test_two_staff_confirming_the_same_file_at_once_store_each_use_once(app, place):
    venue, card, user = place
    db.session.commit()
    data = "\n".join(
        ["kortti;aika;lapset", *(f"{card.number};28.11.2026 1{i}:00;0" for i in range(8))]
    ).encode()

    def confirm():
        paper.enter(
            data,
            venue=db.session.get(Organisation, venue.id),
            user=db.session.get(User, user.id),
            store=True,
            now=NOW,
        )

    assert in_threads(app, confirm, confirm, confirm) == []
    stored = db.session.scalars(select(Visit.recorded_at).where(Visit.venue_id == venue.id))
    assert len(list(stored)) == 8
