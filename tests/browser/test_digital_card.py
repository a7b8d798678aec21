"""The digital card in headless Chromium: its QR code passes the door, online and offline.

The QR code on the screen is read back with zxing-cpp from a screenshot, as a phone
camera at the door would, and checked with the door service or POST /api/v1/verify.
The phone signs its codes itself, so none outlives DIGITAL_TOKEN_MAX_AGE.
"""

import io
import re
import time
from datetime import datetime, timedelta

import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Route, expect
from sqlalchemy import select

from webapp.cardnumbers import format_number
from webapp.demo import PASSWORD
from webapp.extensions import db
from webapp.models import (
    Card,
    ConflictCode,
    Organisation,
    User,
    Visit,
    VisitConflict,
    VisitSource,
)
from webapp.rules import Reason
from webapp.services import accounts, cards, door

from .test_scanner import VERDICT, go_offline, open_scanner


@pytest.fixture
def card(demo_cards) -> Card:
    return db.session.scalar(select(Card).where(Card.number == demo_cards["active"]))


@pytest.fixture
def venue(demo_cards) -> Organisation:
    return db.session.scalar(
        select(Organisation).where(Organisation.name == "Kuopion kaupunginteatteri")
    )


@pytest.fixture
def new_context(browser):
    contexts = []

    def make():
        contexts.append(browser.new_context(viewport={"width": 390, "height": 844}))
        return contexts[-1]

    yield make
    for context in contexts:
        context.close()


def read_qr(image: Image.Image) -> str:
    results = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(results) == 1, "expected exactly one readable QR code"
    return results[0].text


def screen_code(page, selector: str = "#card-qr") -> str:
    """Read the QR code shown on the page, as a phone at the door would."""
    return read_qr(Image.open(io.BytesIO(page.locator(selector).screenshot())))


