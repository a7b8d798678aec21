"""Print-ready Kaikukortti cards as PDF: one ID-1 card, or A4 sheets of ten with crop marks.

The QR code is vector (one filled rectangle per run of dark modules, stretched down over
the rows that repeat the run), at error correction M or higher, with a quiet zone of four
modules kept free of anything else. The back carries the rules and a QR code of the public
offers catalogue with its short address, the same on every card of a kind (its symbol is
encoded once, not once a card). The card is bilingual (Finnish and Swedish) whatever the
user's language, and looks like any membership card: nothing on a personal card names the
issuer or says why it was given. A community card is titled as one and names, in place of
the holder's name line, the organisation that holds it (its workers show it with their
groups), with the community card's rules on its back.

The font is DejaVu Sans, shipped in ``webapp/fonts`` (licence beside it) and embedded as a
subset: it covers every letter of Finland's languages and names, the Sámi ones too
(Čohkkiras, Anár, Ŋ, Ž), so nothing has to be installed on the server.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from pathlib import Path

import segno
from flask import current_app, has_request_context, url_for
from fpdf import FPDF
from fpdf.enums import RenderStyle

from ..cardnumbers import format_number
from ..models import Card, User
from . import audit
from .cards import MIN_AGE, printed_token

CARD_WIDTH = 85.60  # mm, ISO/IEC 7810 ID-1
CARD_HEIGHT = 53.98
QR_SIZE = 29.0  # mm, the symbol without its quiet zone
CATALOGUE_QR_SIZE = 10.5  # mm, the back's QR code of the offers catalogue
QUIET_ZONE = 4  # modules
MARGIN = 4.5  # mm from the card's edge to text

A4_WIDTH, A4_HEIGHT = 210.0, 297.0
SHEET_COLUMNS, SHEET_ROWS = 2, 5
CARDS_PER_SHEET = SHEET_COLUMNS * SHEET_ROWS
CROP_GAP, CROP_LENGTH = 2.0, 6.0  # mm between the card area and a crop mark; its length
BULLET_INDENT = 2.0  # mm

BRAND = (0, 86, 91)  # #00565b, as on the web pages
MUTED = (70, 70, 70)

RULES_FI = (
    "Kortti on henkilökohtainen.",
    "Näytä kortti lipunmyynnissä tai ovella.",
    "Omat lapset ja lapsenlapset (alle {age}\u00a0v.) pääsevät maksutta mukaan tapahtumiin, "
    "mutta eivät kursseille.",
    "Kortti käy Kaikukortti-verkoston kohteissa.",
    "Uusi tai palauta kortti siellä, mistä sait sen.",
)
COMMUNITY_RULES_FI = (
    "Yhteisön kortti: työntekijä näyttää sen ovella.",
    "Työntekijän mukana pääsee maksutta pieni ryhmä alle {group}-vuotiaita asiakkaita "
    "tapahtumiin, mutta ei kursseille.",
    "Kortti käy Kaikukortti-verkoston kohteissa.",
    "{group} vuotta täyttänyt tarvitsee oman kortin.",
)
RULES_SV = (
    "Kortet är personligt.",
    "Visa kortet i biljettkassan eller vid dörren.",
    "Egna barn och barnbarn (under {age}\u00a0år) kommer gratis med till evenemang, "
    "men inte till kurser.",
    "Kortet gäller hos Kaikukortti-nätverkets aktörer.",
    "Förnya eller lämna tillbaka kortet där du fick det.",
)
COMMUNITY_RULES_SV = (
    "Gemenskapens kort: den anställda visar det vid dörren.",
    "Med den anställda kommer en liten grupp klienter under {group}\u00a0år gratis till "
    "evenemang, men inte till kurser.",
    "Kortet gäller hos Kaikukortti-nätverkets aktörer.",
    "Den som fyllt {group}\u00a0år behöver ett eget kort.",
)
COMMUNITY_TITLE_FI, COMMUNITY_TITLE_SV = "Yhteisön Kaikukortti", "Gemenskapens Kaikukort"


@dataclass(frozen=True)
class CardFace:
    """What the front of a card shows."""

    token: str
    number: str
    valid_until: date
    region: str
    community: str | None = None  # a community card's holding organisation


def face_of(card: Card) -> CardFace:
    """Return the front of the card: its current printed token, number, validity and region,
    and a community card's organisation."""
    community = card.issuer.name if card.is_community else None
    return CardFace(
        printed_token(card), card.printed_number, card.valid_until, card.region.name, community
    )


