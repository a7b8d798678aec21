"""The scanner in headless Chromium with a fake camera showing real cards' QR codes."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import Page, Route, expect
from sqlalchemy import select

from webapp import tokens
from webapp.extensions import db
from webapp.models import Card, Visit, VisitSource
from webapp.services import cards

VERDICT = "#verdict .verdict"


def token_of(number: str) -> str:
    return cards.printed_token(db.session.scalar(select(Card).where(Card.number == number)))


def visits() -> list[Visit]:
    db.session.rollback()  # see what the server thread committed
    return list(db.session.scalars(select(Visit).order_by(Visit.id)))


def sign_in(page: Page, base: str, email: str = "ovi@example.fi") -> None:
    page.goto(f"{base}/language/en?next=/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("kaikukortti-demo")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/scan$"))


def start(page: Page) -> None:
    """Give the scanner its first tap: the camera starts and the tones are allowed."""
    page.get_by_role("button", name="Start", exact=True).click()
    expect(page.locator("#scanner")).to_have_attribute("data-camera", "running", timeout=20_000)


def open_scanner(page: Page, base: str) -> Page:
    """Sign in as the theatre's door staff, tap Start, wait for the camera and the list."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    sign_in(page, base)
    start(page)
    expect(page.locator("#scanner-status")).not_to_have_attribute("data-list-size", "")
    return page


@pytest.fixture
def scanner(live_server, demo_cards, camera_page):
    def make(context=None) -> Page:
        return open_scanner(camera_page(context, None), live_server.url)

    return make


@pytest.fixture
def no_sw_context(browser):
    """A context whose requests all pass through Playwright's routing (no service worker)."""
    context = browser.new_context(permissions=["camera"], service_workers="block")
    yield context
    context.close()


def test_active_card_turns_green_and_records_two_children(scanner, show_qr, demo_cards):
    page = scanner()
    show_qr(page, token_of(demo_cards["active"]))
    verdict = page.locator(VERDICT)
    expect(verdict).to_have_attribute("data-state", "ok")
    expect(verdict.locator(".verdict-title")).to_have_text("Card accepted")
    expect(verdict).to_contain_text("Children free")
    expect(verdict.locator(".verdict-title")).to_be_focused()

    verdict.get_by_role("button", name="One child more").click()
    verdict.get_by_role("button", name="One child more").click()
    verdict.get_by_role("button", name="One child more").click()  # the card allows two
    expect(verdict.locator("input[name=children]")).to_have_value("2")
    verdict.get_by_role("button", name="Record visit").click()

    expect(verdict).to_have_attribute("data-state", "recorded")
    expect(verdict).to_contain_text("1 adult, 2 children")
    expect(page.locator("#recent-visits li")).to_have_count(1)
    [visit] = visits()
    assert (visit.children, visit.adults, visit.source) == (2, 1, VisitSource.CAMERA)
    assert page.errors == []


def test_an_assistant_is_recorded_beside_the_holder(scanner, show_qr, demo_cards):
    page = scanner()
    show_qr(page, token_of(demo_cards["active"]))
    verdict = page.locator(VERDICT)
    expect(verdict).to_have_attribute("data-state", "ok")
    more = verdict.get_by_role("button", name="One assistant more")
    for _ in range(3):  # two at most
        more.click()
    expect(verdict.locator("input[name=assistants]")).to_have_value("2")
    verdict.get_by_role("button", name="One assistant fewer").click()
    expect(page.locator("#verdict-announcer")).to_have_text("Assistants 1")
    verdict.get_by_role("button", name="Record visit").click()

    expect(verdict).to_have_attribute("data-state", "recorded")
    expect(verdict).to_contain_text("1 adult, 0 children, assistants: 1")
    expect(page.locator("#recent-visits li")).to_contain_text("assistants: 1")
    [visit] = visits()
    assert (visit.adults, visit.children, visit.assistants) == (1, 0, 1)
    assert page.errors == []


