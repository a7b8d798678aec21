import json
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import event, update

from webapp import tokens
from webapp.extensions import db
from webapp.models import Card, RevokeReason, Role
from webapp.rules import HELSINKI, helsinki_date
from webapp.services import cards
from webapp.services.offline import number_digest, validity_list

from ..factories import create_card, create_distributor, create_region, create_user, create_venue


@pytest.fixture
def place():
    savo = create_region()
    kainuu = create_region("kainuu")
    theatre = create_venue(savo)
    college = create_venue(savo, "Opisto", course_provider=True, home_region_only=True)
    issuer = create_distributor(savo)
    other_issuer = create_distributor(kainuu, "Kajaani")
    create_user("ovi@example.fi", Role.VENUE, [theatre])
    card = create_card(issuer, children=2)
    kainuu_card = create_card(other_issuer, children=1)
    db.session.commit()
    return theatre, college, card, kainuu_card, issuer


def listed(result: dict) -> dict[str, dict]:
    return {entry["token"]: entry for entry in result["cards"]}


def test_valid_card_is_listed_by_the_digest_of_its_printed_token(place):
    theatre, _, card, _, _ = place
    entry = listed(validity_list(theatre))[tokens.token_digest(cards.printed_token(card))]
    assert entry == {
        "id": card.id,
        "token": tokens.token_digest(cards.printed_token(card)),
        "number": number_digest(card.number),
        "valid_from": card.valid_from.isoformat(),
        "valid_until": card.valid_until.isoformat(),
        "region": "pohjois-savo",
        "children": 2,
        "max_children": 2,
        "device": None,  # no phone holds the digital card yet
        "generation": 1,
    }


def test_forged_token_is_not_in_the_list(place):
    theatre, _, card, _, _ = place
    forged = tokens.sign_card(card.number, card.generation, ["someone-elses-key"])
    assert tokens.token_digest(forged) not in listed(validity_list(theatre))


def test_list_holds_nothing_personal_and_no_card_number(place):
    theatre, _, card, kainuu_card, _ = place
    text = json.dumps(validity_list(theatre))
    for secret in (card.number, kainuu_card.number, "70100", "1980", card.digital_key):
        assert secret not in text
    assert cards.printed_token(card) not in text


@pytest.mark.parametrize("state", ["revoked", "expired", "not_yet_valid"])
def test_card_that_is_not_valid_today_is_left_out(place, state):
    theatre, _, card, _, _ = place
    if state == "revoked":
        cards.revoke_card(card, actor=None, reason=RevokeReason.LOST)
    elif state == "expired":
        card.valid_from = date(2020, 1, 1)
        card.valid_until = helsinki_date(datetime.now(UTC)) - timedelta(days=1)
    else:
        card.valid_from = helsinki_date(datetime.now(UTC)) + timedelta(days=1)
        card.valid_until = card.valid_from + timedelta(days=300)
    db.session.commit()
    assert card.id not in {entry["id"] for entry in validity_list(theatre)["cards"]}


def test_reissued_card_is_listed_under_its_new_token_only(place):
    theatre, _, card, _, _ = place
    old_token = cards.printed_token(card)
    cards.reissue_card(card, actor=None)
    db.session.commit()
    digests = listed(validity_list(theatre))
    assert tokens.token_digest(old_token) not in digests
    assert tokens.token_digest(cards.printed_token(card)) in digests


def test_course_provider_lists_home_region_cards_without_children(place):
    _, college, card, kainuu_card, _ = place
    entries = {entry["id"]: entry for entry in validity_list(college)["cards"]}
    assert set(entries) == {card.id}
    assert entries[card.id]["max_children"] == 0 and entries[card.id]["children"] == 2


def test_cards_of_a_region_outside_the_network_are_left_out(place):
    theatre, _, card, kainuu_card, _ = place
    kainuu_card.region.memberships[0].starts_on = date.today() + timedelta(days=400)
    db.session.commit()
    assert {entry["id"] for entry in validity_list(theatre)["cards"]} == {card.id}


def test_number_digest_ignores_case_and_separators(place):
    _, _, card, _, _ = place
    number = card.number
    assert number_digest(f"{number[:3].lower()} {number[3:6]}-{number[6:]}") == number_digest(
        number
    )
    assert len(number_digest(number)) == 8


def same_day_since(now: datetime) -> datetime:
    """A moment a few minutes before ``now`` but on the same Finnish day."""
    day_start = datetime.combine(helsinki_date(now), time(), HELSINKI)
    return max(now - timedelta(minutes=5), day_start)


def age_all_cards(moment: datetime) -> None:
    db.session.execute(update(Card).values(updated_at=moment))
    db.session.commit()


def test_delta_removes_a_revoked_card_and_leaves_unchanged_cards_out(place):
    theatre, _, card, kainuu_card, _ = place
    now = datetime.now(UTC)
    since = same_day_since(now)
    age_all_cards(since - timedelta(hours=1))
    cards.revoke_card(card, actor=None, reason=RevokeReason.MISUSE)
    db.session.commit()

    delta = validity_list(theatre, since=since, moment=now)
    assert delta["full"] is False
    assert delta["removed"] == [card.id]
    assert delta["cards"] == []


def test_delta_upserts_a_new_and_a_reissued_card(place):
    theatre, _, card, _, issuer = place
    now = datetime.now(UTC)
    since = same_day_since(now)
    age_all_cards(since - timedelta(hours=1))
    cards.reissue_card(card, actor=None)
    new_card = create_card(issuer, children=0)
    db.session.commit()

    delta = validity_list(theatre, since=since, moment=now)
    assert {entry["id"] for entry in delta["cards"]} == {card.id, new_card.id}
    assert tokens.token_digest(cards.printed_token(card)) in listed(delta)


def test_list_from_an_earlier_day_is_replaced_by_a_whole_list(place):
    theatre, _, card, _, _ = place
    now = datetime.now(UTC)
    result = validity_list(theatre, since=now - timedelta(days=1), moment=now)
    assert result["full"] is True and result["removed"] == []
    assert card.id in {entry["id"] for entry in result["cards"]}
    assert result["valid_on"] == helsinki_date(now).isoformat()


def test_list_does_not_query_once_per_card(place):
    theatre, _, _, _, issuer = place
    for _ in range(10):
        create_card(issuer)
    db.session.commit()
    db.session.expire_all()
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        result = validity_list(theatre)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len(result["cards"]) == 12
    assert len(statements) <= 6, statements
