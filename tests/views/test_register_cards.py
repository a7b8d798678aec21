"""Cards from the national register through the command line, the API and the pages."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Card, Region, Visit
from webapp.rules import today_in_finland

from ..services.test_imports import HEADER, csv_file, row
from . import test_api
from .test_api import COORDINATOR, DISTRIBUTOR, VENUE, assert_error

api = test_api.api  # the spec-checking API client of the demo's users
spec = test_api.spec

REGISTER_ID = "KK100234"


@pytest.fixture
def register_file(tmp_path, demo_cards):
    path = tmp_path / "register.csv"
    path.write_bytes(csv_file(row(REGISTER_ID), row("KK100235", children="0")))
    return path


def imported_card() -> Card:
    db.session.expire_all()
    return db.session.scalar(select(Card).where(Card.legacy_id == REGISTER_ID))


# --- the command -----------------------------------------------------------------------------


def test_the_command_imports_once_and_a_second_run_changes_nothing(runner, register_file):
    first = runner.invoke(args=["import-cards", str(register_file), "--language", "en"])
    assert first.exit_code == 0, first.output
    assert "New cards: 2. Imported before, left alone: 0." in first.output
    numbers = set(db.session.scalars(select(Card.number).where(Card.legacy_id.is_not(None))))
    assert len(numbers) == 2

    second = runner.invoke(args=["import-cards", str(register_file)])  # Finnish by default
    assert second.exit_code == 0, second.output
    assert "Uusia kortteja: 0. Aiemmin tuotuja, ennallaan: 2." in second.output
    db.session.expire_all()
    assert set(db.session.scalars(select(Card.number).where(Card.legacy_id.is_not(None)))) == (
        numbers
    )


def test_the_dry_run_lists_every_bad_row_by_line_and_imports_nothing(runner, tmp_path, demo_cards):
    path = tmp_path / "register.csv"
    path.write_bytes(
        csv_file(row("KK100001", postcode="7010"), row("KK100002"), row("KK100001", region="x"))
    )
    for extra in (["--dry-run"], []):
        result = runner.invoke(args=["import-cards", str(path), "--language", "en", *extra])
        assert result.exit_code == 1
        assert result.output.splitlines()[:3] == [
            "Line 2, postcode: Enter the postcode as five digits, e.g. 70100.",
            "Line 4, id: The same ID is already on line 2.",
            "Line 4, region: No region has this code.",
        ]
        assert "Nothing was imported: correct the lines above." in result.output
    assert db.session.scalar(select(Card).where(Card.legacy_id.is_not(None))) is None


def test_the_command_refuses_a_file_with_names_in_it(runner, tmp_path, demo_cards):
    path = tmp_path / "register.csv"
    path.write_bytes(csv_file(row() + ",Maija Meikäläinen", header=HEADER + ",name"))
    result = runner.invoke(args=["import-cards", str(path), "--language", "sv"])
    assert result.exit_code == 1
    assert "Filen har kolumner som inte importeras: name." in result.output
    assert db.session.scalar(select(Card).where(Card.legacy_id.is_not(None))) is None


# --- the API ---------------------------------------------------------------------------------


def test_the_api_verifies_and_records_a_typed_register_id_as_unsigned(api, runner, register_file):
    runner.invoke(args=["import-cards", str(register_file)])
    door = api(VENUE)
    answer = door.post("/api/v1/verify", json={"number": "kk 100-234"})
    assert answer.status_code == 200
    body = answer.get_json()
    assert (body["valid"], body["reason"], body["warnings"]) == (True, "ok", ["unsigned_card"])
    assert body["card"]["number"] == imported_card().number and body["max_children"] == 2

    visit = door.post("/api/v1/visits", json={"number": REGISTER_ID, "children": 2})
    assert visit.status_code == 201
    assert visit.get_json()["card_number"] == imported_card().number


def test_a_distributor_finds_and_reissues_by_register_id_and_the_id_then_answers_replaced(
    api, runner, register_file
):
    runner.invoke(args=["import-cards", str(register_file)])
    desk = api(DISTRIBUTOR)
    found = desk.get(f"/api/v1/cards/{REGISTER_ID.lower()}")
    assert found.status_code == 200 and found.get_json()["number"] == imported_card().number
    reissued = desk.post(f"/api/v1/cards/{imported_card().number}/reissue")
    assert reissued.status_code == 201
    door = api(VENUE)
    assert door.post("/api/v1/verify", json={"number": REGISTER_ID}).get_json()["reason"] == (
        "replaced"
    )
    assert_error(
        door.post("/api/v1/visits", json={"number": REGISTER_ID, "children": 0}), 422, "replaced"
    )
    signed = door.post("/api/v1/verify", json={"token": reissued.get_json()["token"]})
    assert (signed.get_json()["reason"], signed.get_json()["warnings"]) == ("ok", [])


def test_after_the_regions_day_the_register_id_is_refused_with_its_reason(
    api, runner, register_file
):
    runner.invoke(args=["import-cards", str(register_file)])
    region = db.session.scalar(select(Region).where(Region.code == "pohjois-savo"))
    region.unsigned_refused_from = today_in_finland()
    db.session.commit()
    door = api(VENUE)
    body = door.post("/api/v1/verify", json={"number": REGISTER_ID}).get_json()
    assert (body["valid"], body["reason"]) == (False, "unsigned_not_accepted")
    refused = door.post("/api/v1/visits", json={"number": REGISTER_ID, "children": 0})
    assert assert_error(refused, 422, "unsigned_not_accepted")["message"] == (
        "Valtakunnallisen rekisterin allekirjoittamattomia kortteja ei enää hyväksytä tämän "
        "kortin alueella. Kortin myöntänyt paikka voi antaa uuden."
    )
    assert db.session.scalar(select(Visit).where(Visit.card_id == imported_card().id)) is None


# --- the pages -------------------------------------------------------------------------------


def region_page(client, code="pohjois-savo"):
    region = db.session.scalar(select(Region).where(Region.code == code))
    return region, f"/coordinator/regions/{region.id}/unsigned-cards"


def test_the_coordinator_sets_and_clears_the_day_unsigned_cards_end(signed_in, client):
    signed_in(COORDINATOR)
    region, url = region_page(client)
    day = today_in_finland() + timedelta(days=90)
    saved = client.post(url, data={"unsigned_refused_from": day.isoformat()})
    assert saved.status_code == 303
    db.session.expire_all()
    assert region.unsigned_refused_from == day
    page = client.get(f"/coordinator/regions/{region.id}")
    assert day.isoformat() in page.get_data(as_text=True)

    assert client.post(url, data={"unsigned_refused_from": ""}).status_code == 303
    db.session.expire_all()
    assert region.unsigned_refused_from is None


@pytest.mark.parametrize("days", [-1, 367])
def test_a_day_in_the_past_or_beyond_a_year_is_refused_on_the_field(signed_in, client, days):
    signed_in(COORDINATOR)
    region, url = region_page(client)
    day = today_in_finland() + timedelta(days=days)
    client.set_cookie("lang", "en")
    refused = client.post(url, data={"unsigned_refused_from": day.isoformat()})
    assert refused.status_code == 422
    assert "Choose a day from today to" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert region.unsigned_refused_from is None


def test_a_coordinator_cannot_set_another_regions_day(signed_in, client):
    signed_in(COORDINATOR)
    _region, url = region_page(client, "kainuu")
    day = today_in_finland() + timedelta(days=10)
    assert client.post(url, data={"unsigned_refused_from": day.isoformat()}).status_code == 404


def test_the_distributor_finds_an_imported_card_by_its_register_id(
    signed_in, client, runner, register_file
):
    runner.invoke(args=["import-cards", str(register_file)])
    signed_in(DISTRIBUTOR)
    found = client.get("/distributor/find?number=kk-100234")
    assert found.status_code in (302, 303)
    assert found.headers["Location"].endswith(f"/cards/{imported_card().number}")
    page = client.get(found.headers["Location"])
    assert REGISTER_ID in page.get_data(as_text=True)