def api_verify(app, code: str) -> dict:
    """Check a code as a box office would: POST /api/v1/verify as the theatre's staff."""
    staff = db.session.scalar(select(User).where(User.email == "ovi@example.fi"))
    token = accounts.create_api_token(staff)
    db.session.commit()
    response = app.test_client().post(
        "/api/v1/verify", json={"token": code}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    return response.get_json()


def codes_in(html: str) -> set[str]:
    """Every string in the page that could be a card's code: a phone-signed or printed one."""
    device = set(re.findall(r"C\.[A-Za-z0-9_-]{200,}", html))
    printed = set(re.findall(r"[0-9A-Z]{9}\.[0-9]{1,9}\.[A-Za-z0-9_-]{43}", html))
    digital = set(re.findall(r"D\.[0-9A-Z]{9}\.[0-9]{1,9}\.[A-Za-z0-9_-]+", html))
    return device | printed | digital


@pytest.fixture
def short_window(app):
    """A 4-second DIGITAL_TOKEN_MAX_AGE on the live server, so a test can wait past it."""
    before = app.config["DIGITAL_TOKEN_MAX_AGE"]
    app.config["DIGITAL_TOKEN_MAX_AGE"] = 4
    yield 4
    app.config["DIGITAL_TOKEN_MAX_AGE"] = before


def test_no_code_on_the_card_outlives_its_window_online_or_offline(
    app, new_context, live_server, card, short_window, axe_check
):
    context = new_context()
    page = context.new_page()
    page.goto(f"{live_server.url}/k/{card.digital_key}")

    page.locator("#qr-live svg").wait_for(state="visible")
    online = screen_code(page)
    assert online.startswith("C.") and len(online) < 300  # signed by the phone itself
    assert api_verify(app, online)["reason"] == "ok"
    assert page.locator(".card-number").inner_text() == format_number(card.number)
    assert axe_check(page) == []
    seen = [page.content()]

    page.wait_for_function("document.documentElement.dataset.offlineReady === 'true'")
    cdp = context.new_cdp_session(page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["url"] == f"{live_server.url}/k/{card.digital_key}/manifest.json"
    assert manifest.get("errors", []) == []
    problems = {
        e["errorId"] for e in cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    }
    assert problems <= {"in-incognito"}  # Playwright's contexts are incognito profiles

    context.set_offline(True)
    page.reload()
    page.locator("#qr-live svg").wait_for(state="visible")
    offline = screen_code(page)
    assert offline.startswith("C.") and offline != online  # signed offline, by the phone
    assert api_verify(app, offline)["reason"] == "ok"
    assert page.locator(".card-number").inner_text() == format_number(card.number)
    seen.append(page.content())
    kept = page.evaluate(
        """async () => {
            const cache = await caches.open("kaikukortti-card-v2");
            const texts = [];
            for (const request of await cache.keys()) {
                texts.push(await (await cache.match(request)).text());
            }
            return texts.join("\\n");
        }"""
    )
    seen.append(kept)
    assert cards.printed_token(card) not in "".join(seen)

    time.sleep(short_window + 1.5)
    for code in {online, offline} | set().union(*map(codes_in, seen)):
        assert api_verify(app, code)["reason"] == "token_expired", code
    # The page goes on signing fresh codes offline.
    assert api_verify(app, screen_code(page))["reason"] == "ok"


def test_second_browser_is_refused(new_context, live_server, card):
    url = f"{live_server.url}/k/{card.digital_key}"
    first = new_context().new_page()
    first.goto(url)
    first.locator("#card-qr svg").first.wait_for(state="visible")

    second = new_context().new_page()
    response = second.goto(url)
    assert response.status == 403
    assert second.locator("#refused-title").is_visible()
    assert second.locator("svg").count() == 0
    assert format_number(card.number) not in second.content()

    first.reload()
    first.locator("#card-qr svg").first.wait_for(state="visible")  # the first phone keeps it


def test_a_new_card_passes_the_door_on_paper_and_on_the_phone(
    new_context, live_server, demo_cards, venue, axe_check
):
    desk = new_context().new_page()
    desk.goto(f"{live_server.url}/")
    desk.fill("#email", "jakaja@example.fi")
    desk.fill("#password", PASSWORD)
    desk.click("button[type=submit]")
    assert axe_check(desk) == []
    desk.click("a[href='/distributor/cards/new']")
    desk.fill("#birth_year", "2020")
    desk.press("#birth_year", "Tab")
    expect(desk.locator("#birth_year-error")).to_contain_text("16")  # checked as soon as typed
    assert axe_check(desk) == []
    desk.fill("#birth_year", "1975")
    desk.fill("#postcode", "70100")
    desk.fill("#children", "3")
    desk.click("form.register-form button[type=submit]")
    desk.wait_for_url(re.compile(r"/distributor/cards/[0-9A-Z]{9}$"))
    assert axe_check(desk) == []

    pdf = desk.request.get(f"{desk.url}/card.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    front = pdfium.PdfDocument(pdf.body())[0].render(scale=600 / 72).to_pil()
    assert door.verify(door.Shown.scanned(read_qr(front)), venue).reason is Reason.OK

    desk.click("a[href$='/handover']")
    link = screen_code(desk, ".handover-qr")
    assert link.startswith(f"{live_server.url}/k/")
    assert axe_check(desk) == []

    phone = new_context().new_page()
    phone.goto(link)
    phone.locator("#qr-live svg").wait_for(state="visible")
    assert door.verify(door.Shown.scanned(screen_code(phone)), venue).reason is Reason.OK
    expect(desk.locator("#handover-status")).to_have_class(
        re.compile("status-done"), timeout=10_000
    )


def phone_code(context, base: str, card: Card) -> str:
    """Open the card on a phone and read the code it signs."""
    page = context.new_page()
    page.goto(f"{base}/k/{card.digital_key}")
    page.locator("#qr-live svg").wait_for(state="visible")
    return screen_code(page)


def test_an_offline_scanner_accepts_the_phones_code_once_and_refuses_a_moved_cards_old_phone(
    app, browser, new_context, live_server, card, camera_page, show_qr
):
    old_phone_code = phone_code(new_context(), live_server.url, card)
    db.session.rollback()  # see what the server thread committed
    cards.move_digital_card(db.session.get(Card, card.id), actor=None)
    db.session.commit()
    moved = db.session.get(Card, card.id)
    code = phone_code(new_context(), live_server.url, moved)
    assert api_verify(app, old_phone_code)["reason"] == "replaced"

    scanners = browser.new_context(permissions=["camera"], service_workers="block")
    try:
        page = open_scanner(camera_page(scanners, None), live_server.url)
        page.wait_for_load_state("networkidle")  # the offline list has fully arrived
        go_offline(page)
        verdict = page.locator(VERDICT)

        show_qr(page, old_phone_code)  # the phone the card moved away from
        expect(verdict).to_have_attribute("data-state", "refuse")
        expect(verdict).to_have_attribute("data-offline", "true")

        show_qr(page, code)
        expect(verdict).to_have_attribute("data-state", "ok")
        expect(verdict).to_have_attribute("data-offline", "true")
        expect(verdict).to_contain_text(format_number(card.number))
        verdict.get_by_role("button", name="Record visit").click()
        expect(verdict).to_have_attribute("data-state", "queued")

        show_qr(page, cards.printed_token(moved).replace(".", ":"))  # something else between
        expect(verdict).to_have_attribute("data-state", "refuse")
        show_qr(page, code)  # the same code again: a second use, not a new visit
        expect(verdict).to_have_attribute("data-state", "warn")
        expect(verdict).to_have_attribute("data-reason", "offline_visited_today")

        page.context.set_offline(False)
        expect(page.locator("[data-slot=queue]")).to_have_attribute(
            "data-pending", "0", timeout=20_000
        )
        db.session.rollback()
        stored = db.session.scalars(select(Visit).where(Visit.card_id == card.id)).all()
        assert [(v.source, v.children) for v in stored] == [(VisitSource.OFFLINE, 0)]
        assert page.errors == []
    finally:
        scanners.close()


def test_undo_of_a_phone_code_visit_reaches_the_server(
    browser, new_context, live_server, card, camera_page, show_qr
):
    code = phone_code(new_context(), live_server.url, card)
    scanners = browser.new_context(permissions=["camera"], service_workers="block")
    try:
        page = open_scanner(camera_page(scanners, None), live_server.url)
        show_qr(page, code)
        verdict = page.locator(VERDICT)
        expect(verdict).to_have_attribute("data-state", "ok")
        verdict.get_by_role("button", name="Record visit").click()
        expect(verdict).to_have_attribute("data-state", "recorded")
        db.session.rollback()
        assert len(db.session.scalars(select(Visit).where(Visit.card_id == card.id)).all()) == 1
        page.wait_for_load_state("networkidle")
        page.reload()  # the recent list's undo goes by the scanner's key
        row = page.locator("#recent-visits li")
        expect(row).to_have_count(1)
        row.get_by_role("button", name="Undo").click()
        expect(row).to_contain_text("Undone", timeout=20_000)
        db.session.rollback()
        assert db.session.scalars(select(Visit).where(Visit.card_id == card.id)).all() == []
        assert page.errors == []
    finally:
        scanners.close()


def test_a_phone_code_two_offline_scanners_accepted_is_stored_twice_as_a_second_use(
    browser, new_context, live_server, card, camera_page, show_qr
):
    code = phone_code(new_context(), live_server.url, card)
    scanners = [browser.new_context(permissions=["camera"], service_workers="block")]
    scanners.append(browser.new_context(permissions=["camera"], service_workers="block"))
    try:
        pages = [open_scanner(camera_page(context, None), live_server.url) for context in scanners]
        for page in pages:
            page.wait_for_load_state("networkidle")  # the offline list has fully arrived
            go_offline(page)
            show_qr(page, code)  # a screenshot of the code, shown at both doors
            verdict = page.locator(VERDICT)
            expect(verdict).to_have_attribute("data-state", "ok")
            verdict.get_by_role("button", name="Record visit").click()
            expect(verdict).to_have_attribute("data-state", "queued")
        for page in pages:
            page.context.set_offline(False)
            expect(page.locator("[data-slot=queue]")).to_have_attribute(
                "data-pending", "0", timeout=20_000
            )
        db.session.rollback()
        stored = db.session.scalars(select(Visit).where(Visit.card_id == card.id)).all()
        assert len(stored) == 2
        codes = db.session.scalars(select(VisitConflict.code).join(Visit)).all()
        assert codes == [ConflictCode.SECOND_USE]
        pages[0].goto(f"{live_server.url}/venue/conflicts")
        expect(pages[0].locator("[data-conflict=second_use]")).to_contain_text(card.number)
    finally:
        for context in scanners:
            context.close()


def test_an_offline_scanner_judges_a_codes_time_by_the_servers_clock(
    browser, new_context, live_server, card, camera_page, show_qr
):
    code = phone_code(new_context(), live_server.url, card)  # signed now
    scanners = browser.new_context(permissions=["camera"], service_workers="block")

    def server_behind(route: Route) -> None:  # this phone's clock is an hour ahead
        response = route.fetch()
        body = response.json()
        behind = datetime.fromisoformat(body["generated_at"]) - timedelta(hours=1)
        route.fulfill(response=response, json={**body, "generated_at": behind.isoformat()})

    try:
        scanners.route(re.compile(r"/scan/offline-list\?"), server_behind)
        page = open_scanner(camera_page(scanners, None), live_server.url)
        page.wait_for_load_state("networkidle")
        go_offline(page)
        # By the server's clock the code is dated an hour ahead, as one signed for later
        # would be on a scanner whose clock agrees with it: refused, not green.
        show_qr(page, code)
        verdict = page.locator(VERDICT)
        expect(verdict).to_have_attribute("data-state", "refuse")
        expect(verdict).to_have_attribute("data-reason", "token_expired")
        assert page.errors == []
    finally:
        scanners.close()
