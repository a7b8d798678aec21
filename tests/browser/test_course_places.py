"""The scanner at a course provider in Chromium: a card's second enrolment on a course."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Card, Event, Organisation, User
from webapp.services import cards, door

from .test_scanner import VERDICT, sign_in, start, token_of, visits


def test_a_card_already_on_the_course_is_shown_its_place_and_nothing_new_is_stored(
    live_server, demo_cards, camera_page, show_qr
):
    course = db.session.scalar(select(Event).where(Event.name == "Kevään kurssikausi"))
    card = db.session.scalar(select(Card).where(Card.number == demo_cards["active"]))
    door.record_visit(
        door.Shown.scanned(cards.printed_token(card)),
        venue=db.session.scalar(
            select(Organisation).where(Organisation.name == "Kuopion kansalaisopisto")
        ),
        user=db.session.scalar(select(User).where(User.email == "opisto@example.fi")),
        children=0,
        event=course,
    )
    db.session.commit()

    page = camera_page(None, None)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, live_server.url, "opisto@example.fi")
    page.locator("#place-event").select_option(str(course.id))
    page.get_by_role("button", name="Use", exact=True).click()
    expect(page.locator("#place-event")).to_have_value(str(course.id))
    start(page)

    show_qr(page, token_of(demo_cards["active"]))
    verdict = page.locator(VERDICT)
    expect(verdict).to_have_attribute("data-state", "warn")
    expect(verdict.locator(".verdict-title")).to_have_text("Already has a place on this course")
    expect(verdict).to_contain_text("None: courses admit no children free")
    verdict.get_by_role("button", name="Record visit").click()

    expect(verdict).to_have_attribute("data-reason", "already_enrolled")
    expect(verdict.locator(".verdict-title")).to_have_text("Already has a place on this course")
    expect(verdict).to_contain_text("No new use was recorded")
    expect(verdict.get_by_role("button", name="Undo")).to_have_count(0)
    expect(page.locator("#recent-visits li")).to_have_count(0)
    assert len(visits()) == 1
    assert errors == []
