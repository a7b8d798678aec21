"""The offline list in Chromium: printed numbers, key rotation, the list's age, the phone's
clock and the count check after a delta (webapp/services/offline.py, offline-verdict.js)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Route, expect
from sqlalchemy import select, update

from webapp import cardnumbers, tokens
from webapp.extensions import db
from webapp.models import Card, Organisation
from webapp.services import cards

from . import test_scanner
from .test_scanner import VERDICT, go_offline, start, token_of

scanner = test_scanner.scanner  # the scanner page's fixtures
no_sw_context = test_scanner.no_sw_context


def card_of(number: str) -> Card:
    db.session.rollback()
    return db.session.scalar(select(Card).where(Card.number == number))


def type_number(page, number: str) -> None:
    close = page.locator("#verdict [data-close-verdict]:visible")
    if close.count():
        close.first.click()
    page.get_by_label("Card number").fill(number)
    page.get_by_role("button", name="Check").click()


def offline_scanner(scanner, context):
    page = scanner(context)
    page.wait_for_load_state("networkidle")  # the offline list has fully arrived
    go_offline(page)
    return page


def test_typed_printed_numbers_offline(scanner, demo_cards, no_sw_context):
    replaced = card_of(demo_cards["replaced"])
    lost = replaced.printed_number  # generation 2, the card now lost
    cards.reissue_card(replaced, actor=None)
    db.session.commit()
    current = replaced.printed_number
    guessed = cardnumbers.printed_number(  # what the lost card tells, with a made-up secret
        replaced.number, replaced.generation, "EEEEE" if current[9:14] != "EEEEE" else "FFFFF"
    )
    # What the new card would have been before the random characters: data, version, check.
    computable = replaced.number[:8] + "4"
    computable += cardnumbers.ALPHABET[-cardnumbers._weighted_sum(computable, 10) % 31]
    never_issued = cardnumbers.new_number()
    page = offline_scanner(scanner, no_sw_context)
    verdict = page.locator(VERDICT)

    # The numbers printed on the lost cards, the bare stable number included: replaced.
    for typed in (lost.lower(), cardnumbers.format_number(lost), replaced.number):
        type_number(page, typed)
        expect(verdict).to_have_attribute("data-reason", "replaced")
        expect(verdict).to_have_attribute("data-state", "refuse")
        expect(verdict.get_by_role("button", name="Record visit")).to_have_count(0)
    # The new generation with other random characters (what the lost card tells, guessed):
    # it misses the card's check, so it is not a number of the list.
    type_number(page, guessed)
    expect(verdict).to_have_attribute("data-reason", "offline_unknown")
    expect(verdict).to_have_attribute("data-state", "refuse")
    # The number the new card would have had without the random characters is none.
    type_number(page, computable)
    expect(page.locator("#manual-number-error")).to_be_visible()
    expect(verdict).to_have_count(0)
    # The new card's number: orange, look at the card.
    type_number(page, "-".join(cardnumbers.format_number(current).lower().split()))
    expect(verdict).to_have_attribute("data-state", "warn")
    expect(verdict).to_have_attribute("data-reason", "check_card")
    expect(verdict.locator(".verdict-title")).to_have_text("Look at the card")
    # A made-up number with a correct check character is not on the list.
    type_number(page, never_issued)
    expect(verdict).to_have_attribute("data-reason", "offline_unknown")
    expect(verdict).to_have_attribute("data-state", "refuse")
    assert page.errors == []


def test_a_typed_number_online_is_orange_with_the_same_words(scanner, demo_cards):
    page = scanner()
    page.wait_for_load_state("networkidle")
    type_number(page, cardnumbers.format_number(demo_cards["active"]))
    verdict = page.locator(VERDICT)
    expect(verdict).to_have_attribute("data-state", "warn")
    expect(verdict).to_have_attribute("data-reason", "ok")
    expect(verdict).not_to_have_attribute("data-offline", "true")
    words = json.loads(page.locator("#scanner-config").text_content())["words"]["check_card"]
    expect(verdict.locator(".verdict-title")).to_have_text(words["title"])
    expect(verdict.locator(".verdict-staff")).to_have_text(words["staff"])
    expect(verdict.get_by_role("button", name="Record visit")).to_be_visible()


def test_a_lost_cards_old_code_answers_replaced_offline(
    app, scanner, show_qr, demo_cards, no_sw_context
):
    replaced = card_of(demo_cards["replaced"])
    keys = app.config["CARD_SIGNING_KEYS"]
    old_code = tokens.sign_card(replaced.number, replaced.generation - 1, keys)
    page = offline_scanner(scanner, no_sw_context)
    show_qr(page, old_code)
    verdict = page.locator(VERDICT)
    expect(verdict).to_have_attribute("data-reason", "replaced")
    expect(verdict).to_have_attribute("data-state", "refuse")
    show_qr(page, token_of(demo_cards["replaced"]))  # the new card: green
    expect(verdict).to_have_attribute("data-state", "ok")
    expect(verdict).to_have_attribute("data-offline", "true")
    assert page.errors == []


def test_a_card_printed_before_a_key_rotation_is_accepted_offline(
    app, scanner, show_qr, demo_cards, no_sw_context
):
    printed_before = token_of(demo_cards["active"])
    keys = app.config["CARD_SIGNING_KEYS"]
    app.config["CARD_SIGNING_KEYS"] = [*keys, "rotated-in-key"]  # flask keys new
    try:
        assert cards.printed_token(card_of(demo_cards["active"])) != printed_before
        page = scanner(no_sw_context)
        page.wait_for_load_state("networkidle")
        go_offline(page)
        show_qr(page, printed_before)
        verdict = page.locator(VERDICT)
        expect(verdict).to_have_attribute("data-state", "ok")
        expect(verdict).to_have_attribute("data-offline", "true")
    finally:
        app.config["CARD_SIGNING_KEYS"] = keys


def stored_list(page) -> dict:
    return page.evaluate(f"() => KaikuOffline.getList({page_venue(page)})")


def page_venue(page) -> str:
    return json.dumps(
        page.evaluate(
            "() => JSON.parse(document.getElementById('scanner-config').textContent).venue"
        )
    )


def verdict_with(page, changes: dict, scan: dict) -> dict:
    """The phone's own verdict on ``scan`` from its stored list with ``changes`` applied."""
    return page.evaluate(
        """async ([changes, scan]) => {
          const src = document.querySelector('script[type=module]').src;
          const m = await import(src.replace('scanner.js', 'offline-verdict.js'));
          const venue = JSON.parse(document.getElementById('scanner-config').textContent).venue;
          const stored = { ...(await KaikuOffline.getList(venue)), ...changes };
          return await m.offlineVerdict(scan, new m.OfflineList(stored));
        }""",
        [changes, scan],
    )


