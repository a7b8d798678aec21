"""The distributor's card list in headless Chromium, on a phone and on a desktop."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from webapp.cardnumbers import format_number


def sign_in(page: Page, base: str, email: str = "jakaja@example.fi") -> None:
    page.goto(f"{base}/language/en?next=/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("kaikukortti-demo")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/distributor/$"))


@pytest.mark.parametrize("width", [390, 1280])
def test_card_list_reads_without_sideways_scroll(browser, live_server, demo_cards, width):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    sign_in(page, live_server.url)
    widths = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert widths[0] <= widths[1]
    row = page.locator("tr", has=page.get_by_text(format_number(demo_cards["active"])))
    for cell in row.locator("td").all():
        box = cell.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, cell.text_content()
    for fact in ("Valid until", "Region", "Children"):
        label = page.get_by_role("columnheader", name=fact)
        expect(row.locator(f'td[data-label="{fact}"]')).to_be_visible()
        if width == 390:  # each fact carries its own label on a phone
            content = row.locator(f'td[data-label="{fact}"]').evaluate(
                "(td) => getComputedStyle(td, '::before').content"
            )
            assert fact in content
        else:
            expect(label).to_be_visible()
    tick = row.get_by_role("checkbox").bounding_box()
    assert tick["width"] >= 20  # still easy to tick on a phone
    context.close()


@pytest.mark.parametrize("width", [390, 1280])
def test_renewal_worklist_reads_without_sideways_scroll(browser, live_server, demo_cards, width):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    sign_in(page, live_server.url)
    page.get_by_role("link", name="Cards to renew").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Cards to renew")
    widths = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert widths[0] <= widths[1]
    number = format_number(demo_cards["expired"])  # expired 35 days ago
    renew = page.get_by_role("link", name=f"Renew {number}")
    box = renew.bounding_box()
    assert box["height"] >= 44 and box["x"] + box["width"] <= width
    renew.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Renew the card")
    context.close()
