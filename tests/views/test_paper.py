"""Uses written on paper or in a spreadsheet, entered later: upload, preview, confirm."""

import base64
import io
import re
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from webapp import cardnumbers
from webapp.extensions import db
from webapp.models import Card, Event, Organisation, Visit, VisitDay, VisitSource
from webapp.rules import HELSINKI, helsinki_date
from webapp.services import paper

THEATRE = "Kuopion kaupunginteatteri"


def one(model, **where):
    return db.session.scalar(select(model).filter_by(**where))


def finnish(moment: datetime) -> str:
    """Write a moment as a doorkeeper writes it on paper: 28.11.2026 18:30, Finnish time."""
    local = moment.astimezone(HELSINKI)
    return f"{local.day}.{local.month}.{local.year} {local:%H:%M}"


def days_ago(days: float) -> datetime:
    return (datetime.now(UTC) - timedelta(days=days)).replace(second=0, microsecond=0)


def csv_file(*rows: str, header="kortti;aika;lapset;avustajat", bom=False, encoding="utf-8"):
    text = "\r\n".join([header, *rows]) + "\r\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)


def venue_id(name=THEATRE) -> int:
    return one(Organisation, name=name).id


def preview(client, data: bytes, venue=None):
    form = {"venue": str(venue or venue_id()), "file": (io.BytesIO(data), "ovi.csv")}
    return client.post("/paper/preview", data=form, content_type="multipart/form-data")


def confirm(client, page, venue=None):
    content = re.search(r'name="content" value="([^"]+)"', page.text).group(1)
    form = {"venue": str(venue or venue_id()), "content": content}
    return client.post("/paper/confirm", data=form, content_type="multipart/form-data")


def statuses(page) -> list[str]:
    return re.findall(r'<tr data-status="(\w+)"', page.text)


def paper_visits() -> list[Visit]:
    query = select(Visit).where(Visit.source == VisitSource.PAPER).order_by(Visit.recorded_at)
    return list(db.session.scalars(query))


@pytest.fixture
def door(signed_in):
    return signed_in("ovi@example.fi")


def test_a_file_is_previewed_then_stored_at_each_rows_moment(door, demo_cards):
    active = demo_cards["active"]
    printed = cardnumbers.format_number(active)  # typed with spaces, as read off the card
    evening = days_ago(3)
    first, second = evening.replace(hour=17, minute=30), evening.replace(hour=21, minute=59)
    data = csv_file(f"{printed};{finnish(first)};2;1", f"{active};{finnish(second)};0")
    page = preview(door, data)
    assert page.status_code == 200
    assert statuses(page) == ["new", "new"]
    assert "mitään ei ole vielä tallennettu" in page.text
    assert paper_visits() == []  # a preview stores nothing

    stored = confirm(door, page)
    assert stored.status_code == 200 and statuses(stored) == ["new", "new"]
    visits = paper_visits()
    assert [(v.recorded_at, v.children, v.assistants) for v in visits] == [
        (first, 2, 1),
        (second, 0, 0),
    ]
    assert [v.day for v in visits] == [helsinki_date(first), helsinki_date(second)]
    assert {v.card.number for v in visits} == {active}
    rollup = db.session.scalar(
        select(func.sum(VisitDay.visits)).where(VisitDay.venue_id == venue_id())
    )
    assert rollup == 2  # counted into the statistics


def test_a_row_to_be_stored_asks_nobody_to_look_at_a_card(door, demo_cards):
    page = preview(door, csv_file(f"{demo_cards['active']};{finnish(days_ago(3))};0"))
    assert statuses(page) == ["new"]
    assert "Katso korttia" not in page.text  # no card at hand when the paper is entered


