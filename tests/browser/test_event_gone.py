"""An event deactivated while the door is open, in Chromium: the next scan is refused in
its own words, nothing is recorded, and the page's button opens it again without the event."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Event, Organisation
from webapp.services import cards

from .test_scanner import VERDICT, open_scanner, token_of, visits

SHOTS = os.environ.get("KAIKU_SCREENSHOTS")  # a directory: keep a screenshot of each case


@pytest.fixture
def event(demo_cards):
    venue = db.session.scalar(
        select(Organisation).where(Organisation.name == "Kuopion kaupunginteatteri")
    )
    event = Event(venue=venue, name="Hamlet", starts_on=cards.today_in_finland())
    db.session.add(event)
    db.session.commit()
    yield event
    db.session.rollback()
    db.session.delete(db.session.get(Event, event.id))
    db.session.commit()


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize(
    ("language", "title", "again"),
    [
        ("fi", "Valitse tapahtuma uudelleen", "Valitse tapahtuma"),
        ("sv", "Välj evenemanget igen", "Välj evenemanget"),
    ],
)
def test_a_scan_at_an_event_deactivated_meanwhile_is_refused_until_chosen_again(
    live_server, demo_cards, camera_page, show_qr, axe_check, event, width, language, title, again
):
    page = open_scanner(camera_page(None, None), live_server.url)
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{live_server.url}/language/{language}?next=/scan")
    page.goto(f"{live_server.url}/scan?event={event.id}")
    expect(page.locator("#place-event")).to_have_value(str(event.id))
    event.active = False  # the coordinator, while the page is open
    db.session.commit()

    page.locator("#scanner-start").click()
    expect(page.locator("#scanner")).to_have_attribute("data-camera", "running", timeout=20_000)
    show_qr(page, token_of(demo_cards["active"]))
    verdict = page.locator(VERDICT)
    expect(verdict).to_have_attribute("data-reason", "unknown_event")
    expect(verdict).to_have_attribute("data-state", "refuse")
    expect(verdict.locator(".verdict-title")).to_have_text(title)
    assert axe_check(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"event-gone-{language}-{width}.png"))
    assert visits() == []

    verdict.get_by_role("button", name=again, exact=True).click()
    expect(page.locator("#place-event")).to_have_value("")
    assert page.evaluate("location.hash") == "#place"  # the chooser in view
    expect(page.locator("#place-event")).to_be_in_viewport()
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"event-chosen-again-{language}-{width}.png"))
    expect(page.locator("#place-event option", has_text="Hamlet")).to_have_count(0)
    page.locator("#scanner-start").click()
    show_qr(page, token_of(demo_cards["active"]))
    expect(page.locator(VERDICT)).to_have_attribute("data-reason", "ok")
    assert page.errors == []


def test_a_page_reloaded_after_the_event_was_deactivated_says_so(
    live_server, demo_cards, camera_page, show_qr, axe_check, event
):
    page = open_scanner(camera_page(None, None), live_server.url)
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{live_server.url}/scan?event={event.id}")
    event.active = False
    db.session.commit()
    page.reload()  # as a phone does, the session remembering the event
    verdict = page.locator(VERDICT)
    expect(verdict).to_have_attribute("data-reason", "unknown_event")
    expect(verdict).to_be_in_viewport()
    assert axe_check(page) == []
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / "event-gone-on-load-en-390.png"))
    verdict.get_by_role("button", name="Choose the event", exact=True).click()
    expect(page.locator("#place-event")).to_have_value("")
    expect(page.locator(VERDICT)).to_have_count(0)
    assert page.errors == []
