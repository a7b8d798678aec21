"""Printed cards read back the way a phone at the door reads them.

Each PDF is rendered with pypdfium2 and its QR codes decoded with zxing-cpp, an
independent decoder, then checked with the door service itself.
"""

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
import segno
import zxingcpp
from sqlalchemy import select

from webapp.cardnumbers import format_number
from webapp.extensions import db
from webapp.models import Card, Organisation
from webapp.rules import Reason
from webapp.services import cards, door, printing

MM_PER_POINT = 25.4 / 72
CARD_DPI = 600
SHEET_DPI = 200


def organisation(name: str) -> Organisation:
    return db.session.scalar(select(Organisation).where(Organisation.name == name))


@pytest.fixture
def card(demo_cards) -> Card:
    return db.session.scalar(select(Card).where(Card.number == demo_cards["active"]))


@pytest.fixture
def venue(demo_cards) -> Organisation:
    return organisation("Kuopion kaupunginteatteri")


def page_size_mm(page) -> tuple[float, float]:
    width, height = page.get_size()
    return width * MM_PER_POINT, height * MM_PER_POINT


def decode(page, dpi: int) -> list:
    image = page.render(scale=dpi / 72).to_pil()
    return zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)


def page_text(page) -> str:
    return page.get_textpage().get_text_range()


def test_card_is_id1_size_on_both_sides(card):
    document = pdfium.PdfDocument(printing.card_pdf(card))
    assert len(document) == 2
    for page in document:
        width, height = page_size_mm(page)
        assert width == pytest.approx(85.60, abs=0.01)
        assert height == pytest.approx(53.98, abs=0.01)


def test_card_qr_reads_back_as_the_cards_token_and_verifies(card, venue):
    page = pdfium.PdfDocument(printing.card_pdf(card))[0]
    (result,) = decode(page, CARD_DPI)
    assert result.text == cards.printed_token(card)
    assert door.verify(door.Shown.scanned(result.text), venue).reason is Reason.OK


def test_qr_is_large_with_a_quiet_zone_and_error_correction_m_or_higher(card):
    page = pdfium.PdfDocument(printing.card_pdf(card))[0]
    image = page.render(scale=CARD_DPI / 72).to_pil().convert("L")
    (result,) = decode(page, CARD_DPI)
    assert result.ec_level in ("M", "Q", "H")

    left, top = result.position.top_left.x, result.position.top_left.y
    right, bottom = result.position.bottom_right.x, result.position.bottom_right.y
    width_mm = (right - left) / CARD_DPI * 25.4
    assert width_mm >= 20

    modules = 17 + 4 * int(result.extra["Version"])
    module = (right - left) / modules
    quiet, slack = round(4 * module), round(module / 2)  # slack: anti-aliased symbol edge
    ring = image.crop((left - quiet, top - quiet, right + quiet, bottom + quiet))
    inner = (quiet - slack, quiet - slack, ring.width - quiet + slack, ring.height - quiet + slack)
    dark = [
        (x, y)
        for x in range(0, ring.width, 3)
        for y in range(0, ring.height, 3)
        if ring.getpixel((x, y)) < 128
        and not (inner[0] <= x < inner[2] and inner[1] <= y < inner[3])
    ]
    assert dark == [], "something is printed in the QR code's quiet zone"


def test_qr_is_drawn_as_vectors_not_as_an_image(card):
    page = pdfium.PdfDocument(printing.card_pdf(card))[0]
    kinds = [obj.type for obj in page.get_objects()]
    assert pdfium_c.FPDF_PAGEOBJ_IMAGE not in kinds
    assert kinds.count(pdfium_c.FPDF_PAGEOBJ_PATH) > 100


def test_front_shows_number_expiry_region_and_a_line_for_the_name(card):
    text = page_text(pdfium.PdfDocument(printing.card_pdf(card))[0])
    expiry = card.valid_until
    assert format_number(card.number) in text
    assert f"{expiry.day}.{expiry.month}.{expiry.year}" in text
    assert "Pohjois-Savo" in text
    assert "Nimi / Namn" in text


