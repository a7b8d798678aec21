"""The JSON API, row by row of the contract's table, on the demo data.

Every answer goes through :class:`SpecCheckingClient`, which also checks it against the
OpenAPI document the app serves (status documented, body shape, error code listed).
"""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from webapp import cardnumbers, tokens
from webapp.extensions import db
from webapp.models import ApiToken, Card, Organisation, Region, Role, User, Visit
from webapp.rules import WarningCode
from webapp.services import accounts, cards, door

from ..factories import create_distributor, create_user, create_visit, finnish_days_later
from ..statements import statements
from .openapi_check import CARD_FIELDS, SpecCheckingClient

DISTRIBUTOR = "jakaja@example.fi"
LAPPI_DISTRIBUTOR = "jakaja.lappi@example.fi"
COORDINATOR = "koordinaattori@example.fi"
VENUE = "ovi@example.fi"
COURSES = "opisto@example.fi"
KAJAANI = "kajaani@example.fi"

NEW_CARD = {"birth_year": 1980, "postcode": "70100", "children": 2}


@pytest.fixture
def spec(client):
    return client.get("/api/v1/openapi.json").get_json()


@pytest.fixture
def api(client, spec, demo_cards):
    """Return a spec-checking API client acting as the demo user with that email."""

    def as_user(email: str | None = None) -> SpecCheckingClient:
        token = None
        if email is not None:
            token = accounts.create_api_token(user(email))
            db.session.commit()
        return SpecCheckingClient(client, spec, token)

    return as_user


def user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def organisation(name: str) -> Organisation:
    return db.session.scalar(select(Organisation).where(Organisation.name == name))


def region(code: str) -> Region:
    return db.session.scalar(select(Region).where(Region.code == code))


def card(number: str) -> Card:
    return db.session.scalar(select(Card).where(Card.number == number))


def token_of(number: str) -> str:
    return cards.printed_token(card(number))


def visit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Visit))


def today() -> date:
    return cards.today_in_finland()


def kainuu_coordinator() -> str:
    create_user("koordinaattori.kainuu@example.fi", Role.COORDINATOR, region=region("kainuu"))
    db.session.commit()
    return "koordinaattori.kainuu@example.fi"


def admin() -> str:
    create_user("admin@example.fi", Role.ADMIN)
    db.session.commit()
    return "admin@example.fi"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == code
    assert set(body) <= {"error", "message", "fields"}
    assert isinstance(body["message"], str) and body["message"].strip()
    return body


class TestAuthentication:
    def test_no_token_is_401(self, api):
        response = api().post("/api/v1/cards", json=NEW_CARD)
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")

    @pytest.mark.parametrize(
        "header",
        ["Bearer kk_wrong", "Bearer ", "Basic a2s6a2s=", "kk_token", "Bearer " + "x" * 500],
    )
    def test_bad_token_is_401(self, api, header):
        response = api().get(
            "/api/v1/stats?from=2025-01-01&to=2025-01-31", headers={"Authorization": header}
        )
        assert_error(response, 401, "unauthorized")

    def test_revoked_token_is_401(self, api):
        client = api(COORDINATOR)
        db.session.execute(ApiToken.__table__.update().values(revoked_at=datetime.now(UTC)))
        db.session.commit()
        assert_error(client.get(f"/api/v1/cards/{'X' * 9}"), 401, "unauthorized")

    def test_token_of_a_deactivated_user_is_401(self, api):
        client = api(DISTRIBUTOR)
        user(DISTRIBUTOR).active = False
        db.session.commit()
        assert_error(client.post("/api/v1/cards", json=NEW_CARD), 401, "unauthorized")

    def test_session_cookie_is_not_accepted(self, api, client):
        assert client.sign_in(DISTRIBUTOR).status_code == 302
        assert_error(api().post("/api/v1/cards", json=NEW_CARD), 401, "unauthorized")

    def test_no_csrf_token_needed_with_a_bearer_token(self, api, client):
        client.auto_csrf = False  # sends no X-CSRFToken at all, like a box-office system
        assert api(DISTRIBUTOR).post("/api/v1/cards", json=NEW_CARD).status_code == 201

    def test_authentication_comes_before_validation(self, api):
        assert_error(api().post("/api/v1/cards", data="{"), 401, "unauthorized")
        assert_error(api(VENUE).post("/api/v1/cards", json=[]), 403, "forbidden")


class TestCreateCard:
    def test_201_with_the_card_object(self, api):
        response = api(DISTRIBUTOR).post("/api/v1/cards", json=NEW_CARD)
        assert response.status_code == 201
        body = response.get_json()
        assert set(body) == CARD_FIELDS
        assert body["status"] == "active"
        assert body["region"] == "pohjois-savo"
        assert body["valid_from"] == today().isoformat()
        assert body["valid_until"] == cards.one_year_after(today()).isoformat()
        assert (body["birth_year"], body["postcode"], body["children"]) == (1980, "70100", 2)
        assert cardnumbers.is_valid(body["number"])
        assert body["token"] == token_of(body["number"])
        assert body["digital_card_url"].startswith("http://localhost/")
        assert card(body["number"]).digital_key in body["digital_card_url"]

    def test_digital_card_url_opens_the_digital_card_without_an_account(self, api, client):
        url = api(DISTRIBUTOR).post("/api/v1/cards", json=NEW_CARD).get_json()["digital_card_url"]
        page = client.get(url)
        assert page.status_code == 200 and page.mimetype == "text/html"

    def test_new_card_verifies_at_the_door(self, api):
        body = api(DISTRIBUTOR).post("/api/v1/cards", json=NEW_CARD).get_json()
        verdict = api(VENUE).post("/api/v1/verify", json={"token": body["token"]}).get_json()
        assert verdict["reason"] == "ok" and verdict["card"]["number"] == body["number"]

    def test_region_and_valid_until_can_be_given(self, api):
        until = (today() + timedelta(days=30)).isoformat()
        response = api(DISTRIBUTOR).post(
            "/api/v1/cards", json={**NEW_CARD, "region": "kainuu", "valid_until": until}
        )
        assert response.status_code == 201
        assert (response.get_json()["region"], response.get_json()["valid_until"]) == (
            "kainuu",
            until,
        )

    def test_holder_turning_16_this_year_is_accepted(self, api):
        body = {**NEW_CARD, "birth_year": today().year - 16}
        assert api(DISTRIBUTOR).post("/api/v1/cards", json=body).status_code == 201

    def test_holder_too_young_is_422(self, api, demo_cards):
        body = {**NEW_CARD, "birth_year": today().year - 15}
        error = assert_error(
            api(DISTRIBUTOR).post("/api/v1/cards", json=body), 422, "holder_too_young"
        )
        assert set(error["fields"]) == {"birth_year"}
        assert db.session.scalar(select(func.count()).select_from(Card)) == len(demo_cards)

    @pytest.mark.parametrize(
        ("change", "code", "field"),
        [
            ({"birth_year": 1800}, "invalid_birth_year", "birth_year"),
            ({"birth_year": 10**30}, "invalid_birth_year", "birth_year"),
            ({"postcode": "7010"}, "invalid_postcode", "postcode"),
            ({"postcode": "7010A"}, "invalid_postcode", "postcode"),
            ({"children": 21}, "invalid_children", "children"),
            ({"children": -1}, "invalid_children", "children"),
            ({"region": "atlantis"}, "invalid_region", "region"),
            ({"valid_until": "2001-01-01"}, "invalid_valid_until", "valid_until"),
            ({"valid_until": "31.12.2030"}, "validation_error", "valid_until"),
            ({"birth_year": "1980"}, "validation_error", "birth_year"),
            ({"children": 1.5}, "validation_error", "children"),
            ({"children": True}, "validation_error", "children"),
            ({"postcode": 70100}, "validation_error", "postcode"),
            ({"region": None}, "validation_error", "region"),
            ({"childern": 2}, "validation_error", "childern"),
        ],
    )
    def test_bad_input_is_422_naming_the_field(self, api, change, code, field):
        response = api(DISTRIBUTOR).post("/api/v1/cards", json={**NEW_CARD, **change})
        assert assert_error(response, 422, code)["fields"][field]

    def test_missing_fields_are_listed(self, api):
        error = assert_error(
            api(DISTRIBUTOR).post("/api/v1/cards", json={}), 422, "validation_error"
        )
        assert set(error["fields"]) == {"birth_year", "postcode", "children"}

    @pytest.mark.parametrize("body", [[], [NEW_CARD], "card", 7, None])
    def test_body_that_is_not_an_object_is_422(self, api, body):
        assert_error(api(DISTRIBUTOR).post("/api/v1/cards", json=body), 422, "validation_error")

    @pytest.mark.parametrize(
        ("data", "content_type"),
        [
            ("{", "application/json"),
            ("\xff", "application/json"),
            ("[" * 50_000, "application/json"),
            ('{"birth_year": ' + "9" * 5000 + "}", "application/json"),
            ("birth_year=1980", "application/x-www-form-urlencoded"),
        ],
    )
    def test_unparseable_body_is_400(self, api, data, content_type):
        response = api(DISTRIBUTOR).post("/api/v1/cards", data=data, content_type=content_type)
        assert_error(response, 400, "invalid_json")

    @pytest.mark.parametrize("email", [VENUE, COORDINATOR])
    def test_other_roles_are_403(self, api, email):
        assert_error(api(email).post("/api/v1/cards", json=NEW_CARD), 403, "forbidden")

    def test_user_of_several_distributors_names_the_issuer(self, api):
        other = create_distributor(region("kainuu"), name="Kajaanin sosiaalipalvelut")
        staff = user(DISTRIBUTOR)
        staff.organisations.append(other)
        db.session.commit()
        client = api(DISTRIBUTOR)
        error = assert_error(client.post("/api/v1/cards", json=NEW_CARD), 422, "issuer_required")
        assert "issuer" in error["fields"]
        response = client.post("/api/v1/cards", json={**NEW_CARD, "issuer": other.id})
        assert response.status_code == 201
        assert card(response.get_json()["number"]).issuer == other
        foreign = organisation("Rovaniemen sosiaalipalvelut").id
        response = client.post("/api/v1/cards", json={**NEW_CARD, "issuer": foreign})
        assert_error(response, 422, "not_your_organisation")