def test_undo_deletes_the_visit(scanner, show_qr, demo_cards):
    page = scanner()
    show_qr(page, token_of(demo_cards["active"]))
    page.locator(VERDICT).get_by_role("button", name="Record visit").click()
    expect(page.locator(VERDICT)).to_have_attribute("data-state", "recorded")
    page.locator(VERDICT).get_by_role("button", name="Undo").click()
    expect(page.locator(VERDICT)).to_have_attribute("data-state", "undone")
    expect(page.locator("#recent-visits li.is-undone")).to_have_count(1)
    assert visits() == []


@pytest.mark.parametrize(
    ("state", "reason", "title"),
    [("revoked", "revoked", "Card revoked"), ("expired", "expired", "Card expired")],
)
def test_refused_card_turns_red_with_its_reason(scanner, show_qr, demo_cards, state, reason, title):
    page = scanner()
    show_qr(page, token_of(demo_cards[state]))
    verdict = page.locator(VERDICT)
    expect(verdict).to_have_attribute("data-state", "refuse")
    expect(verdict).to_have_attribute("data-reason", reason)
    expect(verdict.locator(".verdict-title")).to_have_text(title)
    expect(verdict.get_by_role("button", name="Record visit")).to_have_count(0)
    assert page.errors == []


def test_next_card_replaces_the_verdict_and_the_same_code_is_ignored(scanner, show_qr, demo_cards):
    page = scanner()
    verifies = []
    page.on("request", lambda r: verifies.append(r) if r.url.endswith("/scan/verify") else None)
    show_qr(page, token_of(demo_cards["revoked"]))
    expect(page.locator(VERDICT)).to_have_attribute("data-reason", "revoked")
    page.wait_for_timeout(800)  # the same card stays in front of the camera
    assert len(verifies) == 1
    show_qr(page, token_of(demo_cards["active"]))
    expect(page.locator(VERDICT)).to_have_attribute("data-state", "ok")
    assert len(verifies) == 2


def test_a_card_shown_while_the_last_is_judged_is_read_after_its_verdict(
    scanner, show_qr, demo_cards, no_sw_context
):
    page = scanner(no_sw_context)
    held: list[Route] = []
    verifies: list[str] = []

    def hold_the_first(route: Route) -> None:
        verifies.append(parse_qs(route.request.post_data or "")["token"][0])
        if len(verifies) == 1:
            held.append(route)
        else:
            route.continue_()

    page.route("**/scan/verify", hold_the_first)
    show_qr(page, token_of(demo_cards["revoked"]))
    while not held:
        page.wait_for_timeout(50)
    show_qr(page, token_of(demo_cards["active"]))  # the next card, while the phone waits
    page.wait_for_timeout(500)
    assert len(verifies) == 1
    held[0].continue_()
    expect(page.locator(VERDICT)).to_have_attribute("data-state", "ok")
    assert verifies == [token_of(demo_cards["revoked"]), token_of(demo_cards["active"])]


# Records the pitch of every tone the page starts.
TONE_SPY_JS = """
window.__tones = [];
const createOscillator = AudioContext.prototype.createOscillator;
AudioContext.prototype.createOscillator = function () {
  const tone = createOscillator.call(this);
  const start = tone.start.bind(tone);
  tone.start = (when) => { window.__tones.push(tone.frequency.value); start(when); };
  return tone;
};
window.__vibrations = [];
navigator.vibrate = (pattern) => { window.__vibrations.push(pattern); return true; };
"""