def test_back_has_the_rules_in_finnish_and_swedish(card):
    text = page_text(pdfium.PdfDocument(printing.card_pdf(card))[1])
    assert "henkilökohtainen" in text and "kursseille" in text
    assert "personligt" in text and "kurser" in text


def test_card_looks_like_any_membership_card(card):
    document = pdfium.PdfDocument(printing.card_pdf(card))
    text = " ".join(page_text(page) for page in document).lower()
    for telltale in ("sosiaali", "social", "pienitulo", "low income", "toimeentulo", "kela"):
        assert telltale not in text
    assert card.issuer.name.lower() not in text
    assert str(card.birth_year) not in text and card.postcode not in text


def test_reissued_card_prints_the_new_generation(card, venue):
    old = decode(pdfium.PdfDocument(printing.card_pdf(card))[0], CARD_DPI)[0].text
    cards.reissue_card(card, actor=None)
    db.session.flush()
    new = decode(pdfium.PdfDocument(printing.card_pdf(card))[0], CARD_DPI)[0].text
    assert door.verify(door.Shown.scanned(new), venue).reason is Reason.OK
    assert door.verify(door.Shown.scanned(old), venue).reason is Reason.REPLACED


def test_reissued_card_shows_its_new_printed_number_with_the_random_characters(card):
    lost = format_number(card.printed_number)
    cards.reissue_card(card, actor=None)
    db.session.flush()
    text = page_text(pdfium.PdfDocument(printing.card_pdf(card))[0])
    printed = format_number(card.printed_number)
    assert printed in text and card.printed_secret in printed.replace(" ", "")
    assert lost not in text.replace(printed, "")