def test_a_list_older_than_48_hours_decides_nothing(scanner, demo_cards):
    page = scanner()
    page.wait_for_load_state("networkidle")
    token = token_of(demo_cards["active"])
    fresh = verdict_with(page, {}, {"token": token})
    assert (fresh["state"], fresh["key"]) == ("ok", "ok")
    hours = page.evaluate("(h) => new Date(Date.now() - h * 3600 * 1000).toISOString()", 49)
    old = verdict_with(page, {"synced_at": hours}, {"token": token})
    assert (old["state"], old["key"]) == ("refuse", "offline_list_old")
    words = json.loads(page.locator("#scanner-config").text_content())["words"]
    assert words["offline_list_old"]["title"] == "Check online"


def test_the_phone_clock_off_by_more_than_5_minutes_is_warned(scanner, show_qr, demo_cards):
    page = scanner()
    page.wait_for_load_state("networkidle")
    token = token_of(demo_cards["active"])
    list_ = stored_list(page)
    assert abs(list_["clock_offset_ms"]) < 60_000  # the test's clock and the server's agree
    assert "clockOff" not in verdict_with(page, {"clock_offset_ms": 4 * 60_000}, {"token": token})
    skewed = verdict_with(page, {"clock_offset_ms": -6 * 60_000}, {"token": token})
    assert skewed["clockOff"] is True and skewed["state"] == "ok"


def test_a_skewed_phone_clock_shows_the_warning(scanner, show_qr, demo_cards, no_sw_context):
    page = scanner(no_sw_context)
    page.wait_for_load_state("networkidle")

    def server_ahead(route: Route) -> None:  # the server's clock 10 minutes ahead
        response = route.fetch()
        body = response.json()
        ahead = datetime.fromisoformat(body["generated_at"]) + timedelta(minutes=10)
        body["generated_at"] = ahead.isoformat()
        route.fulfill(response=response, json=body)

    page.route(re.compile(r"/scan/offline-list\?"), server_ahead)
    page.evaluate(
        "async () => { const c = JSON.parse(document.getElementById('scanner-config').textContent);"
        " await KaikuOffline.syncList(c.venue, true); }"
    )
    page.reload()
    start(page)
    page.wait_for_load_state("networkidle")
    page.unroute(re.compile(r"/scan/offline-list\?"))
    go_offline(page)
    show_qr(page, token_of(demo_cards["active"]))
    verdict = page.locator(VERDICT)
    expect(verdict).to_have_attribute("data-clock", "off")
    expect(verdict).to_contain_text("more than 5 minutes off")