def card_pdf(card: Card) -> bytes:
    """Return one ID-1 card as PDF: page 1 the front, page 2 the back."""
    pdf = _new_pdf((CARD_WIDTH, CARD_HEIGHT), f"Kaikukortti {format_number(card.printed_number)}")
    face = face_of(card)
    pdf.add_page()
    _draw_front(pdf, 0, 0, face)
    pdf.add_page()
    _draw_back(pdf, 0, 0, community=face.community is not None)
    return bytes(pdf.output())


def sheet_pdf(cards: Iterable[Card], *, backs: bool = True) -> bytes:
    """Return A4 pages of up to ten cards each with crop marks.

    With ``backs`` every page of fronts is followed by a page of backs, mirrored for
    two-sided printing that flips on the long edge.
    """
    faces = [face_of(card) for card in cards]
    pdf = _new_pdf("A4", "Kaikukortti")
    for start in range(0, max(len(faces), 1), CARDS_PER_SHEET):
        batch = faces[start : start + CARDS_PER_SHEET]
        pdf.add_page()
        _draw_sheet_notice(pdf)
        _draw_crop_marks(pdf)
        for index, face in enumerate(batch):
            _draw_front(pdf, *_sheet_slot(index), face)
        if backs and batch:
            pdf.add_page()
            _draw_crop_marks(pdf)
            for index, face in enumerate(batch):
                slot = _sheet_slot(index, mirrored=True)
                _draw_back(pdf, *slot, community=face.community is not None)
    return bytes(pdf.output())


def record_printed(cards: Iterable[Card], *, actor: User | None) -> None:
    """Note in the audit log who printed which cards, and which generation."""
    for card in cards:
        audit.record("card.printed", card, actor=actor, generation=card.generation)


FONT = "DejaVu"
FONT_FILES = {
    "": Path(__file__).resolve().parent.parent / "fonts" / "DejaVuSans.ttf",
    "B": Path(__file__).resolve().parent.parent / "fonts" / "DejaVuSans-Bold.ttf",
}


def _new_pdf(page_format, title: str) -> FPDF:
    pdf = FPDF(unit="mm", format=page_format)
    for style, path in FONT_FILES.items():
        pdf.add_font(FONT, style, str(path))
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.set_title(title)
    pdf.set_creator("Kaikukortti")
    return pdf


def _sheet_origin() -> tuple[float, float]:
    return (
        (A4_WIDTH - SHEET_COLUMNS * CARD_WIDTH) / 2,
        (A4_HEIGHT - SHEET_ROWS * CARD_HEIGHT) / 2,
    )


def _sheet_slot(index: int, *, mirrored: bool = False) -> tuple[float, float]:
    """Return the top-left corner of the card at that index on an A4 sheet."""
    row, column = divmod(index, SHEET_COLUMNS)
    if mirrored:
        column = SHEET_COLUMNS - 1 - column
    x0, y0 = _sheet_origin()
    return x0 + column * CARD_WIDTH, y0 + row * CARD_HEIGHT


def _draw_front(pdf: FPDF, x: float, y: float, face: CardFace) -> None:
    qr_left = _draw_qr(pdf, x + CARD_WIDTH - 1.5, y + 4.5, _qr_matrix(face.token))
    pdf.set_text_color(*BRAND)
    if face.community is None:
        pdf.set_font(FONT, "B", 15)
        pdf.text(x + MARGIN, y + 9.5, "Kaikukortti")
    else:
        pdf.set_font(FONT, "B", _fitting_size(pdf, COMMUNITY_TITLE_FI, qr_left - x, 15))
        pdf.text(x + MARGIN, y + 8.5, COMMUNITY_TITLE_FI)
        pdf.set_font(FONT, "B", 7)
        pdf.text(x + MARGIN, y + 12.5, COMMUNITY_TITLE_SV)

    _label(pdf, x + MARGIN, y + 16, "Numero / Nummer")
    pdf.set_font(FONT, "B", _fitting_size(pdf, format_number(face.number), qr_left - x))
    pdf.text(x + MARGIN, y + 22.5, format_number(face.number))

    _label(pdf, x + MARGIN, y + 28, "Voimassa / Giltigt till")
    pdf.set_font(FONT, "B", 11)
    pdf.text(x + MARGIN, y + 32.5, _finnish_date(face.valid_until))

    _label(pdf, x + MARGIN, y + 37.5, "Alue / Region")
    pdf.set_font(FONT, "", 9)
    pdf.text(x + MARGIN, y + 41.5, _fit(pdf, face.region, qr_left - x - MARGIN - 1))

    pdf.set_draw_color(0)
    pdf.set_line_width(0.2)
    pdf.line(x + MARGIN, y + 47.5, x + CARD_WIDTH - MARGIN, y + 47.5)
    if face.community is None:
        _label(pdf, x + MARGIN, y + 50.3, "Nimi / Namn")
        return
    pdf.set_font(FONT, "B", 9)
    pdf.text(x + MARGIN, y + 46.5, _fit(pdf, face.community, CARD_WIDTH - 2 * MARGIN))
    _label(pdf, x + MARGIN, y + 50.3, "Yhteisö / Gemenskap")


