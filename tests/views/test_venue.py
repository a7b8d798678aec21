"""Venue staff see their own venue's monthly counts, and nobody else's."""

import csv
import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests.factories import create_visit
from webapp.extensions import db
from webapp.models import Card, Organisation
from webapp.rules import today_in_finland


def one(model, **where):
    return db.session.scalar(select(model).filter_by(**where))


@pytest.fixture
def uses(demo_cards):
    card = one(Card, number=demo_cards["active"])
    teatteri = one(Organisation, name="Kuopion kaupunginteatteri")
    kajaani = one(Organisation, name="Kajaanin kaupunginteatteri")
    for venue, moment, children, assistants in [
        (teatteri, datetime(2024, 5, 31, 20, 59, tzinfo=UTC), 2, 0),  # 31 May 23:59 in Finland
        (teatteri, datetime(2024, 5, 31, 21, 0, tzinfo=UTC), 1, 2),  # 1 June 00:00 in Finland
        (teatteri, datetime(2023, 12, 31, 12, 0, tzinfo=UTC), 0, 1),  # another year
        (kajaani, datetime(2024, 5, 10, 12, 0, tzinfo=UTC), 0, 1),  # another venue
    ]:
        create_visit(card, venue, recorded_at=moment, children=children, assistants=assistants)
    db.session.commit()
    return {"teatteri": teatteri.id, "kajaani": kajaani.id}


def month_rows(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [row for row in body.split("<tr>")[1:]]


def test_venue_staff_see_their_venue_by_month(signed_in, uses):
    page = signed_in("ovi@example.fi").get("/venue/stats?year=2024").text
    assert "Kuopion kaupunginteatteri" in page and "Kajaanin" not in page
    rows = month_rows(page)
    assert len(rows) == 12
    cells = '<td class="num">{}</td>' * 4
    assert cells.format(1, 1, 2, 0) in rows[4]  # May
    assert cells.format(1, 1, 1, 2) in rows[5]  # June
    assert "<dt>Avustajat</dt><dd>2</dd>" in page
    assert '<svg class="chart-svg"' in page


def test_default_is_this_year(signed_in, uses):
    page = signed_in("ovi@example.fi").get("/venue/stats").text
    assert str(today_in_finland().year) in page  # the Finnish year, also on 31 Dec after 22 UTC


def test_menu_link_opens_this_year_of_the_first_venue(signed_in, uses):
    client = signed_in("ovi@example.fi")
    menu = client.get("/scan").text
    assert '<a href="/venue/stats">' in menu
    response = client.get("/venue/stats")
    assert response.status_code == 200
    assert 'class="error"' not in response.text and "Pakollinen" not in response.text
    assert len(month_rows(response.text)) == 12
    assert f"{today_in_finland().year}" in response.text.split("<caption>", 1)[1]


def test_another_venue_is_not_found(signed_in, uses):
    client = signed_in("ovi@example.fi")
    assert client.get(f"/venue/stats?venue={uses['kajaani']}&year=2024").status_code == 404
    assert client.get(f"/venue/stats.csv?venue={uses['kajaani']}&year=2024").status_code == 404


def test_bad_year_is_explained(signed_in, uses):
    response = signed_in("ovi@example.fi").get("/venue/stats?year=kolme")
    assert response.status_code == 422 and 'class="error"' in response.text


def test_csv_of_the_venue(signed_in, uses):
    response = signed_in("ovi@example.fi").get("/venue/stats.csv?year=2024")
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[5][1:] == ["1", "1", "2", "0"] and rows[-1][1:] == ["2", "2", "3", "2"]


@pytest.mark.parametrize("email", ["jakaja@example.fi", "koordinaattori@example.fi"])
def test_other_roles_are_refused(signed_in, email):
    assert signed_in(email).get("/venue/stats").status_code == 403


def test_anonymous_goes_to_sign_in(client):
    response = client.get("/venue/stats")
    assert response.status_code == 302 and response.headers["Location"].startswith("/?next=")


def test_venue_staff_find_their_statistics_in_the_menu(signed_in):
    assert 'href="/venue/stats"' in signed_in("ovi@example.fi").get("/scan").text


def test_a_deactivated_venue_vanishes_from_its_staffs_statistics(signed_in, uses):
    client = signed_in("ovi@example.fi")
    db.session.get(Organisation, uses["teatteri"]).active = False
    db.session.commit()
    page = client.get("/venue/stats?year=2024").text
    assert "Kuopion kaupunginteatteri" not in page
    asked = client.get(f"/venue/stats?venue={uses['teatteri']}&year=2024").text
    assert "Kuopion kaupunginteatteri" not in asked
