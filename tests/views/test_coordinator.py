"""The coordinator's pages: who may open and do what, onboarding, statistics and the audit log."""

import csv
import io
import re
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from webapp.cardnumbers import format_number
from webapp.extensions import db
from webapp.models import (
    AuditEvent,
    Card,
    Event,
    Organisation,
    Region,
    Role,
    User,
    VenueCategory,
    Visit,
)
from webapp.services import accounts, audit, cards, network

from ..conftest import PASSWORD
from ..factories import create_user, create_venue, create_visit

OWN, OTHER, ADMIN = "koordinaattori@example.fi", "koordinaattori.kainuu@example.fi", "admin@ex.fi"


def one(model, **where):
    return db.session.scalar(select(model).filter_by(**where))


@pytest.fixture
def ids(demo_cards):
    """Demo data plus a Kainuu coordinator, an admin and an event in each region."""
    savo, kainuu = one(Region, code="pohjois-savo"), one(Region, code="kainuu")
    create_user(OTHER, Role.COORDINATOR, region=kainuu, password=PASSWORD)
    create_user(ADMIN, Role.ADMIN, password=PASSWORD)
    teatteri = one(Organisation, name="Kuopion kaupunginteatteri")
    kajaani = one(Organisation, name="Kajaanin kaupunginteatteri")
    event = Event(venue=teatteri, name="Ensi-ilta", starts_on=date(2025, 1, 10), quota=5)
    db.session.add_all([event, Event(venue=kajaani, name="Konsertti", starts_on=date(2025, 2, 1))])
    db.session.commit()
    return {
        "savo": savo.id,
        "kainuu": kainuu.id,
        "teatteri": teatteri.id,
        "jakaja_org": one(Organisation, name="Kuopion sosiaalipalvelut").id,
        "event": event.id,
        "ovi": one(User, email="ovi@example.fi").id,
        "membership": savo.memberships[0].id,
    }


def audit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


# --- the permission matrix ----------------------------------------------------------------
# Every coordinator page and action, for objects of Pohjois-Savo. Expected answers:
# own = the Pohjois-Savo coordinator, other = the Kainuu coordinator, admin = national admin.
# Distributor and venue staff always get 403, anonymous visitors go to sign in.

VENUE_FORM = {"name": "Kuopion museo", "region": "{savo}", "category": "science", "active": "y"}
EVENT_FORM = {"venue": "{teatteri}", "name": "Joulukonsertti", "starts_on": "2025-12-20"}
PERSON_FORM = {
    "email": "uusi@example.fi",
    "role": "venue",
    "region": "{savo}",
    "organisations": "{teatteri}",
}
CASES = [
    # (method, url, form, own, other, admin)
    ("GET", "/coordinator/", None, 200, 200, 200),
    ("GET", "/coordinator/regions", None, 200, 200, 200),
    ("GET", "/coordinator/regions/new", None, 403, 403, 200),
    ("POST", "/coordinator/regions/new", {"code": "lappi-2", "name": "L"}, 403, 403, 303),
    ("GET", "/coordinator/regions/{savo}", None, 200, 404, 200),
    ("POST", "/coordinator/regions/{savo}", {"name": "Savo"}, 403, 404, 303),
    ("POST", "/coordinator/regions/{savo}/memberships", {"starts_on": "2030-01-01"}, 403, 404, 422),
    ("POST", "/coordinator/regions/{savo}/memberships/{membership}/delete", {}, 403, 404, 303),
    ("GET", "/coordinator/venues", None, 200, 200, 200),
    ("GET", "/coordinator/distributors", None, 200, 200, 200),
    ("GET", "/coordinator/venues/new", None, 200, 200, 200),
    ("POST", "/coordinator/venues/new", VENUE_FORM, 303, 422, 303),
    (
        "POST",
        "/coordinator/distributors/new",
        {"name": "Järjestö", "region": "{savo}"},
        303,
        422,
        303,
    ),
    ("GET", "/coordinator/organisations/{teatteri}", None, 200, 404, 200),
    ("POST", "/coordinator/organisations/{teatteri}", {**VENUE_FORM, "name": "T"}, 303, 404, 303),
    ("GET", "/coordinator/events", None, 200, 200, 200),
    ("GET", "/coordinator/events/new", None, 200, 200, 200),
    ("POST", "/coordinator/events/new", EVENT_FORM, 303, 422, 303),
    ("GET", "/coordinator/events/{event}", None, 200, 404, 200),
    ("POST", "/coordinator/events/{event}", {**EVENT_FORM, "quota": "3"}, 303, 404, 303),
    ("GET", "/coordinator/people", None, 200, 200, 200),
    ("GET", "/coordinator/people/new", None, 200, 200, 200),
    ("POST", "/coordinator/people/new", PERSON_FORM, 200, 422, 200),
    ("GET", "/coordinator/people/{ovi}", None, 200, 404, 200),
    (
        "POST",
        "/coordinator/people/{ovi}",
        {"role": "venue", "organisations": "{teatteri}"},
        303,
        404,
        303,
    ),
    ("POST", "/coordinator/people/{ovi}/reset", {}, 200, 404, 200),
    ("POST", "/coordinator/people/{ovi}/deactivate", {}, 303, 404, 303),
    ("POST", "/coordinator/people/{ovi}/reactivate", {}, 303, 404, 303),
    ("GET", "/coordinator/stats", None, 200, 200, 200),
    ("GET", "/coordinator/stats?region={savo}", None, 200, 422, 200),
    ("GET", "/coordinator/stats.csv?table=venue", None, 200, 200, 200),
    ("GET", "/coordinator/stats.xlsx", None, 200, 200, 200),
    ("GET", "/coordinator/audit", None, 200, 200, 200),
]
ACTORS = ["anonymous", "jakaja@example.fi", "ovi@example.fi", OWN, OTHER, ADMIN]


