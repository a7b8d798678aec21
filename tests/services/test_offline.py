import gzip
import hashlib
import json
import random
from datetime import UTC, date, datetime, time, timedelta
from time import perf_counter

import pytest
from sqlalchemy import event, update

from webapp import cardnumbers, tokens
from webapp.extensions import db
from webapp.models import Card, RevokeReason, Role
from webapp.rules import HELSINKI, helsinki_date
from webapp.services import cards, digital, offline
from webapp.services.offline import hash_bytes, number_hash, number_salt, validity_list, wire_list

from .. import offline_wire
from ..factories import (
    create_card,
    create_distributor,
    create_region,
    create_user,
    create_venue,
    finnish_days_later,
)
from ..statements import statements
from ..test_device_codes import Phone


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
    return {token: entry for entry in result["cards"] for token in entry["tokens"]}


def test_valid_card_is_listed_by_the_digest_of_its_printed_token(place, app):
    theatre, _, card, _, _ = place
    entry = listed(validity_list(theatre))[tokens.token_digest(cards.printed_token(card))]
    assert entry == {
        "id": card.id,
        "tokens": [
            tokens.token_digest(tokens.sign_card(card.number, 1, [key]))
            for key in app.config["CARD_SIGNING_KEYS"]
        ],
        "number": number_hash(card.number, number_salt()),
        "valid_from": card.valid_from,
        "valid_until": card.valid_until,
        "region": "pohjois-savo",
        "kind": "personal",
        "children": 2,
        "max_children": 2,
        "device": None,  # no phone holds the digital card yet
        "generation": 1,
        "check": 0,  # printed as its stable number: nothing more to check
    }


def test_forged_token_is_not_in_the_list(place):
    theatre, _, card, _, _ = place
    forged = tokens.sign_card(card.number, card.generation, ["someone-elses-key"])
    assert tokens.token_digest(forged) not in listed(validity_list(theatre))


def test_list_holds_nothing_personal_and_no_card_number(place):
    theatre, _, card, kainuu_card, _ = place
    text = wire_list(theatre)
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


def numbers_listed(venue) -> dict[int, tuple[str, int]]:
    """Return each listed card's number hash and check."""
    return {e["id"]: (e["number"], e["check"]) for e in validity_list(venue)["cards"]}


def check_of(printed: str) -> int:
    """Return the check a reissued card's printed number is listed with."""
    return int(number_hash(printed, number_salt())[: 2 * offline.CHECK_BYTES], 16)


def test_reissued_card_is_listed_under_its_stable_number_with_its_new_check(place):
    theatre, _, card, _, _ = place
    stable = number_hash(card.number, number_salt())
    assert numbers_listed(theatre)[card.id] == (stable, 0)  # never reissued: nothing to check
    lost = [card.printed_number]
    for _ in range(2):
        cards.reissue_card(card, actor=None)
        db.session.commit()
        number, check = numbers_listed(theatre)[card.id]
        assert (number, check) == (stable, check_of(card.printed_number))
        assert all(check != check_of(old) for old in lost[1:])  # an old print checks no more
        lost.append(card.printed_number)


def test_issue_and_reissue_compute_the_hash_so_that_no_list_does(place, monkeypatch):
    theatre, _, card, _, issuer = place
    cards.reissue_card(card, actor=None)
    new_card = create_card(issuer)
    db.session.commit()
    expected = {
        card.id: (number_hash(card.number, number_salt()), check_of(card.printed_number)),
        new_card.id: (number_hash(new_card.number, number_salt()), 0),
    }

    def no_pbkdf2(*args, **kwargs):
        raise AssertionError("a list computed a number hash")

    monkeypatch.setattr(offline, "number_hash", no_pbkdf2)
    listed_numbers = numbers_listed(theatre)
    assert {card_id: listed_numbers[card_id] for card_id in expected} == expected


def test_a_hash_cached_for_another_printed_number_is_not_used(place):
    theatre, _, card, _, _ = place
    card.generation = 2  # a change that bypassed reissue_card and its hash
    card.printed_secret = cardnumbers.new_secret()
    db.session.commit()
    assert numbers_listed(theatre)[card.id][1] == check_of(card.printed_number)


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


