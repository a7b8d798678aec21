"""The public catalogue in Chromium: a phone and a desktop, Finnish and Swedish, JS off too."""

import gzip
import os
from datetime import timedelta
from pathlib import Path

import pytest

from webapp.services.cards import today_in_finland

BUDGET = 100_000  # bytes over the wire, gzip, for the page and everything it loads


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where the screenshots go: $KAIKU_SCREENSHOTS to keep them, else the test's folder."""
    folder = Path(os.environ.get("KAIKU_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize("language", ["fi", "sv"])
@pytest.mark.parametrize("width", [390, 1280])
def test_catalogue_reads_well_is_accessible_small_and_cookieless(
    browser, live_server, demo_cards, axe_check, shots, language, width
):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    loaded = []
    page.on("response", lambda response: loaded.append(response))
    page.goto(f"{live_server.url}/offers?lang={language}&region=pohjois-savo")
    page.screenshot(path=str(shots / f"offers-{language}-{width}.png"), full_page=True)

    assert page.locator("html").get_attribute("lang") == language
    assert page.locator(".offer").count() == 3
    assert page.locator(".tag-places").count() == 1
    assert axe_check(page) == []
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width  # nothing runs off a phone's screen
    assert context.cookies() == []
    over_the_wire = sum(len(gzip.compress(r.body())) for r in loaded if r.ok)
    assert over_the_wire < BUDGET
    context.close()


def test_filters_work_with_javascript_off(browser, live_server, demo_cards):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{live_server.url}/offers?lang=fi")
    page.select_option("#field", "education")
    page.get_by_role("button", name="Näytä tarjoukset").click()
    page.wait_for_url("**field=education**")
    titles = page.locator(".offer h3").all_inner_texts()
    assert titles == ["Kevään kurssikausi"]
    assert context.cookies() == []
    context.close()


def test_a_venue_publishes_an_offer_and_finds_it_in_the_catalogue(
    browser, live_server, demo_cards, axe_check
):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{live_server.url}/")
    page.fill("#email", "ovi@example.fi")
    page.fill("#password", "kaikukortti-demo")
    page.click("button[type=submit]")
    page.get_by_role("link", name="Tarjoukset").click()
    page.get_by_role("link", name="Julkaise tarjous").click()
    assert axe_check(page) == []
    page.fill("#title", "Joulukonsertti")
    page.fill("#starts_on", (today_in_finland() + timedelta(days=1)).isoformat())
    page.fill("#starts_at", "18:00")
    page.fill("#quota", "4")
    page.check("#children_welcome")
    page.fill("#text_fi", "Joululauluja koko perheelle.")
    page.get_by_role("button", name="Julkaise").click()
    page.wait_for_url("**/offers/manage")
    assert page.get_by_role("link", name="Joulukonsertti").is_visible()
    assert axe_check(page) == []
    page.goto(f"{live_server.url}/offers?children=y&lang=fi")
    offer = page.locator(".offer", has_text="Joulukonsertti")
    assert "4 Kaikukortti-paikkaa jäljellä" in offer.inner_text()
    context.close()