def test_verdicts_sound_after_the_first_tap(browser, live_server, demo_cards, camera_page, show_qr):
    context = browser.new_context(permissions=["camera"], has_touch=True, is_mobile=True)
    page = camera_page(context, None)
    page.add_init_script(TONE_SPY_JS)
    sign_in(page, live_server.url)
    begin = page.get_by_role("button", name="Start", exact=True)
    assert begin.bounding_box()["height"] >= 120  # one large target, hard to miss
    expect(page.locator("#scanner")).not_to_have_attribute("data-camera", "running")
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    begin.tap()  # phones let a page make sound only after a tap: this is the one
    expect(page.locator("#scanner")).to_have_attribute("data-camera", "running")
    expect(page.locator("#scanner")).to_have_attribute("data-sound", "running")
    expect(begin).to_be_hidden()
    show_qr(page, token_of(demo_cards["active"]))
    expect(page.locator(VERDICT)).to_have_attribute("data-state", "ok")
    show_qr(page, token_of(demo_cards["revoked"]))
    expect(page.locator(VERDICT)).to_have_attribute("data-state", "refuse")
    page.wait_for_function("() => window.__tones.length >= 2")
    assert page.evaluate("window.__tones") == [1320, 220]  # a high beep, then a low buzz
    assert page.evaluate("window.__vibrations") == [60, [250]]
    assert page.errors == []
    context.close()


def test_digital_card_code_is_verified_like_any_token(scanner, show_qr, demo_cards):
    page = scanner()
    card = db.session.scalar(select(Card).where(Card.number == demo_cards["active"]))
    show_qr(page, cards.digital_token(card))
    expect(page.locator(VERDICT)).to_have_attribute("data-state", "ok")


def test_manual_entry_checks_the_number_in_the_browser_and_on_the_server(scanner, demo_cards):
    page = scanner()
    number = demo_cards["active"]
    field = page.get_by_label("Card number")
    field.fill(number[:-1] + ("2" if number[-1] != "2" else "3"))
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#manual-number-error")).to_be_visible()
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.locator(VERDICT)).to_have_count(0)

    field.fill(f"{number[:3].lower()} {number[3:6]}-{number[6:]}")
    page.get_by_role("button", name="Check").click()
    verdict = page.locator(VERDICT)
    expect(verdict).to_have_attribute("data-state", "warn")  # typed: look at the card
    expect(verdict.locator(".card-number")).to_have_text(f"{number[:3]} {number[3:6]} {number[6:]}")
    verdict.get_by_role("button", name="Record visit").click()
    expect(verdict).to_have_attribute("data-state", "recorded")
    [visit] = visits()
    assert visit.source is VisitSource.MANUAL


def test_course_provider_has_no_children_stepper(live_server, demo_cards, camera_page, show_qr):
    page = camera_page(None, None)
    sign_in(page, live_server.url, "opisto@example.fi")
    start(page)
    show_qr(page, token_of(demo_cards["active"]))
    verdict = page.locator(VERDICT)
    expect(verdict).to_have_attribute("data-state", "ok")
    expect(verdict.locator("[data-slot=children-stepper]")).to_have_count(0)
    expect(verdict.locator("[data-slot=assistants-stepper]")).to_be_visible()
    expect(verdict.locator("[data-slot=max-children]")).to_have_text(
        "None: courses admit no children free"
    )
    expect(verdict.get_by_role("button", name="Record visit")).to_be_visible()


def test_a_community_card_shows_its_kind_and_a_stepper_up_to_its_group(
    live_server, demo_cards, camera_page, show_qr
):
    page = camera_page(None, None)
    sign_in(page, live_server.url, "ovi@example.fi")
    start(page)
    show_qr(page, token_of(demo_cards["community"]))
    verdict = page.locator(VERDICT)
    expect(verdict).to_have_attribute("data-state", "ok")
    expect(verdict.locator("[data-slot=kind-row]")).to_be_visible()
    expect(verdict.locator("[data-slot=kind]")).to_have_text("Community card")
    children = verdict.get_by_role("spinbutton", name="Children")  # beside the assistants
    expect(children).to_have_attribute("max", "5")
    for _ in range(6):
        verdict.get_by_role("button", name="One child more").click()
    expect(children).to_have_value("5")  # the group's limit
    verdict.get_by_role("button", name="Record visit").click()
    expect(verdict).to_have_attribute("data-state", "recorded")
    [visit] = visits()
    assert (visit.adults, visit.children) == (1, 5)


def go_offline(page: Page) -> None:
    page.context.set_offline(True)
    expect(page.locator("#scanner-status")).to_have_class(re.compile("is-offline"))


