"""A full event at the door, in Chromium: the refusal's words on red, in Finnish and Swedish."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Card, Event, Organisation
from webapp.services import cards, door

from .test_scanner import VERDICT, open_scanner, token_of

SHOTS = os.environ.get("KAIKU_SCREENSHOTS")  # a directory: keep a screenshot of each case


@pytest.fixture
def full_event(demo_cards):
    venue = db.session.scalar(
        select(Organisation).where(Organisation.name == "Kuopion kaupunginteatteri")
    )
    event = Event(venue=venue, name="Ensi-ilta", starts_on=cards.today_in_finland(), quota=1)
    db.session.add(event)
    venue.quota_full_refuses = True
    replaced = db.session.scalar(select(Card).where(Card.number == demo_cards["replaced"]))
    shown = door.Shown.scanned(cards.printed_token(replaced))
    door.record_visit(shown, venue=venue, user=None, children=0, event=event)
    db.session.commit()
    yield event
    venue.quota_full_refuses = False
    db.session.commit()


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize(
    ("language", "title", "holder"),
    [
        ("fi", "Paikat täynnä", "Valitettavasti tapahtuman Kaikukortti-paikat on jo käytetty."),
        ("sv", "Platserna är slut", "Tyvärr är evenemangets platser för Kaikukortet slut."),
    ],
)
def test_full_event_refusal_is_red_with_its_own_words(
    live_server, demo_cards, camera_page, show_qr, full_event, width, language, title, holder
):
    page = open_scanner(camera_page(None, None), live_server.url)
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{live_server.url}/language/{language}?next=/scan")
    page.goto(f"{live_server.url}/scan?event={full_event.id}")
    page.locator("#scanner-start").click()  # "Aloita" / "Starta": the page was loaded anew
    expect(page.locator("#scanner")).to_have_attribute("data-camera", "running", timeout=20_000)
    show_qr(page, token_of(demo_cards["active"]))
    verdict = page.locator(VERDICT)
    expect(verdict).to_have_attribute("data-state", "refuse")
    expect(verdict).to_have_attribute("data-reason", "quota_full")
    expect(verdict.locator(".verdict-title")).to_have_text(title)
    expect(verdict.locator(".verdict-holder")).to_contain_text(holder)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"quota-refused-{language}-{width}.png"))
    assert page.errors == []