class TestGetCard:
    def test_issuing_distributor_sees_the_card_with_its_token(self, api, demo_cards):
        number = demo_cards["active"]
        body = api(DISTRIBUTOR).get(f"/api/v1/cards/{number}").get_json()
        assert set(body) == CARD_FIELDS
        assert body["token"] == token_of(number)

    def test_coordinator_of_the_region_sees_it_without_token_or_link(self, api, demo_cards):
        response = api(COORDINATOR).get(f"/api/v1/cards/{demo_cards['active']}")
        assert response.status_code == 200
        assert set(response.get_json()) == CARD_FIELDS - {"token", "digital_card_url"}

    def test_number_is_read_like_people_type_it(self, api, demo_cards):
        number = demo_cards["active"]
        typed = cardnumbers.format_number(number).lower().replace(" ", "-")
        assert api(DISTRIBUTOR).get(f"/api/v1/cards/{typed}").get_json()["number"] == number

    @pytest.mark.parametrize(
        ("state", "status"), [("active", "active"), ("expired", "expired"), ("revoked", "revoked")]
    )
    def test_status(self, api, demo_cards, state, status):
        body = api(COORDINATOR).get(f"/api/v1/cards/{demo_cards[state]}").get_json()
        assert body["status"] == status

    def test_another_organisations_card_is_404_like_a_missing_number(self, api, demo_cards):
        client = api(LAPPI_DISTRIBUTOR)
        hidden = client.get(f"/api/v1/cards/{demo_cards['active']}")
        missing = client.get(f"/api/v1/cards/{cardnumbers.new_number()}")
        assert_error(hidden, 404, "not_found")
        assert hidden.get_json() == missing.get_json()
        assert_error(client.get("/api/v1/cards/not-a-number"), 404, "not_found")

    def test_coordinator_of_another_region_gets_404(self, api, demo_cards):
        client = api(kainuu_coordinator())
        assert_error(client.get(f"/api/v1/cards/{demo_cards['active']}"), 404, "not_found")

    def test_venue_staff_are_403(self, api, demo_cards):
        assert_error(api(VENUE).get(f"/api/v1/cards/{demo_cards['active']}"), 403, "forbidden")

    def test_no_token_is_401(self, api, demo_cards):
        assert_error(api().get(f"/api/v1/cards/{demo_cards['active']}"), 401, "unauthorized")


class TestUpdateCard:
    def test_coordinator_extends_the_validity(self, api, demo_cards):
        until = (today() + timedelta(days=500)).isoformat()
        number = demo_cards["expired"]
        response = api(COORDINATOR).patch(f"/api/v1/cards/{number}", json={"valid_until": until})
        assert response.status_code == 200
        body = response.get_json()
        assert (body["valid_until"], body["status"]) == (until, "active")
        assert "token" not in body
        assert card(number).valid_until.isoformat() == until

    def test_admin_may_too(self, api, demo_cards):
        until = (today() + timedelta(days=10)).isoformat()
        response = api(admin()).patch(
            f"/api/v1/cards/{demo_cards['lappi']}", json={"valid_until": until}
        )
        assert response.status_code == 200

    def test_date_before_the_first_day_is_422(self, api, demo_cards):
        number = demo_cards["active"]
        before = (card(number).valid_from - timedelta(days=1)).isoformat()
        response = api(COORDINATOR).patch(f"/api/v1/cards/{number}", json={"valid_until": before})
        assert assert_error(response, 422, "invalid_valid_until")["fields"]["valid_until"]

    @pytest.mark.parametrize("body", [{}, {"valid_until": "tomorrow"}, {"valid_until": 20301231}])
    def test_bad_input_is_422(self, api, demo_cards, body):
        response = api(COORDINATOR).patch(f"/api/v1/cards/{demo_cards['active']}", json=body)
        assert "valid_until" in assert_error(response, 422, "validation_error")["fields"]

    @pytest.mark.parametrize("email", [DISTRIBUTOR, VENUE])
    def test_other_roles_are_403(self, api, demo_cards, email):
        response = api(email).patch(
            f"/api/v1/cards/{demo_cards['active']}", json={"valid_until": "2030-01-01"}
        )
        assert_error(response, 403, "forbidden")

    def test_coordinator_of_another_region_gets_404(self, api, demo_cards):
        response = api(kainuu_coordinator()).patch(
            f"/api/v1/cards/{demo_cards['active']}", json={"valid_until": "2030-01-01"}
        )
        assert_error(response, 404, "not_found")

    def test_no_token_is_401(self, api, demo_cards):
        response = api().patch(f"/api/v1/cards/{demo_cards['active']}", json={})
        assert_error(response, 401, "unauthorized")