def test_offline_scan_queues_the_visit_and_sends_it_exactly_once(
    scanner, show_qr, demo_cards, no_sw_context
):
    page = scanner(no_sw_context)
    answers_lost = []

    def lose_first_answer(route: Route) -> None:
        if not answers_lost:
            answers_lost.append(route.fetch().status)  # the server stores the visit ...
            route.abort()  # ... and the answer never reaches the phone
        else:
            route.continue_()

    page.route("**/scan/sync", lose_first_answer)
    go_offline(page)
    show_qr(page, token_of(demo_cards["active"]))
    verdict = page.locator(VERDICT)
    expect(verdict).to_have_attribute("data-state", "ok")
    expect(verdict).to_have_attribute("data-offline", "true")
    expect(verdict).to_contain_text("Offline check")
    verdict.get_by_role("button", name="One child more").click()
    verdict.get_by_role("button", name="Record visit").click()
    expect(verdict).to_have_attribute("data-state", "queued")
    expect(page.locator("[data-slot=queue]")).to_have_attribute("data-pending", "1")
    assert visits() == []

    page.context.set_offline(False)
    expect(page.locator("[data-slot=queue]")).to_have_attribute("data-pending", "0", timeout=20_000)
    assert answers_lost == [201]
    [visit] = visits()
    assert (visit.children, visit.source) == (1, VisitSource.OFFLINE)

    # Sending again (two senders at once) stores nothing new.
    page.evaluate("() => Promise.all([KaikuOffline.flush(), KaikuOffline.flush()])")
    assert len(visits()) == 1


def test_offline_a_community_card_shows_its_kind_and_a_personal_card_none(
    scanner, show_qr, demo_cards, no_sw_context
):
    page = scanner(no_sw_context)
    page.wait_for_load_state("networkidle")  # the offline list has fully arrived
    go_offline(page)
    verdict = page.locator(VERDICT)
    show_qr(page, token_of(demo_cards["community"]))
    expect(verdict).to_have_attribute("data-offline", "true")
    expect(verdict).to_have_attribute("data-state", "ok")
    expect(verdict.locator("[data-slot=kind-row]")).to_be_visible()
    expect(verdict.locator("[data-slot=max-children]")).to_have_text("5")
    verdict.get_by_role("button", name="Scan next").click()
    show_qr(page, token_of(demo_cards["active"]))
    expect(verdict).to_have_attribute("data-state", "ok")
    expect(verdict.locator("[data-slot=kind-row]")).to_be_hidden()


def test_offline_refuses_forged_revoked_and_digital_codes(
    scanner, show_qr, demo_cards, no_sw_context
):
    page = scanner(no_sw_context)
    go_offline(page)
    active = db.session.scalar(select(Card).where(Card.number == demo_cards["active"]))
    verdict = page.locator(VERDICT)
    cases = [
        (tokens.sign_card(active.number, active.generation, ["forger"]), "offline_unknown"),
        (token_of(demo_cards["revoked"]), "offline_unknown"),
        (cards.digital_token(active), "offline_digital"),
    ]
    for code, reason in cases:
        show_qr(page, code)
        expect(verdict).to_have_attribute("data-reason", reason)
        expect(verdict).to_have_attribute("data-state", "refuse")
        expect(verdict).to_have_attribute("data-offline", "true")


def test_offline_typed_number_is_checked_against_the_list(scanner, demo_cards, no_sw_context):
    page = scanner(no_sw_context)
    page.wait_for_load_state("networkidle")  # the offline list has fully arrived
    go_offline(page)
    page.get_by_label("Card number").fill(demo_cards["active"])
    page.get_by_role("button", name="Check").click()
    verdict = page.locator(VERDICT)
    expect(verdict).to_have_attribute("data-state", "warn")  # typed: look at the card
    expect(verdict).to_have_attribute("data-reason", "check_card")
    expect(verdict).to_have_attribute("data-offline", "true")


