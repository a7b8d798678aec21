"""The door's check with the card read beside its staff (one statement) against its own
card read: the same answer in every case a doorkeeper meets, and the token's checks first.

The equivalence tests run every request twice: as the API answers (the card read ahead),
then with :func:`accounts.staff_for_api_token` reading the staff alone, so that the check
reads the card itself as it did before the read-ahead.
"""

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from webapp import cardnumbers
from webapp.extensions import db
from webapp.models import ApiToken, NetworkMembership, Role
from webapp.rules import helsinki_date
from webapp.services import accounts, cards
from webapp.views import api as api_module

from ..factories import create_card, create_region, create_user, create_venue, create_visit
from ..statements import statements
from .test_api import (
    DISTRIBUTOR,
    VENUE,
    api,
    assert_error,
    card,
    organisation,
    region,
    spec,
    token_of,
)
from .test_api import user as user_of

__all__ = ["api", "spec"]  # the fixtures, used by name


def _legacy(issuer, legacy_id: str, **fields):
    imported = create_card(issuer, **fields)
    imported.legacy_id = legacy_id
    return imported


@pytest.fixture
def far_staff(demo_cards):
    """The theatre's doorkeeper, also at Kajaani (another region, two network periods), at a
    venue of a region never in the network, at a home-region-only venue and at a closed one;
    imported cards of three regions, one reissued; a card of a region never in the network."""
    staff = user_of(VENUE)
    theatre = organisation("Kuopion kaupunginteatteri")
    kajaani = organisation("Kajaanin kaupunginteatteri")
    outside = create_region("uusimaa", member_since=None)
    hall = create_venue(outside, "Helsingin sali", home_region_only=True)
    closed = create_venue(theatre.region, "Suljettu sali", active=False)
    school = organisation("Kuopion kansalaisopisto")  # home region only (no event: no course)
    staff.organisations.extend([kajaani, hall, closed, school])
    kainuu = region("kainuu")
    db.session.add(
        NetworkMembership(region_id=kainuu.id, starts_on=date(2010, 1, 1), ends_on=date(2012, 1, 1))
    )
    kainuu.unsigned_refused_from = helsinki_date(datetime.now(UTC)) - timedelta(days=1)
    savo = organisation("Kuopion sosiaalipalvelut")
    rovaniemi = organisation("Rovaniemen sosiaalipalvelut")
    imported = {
        "savo": _legacy(savo, "KK100234"),
        "kainuu": _legacy(savo, "KK200345", region=kainuu),
        "lappi": _legacy(rovaniemi, "KK300456"),
        "reissued": _legacy(savo, "KK400567"),
        "outside": create_card(savo, region=outside),
    }
    db.session.flush()
    cards.reissue_card(imported["reissued"], actor=None)
    create_visit(imported["savo"], theatre)
    create_visit(card(demo_cards["active"]), kajaani)
    create_visit(imported["outside"], hall)
    db.session.commit()
    venues = [theatre.id, kajaani.id, hall.id, school.id, closed.id, None]
    return staff, venues, {**{k: v.number for k, v in imported.items()}, **demo_cards}


def _bodies(numbers: dict[str, str]) -> list[dict]:
    shown = [{"token": "not-a-card"}, {"token": "kk-100-234"}, {"number": " kk 100 234 "}]
    shown += [{"number": "kk400567"}, {"token": "KK400567"}, {"number": "K7MX4PQ23"}]
    for number in numbers.values():
        found = card(number)
        shown += [{"token": token_of(number)}, {"number": found.printed_number}]
        shown.append({"number": number.lower()})  # the first generation's printed number
        if found.legacy_id:
            shown.append({"token": found.legacy_id.lower()})
    return shown


def _answers(client, bodies, venues) -> tuple[list, list[int]]:
    found, counts = [], []
    for body in bodies:
        for venue in venues:
            sent_body = body if venue is None else {**body, "venue": venue}
            with statements() as sent:
                response = client.post("/api/v1/verify", json=sent_body)
            found.append((sent_body, response.status_code, response.get_json()))
            counts.append(len(sent))
    return found, counts