class TestRevokeCard:
    @pytest.mark.parametrize("email", [DISTRIBUTOR, COORDINATOR])
    def test_issuer_or_coordinator_revokes(self, api, demo_cards, email):
        number = demo_cards["active"]
        token = token_of(number)
        response = api(email).post(f"/api/v1/cards/{number}/revoke", json={"reason": "lost"})
        assert response.status_code == 200
        assert response.get_json()["status"] == "revoked"
        assert card(number).revoke_reason == "lost"
        verdict = api(VENUE).post("/api/v1/verify", json={"token": token}).get_json()
        assert verdict["reason"] == "revoked"

    def test_revoking_again_changes_nothing(self, api, demo_cards):
        number = demo_cards["revoked"]
        response = api(DISTRIBUTOR).post(f"/api/v1/cards/{number}/revoke", json={"reason": "other"})
        assert response.status_code == 200 and card(number).revoke_reason == "lost"

    @pytest.mark.parametrize("body", [{}, {"reason": "stolen"}, {"reason": ["lost"]}])
    def test_bad_reason_is_422(self, api, demo_cards, body):
        response = api(DISTRIBUTOR).post(f"/api/v1/cards/{demo_cards['active']}/revoke", json=body)
        assert "reason" in assert_error(response, 422, "validation_error")["fields"]
        assert not card(demo_cards["active"]).revoked

    def test_venue_staff_are_403(self, api, demo_cards):
        response = api(VENUE).post(
            f"/api/v1/cards/{demo_cards['active']}/revoke", json={"reason": "lost"}
        )
        assert_error(response, 403, "forbidden")

    def test_another_distributor_gets_404(self, api, demo_cards):
        response = api(LAPPI_DISTRIBUTOR).post(
            f"/api/v1/cards/{demo_cards['active']}/revoke", json={"reason": "misuse"}
        )
        assert_error(response, 404, "not_found")
        assert not card(demo_cards["active"]).revoked

    def test_no_token_is_401(self, api, demo_cards):
        response = api().post(f"/api/v1/cards/{demo_cards['active']}/revoke", json={})
        assert_error(response, 401, "unauthorized")


class TestReissueCard:
    def test_same_number_new_token_old_token_replaced(self, api, demo_cards):
        number = demo_cards["active"]
        old_token = token_of(number)
        response = api(DISTRIBUTOR).post(f"/api/v1/cards/{number}/reissue")
        assert response.status_code == 201
        body = response.get_json()
        assert body["number"] == number and body["token"] != old_token
        door_client = api(VENUE)
        old = door_client.post("/api/v1/verify", json={"token": old_token}).get_json()
        new = door_client.post("/api/v1/verify", json={"token": body["token"]}).get_json()
        assert (old["reason"], new["reason"]) == ("replaced", "ok")

    def test_revoked_card_is_422(self, api, demo_cards):
        response = api(DISTRIBUTOR).post(f"/api/v1/cards/{demo_cards['revoked']}/reissue")
        assert_error(response, 422, "revoked")

    @pytest.mark.parametrize("email", [COORDINATOR, VENUE])
    def test_other_roles_are_403(self, api, demo_cards, email):
        response = api(email).post(f"/api/v1/cards/{demo_cards['active']}/reissue")
        assert_error(response, 403, "forbidden")

    def test_another_distributor_gets_404(self, api, demo_cards):
        response = api(LAPPI_DISTRIBUTOR).post(f"/api/v1/cards/{demo_cards['active']}/reissue")
        assert_error(response, 404, "not_found")

    def test_no_token_is_401(self, api, demo_cards):
        response = api().post(f"/api/v1/cards/{demo_cards['active']}/reissue")
        assert_error(response, 401, "unauthorized")


class TestCardPdf:
    def test_issuing_distributor_gets_a_pdf(self, api, demo_cards):
        response = api(DISTRIBUTOR).get(f"/api/v1/cards/{demo_cards['active']}/card.pdf")
        assert response.status_code == 200
        assert response.mimetype == "application/pdf"
        assert response.data.startswith(b"%PDF-")

    def test_revoked_card_is_422(self, api, demo_cards):
        response = api(DISTRIBUTOR).get(f"/api/v1/cards/{demo_cards['revoked']}/card.pdf")
        assert_error(response, 422, "revoked")

    @pytest.mark.parametrize("email", [COORDINATOR, VENUE])
    def test_other_roles_are_403(self, api, demo_cards, email):
        response = api(email).get(f"/api/v1/cards/{demo_cards['active']}/card.pdf")
        assert_error(response, 403, "forbidden")

    def test_another_distributor_gets_404(self, api, demo_cards):
        response = api(LAPPI_DISTRIBUTOR).get(f"/api/v1/cards/{demo_cards['active']}/card.pdf")
        assert_error(response, 404, "not_found")

    def test_no_token_is_401(self, api, demo_cards):
        response = api().get(f"/api/v1/cards/{demo_cards['active']}/card.pdf")
        assert_error(response, 401, "unauthorized")