def _draw_qr(
    pdf: FPDF, right: float, top: float, matrix: Sequence[bytes], size: float = QR_SIZE
) -> float:
    """Draw the QR code with its top-right quiet-zone corner there; return its left edge."""
    module = size / len(matrix)
    quiet = QUIET_ZONE * module
    left = right - quiet - size
    pdf.set_fill_color(0)
    for column, row, width, height in _dark_blocks(matrix):
        pdf.rect(
            left + column * module,
            top + quiet + row * module,
            width * module,
            height * module,
            style=RenderStyle.F,
        )
    return left - quiet


def _qr_matrix(text: str) -> tuple[bytes, ...]:
    qr = segno.make(text, error="m", micro=False)
    return tuple(bytes(row) for row in qr.matrix)


@lru_cache(maxsize=8)  # the address is one per configuration or host name
def _catalogue_matrix(url: str) -> tuple[bytes, ...]:
    return _qr_matrix(url)


def _dark_blocks(matrix: Sequence[bytes]) -> list[tuple[int, int, int, int]]:
    """Return (column, row, width, height) rectangles that cover the dark modules exactly:
    each horizontal run of dark modules, extended down over the rows that repeat it."""
    blocks, open_runs = [], {}  # (column, width) of a run in the row above -> its block
    for row, cells in enumerate(matrix):
        runs = {}
        for run in _dark_runs(cells):
            block = open_runs.get(run)
            if block is None:
                block = [run[0], row, run[1], 0]
                blocks.append(block)
            block[3] += 1
            runs[run] = block
        open_runs = runs
    return [tuple(block) for block in blocks]


def _dark_runs(cells: bytes) -> Iterable[tuple[int, int]]:
    """Yield (column, width) of each run of dark modules in a row."""
    column, size = 0, len(cells)
    while column < size:
        if cells[column]:
            start = column
            while column < size and cells[column]:
                column += 1
            yield start, column - start
        else:
            column += 1


def catalogue_url() -> str:
    """Return the address of the public offers catalogue for the back of every card.

    ``CATALOGUE_URL`` when configured (a card outlives host names: set it in production),
    else this site's ``/offers`` as the request reached it (outside a request, the path).
    """
    configured = current_app.config.get("CATALOGUE_URL")
    if configured:
        return configured
    if has_request_context():
        return url_for("offers.catalogue", _external=True)
    return current_app.url_map.bind("localhost").build("offers.catalogue")