def test_a_delta_whose_count_differs_makes_a_full_download(scanner, demo_cards, no_sw_context):
    page = scanner(no_sw_context)
    page.wait_for_load_state("networkidle")
    asked: list[str] = []

    def count_off_by_one(route: Route) -> None:
        asked.append(route.request.url)
        response = route.fetch()
        body = response.json()
        if not body["full"]:
            body["count"] += 1  # the phone's list is missing a card
        route.fulfill(response=response, json=body)

    page.route(re.compile(r"/scan/offline-list\?"), count_off_by_one)
    size = stored_list(page)
    venue = page_venue(page)
    page.evaluate(f"() => KaikuOffline.syncList({venue})")
    assert len(asked) == 2
    assert "since=" in asked[0] and "since=" not in asked[1]  # then the whole list
    after = stored_list(page)
    assert after["generated_at"] >= size["generated_at"]
    assert len(after["cards"]["id"]) == len(size["cards"]["id"])


def test_a_delta_merges_new_and_reissued_cards_into_the_stored_columns(
    scanner, show_qr, demo_cards, no_sw_context
):
    page = scanner(no_sw_context)
    page.wait_for_load_state("networkidle")
    before = stored_list(page)["cards"]["id"]
    active = card_of(demo_cards["active"])
    old_code = token_of(demo_cards["active"])
    cards.reissue_card(active, actor=None)
    new_card = cards.issue_card(
        issuer=active.issuer, actor=None, birth_year=1970, postcode="70100", children=0
    )
    db.session.commit()
    new_code, reissued_code = cards.printed_token(new_card), cards.printed_token(active)
    page.evaluate(f"() => KaikuOffline.syncList({page_venue(page)})")
    after = stored_list(page)["cards"]["id"]
    assert after == sorted([*before, new_card.id])  # one new, the reissued one replaced
    page.reload()
    start(page)
    page.wait_for_load_state("networkidle")
    go_offline(page)
    verdict = page.locator(VERDICT)
    for code, state, reason in [
        (new_code, "ok", "ok"),
        (reissued_code, "ok", "ok"),
        (old_code, "refuse", "replaced"),
        (token_of(demo_cards["expired"]), "refuse", "offline_unknown"),
    ]:
        show_qr(page, code)
        expect(verdict).to_have_attribute("data-reason", reason)
        expect(verdict).to_have_attribute("data-state", state)
    assert page.errors == []


def test_a_delta_under_another_salt_makes_a_full_download(
    app, scanner, demo_cards, no_sw_context, monkeypatch
):
    db.session.execute(update(Card).values(updated_at=datetime.now(UTC) - timedelta(hours=1)))
    db.session.commit()  # no card changes in the delta
    page = scanner(no_sw_context)
    page.wait_for_load_state("networkidle")
    token = token_of(demo_cards["active"])
    monkeypatch.setitem(app.config, "OFFLINE_NUMBER_SALT", "after-a-secret-key-rotation")
    page.evaluate(f"() => KaikuOffline.syncList({page_venue(page)})")
    assert stored_list(page)["salt"] == "after-a-secret-key-rotation"
    after = verdict_with(page, {}, {"token": token})
    assert (after["state"], after["key"]) == ("ok", "ok")  # the card is still found offline


def test_a_delta_after_the_venue_became_a_course_provider_makes_a_full_download(
    scanner, demo_cards, no_sw_context
):
    db.session.execute(update(Card).values(updated_at=datetime.now(UTC) - timedelta(hours=1)))
    db.session.commit()  # no card changes in the delta, and the count stays the same
    page = scanner(no_sw_context)
    page.wait_for_load_state("networkidle")
    scan = {"token": token_of(demo_cards["active"])}
    assert verdict_with(page, {}, scan)["card"]["max_children"] > 0
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    venue = page_venue(page)
    db.session.get(Organisation, int(venue)).course_provider = True  # no children at a course
    db.session.commit()
    page.evaluate(f"() => KaikuOffline.syncList({venue})")
    lists = [url for url in asked if "/scan/offline-list?" in url]
    assert len(lists) == 2 and "since=" in lists[0] and "since=" not in lists[1]
    after = verdict_with(page, {}, scan)
    assert (after["state"], after["card"]["max_children"]) == ("ok", 0)


def test_a_removed_signing_key_is_refused_offline_after_the_next_sync(
    app, scanner, demo_cards, no_sw_context, monkeypatch
):
    db.session.execute(update(Card).values(updated_at=datetime.now(UTC) - timedelta(hours=1)))
    db.session.commit()  # no card changes in the delta
    page = scanner(no_sw_context)
    page.wait_for_load_state("networkidle")
    number = demo_cards["active"]
    keys = app.config["CARD_SIGNING_KEYS"]
    forged = tokens.sign_card(number, card_of(number).generation, keys[:1])  # with keys[0]
    # The compromised key removed and a new one added: as many keys as before.
    monkeypatch.setitem(app.config, "CARD_SIGNING_KEYS", [*keys[1:], "new-key-" + "x" * 32])
    page.evaluate(f"() => KaikuOffline.syncList({page_venue(page)})")
    after = verdict_with(page, {}, {"token": forged})
    assert (after["state"], after["key"]) == ("refuse", "offline_unknown")