class TestVerify:
    def test_valid_card(self, api, demo_cards):
        number = demo_cards["active"]
        response = api(VENUE).post("/api/v1/verify", json={"token": token_of(number)})
        assert response.status_code == 200
        assert response.get_json() == {
            "valid": True,
            "reason": "ok",
            "message": "Kaikukortti on voimassa tässä kohteessa.",
            "card": {
                "number": number,
                "kind": "personal",
                "valid_until": card(number).valid_until.isoformat(),
                "region": "pohjois-savo",
                "children": 2,
            },
            "children_allowed": True,
            "max_children": 2,
            "warnings": [],
        }

    @pytest.mark.parametrize(
        ("state", "reason"),
        [("expired", "expired"), ("revoked", "revoked"), ("lappi", "region_not_accepted")],
    )
    def test_refused_cards_say_why(self, api, demo_cards, state, reason):
        response = api(VENUE).post("/api/v1/verify", json={"token": token_of(demo_cards[state])})
        body = response.get_json()
        assert response.status_code == 200
        assert (body["valid"], body["reason"], body["children_allowed"]) == (False, reason, False)
        assert body["card"]["number"] == demo_cards[state]

    def test_work_after_a_door_check_still_rolls_back(self, api, demo_cards, app):
        # the check runs in autocommit; a later request on its pooled connection must not
        for _ in range(3):  # whichever pooled connection served it
            api(VENUE).post("/api/v1/verify", json={"token": token_of(demo_cards["active"])})
        with app.app_context():
            for attempt in range(3):
                db.session.add(Region(code=f"kesken-{attempt}", name="Kesken"))
                db.session.flush()
                db.session.rollback()
                db.session.remove()
        assert db.session.scalar(select(func.count()).where(Region.name == "Kesken")) == 0

    def test_older_generation_is_replaced(self, api, demo_cards, app):
        old = tokens.sign_card(demo_cards["replaced"], 1, app.config["CARD_SIGNING_KEYS"])
        body = api(VENUE).post("/api/v1/verify", json={"token": old}).get_json()
        assert body["reason"] == "replaced"
        current = api(VENUE).post(
            "/api/v1/verify", json={"token": token_of(demo_cards["replaced"])}
        )
        assert current.get_json()["reason"] == "ok"

    def test_typed_printed_number_and_an_older_generations(self, api, demo_cards):
        card = db.session.scalar(select(Card).where(Card.number == demo_cards["replaced"]))
        door_client = api(VENUE)
        old = cardnumbers.printed_number(card.number, card.generation - 1)
        for typed in (old, old.lower(), card.number):  # the bare number is generation 1
            body = door_client.post("/api/v1/verify", json={"number": typed}).get_json()
            assert (body["valid"], body["reason"]) == (False, "replaced")
        typed = "-".join(cardnumbers.format_number(card.printed_number).lower().split())
        body = door_client.post("/api/v1/verify", json={"number": typed}).get_json()
        assert (body["valid"], body["reason"]) == (True, "ok")
        assert body["warnings"] == ["check_card"]  # typed: the staff looks at the card
        assert "näytetyssä kortissa on tämä numero" in body["message"]  # the same words
        refused = door_client.post("/api/v1/visits", json={"number": old, "children": 0})
        assert (refused.status_code, refused.get_json()["error"]) == (422, "replaced")
        visit = door_client.post("/api/v1/visits", json={"number": typed, "children": 0})
        assert visit.status_code == 201 and visit.get_json()["card_number"] == card.number

    @pytest.mark.parametrize(
        "body", [{}, {"token": "x", "number": "K7MX4PQ2D"}, {"token": None, "number": None}]
    )
    def test_exactly_one_of_token_and_number(self, api, body):
        response = api(VENUE).post("/api/v1/verify", json=body)
        assert response.status_code == 422
        answer = response.get_json()
        assert answer["error"] == "validation_error"
        assert set(answer["fields"]) == {"token", "number"}
        if None not in body.values():
            assert "joko" in answer["fields"]["token"]  # Finnish, the default

    def test_reissue_changes_the_printed_number(self, api, demo_cards):
        before = api(DISTRIBUTOR).get(f"/api/v1/cards/{demo_cards['active']}").get_json()
        assert before["printed_number"] == before["number"]  # generation 1
        after = api(DISTRIBUTOR).post(f"/api/v1/cards/{demo_cards['active']}/reissue")
        body = after.get_json()
        assert body["number"] == before["number"]
        assert body["printed_number"] != before["printed_number"]
        assert cardnumbers.parse_printed(body["printed_number"])[:2] == (body["number"], 2)

    def test_a_lost_reissued_cards_number_stops_and_the_next_cannot_be_made(self, api, app):
        number = api(DISTRIBUTOR).post("/api/v1/cards", json=NEW_CARD).get_json()["number"]
        reissue = f"/api/v1/cards/{number}/reissue"
        lost = api(DISTRIBUTOR).post(reissue).get_json()["printed_number"]  # generation 2
        current = api(DISTRIBUTOR).post(reissue).get_json()["printed_number"]  # generation 3
        door_client = api(VENUE)

        def reason(typed: str) -> str:
            return door_client.post("/api/v1/verify", json={"number": typed}).get_json()["reason"]

        assert reason(lost) == reason(number) == "replaced"
        assert reason(current) == "ok"
        # Before the secret, generation 3 was the data, version "4" and a check character.
        body = number[:8] + "4"
        computable = body + cardnumbers.ALPHABET[-cardnumbers._weighted_sum(body, 10) % 31]
        assert reason(computable) == "invalid_token"
        parsed = cardnumbers.parse_printed(current)
        other = "EEEEE" if parsed.secret != "EEEEE" else "FFFFF"
        assert reason(cardnumbers.printed_number(number, 3, other)) == "invalid_token"
        refused = door_client.post("/api/v1/visits", json={"number": lost, "children": 0})
        assert (refused.status_code, refused.get_json()["error"]) == (422, "replaced")

    @pytest.mark.parametrize("token", ["", "garbage", "K7MX4PQ2D.1." + "A" * 43, "x" * 10_000])
    def test_not_genuine_token_has_no_card(self, api, token):
        body = api(VENUE).post("/api/v1/verify", json={"token": token}).get_json()
        assert (body["valid"], body["reason"]) == (False, "invalid_token")
        assert "card" not in body

    def test_unknown_card_has_no_card(self, api, app):
        token = tokens.sign_card(cardnumbers.new_number(), 1, app.config["CARD_SIGNING_KEYS"])
        body = api(VENUE).post("/api/v1/verify", json={"token": token}).get_json()
        assert body["reason"] == "unknown_card" and "card" not in body

    def test_expired_digital_code(self, api, demo_cards, app):
        token = tokens.sign_digital(demo_cards["active"], 1, app.config["CARD_SIGNING_KEYS"])
        app.config["DIGITAL_TOKEN_MAX_AGE"], max_age = -1, app.config["DIGITAL_TOKEN_MAX_AGE"]
        try:
            body = api(VENUE).post("/api/v1/verify", json={"token": token}).get_json()
        finally:
            app.config["DIGITAL_TOKEN_MAX_AGE"] = max_age
        assert body["reason"] == "token_expired" and "card" not in body

    def test_course_provider_takes_no_children(self, api, demo_cards):
        body = (
            api(COURSES)
            .post("/api/v1/verify", json={"token": token_of(demo_cards["active"])})
            .get_json()
        )
        assert (body["reason"], body["max_children"], body["children_allowed"]) == ("ok", 0, False)

    def test_course_provider_takes_home_region_cards_only(self, api):
        issued = api(DISTRIBUTOR).post("/api/v1/cards", json={**NEW_CARD, "region": "kainuu"})
        token = issued.get_json()["token"]
        body = api(COURSES).post("/api/v1/verify", json={"token": token}).get_json()
        assert body["reason"] == "home_region_only"

    def test_second_visit_today_warns(self, api, demo_cards):
        client = api(VENUE)
        token = token_of(demo_cards["active"])
        client.post("/api/v1/visits", json={"token": token, "children": 0})
        body = client.post("/api/v1/verify", json={"token": token}).get_json()
        assert (body["valid"], body["warnings"]) == (True, ["visited_today"])

    def test_verifying_records_nothing(self, api, demo_cards):
        api(VENUE).post("/api/v1/verify", json={"token": token_of(demo_cards["active"])})
        assert visit_count() == 0

    def test_user_of_several_venues_names_the_venue(self, api, demo_cards):
        courses = organisation("Kuopion kansalaisopisto")
        staff = user(VENUE)
        staff.organisations.append(courses)
        db.session.commit()
        client = api(VENUE)
        token = token_of(demo_cards["active"])
        error = assert_error(
            client.post("/api/v1/verify", json={"token": token}), 422, "venue_required"
        )
        assert "venue" in error["fields"]
        body = client.post("/api/v1/verify", json={"token": token, "venue": courses.id}).get_json()
        assert body["max_children"] == 0  # answered for the course provider
        kajaani = organisation("Kajaanin kaupunginteatteri").id
        response = client.post("/api/v1/verify", json={"token": token, "venue": kajaani})
        assert assert_error(response, 422, "not_your_venue")["fields"]["venue"]

    def test_venue_not_theirs_is_422_even_for_one_venue(self, api, demo_cards):
        kajaani = organisation("Kajaanin kaupunginteatteri").id
        response = api(VENUE).post(
            "/api/v1/verify", json={"token": token_of(demo_cards["active"]), "venue": kajaani}
        )
        assert_error(response, 422, "not_your_venue")

    def test_staff_of_no_venue_are_403(self, api, demo_cards):
        staff = user(VENUE)
        staff.organisations.clear()
        db.session.commit()
        response = api(VENUE).post("/api/v1/verify", json={"token": token_of(demo_cards["active"])})
        assert_error(response, 403, "forbidden")

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"token": None},
            {"token": 5},
            {"token": "x", "venue": "1"},
            {"token": "x", "venue": 0},
        ],
    )
    def test_bad_input_is_422(self, api, body):
        assert_error(api(VENUE).post("/api/v1/verify", json=body), 422, "validation_error")

    @pytest.mark.parametrize("email", [DISTRIBUTOR, COORDINATOR])
    def test_other_roles_are_403(self, api, demo_cards, email):
        response = api(email).post("/api/v1/verify", json={"token": token_of(demo_cards["active"])})
        assert_error(response, 403, "forbidden")

    def test_no_token_is_401(self, api):
        assert_error(api().post("/api/v1/verify", json={"token": "x"}), 401, "unauthorized")