def test_revocation_reaches_the_offline_list_at_the_next_sync(
    scanner, show_qr, demo_cards, no_sw_context
):
    page = scanner(no_sw_context)
    page.wait_for_load_state("networkidle")  # the first list has fully arrived
    size = int(page.locator("#scanner-status").get_attribute("data-list-size"))
    card = db.session.scalar(select(Card).where(Card.number == demo_cards["active"]))
    cards.revoke_card(card, actor=None, reason="lost")
    db.session.commit()
    page.reload()  # the page syncs the list's changes when it starts
    expect(page.locator("#scanner-status")).to_have_attribute("data-list-size", str(size - 1))
    # Without a service worker the decoder's WASM must have arrived before the network goes.
    start(page)
    page.wait_for_load_state("networkidle")
    go_offline(page)
    show_qr(page, token_of(demo_cards["active"]))
    expect(page.locator(VERDICT)).to_have_attribute("data-reason", "offline_unknown")


def test_scanner_has_no_serious_accessibility_violations(scanner, show_qr, demo_cards, axe_check):
    page = scanner()
    assert axe_check(page) == []
    show_qr(page, token_of(demo_cards["active"]))
    expect(page.locator(VERDICT)).to_have_attribute("data-state", "ok")
    assert axe_check(page) == []
    show_qr(page, token_of(demo_cards["revoked"]))
    expect(page.locator(VERDICT)).to_have_attribute("data-state", "refuse")
    assert axe_check(page) == []


def test_scanner_fits_a_360_pixel_phone(scanner, show_qr, demo_cards):
    page = scanner()
    page.set_viewport_size({"width": 360, "height": 740})
    show_qr(page, token_of(demo_cards["active"]))
    verdict = page.locator(VERDICT)
    expect(verdict).to_have_attribute("data-state", "ok")
    widths = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert widths[0] <= widths[1]
    for button in verdict.get_by_role("button").all():
        box = button.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44, button.text_content()
    record = verdict.get_by_role("button", name="Record visit").bounding_box()
    assert record["y"] + record["height"] <= 740


def test_browser_check_character_agrees_with_the_server(scanner):
    from webapp import cardnumbers

    page = scanner()
    numbers = [cardnumbers.new_number() for _ in range(40)]
    typos = [n[:4] + ("Z" if n[4] != "Z" else "Y") + n[5:] for n in numbers]
    odd = ["", "K7MX4PQ2", "k7m-x4p q2d", "O0I1L", "ÄÖÅ123456"]
    candidates = numbers + typos + odd
    in_browser = page.evaluate(
        """async (candidates) => {
          const { isValidNumber } = await import("/static/js/cardnumber.js");
          return candidates.map(isValidNumber);
        }""",
        candidates,
    )
    assert in_browser == [cardnumbers.is_valid(c) for c in candidates]


def test_browser_reads_printed_numbers_as_the_server(scanner):
    from webapp import cardnumbers

    page = scanner()
    number = cardnumbers.new_number()
    printed = [number] + [
        cardnumbers.printed_number(number, g, cardnumbers.new_secret())
        for g in (2, 3, 31, 32, 962, cardnumbers.MAX_GENERATION)
    ]
    typos = [p[:10] + ("Z" if p[10] != "Z" else "Y") + p[11:] for p in printed[1:]]
    unsecret = number[:8] + "3"  # a reissued card's number before the secret: none now
    unsecret += cardnumbers.ALPHABET[-cardnumbers._weighted_sum(unsecret, 10) % 31]
    candidates = printed + [p.lower() for p in printed] + typos + [unsecret, "", "x" * 15]
    in_browser = page.evaluate(
        """async (candidates) => {
          const { parsePrinted } = await import("/static/js/cardnumber.js");
          return candidates.map((c) => {
            const p = parsePrinted(c);
            return p && [p.number, p.generation, p.secret];
          });
        }""",
        candidates,
    )
    expected = [cardnumbers.parse_printed(c) for c in candidates]
    assert in_browser == [list(p) if p else None for p in expected]
    assert None not in in_browser[: 2 * len(printed)]  # every printed number, any case, reads


