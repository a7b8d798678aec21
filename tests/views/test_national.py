"""The national table and the cardholder statistics as a page, CSV, XLSX and in the API."""

import csv
import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from tests.factories import (
    create_distributor,
    create_region,
    create_user,
    create_venue,
    create_visit,
)
from tests.services.test_national import make_card
from webapp.extensions import db
from webapp.models import CardKind, Role, VenueCategory
from webapp.services import accounts

from .openapi_check import SpecCheckingClient

SAVO, KAINUU, ADMIN = "k.savo@example.fi", "k.kainuu@example.fi", "admin.n@example.fi"
PASSWORD = "salasana-123"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def network():
    """2024 in Pohjois-Savo: 8 holders in Kuopio (30-44), 2 in Iisalmi (65+), 6 in Varkaus
    (18-29), a community card's group visit; 6 holders in Kainuu."""
    savo = create_region("pohjois-savo", "Pohjois-Savo", name_sv=None)
    kainuu = create_region("kainuu", "Kainuu", name_sv="Kajanaland")
    teatteri = create_venue(savo, "Kuopion teatteri")
    halli = create_venue(savo, "Uimahalli", category=VenueCategory.SPORT)
    museo = create_venue(kainuu, "Museo", category=VenueCategory.SCIENCE)
    jakaja = create_distributor(savo)
    created = utc(2024, 2, 1, 10)
    for postcode, birth_year, count in (("70100", 1985, 8), ("74100", 1950, 2), ("78200", 2000, 6)):
        for _ in range(count):
            card = make_card(jakaja, savo, created, birth_year=birth_year, postcode=postcode)
            create_visit(card, teatteri, recorded_at=utc(2024, 3, 1, 10), children=1)
    group = make_card(jakaja, savo, created, kind=CardKind.COMMUNITY)
    create_visit(group, halli, recorded_at=utc(2024, 5, 1, 10), children=6, assistants=1)
    for _ in range(6):
        card = make_card(jakaja, kainuu, created, postcode="87100")
        create_visit(card, museo, recorded_at=utc(2024, 4, 1, 10), assistants=1)
    create_user(SAVO, Role.COORDINATOR, region=savo, password=PASSWORD)
    create_user(KAINUU, Role.COORDINATOR, region=kainuu, password=PASSWORD)
    create_user(ADMIN, Role.ADMIN, password=PASSWORD)
    db.session.commit()
    return savo, kainuu


@pytest.fixture
def spec(client):
    return client.get("/api/v1/openapi.json").get_json()


@pytest.fixture
def api(client, spec, network):
    def as_user(email: str) -> SpecCheckingClient:
        user = db.session.scalar(db.select(accounts.User).filter_by(email=email))
        token = accounts.create_api_token(user)
        db.session.commit()
        return SpecCheckingClient(client, spec, token)

    return as_user


def rows_of(body) -> dict:
    return {
        (r["field"], r["kind"]): (r["adults"], r["children"], r["assistants"])
        for r in body["rows"]
        if (r["adults"], r["children"], r["assistants"]) != (0, 0, 0)
    }


# --- the API --------------------------------------------------------------------------------


def test_the_coordinator_gets_their_own_regions_table(api):
    response = api(SAVO).get("/api/v1/stats/national?year=2024")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"year", "region", "cards_registered", "cards_used", "rows"}
    assert (body["year"], body["region"]) == (2024, "pohjois-savo")
    assert (body["cards_registered"], body["cards_used"]) == (17, 17)
    assert set(body["rows"][0]) == {"field", "kind", "adults", "children", "assistants"}
    assert len(body["rows"]) == 10
    assert rows_of(body) == {
        ("culture", "personal"): (16, 16, 0),
        ("sport", "community"): (1, 6, 1),
    }


def test_a_coordinator_cannot_ask_for_another_region(api):
    body = api(KAINUU).get("/api/v1/stats/national?year=2024&region=pohjois-savo").get_json()
    assert body["region"] == "kainuu"
    assert rows_of(body) == {("science", "personal"): (6, 0, 6)}


def test_the_admin_gets_the_whole_network_or_one_region(api):
    admin = api(ADMIN)
    everything = admin.get("/api/v1/stats/national?year=2024").get_json()
    assert everything["region"] is None
    assert everything["cards_registered"] == 23
    assert rows_of(everything)[("science", "personal")] == (6, 0, 6)
    kainuu = admin.get("/api/v1/stats/national?year=2024&region=KAINUU").get_json()
    assert kainuu["region"] == "kainuu" and kainuu["cards_registered"] == 6
    response = admin.get("/api/v1/stats/national?year=2024&region=atlantis")
    assert response.status_code == 422 and response.get_json()["error"] == "invalid_region"


@pytest.mark.parametrize("query", ["", "year=", "year=abc", "year=1999", "year=20245"])
def test_a_bad_year_is_422(api, query):
    response = api(SAVO).get(f"/api/v1/stats/national?{query}")
    assert response.status_code == 422
    assert response.get_json()["error"] == "validation_error"
    assert "year" in response.get_json()["fields"]


