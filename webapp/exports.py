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

from .services.stats import Report

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
VISIT_COLUMNS = ("visits", "adults", "children")


@dataclass
class Table:
    name: str  # file suffix and sheet name
    title: str
    columns: list[tuple[str, str]]  # (row key, header)
    rows: list[dict]
    totals: dict

    @property
    def headers(self) -> list[str]:
        return [header for _key, header in self.columns]

    def cells(self, row: dict) -> list:
        return [row.get(key, "") for key, _header in self.columns]

    def total_cells(self) -> list:
        first = self.columns[0][0]
        total = _("Total")
        return [total if key == first else self.totals.get(key, "") for key, _h in self.columns]


def month_label(key: str, width: str = "LLLL yyyy") -> str:
    """Return "tammikuu 2024" (in the user's language) for the month key "2024-01"."""
    year, month = key.split("-")
    return format_date(date(int(year), int(month), 1), width)


def _visit_headers() -> list[tuple[str, str]]:
    return [("visits", _("Uses")), ("adults", _("Adults")), ("children", _("Children"))]


def visit_table(name: str, rows: list[dict], totals: dict, labels: dict) -> Table:
    """Build a table of uses with the key column named for the grouping."""
    first = {
        "month": _("Month"),
        "venue": _("Venue"),
        "category": _("Category"),
        "region": _("Region"),
    }[name]
    columns = [("label", first)]
    if name == "venue":
        columns.append(("region", _("Region")))
    shown = [{**row, "label": str(labels.get(row["key"], row["key"]))} for row in rows]
    titles = {
        "month": _("Uses by month"),
        "venue": _("Uses by venue"),
        "category": _("Uses by venue category"),
        "region": _("Uses by region"),
    }
    return Table(name, titles[name], columns + _visit_headers(), shown, totals)


def card_table(cards: dict) -> Table:
    columns = [
        ("name", _("Region")),
        ("registered", _("Cards registered")),
        ("activated", _("of which used")),
    ]
    return Table("cards", _("Cards by region"), columns, cards["rows"], cards["totals"])


def report_tables(report: Report, category_labels: dict) -> dict[str, Table]:
    """Return every table of the statistics page, keyed by name."""
    month_labels = {row["key"]: month_label(row["key"]) for row in report.month}
    region_labels = {row["key"]: row.get("name", row["key"]) for row in report.region}
    return {
        "month": visit_table("month", report.month, report.totals, month_labels),
        "category": visit_table("category", report.category, report.totals, category_labels),
        "venue": visit_table("venue", report.venue, report.totals, {}),
        "region": visit_table("region", report.region, report.totals, region_labels),
        "cards": card_table(report.cards),
    }


def _safe(value):
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_bytes(table: Table) -> bytes:
    """Return the table as CSV for Excel: UTF-8 with BOM, ``;`` separated, CRLF."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([_safe(h) for h in table.headers])
    for row in table.rows:
        writer.writerow([_safe(v) for v in table.cells(row)])
    writer.writerow([_safe(v) for v in table.total_cells()])
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
        for row in table.rows:
            sheet.append([_safe(v) for v in table.cells(row)])
        sheet.append(table.total_cells())
        for cell in (sheet[1][0], *sheet[3], *sheet[sheet.max_row]):
            cell.font = bold
        sheet.column_dimensions["A"].width = 32
        sheet.freeze_panes = "A4"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
