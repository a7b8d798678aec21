"""The coordinator's home, the statistics (page, CSV, XLSX) and the audit log."""

from datetime import date

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from ...charts import month_chart
from ...errors import conflict_text
from ...exports import csv_bytes, national_tables, report_tables, xlsx_bytes
from ...extensions import db
from ...models import Organisation, OrganisationKind, Region
from ...rules import today_in_finland
from ...services import audit, conflicts, network, stats
from ..coordinator_forms import (
    ACTION_LABELS,
    CATEGORY_LABELS,
    AuditFilterForm,
    NationalStatsForm,
    StatsFilterForm,
)
from ..fields import page_number
from .audit_display import audit_lines
from .base import _page, _regions, bp

AUDIT_PER_PAGE = 50


# --- home ---------------------------------------------------------------------------------


@bp.get("/")
def home():
    today = today_in_finland()
    regions = None if network.is_admin(current_user) else _regions()
    year = stats.visit_stats(date(today.year, 1, 1), today, "region", regions)
    return render_template(
        "coordinator/home.html",
        year=year.totals,
        today=today,
        counts=network.counts_visible_to(current_user),
    )


# --- statistics ---------------------------------------------------------------------------


def _region_filter(form_class, **defaults):
    """Parse a statistics filter with its defaults and one region (the admin: or all).

    Returns the form and the regions chosen: None for all, [] for none the user may see.
    """
    regions = _regions()
    admin = network.is_admin(current_user)
    choices = [SelectChoice(0, _("All regions"))] if admin else []
    choices += [SelectChoice(r.id, r.local_name) for r in regions]
    args = request.args.copy()
    for name, value in defaults.items():
        args.setdefault(name, value)
    args.setdefault("region", str(choices[0].value if choices else 0))
    form = form_class(args)
    form.region.choices = choices
    if admin and not form.region.data:
        return form, None
    return form, [r for r in regions if r.id == form.region.data]


def _stats_filter() -> tuple[StatsFilterForm, list[Region] | None]:
    """Parse the statistics filter: dates (default this year) and one region or all."""
    year = today_in_finland().year
    return _region_filter(
        StatsFilterForm,
        start=date(year, 1, 1).isoformat(),
        end=date(year, 12, 31).isoformat(),
    )


def _report(form, regions, only: str | None = None):
    if not form.validate():
        return None
    try:
        return stats.report(form.start.data, form.end.data, regions, only=only)
    except stats.StatsError as error:
        form.end.errors = [*form.end.errors, error.message]
        return None


@bp.get("/stats")
def statistics():
    form, regions = _stats_filter()
    report = _report(form, regions)
    context = {"form": form, "report": report}
    if report is not None:
        context["tables"] = report_tables(report, CATEGORY_LABELS)
        context["chart"] = month_chart(report.month, _("Uses per month"))
        context["export_args"] = {
            "start": report.start.isoformat(),
            "end": report.end.isoformat(),
            "region": form.region.data,
        }
        context["scope"] = regions[0].local_name if regions else _("All regions")
    status = 200 if report is not None else 422
    return _page("coordinator/stats.html", "coordinator/_stats.html", status, **context)


@bp.get("/stats.<any(csv, xlsx):fmt>")
def statistics_export(fmt: str):
    name = request.args.get("table", "month") if fmt == "csv" else None
    if name is not None and name not in (*stats.GROUPS, "cards"):
        abort(404)
    form, regions = _stats_filter()
    report = _report(form, regions, only=name)
    if report is None:
        flash(_("Check the dates of the statistics."), "error")
        return redirect(url_for(".statistics", **request.args), 303)
    tables = report_tables(report, CATEGORY_LABELS)
    stem = f"kaikukortti-{report.start.isoformat()}-{report.end.isoformat()}"
    if fmt == "xlsx":
        subtitle = _(
            "%(start)s – %(end)s",
            start=format_date(report.start, "short"),
            end=format_date(report.end, "short"),
        )
        return _download(xlsx_bytes(list(tables.values()), subtitle), XLSX, f"{stem}.xlsx")
    table = tables[name]
    return _download(csv_bytes(table), CSV, f"{stem}-{table.name}.csv")


# --- the national table -------------------------------------------------------------------


def _national():
    """Parse the national page's filter; return the form and its tables (None: bad input)."""
    form, regions = _region_filter(NationalStatsForm, year=str(today_in_finland().year))
    if not form.validate() or regions == []:
        return form, None, None
    region = regions[0] if regions else None
    year = form.year.data
    table = stats.national_table(year, region)
    holders = [stats.holder_stats(year, group, region) for group in stats.HOLDER_GROUPS]
    return form, region, national_tables(table, holders, CATEGORY_LABELS)


@bp.get("/stats/national")
def national():
    form, region, tables = _national()
    context = {"form": form, "tables": tables}
    if tables is not None:
        context["scope"] = region.local_name if region else _("All regions")
        context["export_args"] = {"year": form.year.data, "region": form.region.data}
    status = 200 if tables is not None else 422
    return _page("coordinator/national.html", "coordinator/_national.html", status, **context)


@bp.get("/stats/national.<any(csv, xlsx):fmt>")
def national_export(fmt: str):
    form, region, tables = _national()
    if tables is None:
        flash(_("Check the year of the statistics."), "error")
        return redirect(url_for(".national", **request.args), 303)
    name = request.args.get("table", "national") if fmt == "csv" else None
    if name is not None and name not in tables:
        abort(404)
    stem = f"kaikukortti-{form.year.data}-{region.code if region else 'kaikki'}"
    if fmt == "xlsx":
        subtitle = f"{form.year.data} · {region.local_name if region else _('All regions')}"
        return _download(
            xlsx_bytes(list(tables.values()), subtitle), XLSX, f"{stem}-valtakunnallinen.xlsx"
        )
    return _download(csv_bytes(tables[name]), CSV, f"{stem}-{name}.csv")


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"


def _download(body: bytes, mimetype: str, filename: str):
    response = make_response(body)
    response.headers["Content-Type"] = mimetype
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- audit log ----------------------------------------------------------------------------


@bp.get("/audit")
def audit_log():
    form = AuditFilterForm(request.args)
    form.action.choices = [SelectChoice("", _("Anything"))] + [
        SelectChoice(code, str(label)) for code, label in ACTION_LABELS.items()
    ]
    listing = lines = None
    if form.validate():
        where = audit.AuditFilter(
            action=form.action.data,
            actor_email=form.actor.data,
            subject=form.subject.data,
            start=form.start.data,
            end=form.end.data,
        )
        listing = db.paginate(
            audit.events_visible_to(current_user, where),
            page=page_number(request.args),
            per_page=AUDIT_PER_PAGE,
            error_out=False,
        )
        lines = audit_lines(listing.items)
    filters = {k: v for k, v in request.args.items() if k != "page" and v}
    return _page(
        "coordinator/audit.html",
        "coordinator/_audit.html",
        200 if listing is not None else 422,
        form=form,
        listing=listing,
        lines=lines,
        filters=filters,
    )


# --- conflicts of offline visits ----------------------------------------------------------


@bp.get("/conflicts")
def offline_conflicts():
    venues = network.organisations_visible_to(current_user, OrganisationKind.VENUE)
    venue_ids = venues.with_only_columns(Organisation.id).order_by(None)
    lines = conflicts.conflicts_at(venue_ids)
    return render_template("coordinator/conflicts.html", lines=lines, conflict_text=conflict_text)