def fill(value, ids):
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value.format(**ids)


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize(("method", "url", "form", "own", "other", "admin"), CASES)
def test_permissions(client, ids, actor, method, url, form, own, other, admin):
    if actor != "anonymous":
        assert client.sign_in(actor).status_code == 302
    before = audit_count()
    response = client.open(fill(url, ids), method=method, data=fill(form or {}, ids))
    expected = {"anonymous": 302, OWN: own, OTHER: other, ADMIN: admin}.get(actor, 403)
    assert response.status_code == expected, response.text[:500]
    if actor == "anonymous":
        assert response.headers["Location"].startswith("/?next=")
    if method == "POST":
        changed = audit_count() > before
        assert changed == (expected in (200, 303)), "a refused action must change nothing"


def test_admin_membership_overlap_is_refused_with_a_message(client, ids):
    client.sign_in(ADMIN)
    response = client.post(
        f"/coordinator/regions/{ids['savo']}/memberships", data={"starts_on": "2030-01-01"}
    )
    assert response.status_code == 422
    assert "overlaps" in response.text or "päällekkäin" in response.text


def test_other_region_lists_hide_our_objects(client, ids, demo_cards):
    audit.record("card.issued", one(Card, number=demo_cards["active"]), actor=None)
    db.session.commit()
    client.sign_in(OTHER)
    assert "Kuopion kaupunginteatteri" not in client.get("/coordinator/venues").text
    assert "Kajaanin kaupunginteatteri" in client.get("/coordinator/venues").text
    assert "ovi@example.fi" not in client.get("/coordinator/people").text
    assert "Ensi-ilta" not in client.get("/coordinator/events").text
    shown = format_number(demo_cards["active"])
    assert shown not in client.get("/coordinator/audit?action=card.issued").text
    client.post("/sign-out")
    client.sign_in(OWN)
    assert shown in client.get("/coordinator/audit?action=card.issued").text


# --- onboarding: done when a new venue's staff member can scan the same day ----------------