def test_the_same_file_twice_stores_each_use_once(door, demo_cards):
    moment = days_ago(2)
    data = csv_file(f"{demo_cards['active']};{finnish(moment)};1")
    confirm(door, preview(door, data))
    again = preview(door, data)
    assert statuses(again) == ["stored"]
    assert "Jo tallennettu" in again.text
    assert 'name="content"' not in again.text  # nothing left to confirm
    printed = cardnumbers.printed_number(demo_cards["active"], 1)
    iso = moment.astimezone(HELSINKI).strftime("%Y-%m-%d %H:%M")  # the same use, written anew
    other = csv_file(f"{printed.lower()};{iso};1", f"{demo_cards['active']};{finnish(moment)};1")
    assert statuses(preview(door, other)) == ["stored", "repeated"]
    assert len(paper_visits()) == 1


def test_a_confirmation_sent_twice_stores_once(door, demo_cards):
    page = preview(door, csv_file(f"{demo_cards['active']};{finnish(days_ago(1))};0"))
    assert statuses(confirm(door, page)) == ["new"]
    assert statuses(confirm(door, page)) == ["stored"]
    assert len(paper_visits()) == 1


def test_a_line_repeated_in_one_file_is_one_use(door, demo_cards):
    row = f"{demo_cards['active']};{finnish(days_ago(1))};0"
    page = preview(door, csv_file(row, row))
    assert statuses(page) == ["new", "repeated"]
    assert "Sama käyttö kuin rivillä 2" in page.text
    confirm(door, page)
    assert len(paper_visits()) == 1


def test_a_card_is_judged_as_at_the_rows_date(door, demo_cards):
    revoked = one(Card, number=demo_cards["revoked"])
    revoked.revoked_at = days_ago(3)
    db.session.commit()
    expired = demo_cards["expired"]  # valid until 35 days ago
    data = csv_file(
        f"{demo_cards['revoked']};{finnish(days_ago(5))};0",  # before the revocation
        f"{demo_cards['revoked']};{finnish(days_ago(2))};0",  # after it
        f"{expired};{finnish(days_ago(40))};0",  # still valid then
        f"{expired};{finnish(days_ago(20))};0",
    )
    page = preview(door, data)
    assert statuses(page) == ["new", "refused", "new", "refused"]
    assert "Kortti mitätöity" in page.text and "Kortti vanhentunut" in page.text
    stored = confirm(door, page)
    assert statuses(stored) == ["new", "refused", "new", "refused"]
    assert [v.recorded_at for v in paper_visits()] == [days_ago(40), days_ago(5)]


def test_the_door_rules_refuse_rows_and_nothing_is_stored_of_them(door, demo_cards):
    data = csv_file(
        f"{demo_cards['active']};{finnish(days_ago(1))};3",  # the card covers 2 children
        f"{demo_cards['replaced']};{finnish(days_ago(1))};0",  # its first generation
        f"{demo_cards['lappi']};{finnish(days_ago(1))};0",  # Lappi not in the network yet
        f"K7MX4PQ2Z;{finnish(days_ago(1))};0",  # a typing mistake
    )
    page = preview(door, data)
    assert statuses(page) == ["refused"] * 4
    assert "Liikaa lapsia" in page.text and "Tarkista numero" in page.text
    assert 'name="content"' not in page.text
    assert paper_visits() == []


