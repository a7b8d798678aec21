"""Cards imported from the national register at the scanner: their Code 39 barcode read by
the camera in Chromium, their ID typed, and offline "check online"."""

from __future__ import annotations

import base64
import io

import pytest
import zxingcpp
from PIL import Image, ImageDraw
from playwright.sync_api import expect
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Card, VisitSource
from webapp.services import imports

from . import test_scanner
from .test_scanner import VERDICT, go_offline, visits

scanner = test_scanner.scanner  # the scanner page signed in as the theatre's door staff
no_sw_context = test_scanner.no_sw_context

REGISTER_ID = "KK100234"

# Code 39: each character is 9 elements, bar and space in turn from a bar; 1 is wide.
CODE39 = {
    "0": "000110100", "1": "100100001", "2": "001100001", "3": "101100000",
    "4": "000110001", "5": "100110000", "6": "001110000", "7": "000100101",
    "8": "100100100", "9": "001100100", "A": "100001001", "B": "001001001",
    "C": "101001000", "D": "000011001", "E": "100011000", "F": "001011000",
    "G": "000001101", "H": "100001100", "I": "001001100", "J": "000011100",
    "K": "100000011", "L": "001000011", "M": "101000010", "N": "000010011",
    "O": "100010010", "P": "001010010", "Q": "000000111", "R": "100000110",
    "S": "001000110", "T": "000010110", "U": "110000001", "V": "011000001",
    "W": "111000000", "X": "010010001", "Y": "110010000", "Z": "011010000",
    "-": "010000101", "*": "010010100",
}  # fmt: skip


def code39_image(text: str, narrow: int = 3, wide: int = 8, height: int = 160) -> Image.Image:
    """Draw the Code 39 barcode of the text (with its * start and stop) on white."""
    widths = []
    for char in f"*{text}*":
        widths += [wide if element == "1" else narrow for element in CODE39[char]]
        widths.append(narrow)  # the gap between characters
    quiet = 10 * narrow
    image = Image.new("L", (sum(widths) + 2 * quiet, height + 2 * quiet), 255)
    draw, x = ImageDraw.Draw(image), quiet
    for position, width in enumerate(widths):
        if position % 10 < 9 and position % 10 % 2 == 0:  # a bar (even element of a char)
            draw.rectangle([x, quiet, x + width - 1, quiet + height], fill=0)
        x += width
    return image


def data_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def test_the_test_barcode_is_code_39_of_the_id():
    [found] = zxingcpp.read_barcodes(code39_image(REGISTER_ID))
    assert (found.format, found.text) == (zxingcpp.BarcodeFormat.Code39, REGISTER_ID)


@pytest.fixture
def imported(demo_cards):
    header = "id,region,distributor,valid_from,valid_until,children,birth_year,postcode"
    row = f"{REGISTER_ID},pohjois-savo,Kuopion sosiaalipalvelut,2026-01-01,2026-12-31,2,1970,70100"
    report = imports.import_cards(f"{header}\n{row}\n".encode(), dry_run=False)
    assert report.stored
    db.session.commit()
    return db.session.scalar(select(Card).where(Card.legacy_id == REGISTER_ID))


def test_a_register_cards_code_39_from_the_camera_is_accepted_unsigned(scanner, imported):
    page = scanner()
    page.evaluate("(url) => window.__setFakeQr(url)", data_url(code39_image(REGISTER_ID)))
    verdict = page.locator(VERDICT)
    expect(verdict).to_have_attribute("data-state", "warn", timeout=10_000)
    expect(verdict).to_have_attribute("data-reason", "ok")
    expect(verdict.locator(".verdict-title")).to_have_text("Accepted – unsigned card")
    expect(verdict).to_contain_text("reissue it as a signed card")
    verdict.get_by_role("button", name="One child more").click()
    verdict.get_by_role("button", name="Record visit").click()
    expect(verdict).to_have_attribute("data-state", "recorded")
    [visit] = visits()
    assert (visit.card_id, visit.children, visit.source) == (imported.id, 1, VisitSource.CAMERA)
    assert page.errors == []


def test_a_register_id_typed_is_checked_and_offline_it_asks_to_check_online(
    scanner, imported, no_sw_context
):
    page = scanner(no_sw_context)
    page.get_by_label("Card number").fill("kk-100 234")
    page.get_by_role("button", name="Check").click()
    verdict = page.locator(VERDICT)
    expect(verdict).to_have_attribute("data-state", "warn")
    expect(verdict.locator(".verdict-title")).to_have_text("Accepted – unsigned card")

    page.keyboard.press("Escape")  # the verdict closes
    page.wait_for_load_state("networkidle")  # the offline list has fully arrived
    go_offline(page)
    page.get_by_label("Card number").fill(REGISTER_ID)
    page.get_by_role("button", name="Check").click()
    expect(verdict).to_have_attribute("data-reason", "offline_unsigned")
    expect(verdict).to_have_attribute("data-state", "refuse")
    expect(verdict.locator(".verdict-title")).to_have_text("Check online")
    assert page.errors == []