def tab_to(page: Page, selector: str, presses: int = 40) -> None:
    """Press Tab until the element matching ``selector`` has focus, as a keyboard user would."""
    for _ in range(presses):
        if page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def type_number(page: Page, number: str) -> None:
    tab_to(page, "#manual-number")
    page.keyboard.type(number)
    page.keyboard.press("Enter")


def test_keyboard_only_door_flow_with_escape_and_focus(live_server, demo_cards, camera_page):
    page = camera_page(None, None)
    sign_in(page, live_server.url)
    tab_to(page, "#scanner-start")
    page.keyboard.press("Enter")
    expect(page.locator("#scanner")).to_have_attribute("data-camera", "running")
    number = page.locator("#manual-number")
    verdict = page.locator(VERDICT)

    type_number(page, demo_cards["active"])
    expect(verdict).to_have_attribute("data-state", "warn")  # typed: look at the card
    expect(verdict.locator(".verdict-title")).to_be_focused()
    page.keyboard.press("Escape")  # not this one after all
    expect(verdict).to_have_count(0)
    expect(number).to_be_focused()
    assert visits() == []

    page.keyboard.type(demo_cards["active"])  # straight on: focus is in the number field
    page.keyboard.press("Enter")
    expect(verdict).to_have_attribute("data-state", "warn")
    tab_to(page, "#verdict .record-button")
    page.keyboard.press("Enter")
    expect(verdict).to_have_attribute("data-state", "recorded")
    tab_to(page, "#verdict .next-button")
    page.keyboard.press("Enter")  # "Scan next"
    expect(verdict).to_have_count(0)
    expect(number).to_be_focused()
    assert len(visits()) == 1

    type_number(page, demo_cards["revoked"])
    expect(verdict).to_have_attribute("data-state", "refuse")
    page.keyboard.press("Escape")
    expect(verdict).to_have_count(0)
    expect(number).to_be_focused()


RING_JS = """() => {
  const rgb = (text) => text.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const focused = getComputedStyle(document.activeElement);
  const panel = getComputedStyle(document.querySelector("#verdict .verdict"));
  return {
    ring: rgb(focused.outlineColor),
    width: parseFloat(focused.outlineWidth),
    style: focused.outlineStyle,
    background: rgb(panel.backgroundColor),
  };
}"""


def contrast(a: list[float], b: list[float]) -> float:
    """WCAG 2.1 contrast ratio of two sRGB colours."""

    def luminance(rgb):
        c = [v / 255 for v in rgb]
        c = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_focus_ring_stands_out_on_every_verdict_colour(
    live_server, demo_cards, camera_page, show_qr
):
    page = camera_page(None, None)
    sign_in(page, live_server.url)
    start(page)
    verdict = page.locator(VERDICT)
    seen = {}
    for shown, state in [
        (lambda: show_qr(page, token_of(demo_cards["active"])), "ok"),  # green: scanned
        (lambda: type_number(page, demo_cards["active"]), "warn"),  # orange: typed
        (lambda: type_number(page, demo_cards["revoked"]), "refuse"),  # red
    ]:
        shown()
        expect(verdict).to_have_attribute("data-state", state)
        show_qr(page, None)
        count = page.evaluate(
            "() => [...document.querySelectorAll('#verdict button')]"
            ".map((b, i) => b.setAttribute('data-i', i)).length"
        )
        for i in range(count):
            tab_to(page, f'#verdict button[data-i="{i}"]')
            ring = page.evaluate(RING_JS)
            assert ring["style"] == "solid" and ring["width"] >= 3, (state, ring)
            assert contrast(ring["ring"], ring["background"]) >= 3, (state, ring)
            seen[state] = ring
        if state == "ok":
            tab_to(page, "#verdict .record-button")
            page.keyboard.press("Enter")
            expect(verdict).to_have_attribute("data-state", "recorded")
        page.keyboard.press("Escape")
        expect(verdict).to_have_count(0)
    assert seen.keys() == {"ok", "warn", "refuse"}