class TestRecordVisit:
    def test_201_with_the_visit_object(self, api, demo_cards):
        number = demo_cards["active"]
        before = datetime.now(UTC)
        response = api(VENUE).post(
            "/api/v1/visits", json={"token": token_of(number), "children": 2}
        )
        assert response.status_code == 201
        body = response.get_json()
        theatre = organisation("Kuopion kaupunginteatteri")
        assert {k: v for k, v in body.items() if k not in ("id", "recorded_at")} == {
            "card_number": number,
            "venue": theatre.id,
            "children": 2,
            "adults": 1,
            "assistants": 0,
            "offline": False,
            "already_enrolled": False,
        }
        recorded_at = datetime.fromisoformat(body["recorded_at"].replace("Z", "+00:00"))
        assert recorded_at.utcoffset() == timedelta(0)
        assert before - timedelta(seconds=1) <= recorded_at <= datetime.now(UTC)
        visit = db.session.get(Visit, body["id"])
        assert (visit.card.number, visit.venue, visit.recorded_by_id) == (
            number,
            theatre,
            user(VENUE).id,
        )

    def test_an_assistant_beside_the_holder_is_recorded_and_counted(self, api, demo_cards):
        body = {"token": token_of(demo_cards["active"]), "children": 1, "assistants": 2}
        response = api(VENUE).post("/api/v1/visits", json={**body, "idempotency_key": "k"})
        assert response.status_code == 201
        visit = response.get_json()
        assert (visit["adults"], visit["children"], visit["assistants"]) == (1, 1, 2)
        assert db.session.get(Visit, visit["id"]).assistants == 2
        again = api(VENUE).post("/api/v1/visits", json={**body, "idempotency_key": "k"})
        assert (again.status_code, again.get_json()) == (200, visit)
        totals = api(COORDINATOR).get(stats_url()).get_json()["totals"]
        assert totals == {"visits": 1, "adults": 1, "children": 1, "assistants": 2}

    @pytest.mark.parametrize("assistants", [3, -1, 10**40])
    def test_assistants_beyond_two_are_refused_on_the_field(
        self, api, client, demo_cards, assistants
    ):
        client.set_cookie("lang", "en")
        body = {"token": token_of(demo_cards["active"]), "children": 0, "assistants": assistants}
        response = api(VENUE).post("/api/v1/visits", json=body)
        error = assert_error(response, 422, "invalid_assistants")
        assert error["fields"] == {
            "assistants": "Enter the assistants, guides or interpreters beside the holder as "
            "a number from 0 to 2."
        }
        assert visit_count() == 0

    @pytest.mark.parametrize("assistants", ["1", None, 1.5, True])
    def test_assistants_that_are_no_whole_number_are_a_validation_error(
        self, api, demo_cards, assistants
    ):
        body = {"token": token_of(demo_cards["active"]), "children": 0, "assistants": assistants}
        response = api(VENUE).post("/api/v1/visits", json=body)
        assert "assistants" in assert_error(response, 422, "validation_error")["fields"]
        assert visit_count() == 0

    def test_same_idempotency_key_again_is_200_and_the_same_visit(self, api, demo_cards):
        client = api(VENUE)
        body = {"token": token_of(demo_cards["active"]), "children": 1, "idempotency_key": "a-1"}
        first = client.post("/api/v1/visits", json=body)
        again = client.post("/api/v1/visits", json=body)
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.get_json() == first.get_json()
        assert visit_count() == 1
        other = client.post("/api/v1/visits", json={**body, "idempotency_key": "a-2"})
        assert other.status_code == 201 and visit_count() == 2

    def test_a_key_reused_with_another_card_is_422_and_never_that_cards_visit(
        self, api, demo_cards
    ):
        client = api(VENUE)
        body = {"token": token_of(demo_cards["active"]), "children": 1, "idempotency_key": "k"}
        assert client.post("/api/v1/visits", json=body).status_code == 201
        other = client.post(
            "/api/v1/visits", json={**body, "token": token_of(demo_cards["replaced"])}
        )
        assert_error(other, 422, "idempotency_key_reused")
        garbage = client.post("/api/v1/visits", json={**body, "token": "nonsense"})
        assert_error(garbage, 422, "invalid_token")
        assert visit_count() == 1

    def test_a_retry_after_an_undo_is_409_and_stores_nothing(self, api, demo_cards):
        client = api(VENUE)
        body = {"token": token_of(demo_cards["active"]), "children": 1, "idempotency_key": "k"}
        visit = client.post("/api/v1/visits", json=body).get_json()
        assert client.delete(f"/api/v1/visits/{visit['id']}").status_code == 204
        assert_error(client.post("/api/v1/visits", json=body), 409, "visit_undone")
        assert visit_count() == 0

    def test_without_key_every_request_records(self, api, demo_cards):
        client = api(VENUE)
        body = {"token": token_of(demo_cards["active"]), "children": 0}
        assert [client.post("/api/v1/visits", json=body).status_code for _ in "ab"] == [201, 201]
        assert visit_count() == 2

    def test_same_key_at_another_venue_is_another_visit(self, api, demo_cards):
        body = {"token": token_of(demo_cards["active"]), "children": 0, "idempotency_key": "k"}
        assert api(VENUE).post("/api/v1/visits", json=body).status_code == 201
        assert api(COURSES).post("/api/v1/visits", json=body).status_code == 201
        assert visit_count() == 2

    @pytest.mark.parametrize(
        ("state", "reason"),
        [("expired", "expired"), ("revoked", "revoked"), ("lappi", "region_not_accepted")],
    )
    def test_card_that_does_not_verify_is_422_with_the_reason(self, api, demo_cards, state, reason):
        response = api(VENUE).post(
            "/api/v1/visits", json={"token": token_of(demo_cards[state]), "children": 0}
        )
        assert_error(response, 422, reason)
        assert visit_count() == 0

    def test_invalid_token_is_422(self, api):
        response = api(VENUE).post("/api/v1/visits", json={"token": "nonsense", "children": 0})
        assert_error(response, 422, "invalid_token")

    def test_too_many_children(self, api, demo_cards):
        response = api(VENUE).post(
            "/api/v1/visits", json={"token": token_of(demo_cards["active"]), "children": 3}
        )
        assert_error(response, 422, "too_many_children")
        assert visit_count() == 0

    def test_course_provider_refuses_children(self, api, demo_cards):
        response = api(COURSES).post(
            "/api/v1/visits", json={"token": token_of(demo_cards["active"]), "children": 1}
        )
        assert_error(response, 422, "children_not_allowed")
        ok = api(COURSES).post(
            "/api/v1/visits", json={"token": token_of(demo_cards["active"]), "children": 0}
        )
        assert ok.status_code == 201

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"children": -1}, "children"),
            ({"children": "1"}, "children"),
            ({"children": 10**40}, "children"),  # a typing error, not a count
            ({"idempotency_key": ""}, "idempotency_key"),
            ({"idempotency_key": "k" * 65}, "idempotency_key"),
            ({"idempotency_key": "a\x00b"}, "idempotency_key"),
            ({"idempotency_key": "\ud800"}, "idempotency_key"),
            ({"token": None}, "token"),
            ({"venue": -5}, "venue"),
        ],
    )
    def test_bad_input_is_422(self, api, demo_cards, change, field):
        body = {"token": token_of(demo_cards["active"]), "children": 0, **change}
        response = api(VENUE).post("/api/v1/visits", json=body)
        assert response.status_code == 422
        if field is not None:
            assert field in assert_error(response, 422, "validation_error")["fields"]
        else:
            assert_error(response, 422, "too_many_children")
        assert visit_count() == 0

    @pytest.mark.parametrize("email", [DISTRIBUTOR, COORDINATOR])
    def test_other_roles_are_403(self, api, demo_cards, email):
        response = api(email).post(
            "/api/v1/visits", json={"token": token_of(demo_cards["active"]), "children": 0}
        )
        assert_error(response, 403, "forbidden")

    def test_no_token_is_401(self, api):
        assert_error(api().post("/api/v1/visits", json={}), 401, "unauthorized")