def _read_alone(monkeypatch):
    alone = accounts.staff_for_api_token
    monkeypatch.setattr(accounts, "staff_for_api_token", lambda token, _shown=None: alone(token))


def test_the_read_ahead_answers_as_the_card_read_at_every_venue_and_region(
    api, far_staff, monkeypatch
):
    """Imported cards (register IDs scanned and typed, reissued, in a region refusing
    unsigned cards), a card of a region outside the network, demo cards; at venues of three
    regions (none, one and two network periods), a closed venue and no venue given."""
    _, venues, numbers = far_staff
    client, bodies = api(VENUE), _bodies(numbers)
    together, counts = _answers(client, bodies, venues)
    _read_alone(monkeypatch)
    apart, _ = _answers(client, bodies, venues)
    for ahead, alone in zip(together, apart, strict=True):
        assert ahead == alone
    answered = [answer for _, status, answer in together if status == 200]
    assert 1 in counts  # the read-ahead was used
    reasons = {answer["reason"] for answer in answered}
    assert {"ok", "replaced", "invalid_token", "expired", "revoked"} <= reasons
    assert {"region_not_accepted", "home_region_only", "unsigned_not_accepted"} <= reasons
    codes = {answer["error"] for _, status, answer in together if status == 422}
    assert codes == {"venue_required", "not_your_venue"}
    warnings = {w for answer in answered for w in answer.get("warnings", [])}
    assert {"visited_today", "unsigned_card", "check_card"} <= warnings, warnings
    # Visited today at its own venue only: each venue row reads its own day's visits.
    theatre, kajaani = venues[:2]
    scanned = {"token": token_of(numbers["active"])}
    by_venue = {
        sent.get("venue"): answer
        for sent, _, answer in together
        if sent.get("token") == scanned["token"] and "venue" in sent
    }
    assert "visited_today" in by_venue[kajaani]["warnings"]
    assert "visited_today" not in by_venue[theatre]["warnings"]
    assert by_venue[theatre]["reason"] == by_venue[kajaani]["reason"] == "ok"


def test_a_staff_without_venues_is_403_with_a_card_in_the_body(api, demo_cards):
    create_user("tyhja@example.fi", Role.VENUE)
    db.session.commit()
    client = api("tyhja@example.fi")
    for body in ({"token": token_of(demo_cards["active"])}, {"number": "KK100234"}):
        answer = assert_error(client.post("/api/v1/verify", json=body), 403, "forbidden")
        assert "reason" not in answer


@pytest.mark.parametrize(
    "body",
    [
        {"token": "TOKEN", "number": "NUMBER"},  # both: invalid
        {"token": "TOKEN", "venue": "x"},
        {"token": "TOKEN", "unknown": 1},
        {"token": "TOKEN"},
    ],
)
@pytest.mark.parametrize("who", ["nobody", "revoked", "deactivated"])
def test_no_valid_token_is_401_before_anything_of_the_body(api, demo_cards, body, who):
    """A check with no valid token learns nothing of a card named in the body, nor of the
    body's validity: 401, before any 422."""
    number = card(demo_cards["active"])
    body = {
        key: (token_of(number.number) if v == "TOKEN" else number.printed_number)
        if v in ("TOKEN", "NUMBER")
        else v
        for key, v in body.items()
    }
    doorkeeper = user_of(VENUE)
    token = accounts.create_api_token(doorkeeper)
    if who == "revoked":
        db.session.execute(ApiToken.__table__.update().values(revoked_at=datetime.now(UTC)))
    elif who == "deactivated":
        doorkeeper.active = False
    else:
        token = "kk_" + "x" * 40
    db.session.commit()
    response = api().as_token(token).post("/api/v1/verify", json=body)
    assert_error(response, 401, "unauthorized")


def test_a_distributor_token_with_a_card_in_the_body_is_403(api, demo_cards):
    body = {"token": token_of(demo_cards["active"])}
    answer = assert_error(api(DISTRIBUTOR).post("/api/v1/verify", json=body), 403, "forbidden")
    assert "reason" not in answer


