"""The coordinator's home, the statistics (page, CSV, XLSX) and the audit log."""

from datetime import date

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from ...charts import month_chart
from ...errors import conflict_text
from ...exports import csv_bytes, report_tables, xlsx_bytes
from ...extensions import db
from ...models import Organisation, OrganisationKind, Region
from ...rules import today_in_finland
from ...services import audit, conflicts, network, stats
from ..coordinator_forms import ACTION_LABELS, CATEGORY_LABELS, AuditFilterForm, StatsFilterForm
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


def _stats_filter() -> tuple[StatsFilterForm, list[Region] | None]:
    """Parse the statistics filter: dates (default this year) and one region or all."""
    today = today_in_finland()
    regions = _regions()
    admin = network.is_admin(current_user)
    choices = [SelectChoice(0, _("All regions"))] if admin else []
    choices += [SelectChoice(r.id, r.local_name) for r in regions]
    args = request.args.copy()
    args.setdefault("start", date(today.year, 1, 1).isoformat())
    args.setdefault("end", date(today.year, 12, 31).isoformat())
    args.setdefault("region", str(choices[0].value if choices else 0))
    form = StatsFilterForm(args)
    form.region.choices = choices
    if admin and not form.region.data:
        return form, None
    return form, [r for r in regions if r.id == form.region.data]


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
        body = xlsx_bytes(list(tables.values()), subtitle)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        filename = f"{stem}.xlsx"
    else:
        table = tables[name]
        body, mimetype = csv_bytes(table), "text/csv; charset=utf-8"
        filename = f"{stem}-{table.name}.csv"
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