def record(demo_cards, email=VENUE, *, minutes_ago=0) -> int:
    staff = user(email)
    visit, _ = door.record_visit(
        venue=staff.venues[0],
        user=staff,
        children=0,
        shown=door.Shown.scanned(token_of(demo_cards["active"])),
        moment=datetime.now(UTC) - timedelta(minutes=minutes_ago),
    )
    db.session.commit()
    return visit.id


class TestCommunityCards:
    """The organisation's own card: issued without a holder, its group recorded at the door."""

    def test_201_with_kind_community_and_nothing_of_a_person(self, api):
        response = api(DISTRIBUTOR).post("/api/v1/cards", json={"kind": "community", "children": 8})
        assert response.status_code == 201
        body = response.get_json()
        assert (body["kind"], body["birth_year"], body["postcode"], body["children"]) == (
            "community",
            None,
            None,
            8,
        )
        assert "token" in body and "digital_card_url" not in body  # carried printed only
        stored = card(body["number"])
        assert stored.issuer.name == "Kuopion sosiaalipalvelut"
        assert (stored.birth_year, stored.postcode) == (None, None)

    def test_a_personal_card_is_the_default_kind(self, api):
        body = api(DISTRIBUTOR).post("/api/v1/cards", json=NEW_CARD).get_json()
        assert body["kind"] == "personal" and body["birth_year"] == 1980

    @pytest.mark.parametrize("field", ["birth_year", "postcode"])
    def test_a_birth_year_or_postcode_on_a_community_card_is_422(self, api, demo_cards, field):
        body = {"kind": "community", "children": 3, field: NEW_CARD[field]}
        response = api(DISTRIBUTOR).post("/api/v1/cards", json=body)
        assert assert_error(response, 422, "not_on_community_card")["fields"][field]
        assert db.session.scalar(select(func.count()).select_from(Card)) == len(demo_cards)

    @pytest.mark.parametrize("children", [0, 16, 20])
    def test_a_community_cards_group_outside_1_to_15_is_422(self, api, children):
        body = {"kind": "community", "children": children}
        error = assert_error(
            api(DISTRIBUTOR).post("/api/v1/cards", json=body), 422, "invalid_children"
        )
        assert "15" in error["fields"]["children"]

    def test_a_personal_card_without_birth_year_and_postcode_names_both(self, api):
        response = api(DISTRIBUTOR).post("/api/v1/cards", json={"kind": "personal", "children": 1})
        assert set(assert_error(response, 422, "validation_error")["fields"]) == {
            "birth_year",
            "postcode",
        }

    def test_an_unknown_kind_is_422(self, api):
        body = {**NEW_CARD, "kind": "group"}
        assert assert_error(
            api(DISTRIBUTOR).post("/api/v1/cards", json=body), 422, "validation_error"
        )["fields"]["kind"]

    def test_the_verdict_says_community_card_with_its_group_limit(self, api, demo_cards):
        number = demo_cards["community"]
        body = api(VENUE).post("/api/v1/verify", json={"token": token_of(number)}).get_json()
        assert (body["reason"], body["card"]["kind"], body["max_children"]) == (
            "ok",
            "community",
            5,
        )
        assert (
            body["message"]
            == "Yhteisökortti: työntekijä ja enintään 5 hengen ryhmä pääsevät maksutta."
        )

    def test_a_group_within_the_limit_is_the_worker_and_the_clients(self, api, demo_cards):
        number = demo_cards["community"]
        response = api(VENUE).post(
            "/api/v1/visits", json={"token": token_of(number), "children": 5}
        )
        assert response.status_code == 201
        assert (response.get_json()["adults"], response.get_json()["children"]) == (1, 5)

    def test_a_group_above_the_limit_is_422_in_a_groups_words(self, api, demo_cards):
        number = demo_cards["community"]
        response = api(VENUE).post(
            "/api/v1/visits", json={"token": token_of(number), "children": 6}
        )
        error = assert_error(response, 422, "too_many_children")
        assert error["message"] == "Tällä yhteisökortilla ryhmästä pääsee maksutta enintään 5."
        assert visit_count() == 0

    def test_at_a_course_provider_it_admits_the_worker_only(self, api, demo_cards):
        typed = card(demo_cards["community"]).printed_number
        shown = {"token": token_of(demo_cards["community"])}  # a typed number says check_card
        body = api(COURSES).post("/api/v1/verify", json=shown).get_json()
        assert (body["reason"], body["max_children"], body["children_allowed"]) == ("ok", 0, False)
        assert "vain työntekijän" in body["message"]
        response = api(COURSES).post("/api/v1/visits", json={"number": typed, "children": 2})
        assert (
            "ryhmä ei pääse kursseille"
            in assert_error(response, 422, "children_not_allowed")["message"]
        )