@pytest.mark.parametrize(
    "raw",
    [
        '["TOKEN"]',
        '"TOKEN"',
        "null",
        '{"token": "TOKEN", "token": "not-a-card"}',  # the last key wins, as webargs reads it
        '{"token": "not-a-card", "token": "TOKEN"}',
        '{"token": "  TOKEN\\u00a0", "number": ""}',
        '{"number": "PRINTED\\u0000"}',
    ],
)
def test_what_the_raw_body_names_never_answers_for_what_was_validated(
    api, demo_cards, raw, monkeypatch
):
    """The body peeked at before validation names a card; the answer is that of the body as
    validated, as the check alone gives it."""
    active = card(demo_cards["active"])
    data = raw.replace("TOKEN", token_of(active.number)).replace("PRINTED", active.printed_number)
    client = api(VENUE)

    def post():
        response = client.post(
            "/api/v1/verify", data=data, headers={"Content-Type": "application/json"}
        )
        return response.status_code, response.get_json()

    together = post()
    _read_alone(monkeypatch)
    assert together == post()


def test_a_wrong_content_type_is_not_read_ahead_and_answers_400(api, demo_cards):
    client = api(VENUE)
    body = '{"token": "' + token_of(demo_cards["active"]) + '"}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        response = client.post("/api/v1/verify", data=body, headers={"Content-Type": content_type})
        assert_error(response, 400, "invalid_json")


@pytest.fixture
def normalized(monkeypatch) -> list[int]:
    """The lengths of the texts that card numbers and register IDs are normalised from."""
    lengths, normalize = [], cardnumbers.normalize

    def spy(text):
        lengths.append(len(text))
        return normalize(text)

    monkeypatch.setattr(cardnumbers, "normalize", spy)
    return lengths


def _long_body(field: str) -> bytes:
    return json.dumps({field: "é-" * 50_000}, ensure_ascii=False).encode()  # 150 kB


@pytest.mark.parametrize("field", ["token", "number"])
def test_a_token_that_is_no_ones_costs_nothing_of_a_long_body(api, demo_cards, normalized, field):
    """No rate limit counts a caller without a valid token: what the body shows is not
    worked on for them (before the read-ahead, 150 kB took 4 ms to refuse; normalising it
    took over 100 ms a request)."""
    for token in ("x", "kk_" + "x" * 40):
        response = (
            api()
            .as_token(token)
            .post("/api/v1/verify", data=_long_body(field), content_type="application/json")
        )
        assert_error(response, 401, "unauthorized")
    assert max(normalized, default=0) <= 1000


def test_a_typed_number_beyond_its_bound_is_refused_unread(api, demo_cards, normalized):
    """The number's 64 characters bound what the door works on, for its staff too."""
    response = api(VENUE).post(
        "/api/v1/verify", data=_long_body("number"), content_type="application/json"
    )
    assert_error(response, 422, "validation_error")
    assert max(normalized, default=0) <= 1000


def test_a_body_beyond_a_check_s_size_is_checked_all_the_same(api, demo_cards):
    """A longer body is not read ahead: the check reads the card itself, same answer."""
    client = api(VENUE)
    token = token_of(demo_cards["active"])
    padded = '{"token": "' + token + '"' + " " * api_module.READ_AHEAD_BYTES + "}"
    for data, statements_sent in ((json.dumps({"token": token}), 1), (padded, 2)):
        client.post("/api/v1/verify", data=data, content_type="application/json")  # warm
        with statements() as sent:
            response = client.post("/api/v1/verify", data=data, content_type="application/json")
        assert response.status_code == 200 and response.get_json()["reason"] == "ok"
        assert len(sent) == statements_sent


def test_a_body_too_large_without_a_valid_token_is_401(api, demo_cards):
    """The body of a caller without a valid token is not read: 401, not 413."""
    body = b'{"token": "' + b"x" * (300 * 1024) + b'"}'
    response = (
        api()
        .as_token("kk_" + "x" * 40)
        .post("/api/v1/verify", data=body, content_type="application/json")
    )
    assert_error(response, 401, "unauthorized")
