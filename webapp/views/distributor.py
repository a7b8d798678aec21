"""The distributor's workspace: registering, printing and managing cards."""

from flask import Blueprint, render_template

from ..access import roles_required
from ..models import Role

bp = Blueprint("distributor", __name__, url_prefix="/distributor")


@bp.get("/")
@roles_required(Role.DISTRIBUTOR)
def home():
    return render_template("distributor/home.html")