class TestUndoVisit:
    def test_204_and_the_visit_is_gone(self, api, demo_cards):
        visit_id = record(demo_cards)
        response = api(VENUE).delete(f"/api/v1/visits/{visit_id}")
        assert response.status_code == 204 and response.data == b""
        assert visit_count() == 0

    def test_a_retried_delete_is_204_and_leaves_a_newer_visit_alone(self, api, demo_cards):
        client = api(VENUE)
        first = record(demo_cards)
        assert client.delete(f"/api/v1/visits/{first}").status_code == 204
        second = record(demo_cards)
        assert second != first
        assert client.delete(f"/api/v1/visits/{first}").status_code == 204
        assert db.session.scalars(select(Visit.id)).all() == [second]
        assert_error(api(KAJAANI).delete(f"/api/v1/visits/{first}"), 404, "not_found")

    def test_after_ten_minutes_is_422(self, api, demo_cards):
        visit_id = record(demo_cards, minutes_ago=11)
        assert_error(api(VENUE).delete(f"/api/v1/visits/{visit_id}"), 422, "undo_window_passed")
        assert visit_count() == 1

    def test_another_venues_visit_is_404_like_a_missing_one(self, api, demo_cards):
        visit_id = record(demo_cards)
        client = api(KAJAANI)
        hidden = client.delete(f"/api/v1/visits/{visit_id}")
        missing = client.delete(f"/api/v1/visits/{visit_id + 1000}")
        assert_error(hidden, 404, "not_found")
        assert hidden.get_json() == missing.get_json()
        assert visit_count() == 1

    @pytest.mark.parametrize("visit_id", ["0", "99999999999999999999999", "abc", "-1"])
    def test_impossible_ids_are_404(self, api, demo_cards, visit_id):
        assert_error(api(VENUE).delete(f"/api/v1/visits/{visit_id}"), 404, "not_found")

    @pytest.mark.parametrize("email", [DISTRIBUTOR, COORDINATOR])
    def test_other_roles_are_403(self, api, demo_cards, email):
        visit_id = record(demo_cards)
        assert_error(api(email).delete(f"/api/v1/visits/{visit_id}"), 403, "forbidden")
        assert visit_count() == 1

    def test_no_token_is_401(self, api, demo_cards):
        assert_error(api().delete(f"/api/v1/visits/{record(demo_cards)}"), 401, "unauthorized")


def stats_url(group: str = "month", start: date | None = None, end: date | None = None) -> str:
    start, end = start or today(), end or today()
    return f"/api/v1/stats?from={start.isoformat()}&to={end.isoformat()}&group={group}"


class TestStats:
    @pytest.fixture
    def visits(self, api, demo_cards):
        token = token_of(demo_cards["active"])
        api(VENUE).post("/api/v1/visits", json={"token": token, "children": 2, "assistants": 1})
        api(COURSES).post("/api/v1/visits", json={"token": token, "children": 0, "assistants": 2})
        api(KAJAANI).post("/api/v1/visits", json={"token": token, "children": 1})

    def test_coordinator_sees_own_region_by_month(self, api, visits):
        response = api(COORDINATOR).get(stats_url())
        assert response.status_code == 200
        key = today().strftime("%Y-%m")
        row = {"key": key, "visits": 2, "adults": 2, "children": 2, "assistants": 3}
        assert response.get_json() == {
            "rows": [row],
            "totals": {"visits": 2, "adults": 2, "children": 2, "assistants": 3},
        }

    def test_by_venue(self, api, visits):
        rows = api(COORDINATOR).get(stats_url("venue")).get_json()["rows"]
        assert [(r["key"], r["visits"], r["children"], r["assistants"]) for r in rows] == [
            ("Kuopion kansalaisopisto", 1, 0, 2),
            ("Kuopion kaupunginteatteri", 1, 2, 1),
        ]

    def test_admin_sees_every_region(self, api, visits):
        body = api(admin()).get(stats_url("region")).get_json()
        assert [(r["key"], r["visits"]) for r in body["rows"]] == [
            ("kainuu", 1),
            ("pohjois-savo", 2),
        ]
        assert body["totals"] == {"visits": 3, "adults": 3, "children": 3, "assistants": 3}

    def test_venue_and_region_rows_keep_exactly_their_fields(self, api, visits):
        venue = api(COORDINATOR).get(stats_url("venue")).get_json()["rows"][0]
        figures = {"visits", "adults", "children", "assistants"}
        assert set(venue) == {"key", "id", "region", *figures}
        assert venue["region"] == "pohjois-savo"
        region = api(admin()).get(stats_url("region")).get_json()["rows"][0]
        figures = {"visits": 1, "adults": 1, "children": 1, "assistants": 0}
        assert region == {"key": "kainuu", "name": "Kainuu", **figures}

    def test_group_defaults_to_month(self, api, visits):
        url = f"/api/v1/stats?from={today().isoformat()}&to={today().isoformat()}"
        assert api(COORDINATOR).get(url).get_json()["rows"][0]["key"] == today().strftime("%Y-%m")

    def test_end_before_start_is_422(self, api):
        url = stats_url(start=today(), end=today() - timedelta(days=1))
        assert_error(api(COORDINATOR).get(url), 422, "invalid_range")

    def test_range_over_ten_years_is_422(self, api):
        url = stats_url(start=date(2000, 1, 1), end=date(2020, 1, 1))
        assert_error(api(COORDINATOR).get(url), 422, "range_too_long")

    @pytest.mark.parametrize(
        ("query", "fields"),
        [
            ("", {"from", "to"}),
            ("from=2025-01-01&to=2025-13-01", {"to"}),
            ("from=yesterday&to=2025-01-01", {"from"}),
            ("from=9999-12-01&to=9999-12-31", {"from", "to"}),
            ("from=2025-01-01&to=2025-01-31&group=week", {"group"}),
        ],
    )
    def test_bad_query_is_422(self, api, query, fields):
        response = api(COORDINATOR).get(f"/api/v1/stats?{query}")
        assert set(assert_error(response, 422, "validation_error")["fields"]) == fields

    @pytest.mark.parametrize("email", [DISTRIBUTOR, VENUE])
    def test_other_roles_are_403(self, api, email):
        assert_error(api(email).get(stats_url()), 403, "forbidden")

    def test_no_token_is_401(self, api):
        assert_error(api().get(stats_url()), 401, "unauthorized")


class TestErrorsOutsideTheViews:
    def test_unknown_api_route_is_json_404(self, api):
        assert_error(api(VENUE).get("/api/v1/nothing-here"), 404, "not_found")
        assert_error(api().post("/api/v1/cards/"), 404, "not_found")

    def test_wrong_method_is_json_405_with_allow(self, api):
        response = api(VENUE).put("/api/v1/verify", json={})
        assert_error(response, 405, "method_not_allowed")
        assert "POST" in response.headers["Allow"]
        assert_error(api().post("/api/v1/openapi.json"), 405, "method_not_allowed")

    def test_html_pages_keep_their_error_pages(self, client, signed_in):
        missing = client.get("/no-such-page")
        assert missing.status_code == 404 and missing.mimetype == "text/html"
        staff = signed_in(VENUE)
        refused = staff.get("/distributor/")
        assert refused.status_code == 403 and refused.mimetype != "application/json"

    def test_unexpected_failure_is_json_500(self, api, app, demo_cards, monkeypatch):
        def broken(*args, **kwargs):
            raise RuntimeError("a bug")

        monkeypatch.setattr(door, "verify", broken)
        monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
        response = api(VENUE).post("/api/v1/verify", json={"token": token_of(demo_cards["active"])})
        assert_error(response, 500, "server_error")

    def test_messages_follow_the_language_choice(self, api, client):
        client.set_cookie("lang", "en")
        english = api().post("/api/v1/verify", json={}).get_json()["message"]
        assert english == "Send a valid API token in the header Authorization: Bearer <token>."


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats()
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
dates = st.dates().map(date.isoformat) | st.text(alphabet="0123456789-", max_size=12)
ids = st.integers(1, 10) | st.integers(1, 2**31 - 1)