def test_bad_rows_are_named_by_line_in_the_users_language(door, demo_cards):
    card = demo_cards["active"]
    data = csv_file(
        f"{card};28/11/2026 18:30;0",
        f"{card};31.2.2026 18:30;0",
        f"{card};{finnish(datetime.now(UTC) + timedelta(days=2))};0",
        f"{card};{finnish(days_ago(400))};0",
        f"{card};{finnish(days_ago(1))};kaksi",
        f"{card};{finnish(days_ago(1))};0;3",
        f";{finnish(days_ago(1))};0",
        f"{card};{finnish(days_ago(1))};0",
    )
    page = preview(door, data)
    assert page.status_code == 200
    assert statuses(page) == ["invalid"] * 7 + ["new"]
    for text in (
        "Kirjoita päivämäärä ja kellonaika Suomen aikaa",
        "tulevaisuudessa",
        "yli vuoden vanha",
        "Anna luku väliltä 0–999",
        "avustajien, opastajien tai tulkkien määrä lukuna väliltä 0–2.",
    ):
        assert text in page.text
    assert re.findall(r'data-label="Rivi">(\d+)<', page.text) == [str(n) for n in range(2, 10)]
    confirm(door, page)
    assert len(paper_visits()) == 1


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"", "Tiedostossa ei ole käyttöjä"),
        (b"kortti;aika;lapset\r\n\r\n", "Tiedostossa ei ole käyttöjä"),
        (b"kortti;lapset\r\nK7MX4PQ2D;0\r\n", "Rivillä 1 on oltava sarakkeiden nimet"),
        ("kortti;aika;lapset\r\n".encode("utf-16"), "Tiedostoa ei voitu lukea"),
        (b"kortti;aika;lapset\r\n\x81\x8d;1.1.2026 10:00;0\r\n", "Tiedostoa ei voitu lukea"),
    ],
)
def test_a_file_that_cannot_be_read_is_a_clear_error(door, demo_cards, data, text):
    page = preview(door, data)
    assert page.status_code == 422
    assert text in page.text and 'role="alert"' in page.text


def test_more_than_2000_rows_are_refused_before_any_check(door, demo_cards):
    row = f"{demo_cards['active']};{finnish(days_ago(1))};0"
    page = preview(door, csv_file(*[row] * (paper.MAX_ROWS + 1)))
    assert page.status_code == 422 and "yli 2000 käyttöä" in page.text
    assert len(statuses(preview(door, csv_file(*[row] * 3)))) == 3


def test_a_file_too_large_for_a_request_says_so(door, demo_cards):
    row = f"{demo_cards['active']};{finnish(days_ago(1))};0"
    page = preview(door, csv_file(*[row] * 10_000))
    assert page.status_code == 413 and "Tiedosto on suurempi kuin 256 kt" in page.text


def test_excel_files_with_semicolons_a_bom_or_windows_encoding_are_read(door, demo_cards):
    row = f"{demo_cards['active']};{finnish(days_ago(1))};1"
    windows = csv_file(row, header="Kortti;Päivämäärä ja aika;Lapset", encoding="cp1252")
    assert statuses(preview(door, windows)) == ["new"]
    commas = csv_file(row.replace(";", ","), header="card,date and time,children", bom=True)
    assert statuses(preview(door, commas)) == ["new"]
    swedish = csv_file(row, header="kort;tid;barn;assistenter", bom=True)
    assert statuses(preview(door, swedish)) == ["new"]
    hinted = b"sep=,\r\n\r\n" + csv_file(row.replace(";", ","), header="card,time,children")
    assert statuses(preview(door, hinted)) == ["new"]


def test_a_date_and_a_time_in_columns_of_their_own_make_one_moment(door, demo_cards):
    moment = days_ago(1)
    date, clock = finnish(moment).split(" ")
    data = csv_file(f"{demo_cards['active']};{date};{clock};0", header="Kortti;Pvm;Klo;Lapset")
    confirm(door, preview(door, data))
    assert [visit.recorded_at for visit in paper_visits()] == [moment]


