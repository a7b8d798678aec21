"""The coordinator's home, the statistics (page, CSV, XLSX) and the audit log."""

from datetime import date, datetime, time, timedelta

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from wtforms import SelectChoice

from ...charts import month_chart
from ...exports import csv_bytes, report_tables, xlsx_bytes
from ...extensions import db
from ...models import AuditEvent, OrganisationKind, Region, User
from ...rules import HELSINKI
from ...services import network, stats
from ..coordinator_forms import ACTION_LABELS, CATEGORY_LABELS, AuditFilterForm, StatsFilterForm
from ..fields import page_number
from .base import _page, _regions, bp

AUDIT_PER_PAGE = 50
STATS_ERRORS = {
    "invalid_range": _l("The end date is before the start date."),
    "range_too_long": _l("Choose a period of at most ten years."),
}


# --- home ---------------------------------------------------------------------------------


@bp.get("/")
def home():
    today = stats.helsinki_today()
    regions = None if network.is_admin(current_user) else _regions()
    year = stats.visit_stats(date(today.year, 1, 1), today, "region", regions)
    counts = {
        kind: db.session.scalar(
            select(func.count()).select_from(
                network.organisations_visible_to(current_user, kind).subquery()
            )
        )
        for kind in OrganisationKind
    }
    people = db.session.scalar(
        select(func.count()).select_from(network.people_visible_to(current_user).subquery())
    )
    return render_template(
        "coordinator/home.html", year=year["totals"], today=today, counts=counts, people=people
    )


# --- statistics ---------------------------------------------------------------------------


def _stats_filter() -> tuple[StatsFilterForm, list[Region] | None]:
    """Parse the statistics filter: dates (default this year) and one region or all."""
    today = stats.helsinki_today()
    regions = _regions()
    admin = network.is_admin(current_user)
    choices = [SelectChoice(0, _("All regions"))] if admin else []
    choices += [SelectChoice(r.id, r.name) for r in regions]
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
        form.end.errors = [*form.end.errors, str(STATS_ERRORS.get(error.code, error.code))]
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
        context["scope"] = regions[0].name if regions else _("All regions")
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
            "%(start)s – %(end)s", start=report.start.isoformat(), end=report.end.isoformat()
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


def _audit_query(form: AuditFilterForm):
    query = select(AuditEvent).options(selectinload(AuditEvent.actor))
    if not network.is_admin(current_user):
        query = query.where(AuditEvent.region_id == current_user.region_id)
    if form.action.data:
        query = query.where(AuditEvent.action == form.action.data)
    if form.actor.data:
        pattern = f"%{form.actor.data.lower()}%"
        query = query.join(AuditEvent.actor).where(User.email.like(pattern))
    if form.subject.data:
        subject = form.subject.data.upper().replace(" ", "").replace("-", "")
        query = query.where(AuditEvent.object_id.in_({form.subject.data, subject}))
    if form.start.data:
        start = datetime.combine(form.start.data, time(), HELSINKI)
        query = query.where(AuditEvent.at >= start)
    if form.end.data:
        end = datetime.combine(form.end.data + timedelta(days=1), time(), HELSINKI)
        query = query.where(AuditEvent.at < end)
    return query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())


@bp.get("/audit")
def audit_log():
    form = AuditFilterForm(request.args)
    form.action.choices = [SelectChoice("", _("Anything"))] + [
        SelectChoice(code, str(label)) for code, label in ACTION_LABELS.items()
    ]
    listing = None
    if form.validate():
        listing = db.paginate(
            _audit_query(form),
            page=page_number(request.args),
            per_page=AUDIT_PER_PAGE,
            error_out=False,
        )
    filters = {k: v for k, v in request.args.items() if k != "page" and v}
    return _page(
        "coordinator/audit.html",
        "coordinator/_audit.html",
        200 if listing is not None else 422,
        form=form,
        listing=listing,
        filters=filters,
    )