def test_number_hash_is_slow_salted_and_64_bits(place, app, monkeypatch):
    _, _, card, _, _ = place
    number = card.number
    salt = number_salt()
    typed = f"{number[:3].lower()} {number[3:6]}-{number[6:]}"
    assert number_hash(typed, salt) == number_hash(number, salt)
    assert len(number_hash(number, salt)) == 16  # 64 bits: 100,000 cards / 2**64 < 1e-9
    assert number_hash(number, "another-salt") != number_hash(number, salt)
    # PBKDF2-HMAC-SHA256 with the list's salt and iterations: what the phone computes.
    result = validity_list(place[0])
    assert (result["salt"], result["iterations"]) == (salt, 10_000)
    expected = hashlib.pbkdf2_hmac("sha256", number.encode(), salt.encode(), 10_000, 8).hex()
    assert {entry["number"] for entry in result["cards"]} >= {expected}
    monkeypatch.setitem(app.config, "OFFLINE_NUMBER_SALT", "a-configured-salt")
    assert validity_list(place[0])["salt"] == "a-configured-salt"


def test_number_hashes_are_cached_under_the_salt_without_touching_the_card(place, app, monkeypatch):
    theatre, _, card, _, _ = place
    before = card.updated_at
    first = validity_list(theatre)
    db.session.commit()
    db.session.refresh(card)
    assert card.number_hash.endswith(":" + number_hash(card.number, number_salt()))
    assert card.updated_at == before  # a cache: the next delta does not resend the card
    card.number_hash = card.number_hash.split(":")[0] + ":0000000000000000"
    db.session.commit()
    cached = {entry["id"]: entry["number"] for entry in validity_list(theatre)["cards"]}
    assert cached[card.id] == "0000000000000000"  # read from the column, not recomputed
    monkeypatch.setitem(app.config, "OFFLINE_NUMBER_SALT", "rotated")
    rotated = {entry["id"]: entry["number"] for entry in validity_list(theatre)["cards"]}
    assert rotated[card.id] == number_hash(card.number, "rotated")
    assert first["cards"]


def test_a_card_printed_before_a_key_rotation_is_listed(place, app, monkeypatch):
    theatre, _, card, _, _ = place
    printed_before = cards.printed_token(card)
    monkeypatch.setitem(
        app.config, "CARD_SIGNING_KEYS", [*app.config["CARD_SIGNING_KEYS"], "newer-key"]
    )
    printed_after = cards.printed_token(card)
    assert printed_before != printed_after
    entries = listed(validity_list(theatre))
    assert entries[tokens.token_digest(printed_before)]["id"] == card.id
    assert entries[tokens.token_digest(printed_after)]["id"] == card.id
    monkeypatch.setitem(
        app.config, "CARD_SIGNING_KEYS", app.config["CARD_SIGNING_KEYS"][-1:]
    )  # old key retired
    assert tokens.token_digest(printed_before) not in listed(validity_list(theatre))


def test_delta_counts_the_whole_list(place):
    theatre, college, card, kainuu_card, issuer = place
    now = datetime.now(UTC)
    since = same_day_since(now)
    age_all_cards(since - timedelta(hours=1))
    create_card(issuer)
    cards.revoke_card(card, actor=None, reason=RevokeReason.MISUSE)
    db.session.commit()
    whole = validity_list(theatre, moment=now)
    delta = validity_list(theatre, since=since, moment=now)
    assert delta["full"] is False
    assert delta["count"] == whole["count"] == len(whole["cards"]) == 2
    home = validity_list(college, moment=now)
    assert validity_list(college, since=since, moment=now)["count"] == home["count"] == 1
    kainuu_card.region.memberships[0].starts_on = date.today() + timedelta(days=400)
    db.session.commit()
    assert validity_list(theatre, since=since, moment=now)["count"] == 1


def test_a_big_list_is_built_from_the_cached_hashes(place):
    """10,000 cards with cached hashes: no PBKDF2 at all while building (timed, see report)."""
    theatre, _, card, _, _ = place
    prefix = "x"
    rng = random.Random(13)
    data = {"".join(rng.choice(cardnumbers.ALPHABET) for _ in range(8)) for _ in range(10_000)}
    numbers = [code + cardnumbers.check_character(code) for code in sorted(data)]
    salt = number_salt()
    rows = [
        {
            "number": numbers[index],
            "region_id": card.region_id,
            "issuer_id": card.issuer_id,
            "birth_year": 1980,
            "postcode": "70100",
            "children": 0,
            "valid_from": card.valid_from,
            "valid_until": card.valid_until,
            "digital_key": f"key-{index}",
            "generation": 1,
            "revoked": False,
            "number_hash": f"{offline._cache_tag(salt, numbers[index])}:{prefix * 16}",
        }
        for index in range(len(numbers))
    ]
    db.session.execute(Card.__table__.insert(), rows)
    db.session.commit()
    db.session.expire_all()
    started = perf_counter()
    result = validity_list(theatre)
    elapsed = perf_counter() - started
    assert len(result["cards"]) == len(numbers) + 2
    assert {entry["number"] for entry in result["cards"]} >= {prefix * 16}
    print(f"list of 10,001 cards: {elapsed:.2f} s")
    assert elapsed < 10  # 10,000 PBKDF2s would take about 100 s