def test_coordinator_onboards_a_venue_and_its_staff_member_who_scans_the_same_day(
    client, ids, demo_cards
):
    client.sign_in(OWN)
    response = client.post(
        "/coordinator/venues/new",
        data={"name": "Kuopion museo", "region": ids["savo"], "category": "science", "active": "y"},
    )
    assert response.status_code == 303
    museo = one(Organisation, name="Kuopion museo")
    assert museo.category is VenueCategory.SCIENCE and museo.region_id == ids["savo"]

    response = client.post(
        "/coordinator/people/new",
        data={
            "email": "museo@example.fi",
            "role": "venue",
            "region": ids["savo"],
            "organisations": museo.id,
        },
    )
    assert response.status_code == 200
    link = re.search(r'value="(http[^"]+/invite/[^"]+)"', response.text).group(1)
    assert client.post("/sign-out").status_code == 302

    staff = client  # the same browser, now the new staff member's
    path = link.split("localhost", 1)[1]
    assert staff.get(path).status_code == 200
    short = staff.post(path, data={"password": "lyhyt", "confirm": "lyhyt"})
    assert short.status_code == 422
    done = staff.post(path, data={"password": "museon-ovi-2025", "confirm": "museon-ovi-2025"})
    assert done.status_code == 303
    assert staff.get(path).status_code == 404  # used up

    assert staff.sign_in("museo@example.fi", "museon-ovi-2025").headers["Location"] == "/scan"
    card = one(Card, number=demo_cards["active"])
    verdict = staff.post(
        "/scan/verify", data={"venue": museo.id, "token": cards.printed_token(card)}
    )
    assert verdict.status_code == 200
    recorded = staff.post(
        "/scan/visits",
        data={"venue": museo.id, "token": cards.printed_token(card), "children": "0"},
    )
    assert recorded.status_code == 201
    assert db.session.scalar(select(func.count()).where(Visit.venue_id == museo.id)) == 1


def test_invite_link_with_a_wrong_token_is_not_found(client):
    response = client.get("/invite/not-a-real-token")
    assert response.status_code == 404


def test_passwords_must_match(client, ids):
    client.sign_in(OWN)
    page = client.post(f"/coordinator/people/{ids['ovi']}/reset").text
    path = re.search(r'value="http://localhost(/invite/[^"]+)"', page).group(1)
    client.post("/sign-out")
    response = client.post(path, data={"password": "salasana-123", "confirm": "salasana-124"})
    assert response.status_code == 422
    assert "Salasanat eivät täsmää." in response.text
    assert client.get(path).status_code == 200  # the link still works: nothing was set
    assert client.sign_in("ovi@example.fi", "salasana-123").status_code != 302


# --- deactivation stops sessions and API tokens at once ------------------------------------


def test_deactivated_user_session_and_api_token_stop_at_once(client, ids, demo_cards):
    staff = client
    assert staff.sign_in("ovi@example.fi").status_code == 302
    ovi = db.session.get(User, ids["ovi"])
    token = accounts.create_api_token(ovi)
    db.session.commit()
    card = one(Card, number=demo_cards["active"])
    body = {"token": cards.printed_token(card)}
    auth = {"Authorization": f"Bearer {token}"}
    assert staff.get("/scan").status_code == 200
    assert staff.post("/api/v1/verify", json=body, headers=auth).status_code == 200

    # the coordinator deactivates them (the page's action, in another browser)
    network.deactivate_person(ovi, actor=one(User, email=OWN))
    db.session.commit()

    assert staff.get("/scan").status_code == 302
    assert staff.post("/api/v1/verify", json=body, headers=auth).status_code == 401
    assert accounts.user_for_api_token(token) is None
    assert staff.sign_in("ovi@example.fi").status_code == 400


def test_coordinator_cannot_deactivate_themselves(client, ids):
    client.sign_in(OWN)
    me = one(User, email=OWN)
    response = client.post(f"/coordinator/people/{me.id}/deactivate", follow_redirects=True)
    assert me.active
    assert response.status_code == 200


# --- statistics -----------------------------------------------------------------------------


