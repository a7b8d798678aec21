"""The public catalogue in Chromium: a phone and a desktop, Finnish and Swedish, JS off too."""

import gzip
import os
from pathlib import Path

import pytest

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