def test_a_big_list_costs_under_13_bytes_a_card_gzip(place, app, monkeypatch):
    """10,000 cards with random hashes, one signing key: about 12.3 bytes a card."""
    theatre, _, card, _, _ = place
    monkeypatch.setitem(app.config, "CARD_SIGNING_KEYS", app.config["CARD_SIGNING_KEYS"][-1:])
    rng = random.Random(18)
    data = {"".join(rng.choice(cardnumbers.ALPHABET) for _ in range(8)) for _ in range(10_000)}
    numbers = [(code, code + cardnumbers.check_character(code)) for code in sorted(data)]
    salt = number_salt()
    rows = [
        {
            "number": number,
            "region_id": card.region_id,
            "issuer_id": card.issuer_id,
            "birth_year": 1980,
            "postcode": "70100",
            "children": rng.randrange(4),
            "valid_from": card.valid_from - timedelta(days=index // 30),
            "valid_until": card.valid_until,
            "digital_key": f"key-{index}",
            "number_hash": f"{offline._cache_tag(salt, number)}:{rng.randbytes(8).hex()}",
        }
        for index, (code, number) in enumerate(numbers)
    ]
    db.session.execute(Card.__table__.insert(), rows)
    db.session.commit()
    text = wire_list(theatre)
    body = json.loads(text)
    size = len(gzip.compress(text.encode()))
    assert body["count"] == len(rows) + 2
    assert size / body["count"] < 13, size  # the list of objects with hex took 26.8


def listed_ids(text: str) -> set[int]:
    return {entry["id"] for entry in offline_wire.entries(json.loads(text))}


def test_whole_list_is_served_from_memory_until_a_card_changes(place, app, monkeypatch):
    theatre, _, card, kainuu_card, issuer = place
    age_all_cards(datetime.now(UTC) - timedelta(hours=1))
    first = json.loads(wire_list(theatre))
    with statements() as sent:
        again = json.loads(wire_list(theatre))
    assert again["cards"] == first["cards"] and again["generated_at"] > first["generated_at"]
    assert not any("number_hash" in statement for statement in sent)  # the cards not read
    assert len(sent) <= 4, sent  # regions, their periods, the cards' version, issuer keys

    cards.revoke_card(card, actor=None, reason=RevokeReason.LOST)
    new_card = create_card(issuer)
    db.session.commit()
    listed = {entry["id"] for entry in offline_wire.entries(json.loads(wire_list(theatre)))}
    assert listed == {kainuu_card.id, new_card.id}
    monkeypatch.setitem(app.config, "OFFLINE_NUMBER_SALT", "rotated")
    rotated = offline_wire.entries(json.loads(wire_list(theatre)))
    assert rotated[0]["number"] == number_hash(kainuu_card.number, "rotated")[:12]
    kainuu_card.region.memberships[0].ends_on = date.today() - timedelta(days=1)  # left
    db.session.commit()
    assert {entry["id"] for entry in offline_wire.entries(json.loads(wire_list(theatre)))} == {
        new_card.id
    }


def test_a_change_committed_late_is_not_hidden_by_the_cache(place):
    theatre, _, card, _, _ = place
    now = datetime.now(UTC)
    age_all_cards(now - timedelta(minutes=1))
    assert card.id in listed_ids(wire_list(theatre, moment=now))
    # Revoked 90 s ago in a transaction that commits only now: no newer change time.
    cards.revoke_card(card, actor=None, reason=RevokeReason.LOST)
    db.session.flush()
    db.session.execute(
        update(Card).where(Card.id == card.id).values(updated_at=now - timedelta(seconds=90))
    )
    db.session.commit()
    assert card.id not in listed_ids(wire_list(theatre, moment=now + timedelta(seconds=5)))


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


def set_dates(card: Card, valid_from: date, valid_until: date) -> None:
    """Move the card's validity as a new day would, leaving its updated_at alone."""
    table = Card.__table__
    db.session.execute(
        update(table)
        .where(table.c.id == card.id)
        .values(valid_from=valid_from, valid_until=valid_until, updated_at=table.c.updated_at)
    )
    db.session.commit()


def test_next_day_is_a_delta_of_the_cards_the_day_changed(place):
    """Not the whole list again: the cards whose first day came, or whose last day went."""
    theatre, _, card, kainuu_card, issuer = place
    now = datetime.now(UTC)
    yesterday = finnish_days_later(now, -1)
    today = helsinki_date(now)
    starting = create_card(issuer)
    db.session.commit()
    age_all_cards(yesterday - timedelta(hours=1))
    set_dates(kainuu_card, today - timedelta(days=30), today - timedelta(days=1))
    set_dates(starting, today, today + timedelta(days=365))

    result = validity_list(theatre, since=yesterday, moment=now)
    assert result["full"] is False
    assert [entry["id"] for entry in result["cards"]] == [starting.id]
    assert result["removed"] == [kainuu_card.id]
    assert result["count"] == 2  # card and starting: the phone's count check adds up
    assert result["valid_on"] == today.isoformat()
    assert card.id not in {entry["id"] for entry in result["cards"]}


def test_a_region_joining_the_network_since_the_last_list_sends_the_whole_list(place):
    theatre, _, card, kainuu_card, _ = place
    now = datetime.now(UTC)
    kainuu_card.region.memberships[0].starts_on = helsinki_date(now)  # joins today
    db.session.commit()
    result = validity_list(theatre, since=finnish_days_later(now, -1), moment=now)
    assert result["full"] is True and result["removed"] == []
    assert {entry["id"] for entry in result["cards"]} == {card.id, kainuu_card.id}


@pytest.mark.parametrize("count", [1, 100_000, 281_000, 282_000, 1_000_000, 50_000_000])
def test_hashes_keep_an_invented_number_below_one_in_a_billion(count):
    width = hash_bytes(count)
    assert count / 2 ** (8 * width) < 1e-9
    assert width == 6 or count / 2 ** (8 * (width - 1)) >= 1e-9  # not a byte more than needed


def test_the_wire_carries_each_entry_cut_to_its_widths(place, app, monkeypatch):
    theatre, college, card, kainuu_card, _ = place
    monkeypatch.setitem(
        app.config, "CARD_SIGNING_KEYS", [*app.config["CARD_SIGNING_KEYS"], "newer-key"]
    )
    listed = validity_list(theatre)["cards"]
    body = json.loads(wire_list(theatre))
    assert (body["hash_bytes"], body["tag_bytes"]) == (6, 6)
    cut = [
        {**entry, "number": entry["number"][:12], "tokens": [t[:12] for t in entry["tokens"]]}
        for entry in listed
    ]
    assert offline_wire.entries(body) == cut
    keys = len(app.config["CARD_SIGNING_KEYS"])
    assert [len(entry["tokens"]) for entry in cut] == [keys, keys]  # every key, both cards
    assert offline_wire.entries(json.loads(wire_list(college)))[0]["max_children"] == 0


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


def test_a_phone_key_registered_after_the_last_list_reaches_the_next_one(place):
    theatre, _, card, _, _ = place
    now = datetime.now(UTC)
    age_all_cards(now - timedelta(hours=1))  # the card bound to its phone an hour ago
    since = now - timedelta(minutes=10)
    assert not entries_of(wire_list(theatre, moment=now))[card.id]["device"]
    device, _ = digital.register_device(card, digital.b64(Phone().public_raw))
    db.session.commit()
    later = now + timedelta(seconds=5)
    assert entries_of(wire_list(theatre, moment=later))[card.id]["device"] == device.id
    delta = json.loads(wire_list(theatre, since=since, moment=later))
    assert [entry["device"] for entry in offline_wire.entries(delta)] == [device.id]


def entries_of(text: str) -> dict[int, dict]:
    return {entry["id"]: entry for entry in offline_wire.entries(json.loads(text))}


def test_a_list_older_than_the_phone_decides_from_gets_the_whole_list_from_memory(place):
    theatre, *_ = place
    now = datetime.now(UTC)
    age_all_cards(now - timedelta(days=400))
    wire_list(theatre, moment=now)  # built once, kept in memory
    with statements() as sent:
        body = json.loads(wire_list(theatre, since=now - timedelta(days=365), moment=now))
    assert body["full"] is True  # not every card judged again as a delta of a year
    assert not any("number_hash" in statement for statement in sent)
