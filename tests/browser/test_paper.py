"""Paper records as a phone and a desktop show them: upload, preview, confirm."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from webapp.rules import HELSINKI

SHOTS = Path("/tmp/shots-paper")


def finnish(days: int, hour: int) -> str:
    moment = (datetime.now(UTC) - timedelta(days=days)).astimezone(HELSINKI)
    return f"{moment:%d.%m.%Y} {hour}:15"


def door_page(browser: Browser, base: str, width: int, language: str) -> Page:
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.goto(f"{base}/language/en?next=/")
    page.get_by_label("Email").fill("ovi@example.fi")
    page.get_by_label("Password").fill("kaikukortti-demo")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/scan**")
    page.goto(f"{base}/language/{language}?next=/paper")
    return page


@pytest.mark.parametrize("language", ["fi", "sv"])
@pytest.mark.parametrize("width", [390, 1280])
def test_a_paper_list_is_previewed_and_stored_on_a_phone_and_a_desktop(
    browser, live_server, demo_cards, axe_check, width, language
):
    page = door_page(browser, live_server.url, width, language)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"upload-{language}-{width}.png", full_page=True)
    assert axe_check(page) == []
    rows = [
        "kortti;aika;lapset;avustajat",
        f"{demo_cards['active']};{finnish(2, 18)};2;1",
        f"{demo_cards['active']};{finnish(2, 18)};2;1",
        f"{demo_cards['lappi']};{finnish(1, 12)};0;0",
        f"{demo_cards['active']};31.2.2026 10:00;0;0",
        f"{demo_cards['expired']};{finnish(40, 17)};0;0",
    ]
    page.locator("input[type=file]").set_input_files(
        files=[{"name": "ovi.csv", "mimeType": "text/csv", "buffer": "\n".join(rows).encode()}]
    )
    page.locator(".paper-upload button[type=submit]").click()
    expect(page.locator("tr[data-status]")).to_have_count(5)
    statuses = page.locator("tr[data-status]").evaluate_all(
        "(rows) => rows.map((row) => row.dataset.status)"
    )
    assert statuses == ["new", "repeated", "refused", "invalid", "new"]
    page.screenshot(path=SHOTS / f"preview-{language}-{width}.png", full_page=True)
    width_seen = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert width_seen[0] <= width_seen[1], "the page scrolls sideways"
    assert axe_check(page) == []
    page.locator(".paper-confirm button").click()
    expect(page.locator(".paper-confirm")).to_have_count(0)
    expect(page.locator("tr[data-status=new]")).to_have_count(2)
    page.screenshot(path=SHOTS / f"stored-{language}-{width}.png", full_page=True)
    assert axe_check(page) == []
    page.context.close()


def test_the_coordinator_enters_paper_records_from_the_network_menu(
    browser, live_server, demo_cards, axe_check
):
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{live_server.url}/language/fi?next=/")
    page.get_by_label("Sähköposti").fill("koordinaattori@example.fi")
    page.get_by_label("Salasana", exact=True).fill("kaikukortti-demo")
    page.get_by_role("button", name="Kirjaudu sisään").click()
    page.wait_for_url("**/coordinator/")
    page.get_by_role("navigation", name="Verkosto").get_by_role(
        "link", name="Paperikirjaukset"
    ).click()
    expect(page.get_by_role("heading", name="Paperikirjaukset", level=1)).to_be_visible()
    options = page.get_by_label("Kohde").locator("option").all_text_contents()
    assert "Kuopion kaupunginteatteri" in options and "Kajaanin kaupunginteatteri" not in options
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "coordinator-fi-1280.png", full_page=True)
    assert axe_check(page) == []
    page.context.close()
