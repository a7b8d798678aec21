"""Venue staff: their own venue's monthly counts of Kaikukortti uses, and the conflicts of
the visits their phones accepted offline."""

from datetime import date

from flask import Blueprint, abort, make_response, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from ..access import roles_required
from ..charts import month_chart
from ..errors import conflict_text
from ..exports import csv_bytes, month_label, visit_table
from ..models import Role
from ..rules import today_in_finland
from ..services import conflicts, stats
from .coordinator_forms import VenueStatsForm

bp = Blueprint("venue", __name__, url_prefix="/venue")
bp.before_request(roles_required(Role.VENUE)(lambda: None))


def _venues():
    return current_user.venues


def _selection():
    """Return the form, the chosen venue (404 if not the user's) and the year."""
    venues = _venues()
    args = request.args.copy()  # the menu's link has no choices: this year, the first venue
    args.setdefault("year", str(today_in_finland().year))
    if venues:
        args.setdefault("venue", str(venues[0].id))
    form = VenueStatsForm(args)
    form.venue.choices = [SelectChoice(v.id, v.name) for v in venues]
    venue = next((v for v in venues if v.id == form.venue.data), None)
    if venues and venue is None:
        abort(404)
    return form, venue


def _figures(venue, year: int) -> stats.VisitTable:
    return stats.visit_stats(date(year, 1, 1), date(year, 12, 31), "month", None, venues=[venue])


@bp.get("/stats")
def statistics():
    form, venue = _selection()
    context = {"form": form, "venue": venue, "result": None}
    if venue is not None and form.validate():
        result = _figures(venue, form.year.data)
        context["result"] = result
        context["labels"] = {row.key: month_label(row.key) for row in result.rows}
        context["chart"] = month_chart(
            result.rows, _("Uses per month at %(venue)s", venue=venue.name)
        )
    status = 422 if form.errors else 200
    response = make_response(render_template("venue/stats.html", **context), status)
    response.headers["Vary"] = "HX-Request"
    return response


@bp.get("/stats.csv")
def statistics_csv():
    form, venue = _selection()
    if venue is None or not form.validate():
        abort(404)
    result = _figures(venue, form.year.data)
    table = visit_table("month", result)
    response = make_response(csv_bytes(table))
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    filename = f"kaikukortti-{venue.id}-{form.year.data}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/conflicts")
def offline_conflicts():
    lines = conflicts.conflicts_at([venue.id for venue in _venues()])
    return render_template("venue/conflicts.html", lines=lines, conflict_text=conflict_text)