def verify_requests(page: Page) -> list[dict[str, list[str]]]:
    """Collect the form fields of every verify request the page sends from now on."""
    sent: list[dict[str, list[str]]] = []
    page.on(
        "request",
        lambda r: sent.append(parse_qs(r.post_data)) if r.url.endswith("/scan/verify") else None,
    )
    return sent


def reader_types(page: Page, code: str) -> None:
    """Type the code as a USB barcode reader does: keystrokes 5 ms apart, then Enter."""
    page.keyboard.type(code, delay=5)
    page.keyboard.press("Enter")


def test_usb_reader_code_is_a_scan_wherever_focus_is(scanner, demo_cards):
    page = scanner()
    sent = verify_requests(page)
    page.evaluate("() => document.activeElement?.blur()")
    token = token_of(demo_cards["active"])
    reader_types(page, token)
    verdict = page.locator(VERDICT)
    expect(verdict).to_have_attribute("data-state", "ok")
    assert [request["token"] for request in sent] == [[token]]
    verdict.get_by_role("button", name="Record visit").click()
    expect(verdict).to_have_attribute("data-state", "recorded")
    [visit] = visits()
    assert visit.source is VisitSource.CAMERA
    # A card number read from a barcode of it goes as a number: it is no token.
    reader_types(page, demo_cards["revoked"])
    expect(verdict).to_have_attribute("data-reason", "revoked")
    assert sent[-1]["number"] == [demo_cards["revoked"]] and "token" not in sent[-1]
    assert page.errors == []


def test_usb_reader_code_in_the_number_field_is_a_scan_not_a_typed_number(scanner, demo_cards):
    page = scanner()
    sent = verify_requests(page)
    field = page.locator("#manual-number")
    field.focus()
    token = token_of(demo_cards["revoked"])
    reader_types(page, token)
    verdict = page.locator(VERDICT)
    expect(verdict).to_have_attribute("data-reason", "revoked")  # the card's own verdict
    assert [request["token"] for request in sent] == [[token]]
    expect(field).to_have_value("")  # the reader's characters are taken back
    expect(page.locator("#manual-number-error")).to_be_hidden()
    assert page.errors == []


def test_slow_typing_in_the_number_field_stays_a_typed_number(scanner, demo_cards):
    page = scanner()
    sent = verify_requests(page)
    page.locator("#manual-number").focus()
    number = demo_cards["active"]
    page.keyboard.type(number, delay=80)  # a person, typing fast
    page.keyboard.press("Enter")
    verdict = page.locator(VERDICT)
    expect(verdict).to_have_attribute("data-state", "warn")  # typed: look at the card
    assert [(request.get("token"), request["number"]) for request in sent] == [(None, [number])]
    verdict.get_by_role("button", name="Record visit").click()
    expect(verdict).to_have_attribute("data-state", "recorded")
    [visit] = visits()
    assert visit.source is VisitSource.MANUAL


def test_usb_reader_on_its_us_layout_behind_a_finnish_keyboard(scanner, demo_cards):
    page = scanner()
    card = db.session.scalar(select(Card).where(Card.number == demo_cards["active"]))
    while not {"-", "_"} & set(token := token_of(card.number)):
        cards.reissue_card(card, actor=None)  # a new signature, until one has - or _
        db.session.commit()
    sent = verify_requests(page)
    cdp = page.context.new_cdp_session(page)
    # The key beside 0 types "+" (with Shift "?") in the Finnish layout.
    finnish = {"-": ("+", 0), "_": ("?", 8)}
    for char in token:
        key, modifiers = finnish.get(char, (char, 0))
        code = "Minus" if char in finnish else ""
        for kind in ("keyDown", "keyUp"):
            event = {"type": kind, "key": key, "code": code, "modifiers": modifiers}
            cdp.send(
                "Input.dispatchKeyEvent", {**event, "text": key} if kind == "keyDown" else event
            )
    page.keyboard.press("Enter")
    expect(page.locator(VERDICT)).to_have_attribute("data-state", "ok")
    assert [request["token"] for request in sent] == [[token]]