@pytest.fixture
def visits(ids, demo_cards):
    """Uses in Pohjois-Savo and Kainuu; one at 23:30 UTC on 31 January (February in Finland)."""
    card = one(Card, number=demo_cards["active"])
    museo = create_venue(db.session.get(Region, ids["savo"]), "Pyhäjärven Öljymuseo")
    kajaani = one(Organisation, name="Kajaanin kaupunginteatteri")
    for venue, moment, children, assistants in [
        (museo, datetime(2024, 1, 10, 12, tzinfo=UTC), 2, 1),
        (museo, datetime(2024, 1, 31, 23, 30, tzinfo=UTC), 1, 0),
        (kajaani, datetime(2024, 3, 5, 12, tzinfo=UTC), 0, 2),
    ]:
        create_visit(card, venue, recorded_at=moment, children=children, assistants=assistants)
    db.session.commit()


def test_statistics_page_shows_the_region_figures_and_a_chart(client, visits):
    client.sign_in(OWN)
    page = client.get("/coordinator/stats?start=2024-01-01&end=2024-12-31").text
    assert "Pyhäjärven Öljymuseo" in page and "Kajaanin kaupunginteatteri" not in page
    assert '<svg class="chart-svg"' in page and "<title id=" in page and "<desc id=" in page
    figures = dict(re.findall(r"<dt>([^<]+)</dt><dd>(\d+)</dd>", page))
    assert list(figures.values())[2:] == ["2", "2", "3", "1"]  # uses, adults, children, assistants


def test_admin_sees_all_regions_or_one(client, visits, ids):
    client.sign_in(ADMIN)
    everything = client.get("/coordinator/stats?start=2024-01-01&end=2024-12-31&region=0").text
    assert "Kajaanin kaupunginteatteri" in everything and "Pyhäjärven Öljymuseo" in everything
    kainuu = client.get(
        f"/coordinator/stats?start=2024-01-01&end=2024-12-31&region={ids['kainuu']}"
    )
    assert "Pyhäjärven Öljymuseo" not in kainuu.text


def test_statistics_filter_answers_htmx_with_the_fragment(client, visits):
    client.sign_in(OWN)
    response = client.get(
        "/coordinator/stats?start=2024-01-01&end=2024-12-31", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert response.text.lstrip().startswith('<div id="stats-results"')
    assert "<html" not in response.text


def test_bad_dates_are_explained_not_crashed(client, ids):
    client.sign_in(OWN)
    backwards = client.get("/coordinator/stats?start=2024-12-01&end=2024-01-01")
    assert backwards.status_code == 422 and 'role="alert"' in backwards.text
    nonsense = client.get("/coordinator/stats?start=yesterday&end=2024-01-01")
    assert nonsense.status_code == 422
    assert client.get("/coordinator/stats.csv?start=x").status_code == 303


def test_csv_opens_in_excel_with_finnish_characters(client, visits):
    client.sign_in(OWN)
    response = client.get("/coordinator/stats.csv?start=2024-01-01&end=2024-12-31&table=venue")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark
    text = response.data.decode("utf-8-sig")
    assert "\r\n" in text
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][2:] == ["Käyttökerrat", "Aikuiset", "Lapset", "Avustajat"]
    assert all(len(row) == 6 for row in rows)
    assert ["Pyhäjärven Öljymuseo", "Pohjois-Savo", "2", "2", "3", "1"] in rows  # region's name
    assert rows[-1][2:] == ["2", "2", "3", "1"]


def test_csv_by_month_counts_helsinki_months(client, visits):
    client.sign_in(OWN)
    text = client.get("/coordinator/stats.csv?start=2024-01-01&end=2024-03-31&table=month")
    rows = list(csv.reader(io.StringIO(text.data.decode("utf-8-sig")), delimiter=";"))
    assert [row[1:] for row in rows[1:4]] == [
        ["1", "1", "2", "1"],
        ["1", "1", "1", "0"],
        ["0", "0", "0", "0"],
    ]


def test_csv_neutralises_formulas_in_names(client, ids, visits):
    venue = one(Organisation, name="Pyhäjärven Öljymuseo")
    venue.name = "=HYPERLINK(1)"
    db.session.commit()
    client.sign_in(OWN)
    text = client.get("/coordinator/stats.csv?start=2024-01-01&end=2024-12-31&table=venue")
    assert "'=HYPERLINK(1)" in text.data.decode("utf-8-sig")


