"""Statistics tables as the pages show them, and as CSV and XLSX files for Excel.

CSV: UTF-8 with a byte-order mark and ``;`` between fields (what Excel in Finland expects),
CRLF line ends; a cell that starts like a formula gets a leading apostrophe so a
spreadsheet never runs it. XLSX: one sheet per table (openpyxl).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

from flask_babel import format_date
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font

from .models import CardKind
from .services.stats import (
    NATIONAL_FIGURES,
    OTHER_MUNICIPALITY,
    CardTable,
    HolderTable,
    NationalTable,
    Report,
    Row,
    VisitTable,
)

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
VISIT_COLUMNS = ("visits", "adults", "children", "assistants")
CARD_COLUMNS = ("registered", "activated")
HOLDER_COLUMNS = ("registered", "users", "uses")


@dataclass
class Table:
    """A table ready to show or export: its cells in order, the totals row last."""

    name: str  # file suffix and sheet name
    title: str
    columns: list[tuple[str, str]]  # (figure name or "label", header)
    rows: list[list]
    total: list

    @property
    def headers(self) -> list[str]:
        return [header for _key, header in self.columns]


def month_label(key: str, width: str = "LLLL yyyy") -> str:
    """Return "tammikuu 2024" (in the user's language) for the month key "2024-01"."""
    year, month = key.split("-")
    return format_date(date(int(year), int(month), 1), width)


def _figure_columns(names: tuple[str, ...]) -> list[tuple[str, str]]:
    headers = {
        "visits": _("Uses"),
        "adults": _("Adults"),
        "children": _("Children"),
        "registered": _("Cards registered"),
        "activated": _("of which used"),
        "assistants": _("Assistants"),
        "users": _("Holders who used the card"),
        "uses": _("Uses"),
    }
    return [(name, headers[name]) for name in names]


def _table(name, title, label_columns, labels, rows, totals, figures) -> Table:
    """Lay out the rows: the cells ``labels(row)`` names, then the figures; totals last."""
    columns = label_columns + _figure_columns(figures)
    body = [[*labels(row), *(getattr(row, f) for f in figures)] for row in rows]
    blanks = [""] * (len(label_columns) - 1)
    total = [_("Total"), *blanks, *(getattr(totals, f) for f in figures)]
    return Table(name, title, columns, body, total)


def row_label(group: str, row: Row, category_labels: dict) -> str:
    """Return how a row of a table of uses is named to people, in their language."""
    if group == "month":
        return month_label(row.key)
    if group == "category":
        return str(category_labels.get(row.key, row.key))
    if group == "region":
        return row.region_record.local_name
    return row.key


def visit_table(group: str, table: VisitTable, category_labels: dict | None = None) -> Table:
    """Build a table of uses with the key column named for the grouping."""
    first = {
        "month": _("Month"),
        "venue": _("Venue"),
        "category": _("Category"),
        "region": _("Region"),
    }[group]
    titles = {
        "month": _("Uses by month"),
        "venue": _("Uses by venue"),
        "category": _("Uses by venue category"),
        "region": _("Uses by region"),
    }
    label_columns = [("label", first)]
    if group == "venue":
        label_columns.append(("region", _("Region")))

    def labels(row: Row) -> list[str]:
        label = row_label(group, row, category_labels or {})
        return [label, row.region_record.local_name] if group == "venue" else [label]

    return _table(
        group, titles[group], label_columns, labels, table.rows, table.totals, VISIT_COLUMNS
    )


def card_table(cards: CardTable) -> Table:
    return _table(
        "cards",
        _("Cards by region"),
        [("label", _("Region"))],
        lambda row: [row.region_record.local_name],
        cards.rows,
        cards.totals,
        CARD_COLUMNS,
    )


def report_tables(report: Report, category_labels: dict) -> dict[str, Table]:
    """Return every table of the statistics page, keyed by name."""
    tables = {
        group: visit_table(group, report.table(group), category_labels)
        for group in ("month", "category", "venue", "region")
    }
    return {**tables, "cards": card_table(report.cards)}


def kind_labels() -> dict[str, str]:
    return {CardKind.PERSONAL: _("Personal card"), CardKind.COMMUNITY: _("Community card")}


def national_tables(
    table: NationalTable, holders: list[HolderTable], category_labels: dict
) -> dict[str, Table]:
    """Return the tables of the national page, keyed by name: the uses, cards, holders."""
    kinds = kind_labels()
    uses = _table(
        "national",
        _("Uses by venue field and card kind"),
        [("label", _("Field")), ("kind", _("Card kind"))],
        lambda row: [str(category_labels.get(row.field, row.field)), kinds[row.kind]],
        table.rows,
        table.totals,
        NATIONAL_FIGURES,
    )
    cards = Table(
        "cards",
        _("Cards"),
        [("label", _("Year")), *_figure_columns(CARD_COLUMNS)],
        [[str(table.year), table.cards_registered, table.cards_used]],
        [],
    )
    tables = {"national": uses, "cards": cards}
    for holders_of in holders:
        tables[holders_of.group] = holder_table(holders_of)
    return tables


def holder_table(table: HolderTable) -> Table:
    """The cardholders by age group or municipality, small cells hidden as the service did."""
    if table.group == "age":
        title, first = _("Cardholders by age group"), _("Age group")
    else:
        title, first = _("Cardholders by municipality"), _("Municipality")

    def label(row) -> list[str]:
        return [_("Other") if row.key == OTHER_MUNICIPALITY else row.key]

    return _table(
        table.group, title, [("label", first)], label, table.rows, table.totals, HOLDER_COLUMNS
    )


def _safe(value):
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_bytes(table: Table) -> bytes:
    """Return the table as CSV for Excel: UTF-8 with BOM, ``;`` separated, CRLF."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([_safe(h) for h in table.headers])
    for row in (*table.rows, table.total):
        if row:
            writer.writerow([_safe(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_bytes(tables: list[Table], subtitle: str) -> bytes:
    """Return the tables as an Excel workbook, one sheet each."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    bold = Font(bold=True)
    for table in tables:
        sheet = workbook.create_sheet(table.title[:31])
        sheet.append([table.title])
        sheet.append([subtitle])
        sheet.append(table.headers)
        for row in (*table.rows, table.total):
            if row:
                sheet.append([_safe(v) for v in row])
        for cell in (sheet[1][0], *sheet[3], *(sheet[sheet.max_row] if table.total else ())):
            cell.font = bold
        sheet.column_dimensions["A"].width = 32
        sheet.freeze_panes = "A4"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
