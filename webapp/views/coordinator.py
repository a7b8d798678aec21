"""The regional coordinator: the network and its statistics."""

from flask import Blueprint, render_template

from ..access import roles_required
from ..models import Role

bp = Blueprint("coordinator", __name__, url_prefix="/coordinator")


@bp.get("/")
@roles_required(Role.COORDINATOR, Role.ADMIN)
def home():
    return render_template("coordinator/home.html")