def test_xlsx_holds_every_table(client, visits):
    client.sign_in(OWN)
    response = client.get("/coordinator/stats.xlsx?start=2024-01-01&end=2024-12-31")
    workbook = load_workbook(io.BytesIO(response.data))
    assert len(workbook.sheetnames) == 5
    venues = [row for row in workbook.worksheets[2].iter_rows(values_only=True)]
    assert ("Pyhäjärven Öljymuseo", "Pohjois-Savo", 2, 2, 3, 1) in venues


# --- audit log ------------------------------------------------------------------------------


def test_audit_log_filters_by_action_and_person(client, ids):
    client.sign_in(OWN)
    client.post(f"/coordinator/people/{ids['ovi']}/deactivate")
    client.post(f"/coordinator/people/{ids['ovi']}/reactivate")
    htmx = {"HX-Request": "true"}
    page = client.get("/coordinator/audit?action=user.deactivated", headers=htmx).text
    assert page.count("<tr>") == 2  # the header and one event
    assert "<td>ovi@example.fi</td>" in page and OWN in page  # the person, not "user 3"
    mine = client.get(f"/coordinator/audit?actor={OWN[:6]}", headers=htmx).text
    assert mine.count("<tr>") == 3
    nobody = client.get("/coordinator/audit?actor=nobody@example.fi", headers=htmx).text
    assert OWN not in nobody


def test_audit_log_fragment_for_htmx(client, ids):
    client.sign_in(OWN)
    response = client.get("/coordinator/audit?start=2020-01-01", headers={"HX-Request": "true"})
    assert response.text.lstrip().startswith('<div id="audit-results"')
    assert "HX-Request" in response.headers["Vary"]
    assert client.get("/coordinator/audit?start=not-a-date").status_code == 422


@pytest.mark.parametrize("table", ["month", "venue", "category", "region", "cards"])
def test_csv_of_each_table_has_a_total_row(client, visits, table):
    client.sign_in(OWN)
    response = client.get(f"/coordinator/stats.csv?start=2024-01-01&end=2024-12-31&table={table}")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) >= 2 and len({len(row) for row in rows}) == 1
    assert rows[-1][0] in ("Yhteensä", "Total")
    assert f"-{table}.csv" in response.headers["Content-Disposition"]


def test_csv_of_an_unknown_table_is_not_found(client, ids):
    client.sign_in(OWN)
    assert client.get("/coordinator/stats.csv?table=people").status_code == 404


# --- languages and readable names ----------------------------------------------------------


def test_swedish_pages_and_exports_name_the_regions_in_swedish(client, visits, ids):
    client.sign_in(ADMIN)
    client.get("/language/sv?next=/")
    assert "Norra Savolax" in client.get("/coordinator/regions").text
    assert "Kajanaland" in client.get("/coordinator/venues").text
    page = client.get("/coordinator/stats?start=2024-01-01&end=2024-12-31&region=0").text
    assert "Norra Savolax" in page and "Kajanaland" in page and "Pohjois-Savo" not in page
    url = "/coordinator/stats.csv?start=2024-01-01&end=2024-12-31&region=0&table=venue"
    rows = list(csv.reader(io.StringIO(client.get(url).data.decode("utf-8-sig")), delimiter=";"))
    assert ["Pyhäjärven Öljymuseo", "Norra Savolax", "2", "2", "3", "1"] in rows
    assert ["Kajaanin kaupunginteatteri", "Kajanaland", "1", "1", "0", "2"] in rows
    workbook = load_workbook(io.BytesIO(client.get(url.replace(".csv", ".xlsx")).data))
    regions = [row[0] for row in workbook.worksheets[3].iter_rows(values_only=True)]
    assert "Kajanaland" in regions and "kainuu" not in regions
    client.get("/language/fi?next=/")
    assert "Kainuu" in client.get("/coordinator/venues").text