def test_a_tampered_confirmation_is_judged_again(door, demo_cards):
    page = preview(door, csv_file(f"{demo_cards['active']};{finnish(days_ago(1))};0"))
    forged = csv_file(f"{demo_cards['active']};{finnish(days_ago(2))};9")
    content = base64.b64encode(zlib.compress(forged)).decode()
    form = {"venue": str(venue_id()), "content": content}
    answer = door.post("/paper/confirm", data=form, content_type="multipart/form-data")
    assert statuses(answer) == ["refused"]  # nine children: refused as in any file
    garbage = {"venue": str(venue_id()), "content": "not-base64!"}
    answer = door.post("/paper/confirm", data=garbage, content_type="multipart/form-data")
    assert answer.status_code == 422 and "Tiedostossa ei ole käyttöjä" in answer.text
    bomb = base64.b64encode(zlib.compress(b"0" * 10_000_000)).decode()
    answer = door.post(
        "/paper/confirm",
        data={"venue": str(venue_id()), "content": bomb},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 422
    assert confirm(door, page).status_code == 200 and len(paper_visits()) == 1


def test_another_venue_is_not_found(door, demo_cards):
    data = csv_file(f"{demo_cards['active']};{finnish(days_ago(1))};0")
    assert preview(door, data, venue=venue_id("Kajaanin kaupunginteatteri")).status_code == 404
    page = preview(door, data)
    assert confirm(door, page, venue=venue_id("Kajaanin kaupunginteatteri")).status_code == 404
    assert paper_visits() == []


def test_a_coordinator_enters_uses_for_venues_of_their_region_only(signed_in, demo_cards):
    coordinator = signed_in("koordinaattori@example.fi")
    form = coordinator.get("/paper")
    assert THEATRE in form.text and "Kajaanin kaupunginteatteri" not in form.text
    data = csv_file(f"{demo_cards['active']};{finnish(days_ago(1))};0")
    kajaani = venue_id("Kajaanin kaupunginteatteri")
    assert preview(coordinator, data, venue=kajaani).status_code == 404
    stored = confirm(coordinator, preview(coordinator, data))
    assert statuses(stored) == ["new"]
    assert [v.venue.name for v in paper_visits()] == [THEATRE]


def test_the_page_is_in_the_menus_and_in_swedish(door, demo_cards):
    assert 'href="/paper"' in door.get("/venue/stats").text
    door.get("/language/sv")
    page = preview(door, csv_file(f"{demo_cards['active']};{finnish(days_ago(1))};0"))
    assert "Förhandsvisning" in page.text and "Ska sparas" in page.text


def test_a_use_at_an_event_counts_for_the_event_of_this_venue_only(door, demo_cards):
    ours = db.session.scalar(select(Event).where(Event.venue_id == venue_id()).limit(1))
    elsewhere = Event(
        venue_id=venue_id("Kajaanin kaupunginteatteri"), name="K", starts_on=ours.starts_on
    )
    db.session.add(elsewhere)
    db.session.commit()
    card = demo_cards["active"]
    header = "kortti;aika;lapset;avustajat;tapahtuma"
    data = csv_file(
        f"{card};{finnish(days_ago(1))};0;0;{ours.id}",
        f"{card};{finnish(days_ago(2))};0;0;{elsewhere.id}",
        f"{card};{finnish(days_ago(3))};0;0;99999999999",
        header=header,
    )
    page = preview(door, data)
    assert statuses(page) == ["new", "invalid", "invalid"]
    assert "Kohteella ei ole käytössä olevaa tapahtumaa tällä tunnisteella." in page.text
    confirm(door, page)
    assert [visit.event_id for visit in paper_visits()] == [ours.id]


def test_a_use_at_an_event_deactivated_since_keeps_its_event(door, demo_cards):
    event = db.session.scalar(select(Event).where(Event.venue_id == venue_id()).limit(1))
    event.active = False
    db.session.commit()
    header = "kortti;aika;lapset;avustajat;tapahtuma"
    row = f"{demo_cards['active']};{finnish(days_ago(1))};0;0;{event.id}"
    page = preview(door, csv_file(row, header=header))
    assert statuses(page) == ["new"]
    confirm(door, page)
    assert [visit.event_id for visit in paper_visits()] == [event.id]


def test_a_stranger_sending_a_huge_file_is_sent_to_sign_in(client, demo_cards):
    row = f"{demo_cards['active']};{finnish(days_ago(1))};0"
    page = preview(client, csv_file(*[row] * 10_000))
    assert page.status_code == 413 and "Tiedosto on suurempi" not in page.text
