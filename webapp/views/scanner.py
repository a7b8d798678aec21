"""The venue scanner."""

from flask import Blueprint, render_template

from ..access import roles_required
from ..models import Role

bp = Blueprint("scanner", __name__)


@bp.get("/scan")
@roles_required(Role.VENUE)
def scan():
    return render_template("scanner/scan.html")