def test_a_year_out_of_range_is_named_in_finnish(api):
    response = api(SAVO).get("/api/v1/stats/national?year=1999")
    assert response.get_json()["fields"]["year"] == "Anna vuosi väliltä 2000–2999."


def test_the_holders_api_hides_small_groups(api):
    body = api(SAVO).get("/api/v1/stats/holders?year=2024&group=municipality").get_json()
    cells = {r["key"]: (r["registered"], r["users"], r["uses"]) for r in body["rows"]}
    # Iisalmi's 2 are small; the next smallest (Varkaus, 6) is withheld; community not counted
    assert cells == {"Iisalmi": ("< 5",) * 3, "Kuopio": (8, 8, 8), "Varkaus": ("..",) * 3}
    assert body["totals"] == {"registered": 16, "users": 16, "uses": 16}
    ages = api(SAVO).get("/api/v1/stats/holders?year=2024&group=age").get_json()
    assert {r["key"]: r["users"] for r in ages["rows"]} == {
        "16-17": "< 5",
        "18-29": 6,
        "30-44": 8,
        "45-64": "< 5",
        "65+": "< 5",
    }


def test_a_coordinator_without_a_region_sees_no_figures(api):
    create_user("k.none@example.fi", Role.COORDINATOR, password=PASSWORD)
    db.session.commit()
    response = api("k.none@example.fi").get("/api/v1/stats/national?year=2024")
    assert response.status_code == 403


def test_openapi_documents_the_national_table(spec):
    operation = spec["paths"]["/api/v1/stats/national"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"year", "region"}
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    name = schema["$ref"].rsplit("/", 1)[-1]
    properties = spec["components"]["schemas"][name]["properties"]
    assert set(properties) == {"year", "region", "cards_registered", "cards_used", "rows"}
    assert "/api/v1/stats/holders" in spec["paths"]


# --- the page and its files -----------------------------------------------------------------


def test_the_page_shows_the_table_and_hides_small_groups(client, network):
    client.sign_in(SAVO, PASSWORD)
    page = client.get("/coordinator/stats/national?year=2024")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Pohjois-Savo" in text and "Kainuu" not in text
    assert "&lt; 5" in text and ">..<" in text
    assert ">Kuopio<" in text and ">Iisalmi<" in text


def test_the_csv_files_hide_small_groups(client, network):
    client.sign_in(SAVO, PASSWORD)
    response = client.get("/coordinator/stats/national.csv?year=2024&table=municipality")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    assert ["Iisalmi", "< 5", "< 5", "< 5"] in rows
    assert ["Varkaus", "..", "..", ".."] in rows
    assert ["Kuopio", "8", "8", "8"] in rows
    national = client.get("/coordinator/stats/national.csv?year=2024&table=national")
    rows = list(csv.reader(io.StringIO(national.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Ala", "Korttityyppi", "Aikuiset", "Lapset", "Avustajat"]
    assert ["Kulttuuri", "Henkilökortti", "16", "16", "0"] in rows
    assert ["Liikunta", "Yhteisökortti", "1", "6", "1"] in rows
    assert rows[-1] == ["Yhteensä", "", "17", "22", "1"]
    assert client.get("/coordinator/stats/national.csv?year=2024&table=nope").status_code == 404


def test_the_xlsx_holds_every_table_with_small_groups_hidden(client, network):
    client.sign_in(SAVO, PASSWORD)
    response = client.get("/coordinator/stats/national.xlsx?year=2024")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.data))
    assert len(workbook.sheetnames) == 4
    cells = {
        row[0]: row[1:]
        for sheet in workbook.worksheets[2:]
        for row in sheet.iter_rows(values_only=True)
    }
    assert cells["Iisalmi"] == ("< 5", "< 5", "< 5")
    assert cells["65+"] == ("< 5", "< 5", "< 5")
    assert cells["Kuopio"] == (8, 8, 8)


def test_a_bad_year_on_the_page_is_said_not_a_500(client, network):
    client.sign_in(SAVO, PASSWORD)
    page = client.get("/coordinator/stats/national?year=abc")
    assert page.status_code == 422
    export = client.get("/coordinator/stats/national.xlsx?year=1800")
    assert export.status_code == 303


def test_a_coordinator_cannot_pick_another_region_on_the_page(client, network):
    _savo, kainuu = network
    client.sign_in(SAVO, PASSWORD)
    page = client.get(f"/coordinator/stats/national?year=2024&region={kainuu.id}")
    assert page.status_code == 422
    assert "Museo" not in page.get_data(as_text=True)


def test_the_admin_sees_all_regions_on_the_page(client, network):
    _savo, kainuu = network
    client.sign_in(ADMIN, PASSWORD)
    response = client.get("/coordinator/stats/national.csv?year=2024&table=cards&region=0")
    assert "23" in response.data.decode("utf-8-sig")
    response = client.get(
        f"/coordinator/stats/national.csv?year=2024&table=cards&region={kainuu.id}"
    )
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[1] == ["2024", "6", "6"]
