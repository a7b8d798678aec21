"""The coordinator's statistics and invitation pages as a phone and a desktop show them."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.factories import create_visit
from webapp.extensions import db
from webapp.models import Card, Organisation
from webapp.rules import today_in_finland

COORDINATOR = "koordinaattori@example.fi"
SHOTS = Path(os.environ.get("KAIKU_SCREENSHOTS", "/tmp/kaikukortti-screenshots"))

# Every element's box, and the boxes of the chart's texts, as the browser laid them out.
LAYOUT_JS = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const element of document.querySelectorAll("body *")) {
    const box = element.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || box.right <= 0) continue;  // skip link
    // a data table may scroll sideways in its own focusable box (WCAG 1.4.10 allows it)
    if (element.closest(".table-scroll")) continue;
    if (box.left < -1 || box.right > width + 1) {
      wide.push(`${element.tagName.toLowerCase()}.${element.className.baseVal ?? element.className}`
        + ` ${Math.round(box.left)}..${Math.round(box.right)}`);
    }
  }
  const texts = [...document.querySelectorAll(".chart-svg text")].map((text) => {
    const box = text.getBoundingClientRect();
    return {text: text.textContent, left: box.left, right: box.right, top: box.top,
            bottom: box.bottom, height: box.height};
  });
  const bars = [...document.querySelectorAll(".chart-svg rect")].map((rect) => {
    const box = rect.getBoundingClientRect();
    return {left: box.left, right: box.right};
  });
  return {width, scrollWidth: document.documentElement.scrollWidth, wide, texts, bars};
}"""


@pytest.fixture
def visits(live_server, demo_cards):
    """Uses in several months of this year at a Pohjois-Savo venue, one with three children."""
    card = db.session.scalar(db.select(Card).where(Card.number == demo_cards["active"]))
    venue = db.session.scalar(
        db.select(Organisation).where(Organisation.name == "Kuopion kaupunginteatteri")
    )
    year = today_in_finland().year  # the page's year, the Finnish one
    for month, children in ((1, 3), (2, 0), (2, 1), (3, 0)):
        moment = datetime(year, month, 10, 12, tzinfo=UTC)
        create_visit(card, venue, recorded_at=moment, children=children)
    db.session.commit()


def coordinator_page(browser: Browser, base: str, width: int, language: str) -> Page:
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.goto(f"{base}/language/en?next=/")
    page.get_by_label("Email").fill(COORDINATOR)
    page.get_by_label("Password").fill("kaikukortti-demo")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/coordinator/")
    page.goto(f"{base}/language/{language}?next=/coordinator/")
    return page


def overlapping(texts: list[dict]) -> list[tuple[str, str]]:
    pairs = []
    for i, a in enumerate(texts):
        for b in texts[i + 1 :]:
            apart = (
                a["right"] <= b["left"]
                or b["right"] <= a["left"]
                or a["bottom"] <= b["top"]
                or b["bottom"] <= a["top"]
            )
            if not apart:
                pairs.append((a["text"], b["text"]))
    return pairs


@pytest.mark.parametrize("language", ["fi", "sv"])
@pytest.mark.parametrize("width", [390, 1280])
def test_statistics_page_fits_the_screen_with_legible_chart_labels(
    browser, live_server, visits, axe_check, width, language
):
    page = coordinator_page(browser, live_server.url, width, language)
    page.goto(f"{live_server.url}/coordinator/stats")
    expect(page.locator(".chart-svg")).to_be_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"stats-{language}-{width}.png", full_page=True)
    layout = page.evaluate(LAYOUT_JS)
    assert layout["scrollWidth"] <= layout["width"], "the page scrolls sideways"
    assert layout["wide"] == [], ("elements wider than the viewport", layout["wide"])
    assert len(layout["texts"]) >= 12 + 12  # a label and a value for every month
    assert overlapping(layout["texts"]) == []
    assert min(text["height"] for text in layout["texts"]) >= 12  # pixels: legible
    assert layout["bars"] and all(bar["right"] <= layout["width"] for bar in layout["bars"])
    # the chart shows the uses its title names: January's bar says 1, not 1 + 3 children
    january = page.locator(".chart-bar").first
    assert january.locator(".chart-value").text_content() == "1"
    assert axe_check(page) == []
    page.context.close()


def test_invitation_link_is_copied_with_one_press(browser, live_server, demo_cards, axe_check):
    page = coordinator_page(browser, live_server.url, 390, "fi")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"{live_server.url}/coordinator/people/new")
    page.get_by_label("Sähköposti").fill("uusi.ovi@example.fi")
    page.get_by_label("Kuopion kaupunginteatteri (Pohjois-Savo)").check()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "person-form-fi-390.png", full_page=True)
    page.get_by_role("button", name="Kutsu").click()
    link = page.get_by_label("Salasanalinkki").input_value()
    assert "/invite/" in link or "/kutsu/" in link or link.startswith("http")
    page.get_by_role("button", name="Kopioi linkki").click()
    expect(page.get_by_role("status").last).to_contain_text("Linkki on kopioitu")
    assert page.evaluate("() => navigator.clipboard.readText()") == link
    page.screenshot(path=SHOTS / "invite-link-fi-390.png", full_page=True)
    assert axe_check(page) == []
    page.context.close()


@pytest.mark.parametrize("language", ["fi", "sv"])
@pytest.mark.parametrize("width", [390, 1280])
def test_national_table_page_is_accessible_and_hides_small_groups(
    browser, live_server, visits, axe_check, width, language
):
    page = coordinator_page(browser, live_server.url, width, language)
    page.goto(f"{live_server.url}/coordinator/stats/national")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"national-{language}-{width}.png", full_page=True)
    layout = page.evaluate(LAYOUT_JS)
    assert layout["scrollWidth"] <= layout["width"], "the page scrolls sideways"
    # the demo's one used card is a group of fewer than five: hidden
    expect(page.locator("td", has_text="< 5").first).to_be_visible()
    assert axe_check(page) == []
    page.context.close()
