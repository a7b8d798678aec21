"""Nothing accepted offline is lost: each way a visit used to vanish, in Chromium.

Each test ends with the visit stored exactly once on the server, or visibly refused on the
phone until the staff marks it handled.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, Route, expect
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import (
    Card,
    ConflictCode,
    Organisation,
    Role,
    User,
    VisitConflict,
    VisitSource,
)
from webapp.rules import helsinki_date
from webapp.services import cards, stats

from ..factories import create_user
from . import test_scanner
from .test_scanner import VERDICT, go_offline, start, token_of, visits

QUEUE = "[data-slot=queue]"
scanner = test_scanner.scanner  # the scanner's fixtures, by name
no_sw_context = test_scanner.no_sw_context


def record_offline(page: Page, show_qr, token: str, more_children: int = 0) -> None:
    show_qr(page, token)
    verdict = page.locator(VERDICT)
    expect(verdict).to_have_attribute("data-offline", "true")
    for _ in range(more_children):
        verdict.get_by_role("button", name="One child more").click()
    verdict.get_by_role("button", name="Record visit").click()
    expect(verdict).to_have_attribute("data-state", "queued")
    verdict.get_by_role("button", name="Scan next").click()
    show_qr(page, None)


def hold_uploads(page: Page) -> list[int]:
    """Let nothing reach /scan/sync (a server out of reach) until ``page.unroute``."""
    held: list[int] = []
    page.route("**/scan/sync", lambda route: (held.append(1), route.abort()))
    return held


def card_id(number: str) -> int:
    return db.session.scalar(select(Card.id).where(Card.number == number))


def user_id(email: str) -> int:
    return db.session.scalar(select(User.id).where(User.email == email))


def conflicts() -> list[ConflictCode]:
    db.session.rollback()
    return list(db.session.scalars(select(VisitConflict.code).order_by(VisitConflict.id)))


def test_a_shift_change_on_a_shared_phone_delivers_the_visit_as_the_recorders(
    live_server, show_qr, demo_cards, scanner, no_sw_context
):
    theatre = db.session.scalar(
        select(Organisation).where(Organisation.name == "Kuopion kaupunginteatteri")
    )
    create_user("ilta@example.fi", Role.VENUE, [theatre], password="kaikukortti-demo")
    db.session.commit()
    page = scanner(no_sw_context)
    hold_uploads(page)
    go_offline(page)
    record_offline(page, show_qr, token_of(demo_cards["active"]))
    page.context.set_offline(False)
    expect(page.locator("#scanner-status")).not_to_have_class(re.compile("is-offline"))
    assert visits() == []

    # The evening shift signs in on the same phone; the server can be reached again.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/$"))
    page.unroute("**/scan/sync")
    page.get_by_label("Email").fill("ilta@example.fi")
    page.get_by_label("Password").fill("kaikukortti-demo")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/scan$"))
    expect(page.locator(QUEUE)).to_have_attribute("data-pending", "0", timeout=20_000)
    [visit] = visits()
    assert visit.recorded_by_id == user_id("ovi@example.fi")
    assert visit.card_id == card_id(demo_cards["active"])
    expect(page.locator(QUEUE)).to_be_hidden()  # nothing refused


def test_children_above_the_cap_cannot_be_typed_offline(
    show_qr, demo_cards, scanner, no_sw_context
):
    page = scanner(no_sw_context)
    go_offline(page)
    show_qr(page, token_of(demo_cards["active"]))  # the card allows two children
    verdict = page.locator(VERDICT)
    expect(verdict).to_have_attribute("data-offline", "true")
    verdict.locator("input[name=children]").fill("5")
    verdict.get_by_role("button", name="Record visit").click()
    expect(verdict).to_have_attribute("data-state", "queued")
    expect(verdict).to_contain_text("1 adult, 2 children")
    page.context.set_offline(False)
    expect(page.locator(QUEUE)).to_have_attribute("data-pending", "0", timeout=20_000)
    [visit] = visits()
    assert visit.children == 2 and conflicts() == []


def test_an_assistant_recorded_offline_is_stored_and_counted_at_sync(
    show_qr, demo_cards, scanner, no_sw_context
):
    page = scanner(no_sw_context)
    go_offline(page)
    show_qr(page, token_of(demo_cards["active"]))
    verdict = page.locator(VERDICT)
    expect(verdict).to_have_attribute("data-offline", "true")
    verdict.get_by_role("button", name="One assistant more").click()
    verdict.get_by_role("button", name="Record visit").click()
    expect(verdict).to_have_attribute("data-state", "queued")
    expect(verdict).to_contain_text("1 adult, 0 children, assistants: 1")
    verdict.get_by_role("button", name="Scan next").click()
    expect(page.locator("#recent-visits li")).to_contain_text("assistants: 1")
    assert visits() == []
    page.context.set_offline(False)
    expect(page.locator(QUEUE)).to_have_attribute("data-pending", "0", timeout=20_000)
    [visit] = visits()
    assert (visit.source, visit.children, visit.assistants) == (VisitSource.OFFLINE, 0, 1)
    day = helsinki_date(visit.recorded_at)
    assert stats.visit_stats(day, day, "venue", None).totals.assistants == 1
    assert stats.national_table(day.year, None).totals.assistants == 1


def test_assistants_above_two_cannot_be_typed_offline(show_qr, demo_cards, scanner, no_sw_context):
    page = scanner(no_sw_context)
    go_offline(page)
    show_qr(page, token_of(demo_cards["active"]))
    verdict = page.locator(VERDICT)
    expect(verdict).to_have_attribute("data-offline", "true")
    verdict.locator("input[name=assistants]").fill("5")
    verdict.get_by_role("button", name="Record visit").click()
    expect(verdict).to_have_attribute("data-state", "queued")  # in the queue before online
    expect(verdict).to_contain_text("1 adult, 0 children, assistants: 2")
    page.context.set_offline(False)
    expect(page.locator(QUEUE)).to_have_attribute("data-pending", "0", timeout=20_000)
    [visit] = visits()
    assert visit.assistants == 2 and conflicts() == []


def test_a_card_revoked_between_the_scan_and_the_sync_is_stored_with_its_conflict(
    show_qr, demo_cards, scanner, no_sw_context
):
    page = scanner(no_sw_context)
    go_offline(page)
    record_offline(page, show_qr, token_of(demo_cards["active"]))
    card = db.session.get(Card, card_id(demo_cards["active"]))
    cards.revoke_card(card, actor=None, reason="lost")
    db.session.commit()
    page.context.set_offline(False)
    expect(page.locator(QUEUE)).to_have_attribute("data-pending", "0", timeout=20_000)
    [visit] = visits()
    assert visit.card_id == card.id
    assert conflicts() == [ConflictCode.REVOKED_AFTER_SCAN]
    page.goto(page.url.replace("/scan", "/venue/conflicts"))
    expect(page.locator("[data-conflict=revoked_after_scan]")).to_contain_text(card.number)


def test_a_transient_conflict_is_retried_and_a_refusal_is_kept_until_handled(
    show_qr, demo_cards, scanner, no_sw_context
):
    page = scanner(no_sw_context)
    answers = []

    def conflict_twice(route: Route) -> None:
        if len(answers) < 2:
            answers.append(422 if not answers else 409)
            route.fulfill(
                status=answers[-1],
                content_type="application/json",
                body='{"error": "conflict", "message": "Try again."}',
            )
        else:
            route.continue_()

    page.route("**/scan/sync", conflict_twice)
    go_offline(page)
    record_offline(page, show_qr, token_of(demo_cards["active"]))
    page.context.set_offline(False)
    expect(page.locator(QUEUE)).to_have_attribute("data-pending", "0", timeout=30_000)
    assert answers == [422, 409] and len(visits()) == 1

    # A refusal the server means (a scan too old to be stored) stays on the phone, shown.
    page.unroute("**/scan/sync")
    page.route(
        "**/scan/sync",
        lambda route: route.fulfill(
            status=422,
            content_type="application/json",
            body='{"error": "scan_too_old", "message": "Too old."}',
        ),
    )
    go_offline(page)
    record_offline(page, show_qr, token_of(demo_cards["active"]))  # again: orange, recordable
    page.context.set_offline(False)
    refused = page.locator("#recent-visits li[data-refused=true]")
    expect(refused).to_have_count(1, timeout=20_000)
    expect(refused).to_contain_text("Not accepted when sent")
    expect(refused.locator("time")).not_to_be_empty()
    page.reload()
    start(page)
    expect(refused).to_have_count(1)  # kept over a reload, never deleted unseen
    expect(page.locator(QUEUE)).to_contain_text("Not accepted when sent: 1")
    refused.get_by_role("button", name=re.compile("^Handled")).click()
    expect(refused).to_have_count(0)
    expect(page.locator(QUEUE)).to_be_hidden()
    assert len(visits()) == 1


def test_undo_of_a_record_whose_answer_was_lost_removes_the_servers_visit(
    show_qr, demo_cards, scanner, no_sw_context
):
    page = scanner(no_sw_context)
    stored = []

    def lose_answer(route: Route) -> None:
        stored.append(route.fetch().status)  # the server stores the visit ...
        route.abort("timedout")  # ... and the answer never comes

    page.route("**/scan/visits", lose_answer)
    show_qr(page, token_of(demo_cards["active"]))
    verdict = page.locator(VERDICT)
    verdict.get_by_role("button", name="Record visit").click()
    expect(verdict).to_have_attribute("data-state", "queued")
    assert stored == [201] and len(visits()) == 1
    verdict.get_by_role("button", name="Undo").click()
    row = page.locator("#recent-visits li").first
    expect(row).to_contain_text("Undone", timeout=20_000)
    assert visits() == []


def test_a_record_whose_answer_was_lost_keeps_its_assistants_on_the_phone(
    show_qr, demo_cards, scanner, no_sw_context
):
    page = scanner(no_sw_context)
    page.route("**/scan/visits", lambda route: (route.fetch(), route.abort("timedout")))
    show_qr(page, token_of(demo_cards["active"]))
    verdict = page.locator(VERDICT)
    verdict.get_by_role("button", name="One assistant more").click()
    verdict.get_by_role("button", name="Record visit").click()
    expect(verdict).to_have_attribute("data-state", "queued")
    expect(verdict).to_contain_text("1 adult, 0 children, assistants: 1")
    [visit] = visits()
    assert visit.assistants == 1


def test_the_recent_list_and_its_undo_survive_a_reload(show_qr, demo_cards, scanner, no_sw_context):
    page = scanner(no_sw_context)
    show_qr(page, token_of(demo_cards["active"]))
    verdict = page.locator(VERDICT)
    verdict.get_by_role("button", name="One assistant more").click()
    verdict.get_by_role("button", name="Record visit").click()
    expect(verdict).to_have_attribute("data-state", "recorded")
    assert len(visits()) == 1
    page.wait_for_load_state("networkidle")
    page.reload()
    row = page.locator("#recent-visits li")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Sent")
    expect(row).to_contain_text("assistants: 1")
    row.get_by_role("button", name="Undo").click()
    expect(row).to_contain_text("Undone", timeout=20_000)
    assert visits() == []


def test_an_undo_the_server_does_not_know_stays_shown_instead_of_done(
    show_qr, demo_cards, scanner, no_sw_context
):
    page = scanner(no_sw_context)
    show_qr(page, token_of(demo_cards["active"]))
    verdict = page.locator(VERDICT)
    verdict.get_by_role("button", name="Record visit").click()
    expect(verdict).to_have_attribute("data-state", "recorded")
    page.wait_for_load_state("networkidle")
    page.reload()
    page.route(
        "**/scan/sync/undo",
        lambda route: route.fulfill(
            status=404,
            content_type="application/json",
            body='{"error": "not_found", "message": "Not found."}',
        ),
    )
    row = page.locator("#recent-visits li")
    row.get_by_role("button", name="Undo").click()
    expect(page.locator("#recent-visits li[data-refused=true]")).to_have_count(1, timeout=20_000)
    expect(row).to_contain_text("Not undone: the visit stays recorded")
    assert len(visits()) == 1  # the visit stands, and the phone says its undo did not happen