def texts(min_size=0, max_size=80):
    """Text rich in what databases and parsers trip over: NUL, lone surrogates, non-ASCII."""
    awkward = st.sampled_from(["\x00", "\ud800", "ä", " ", "-", "7", "K"])
    return st.text(awkward, min_size=min_size, max_size=max_size) | st.text(
        min_size=min_size, max_size=max_size
    )


# Values of the right JSON type, at the edges of what is allowed: these reach the services.
TYPED = {
    "/api/v1/cards": {
        "kind": st.sampled_from(["personal", "community"]) | texts(max_size=10),
        "birth_year": st.integers(1890, 2040) | st.integers(),
        "postcode": st.text(alphabet="0123456789", min_size=4, max_size=6) | texts(max_size=8),
        "children": st.integers(-3, 25),
        "region": st.sampled_from(["kainuu", "lappi", " Kainuu "]) | texts(max_size=12),
        "valid_until": dates,
        "issuer": ids,
    },
    "/api/v1/verify": {"token": texts(), "venue": ids},
    "/api/v1/visits": {
        "token": texts(),
        "children": st.integers(0, 3) | st.integers(min_value=-1),
        "idempotency_key": texts(min_size=1, max_size=64),
        "venue": ids,
    },
}
REQUIRED = {
    "/api/v1/cards": {"children"},  # birth_year and postcode: a personal card's
    "/api/v1/verify": {"token"},
    "/api/v1/visits": {"token", "children"},
}
SENDERS = {"/api/v1/cards": DISTRIBUTOR, "/api/v1/verify": VENUE, "/api/v1/visits": VENUE}


def bodies(path: str, scanned: list[str], own: list[int]):
    """Return a strategy of request bodies: typed, loosely typed, or any JSON at all."""
    typed = dict(TYPED[path])
    if "token" in typed:
        typed["token"] = st.sampled_from(scanned) | typed["token"]
    for name in ("issuer", "venue"):
        if name in typed:
            typed[name] = st.sampled_from(own) | typed[name]
    required = {name: typed[name] for name in REQUIRED[path]}
    optional = {name: typed[name] for name in typed.keys() - REQUIRED[path]}
    loose = {name: value | json_values for name, value in typed.items()}
    typed_bodies = st.fixed_dictionaries(required, optional=optional)
    return (
        typed_bodies  # thrice: half of the bodies get past validation to the services
        | typed_bodies
        | typed_bodies
        | st.fixed_dictionaries({}, optional=loose)
        | st.dictionaries(st.text(max_size=10), json_values, max_size=4)
        | json_values
    )


class TestRandomInput:
    """Whatever a client sends, the answer is never a 500 and always the documented shape."""

    @pytest.mark.parametrize("path", sorted(TYPED))
    @settings(
        max_examples=100,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data())
    def test_random_json_bodies(self, api, demo_cards, path, data):
        client = api(SENDERS[path])
        scanned = [token_of(number) for number in demo_cards.values()]
        own = [org.id for org in user(SENDERS[path]).organisations]
        body = data.draw(bodies(path, scanned, own))
        response = client.post(path, json=body)  # checked against the document
        assert response.status_code < 500
        if response.status_code >= 400:
            assert_error(response, response.status_code, response.get_json()["error"])

    @pytest.mark.parametrize("path", sorted(TYPED))
    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
    def test_random_bytes(self, api, demo_cards, path, raw):
        response = api(SENDERS[path]).post(path, data=raw, content_type="application/json")
        assert response.status_code < 500
        if response.status_code >= 400:
            assert_error(response, response.status_code, response.get_json()["error"])


class TestDeactivatedOrganisations:
    """Only active venues and distributors act for their staff: deactivation is immediate."""

    def test_a_deactivated_venue_checks_and_records_nothing(self, api, demo_cards):
        client = api(VENUE)
        organisation("Kuopion kaupunginteatteri").active = False
        db.session.commit()
        token = token_of(demo_cards["active"])
        assert_error(client.post("/api/v1/verify", json={"token": token}), 403, "forbidden")
        visit = {"token": token, "children": 0}
        assert_error(client.post("/api/v1/visits", json=visit), 403, "forbidden")
        assert visit_count() == 0

    def test_the_deactivated_one_of_two_venues_is_not_theirs(self, api, demo_cards):
        staff = user(VENUE)
        staff.organisations.append(organisation("Kuopion kansalaisopisto"))
        organisation("Kuopion kaupunginteatteri").active = False
        db.session.commit()
        theatre = organisation("Kuopion kaupunginteatteri").id
        body = {"token": token_of(demo_cards["active"])}
        response = api(VENUE).post("/api/v1/verify", json={**body, "venue": theatre})
        assert_error(response, 422, "not_your_venue")
        response = api(VENUE).post("/api/v1/verify", json=body)  # the one left: no choice
        assert response.status_code == 200 and response.get_json()["reason"] == "ok"

    def test_a_deactivated_distributor_issues_no_cards(self, api):
        client = api(DISTRIBUTOR)
        organisation("Kuopion sosiaalipalvelut").active = False
        db.session.commit()
        assert_error(client.post("/api/v1/cards", json=NEW_CARD), 403, "forbidden")


class TestDoorQueries:
    """The door's API reads the staff with their venues and the card in one statement."""

    @pytest.mark.parametrize("shown", ["token", "number"])
    def test_a_check_sends_one_statement(self, api, demo_cards, shown):
        active = card(demo_cards["active"])
        client = api(VENUE)
        body = {"token": token_of(active.number)}
        if shown == "number":
            body = {"number": active.printed_number}
        client.post("/api/v1/verify", json=body)  # warm the caches, like a busy door
        with statements() as sent:
            response = client.post("/api/v1/verify", json=body)
        assert response.get_json()["reason"] == "ok"
        assert len(sent) == 1, "\n".join(sent)

    def test_a_check_the_next_day_reads_the_card_again(self, app, demo_cards):
        """What was read ahead is used only for its own day (a check across midnight)."""
        staff = user(VENUE)
        active = card(demo_cards["active"])
        create_visit(active, staff.venues[0])
        token = accounts.create_api_token(staff)
        db.session.commit()
        shown = door.Shown.scanned(token_of(active.number))
        ahead = accounts.staff_for_api_token(token, shown)
        venue = ahead.venues[0]
        read = {"read_ahead": ahead.read_ahead, "moment": datetime.now(UTC)}
        with statements() as sent:
            assert door.verify(shown, venue, **read).warnings == (WarningCode.VISITED_TODAY,)
        assert sent == []
        read["moment"] = finnish_days_later(read["moment"], 1)
        with statements() as sent:
            assert door.verify(shown, venue, **read).warnings == ()
        assert len(sent) == 1

    def test_a_visit_sends_no_more_than_the_check_and_its_writes(self, api, demo_cards):
        client = api(VENUE)
        token = token_of(demo_cards["active"])
        first = {"token": token, "children": 0, "idempotency_key": "first"}
        client.post("/api/v1/visits", json=first)  # the first use
        with statements() as sent:
            body = {"token": token, "children": 1, "idempotency_key": "second"}
            response = client.post("/api/v1/visits", json=body)
        assert response.status_code == 201
        # staff, card (with the key's holder), the insert, the day's rollup row (unless the
        # key was undone meanwhile), the card's first use (not moved)
        assert len(sent) <= 5, "\n".join(sent)