@pytest.mark.parametrize("count", [1, 10, 13])
def test_a4_sheets_of_n_cards_decode_to_n_tokens(demo_cards, venue, count):
    issuer = organisation("Kuopion sosiaalipalvelut")
    batch = [
        cards.issue_card(issuer=issuer, actor=None, birth_year=1970, postcode="70100", children=1)
        for _ in range(count)
    ]
    db.session.flush()
    document = pdfium.PdfDocument(printing.sheet_pdf(batch))
    sheets = -(-count // 10)
    assert len(document) == 2 * sheets  # each page of fronts is followed by its backs
    tokens = []
    for index, page in enumerate(document):
        width, height = page_size_mm(page)
        assert (round(width), round(height)) == (210, 297)
        if index % 2 == 0:  # a page of fronts; its backs carry the catalogue's QR codes
            tokens += [result.text for result in decode(page, SHEET_DPI)]
    assert sorted(tokens) == sorted(cards.printed_token(card) for card in batch)
    assert all(
        door.verify(door.Shown.scanned(token), venue).reason is Reason.OK for token in tokens
    )


def printed_modules(result) -> list[list[int]]:
    """Return the dark (1) and light (0) modules the decoder sampled from the page."""
    symbol = memoryview(result.to_image(scale=1, add_quiet_zones=False))
    size, pixels = symbol.shape[0], symbol.tobytes()
    return [
        [int(pixels[row * size + column] < 128) for column in range(size)] for row in range(size)
    ]


def test_sheet_qr_codes_are_printed_module_for_module_with_the_best_mask(demo_cards, card):
    issuer = organisation("Kuopion sosiaalipalvelut")
    batch = [card] + [
        cards.issue_card(issuer=issuer, actor=None, birth_year=1980, postcode="70100", children=0)
        for _ in range(9)
    ]
    db.session.flush()
    fronts, backs = pdfium.PdfDocument(printing.sheet_pdf(batch))
    results = decode(fronts, SHEET_DPI) + decode(backs, SHEET_DPI * 2)
    assert len(results) == 20
    for result in results:
        symbol = segno.make(result.text, error="m", micro=False)  # its standard mask choice
        assert printed_modules(result) == [list(row) for row in symbol.matrix], result.text
        assert result.extra["DataMask"] == symbol.mask


def test_sheet_without_backs_has_fronts_only(card):
    document = pdfium.PdfDocument(printing.sheet_pdf([card], backs=False))
    assert len(document) == 1
    assert len(decode(document[0], SHEET_DPI)) == 1


def test_back_carries_the_catalogues_qr_and_short_address_the_same_on_every_card(
    app, card, demo_cards
):
    app.config["CATALOGUE_URL"] = "https://kaikukortti.example/offers"
    try:
        other = db.session.scalar(select(Card).where(Card.number == demo_cards["lappi"]))
        backs = [pdfium.PdfDocument(printing.card_pdf(c))[1] for c in (card, other)]
        for back in backs:
            (result,) = decode(back, CARD_DPI)
            assert result.text == "https://kaikukortti.example/offers"
            assert card.number not in result.text
            assert "kaikukortti.example/offers" in page_text(back)
    finally:
        app.config["CATALOGUE_URL"] = None


def test_without_a_configured_address_the_back_points_at_this_sites_catalogue(app, card):
    with app.test_request_context("/", base_url="http://127.0.0.1:5000"):
        back = pdfium.PdfDocument(printing.card_pdf(card))[1]
    (result,) = decode(back, CARD_DPI)
    assert result.text == "http://127.0.0.1:5000/offers"


def test_sheet_backs_carry_one_catalogue_qr_per_card(app, demo_cards):
    numbers = [demo_cards["active"], demo_cards["lappi"]]
    sheet = printing.sheet_pdf(db.session.scalars(select(Card).where(Card.number.in_(numbers))))
    backs = pdfium.PdfDocument(sheet)[1]
    texts = sorted(result.text for result in decode(backs, SHEET_DPI * 2))
    assert texts == ["/offers", "/offers"]


def test_a_card_of_a_region_with_sami_letters_prints_and_reads_back(card, venue):
    card.region.name = "Čohkkiras – Anár ŋ Ž"
    db.session.flush()
    pdf = printing.card_pdf(card)
    document = pdfium.PdfDocument(pdf)
    assert "Čohkkiras – Anár ŋ Ž" in page_text(document[0])
    (result,) = decode(document[0], CARD_DPI)
    assert result.text == cards.printed_token(card)


@pytest.fixture
def community_card(demo_cards) -> Card:
    return db.session.scalar(select(Card).where(Card.number == demo_cards["community"]))


def test_a_community_card_has_its_own_title_and_names_its_organisation(community_card):
    front = page_text(pdfium.PdfDocument(printing.card_pdf(community_card))[0])
    assert "Yhteisön Kaikukortti" in front and "Gemenskapens Kaikukort" in front
    assert "Kuopion sosiaalipalvelut" in front and "Yhteisö / Gemenskap" in front
    assert "Nimi / Namn" not in front
    assert format_number(community_card.printed_number) in front


def test_a_community_cards_back_has_the_groups_rules(community_card):
    back = " ".join(page_text(pdfium.PdfDocument(printing.card_pdf(community_card))[1]).split())
    assert "Yhteisön kortti" in back and "alle 16-vuotiaita" in back and "kursseille" in back
    assert "Gemenskapens kort" in back and "under 16" in back
    assert "henkilökohtainen" not in back and "personligt" not in back


def test_a_community_card_reads_back_and_verifies(community_card, venue):
    [code] = decode(pdfium.PdfDocument(printing.card_pdf(community_card))[0], CARD_DPI)
    verdict = door.verify(door.Shown.scanned(code.text), venue)
    assert verdict.reason is Reason.OK and verdict.card.is_community


def test_a_sheet_gives_each_card_the_back_of_its_kind(card, community_card):
    document = pdfium.PdfDocument(printing.sheet_pdf([card, community_card]))
    fronts, backs = page_text(document[0]), page_text(document[1])
    assert fronts.count("Yhteisön Kaikukortti") == 1
    assert backs.count("Yhteisön kortti") == 1 and backs.count("henkilökohtainen") == 1
