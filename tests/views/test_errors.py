"""One error vocabulary: every refusal has one code and one text, wherever it is shown."""

from datetime import date

import pytest

from webapp import errors, tokens
from webapp.errors import DOOR_WORDS, MESSAGES, DomainError, ErrorCode
from webapp.rules import Reason
from webapp.services import accounts, cards, door, network, stats
from webapp.views.apikit import ApiError

from .test_api import user
from .test_distributor import in_english, register_data, with_form_defaults

COORDINATOR = "koordinaattori@example.fi"
DISTRIBUTOR = "jakaja@example.fi"


def bearer(email: str) -> dict:
    token = accounts.create_api_token(user(email))
    errors.db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_every_code_has_a_text():
    assert [code for code in ErrorCode if code not in MESSAGES and code not in DOOR_WORDS] == []
    assert [reason for reason in Reason if reason not in DOOR_WORDS] == []


@pytest.mark.parametrize(
    "error_class",
    [cards.CardError, door.DoorError, network.NetworkError, stats.StatsError, tokens.TokenError],
)
def test_every_service_refusal_is_a_domain_error(error_class):
    assert issubclass(error_class, DomainError)
    assert issubclass(ApiError, DomainError)


def test_a_code_outside_the_vocabulary_is_refused():
    with pytest.raises(ValueError):
        cards.CardError("holder_too_old")
    assert cards.CardError("holder_too_young").code is ErrorCode.HOLDER_TOO_YOUNG


def test_range_too_long_reads_the_same_in_the_api_and_on_the_page(client, signed_in):
    in_english(client)
    api = client.get(
        "/api/v1/stats?from=2000-01-01&to=2020-01-01", headers=bearer(COORDINATOR)
    ).get_json()
    assert api["error"] == "range_too_long"
    assert api["message"] == "Choose a period of at most 10 years."
    page = signed_in(COORDINATOR)
    in_english(page)
    text = page.get("/coordinator/stats?start=2000-01-01&end=2020-01-01").text
    assert api["message"] in text


def test_holder_too_young_reads_the_same_on_the_form_and_in_the_api(client, signed_in):
    young = cards.today_in_finland().year - 15
    in_english(client)
    api = client.post(
        "/api/v1/cards",
        json={"birth_year": young, "postcode": "70100", "children": 0},
        headers=bearer(DISTRIBUTOR),
    ).get_json()
    assert api["error"] == "holder_too_young"
    assert api["message"] == api["fields"]["birth_year"]
    assert api["message"] == "The cardholder must turn 16 this year or be older."
    desk = signed_in(DISTRIBUTOR)
    in_english(desk)
    data = with_form_defaults(desk, register_data(birth_year=str(young)))
    assert api["message"] in desk.post("/distributor/cards/new", data=data).text


def test_the_form_refuses_what_the_service_refuses(signed_in):
    """The desk's form holds no rule of its own: its limits are the card service's."""
    desk = signed_in(DISTRIBUTOR)
    in_english(desk)
    for field, value in (("children", "21"), ("postcode", "7010"), ("birth_year", "1899")):
        data = with_form_defaults(desk, register_data(**{field: value}))
        answer = desk.post(f"/distributor/cards/new/check/{field}", data=data).text
        assert "has-error" in answer, field
    ok = with_form_defaults(desk, register_data(children=str(cards.MAX_CHILDREN)))
    assert "has-error" not in desk.post("/distributor/cards/new/check/children", data=ok).text


def test_the_scanners_json_errors_speak_words_not_codes(client):
    client.set_cookie("lang", "fi")
    response = client.get("/scan/offline-list")
    assert response.status_code == 401
    assert response.json["error"] == "unauthorized"
    assert response.json["message"] != "unauthorized" and " " in response.json["message"]


def test_unknown_addresses_answer_json_under_the_api_and_a_page_elsewhere(client):
    api = client.get("/api/v1/nothing-here")
    assert api.status_code == 404 and api.json["error"] == "not_found"
    page = client.get("/nothing-here")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "Sivua ei löytynyt." in page.text


def test_a_stats_refusal_names_its_limit():
    with pytest.raises(stats.StatsError) as excinfo:
        stats.visit_stats(date(2000, 1, 1), date(2020, 1, 1), "month", None)
    assert excinfo.value.code is ErrorCode.RANGE_TOO_LONG
    assert excinfo.value.values == {"years": stats.MAX_YEARS}


def test_no_code_is_both_a_door_reason_and_another_refusal():
    """A bare code names one refusal, so its text is never the other's (unlike quota_full,
    which is a reason and a warning, and keeps two sets of words)."""
    assert {str(code) for code in ErrorCode} & {str(reason) for reason in Reason} == set()