def _draw_back(pdf: FPDF, x: float, y: float, *, community: bool = False) -> None:
    url = catalogue_url()
    matrix = _catalogue_matrix(url)
    quiet = QUIET_ZONE * CATALOGUE_QR_SIZE / len(matrix)
    _draw_qr(
        pdf,
        x + CARD_WIDTH - 1,
        y + CARD_HEIGHT - 1 - CATALOGUE_QR_SIZE - 2 * quiet,
        matrix,
        CATALOGUE_QR_SIZE,
    )
    pdf.set_text_color(*BRAND)
    pdf.set_font(FONT, "B", 6.5)
    pdf.text(x + MARGIN, y + 46, "Mitä on tarjolla? / Vad erbjuds?")
    pdf.set_font(FONT, "", 7)
    pdf.text(x + MARGIN, y + 49.5, url.split("://", 1)[-1])
    pdf.set_text_color(*BRAND)
    pdf.set_font(FONT, "B", 10)
    pdf.text(x + MARGIN, y + 8, "Kaikukortti")
    column_width = (CARD_WIDTH - 2 * MARGIN - 3) / 2
    rules_fi, rules_sv = (
        (COMMUNITY_RULES_FI, COMMUNITY_RULES_SV) if community else (RULES_FI, RULES_SV)
    )
    for offset, heading, rules in (
        (0, "Käyttöehdot", _rules(rules_fi)),
        (column_width + 3, "Villkor", _rules(rules_sv)),
    ):
        left = x + MARGIN + offset
        pdf.set_text_color(0)
        pdf.set_font(FONT, "B", 6.5)
        pdf.text(left, y + 14, heading)
        pdf.set_font(FONT, "", 6)
        baseline = y + 17.5
        for first, line in _wrapped(rules, column_width - BULLET_INDENT):
            if first:
                pdf.text(left, baseline, "•")
            pdf.text(left + BULLET_INDENT, baseline, line)
            baseline += 2.55


@cache
def _wrapped(rules: tuple[str, ...], width: float) -> tuple[tuple[bool, str], ...]:
    """Break each rule into lines of the width; mark each rule's first line."""
    measure = _new_pdf("A4", "")
    measure.add_page()
    measure.c_margin = 0
    measure.set_font(FONT, "", 6)
    lines = []
    for rule in rules:
        wrapped = measure.multi_cell(width, text=rule, dry_run=True, output="LINES")
        lines.extend((i == 0, part) for i, part in enumerate(wrapped))
    return tuple(lines)


def _rules(rules: tuple[str, ...]) -> tuple[str, ...]:
    age = current_app.config.get("CHILD_AGE_LIMIT", 18)
    return tuple(rule.format(age=age, group=MIN_AGE) for rule in rules)


def _label(pdf: FPDF, x: float, y: float, text: str) -> None:
    pdf.set_text_color(*MUTED)
    pdf.set_font(FONT, "", 6)
    pdf.text(x, y, text)
    pdf.set_text_color(0)


def _fitting_size(pdf: FPDF, text: str, room: float, largest: float = 17) -> float:
    """Return the largest bold font size up to ``largest`` at which the text fits."""
    size = largest
    pdf.set_font(FONT, "B", size)
    while size > 8 and pdf.get_string_width(text) > room - MARGIN - 1:
        size -= 0.5
        pdf.set_font(FONT, "B", size)
    return size


def _fit(pdf: FPDF, text: str, room: float) -> str:
    """Shorten the text with an ellipsis until it fits the room in the current font."""
    if pdf.get_string_width(text) <= room:
        return text
    while text and pdf.get_string_width(text + "…") > room:
        text = text[:-1]
    return text + "…"


def _finnish_date(day: date) -> str:
    return f"{day.day}.{day.month}.{day.year}"


def _draw_crop_marks(pdf: FPDF) -> None:
    """Draw short lines in the margins on every cut line of the card grid."""
    x0, y0 = _sheet_origin()
    x1, y1 = x0 + SHEET_COLUMNS * CARD_WIDTH, y0 + SHEET_ROWS * CARD_HEIGHT
    pdf.set_draw_color(0)
    pdf.set_line_width(0.15)
    for column in range(SHEET_COLUMNS + 1):
        x = x0 + column * CARD_WIDTH
        pdf.line(x, y0 - CROP_GAP - CROP_LENGTH, x, y0 - CROP_GAP)
        pdf.line(x, y1 + CROP_GAP, x, y1 + CROP_GAP + CROP_LENGTH)
    for row in range(SHEET_ROWS + 1):
        y = y0 + row * CARD_HEIGHT
        pdf.line(x0 - CROP_GAP - CROP_LENGTH, y, x0 - CROP_GAP, y)
        pdf.line(x1 + CROP_GAP, y, x1 + CROP_GAP + CROP_LENGTH, y)


def _draw_sheet_notice(pdf: FPDF) -> None:
    pdf.set_text_color(*MUTED)
    pdf.set_font(FONT, "", 6.5)
    pdf.text(
        _sheet_origin()[0] + 10,
        A4_HEIGHT - 3,
        "Tulosta 100 % koossa, ei sovitusta sivulle. / Skriv ut i 100 % storlek, utan anpassning.",
    )