def test_the_admin_sets_a_regions_swedish_name(client, ids):
    client.sign_in(ADMIN)
    response = client.post(
        "/coordinator/regions/new",
        data={"code": "satakunta", "name": "Satakunta", "name_sv": "Satakunda"},
    )
    assert response.status_code == 303
    region = one(Region, code="satakunta")
    assert (region.name, region.name_sv) == ("Satakunta", "Satakunda")
    client.post(f"/coordinator/regions/{region.id}", data={"name": "Satakunta", "name_sv": " "})
    db.session.refresh(region)
    assert region.name_sv is None  # empty: the Finnish name is shown in Swedish too
    client.get("/language/sv?next=/")
    assert "Satakunta" in client.get("/coordinator/regions").text


def test_audit_log_speaks_finnish_and_shows_no_internal_ids(client, ids, demo_cards):
    card = one(Card, number=demo_cards["active"])
    cards.reissue_card(card, actor=one(User, email=OWN))
    db.session.commit()
    client.sign_in(OWN)
    assert client.post(f"/coordinator/people/{ids['ovi']}/deactivate").status_code == 303
    event = {"venue": ids["teatteri"], "name": "Ensi-ilta", "starts_on": "2025-01-10"}
    assert client.post(f"/coordinator/events/{ids['event']}", data=event).status_code == 303
    page = client.get("/coordinator/audit").text
    body = page[page.index("<tbody>") : page.index("</tbody>")]
    assert format_number(card.number) in body and "Kortti" in body
    assert "<td>ovi@example.fi</td>" in body  # the person, not "user 3"
    assert "Ensi-ilta, Kuopion kaupunginteatteri" in body  # the event by its name
    assert "Kaikukortti-paikat: 5" in body and "Voimassa asti" in body  # translated names
    for internal in (f"user {ids['ovi']}", "card ", "event ", "generation", "key_id", "quota"):
        assert internal not in body, internal
    text = re.sub(r"<[^>]+>", " ", body)  # what people read
    assert not re.search(r"\d{4}-\d\d-\d\d", text)  # no ISO dates or timestamps
    assert re.search(r"<time [^>]*>\d{1,2}\.\d{1,2}\.\d{4}", body)  # a Finnish date


def test_a_persons_organisations_are_offered_as_venues_and_distributors(client, ids):
    client.sign_in(OWN)
    page = client.get("/coordinator/people/new").text
    venues = page.index('id="organisations-venue"')
    distributors = page.index('id="organisations-distributor"')
    theatre = page.index("Kuopion kaupunginteatteri (Pohjois-Savo)")
    social = page.index("Kuopion sosiaalipalvelut (Pohjois-Savo)")
    assert venues < theatre and distributors < social
    assert (theatre < distributors) == (venues < distributors)  # each under its own heading


def test_invitation_link_has_a_copy_button_and_no_inline_script(client, ids):
    client.sign_in(OWN)
    page = client.post(
        "/coordinator/people/new",
        data={
            "email": "uusi@example.fi",
            "role": "venue",
            "region": ids["savo"],
            "organisations": ids["teatteri"],
        },
    ).text
    assert re.search(r'<input id="invite-link"[^>]*readonly value="http[^"]+/', page)
    assert 'data-copy-target="invite-link"' in page and "Kopioi linkki" in page
    assert re.search(r"<script(?![^>]*\ssrc=)[^>]*>", page) is None  # the CSP allows no inline


@pytest.mark.parametrize(
    ("code", "name"), [("fi", "Kaikukortti – ovi"), ("sv", "Kaikukortti – dörren")]
)
def test_scanner_manifest_speaks_the_users_language(client, code, name):
    client.get(f"/language/{code}?next=/")
    link = re.search(r'<link rel="manifest" href="([^"]+)"', client.get("/").text).group(1)
    response = client.get(link)
    assert response.mimetype == "application/manifest+json"
    manifest = response.get_json(force=True)
    assert (manifest["lang"], manifest["name"]) == (code, name)
    assert manifest["start_url"] == "/scan" and manifest["icons"]


def test_manifest_of_an_unknown_language_is_in_the_users_language(client):
    client.get("/language/sv?next=/")
    manifest = client.get("/manifest.webmanifest?lang=<x>").get_json(force=True)
    assert manifest["lang"] == "sv" and manifest["name"] == "Kaikukortti – dörren"
