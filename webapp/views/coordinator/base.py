"""What the coordinator's pages share: the blueprint, the error texts and small helpers."""

from datetime import datetime

from flask import Blueprint, abort, make_response, render_template, request
from flask_babel import format_datetime
from flask_login import current_user

from ...access import roles_required
from ...extensions import db
from ...models import Region, Role
from ...services import network
from ..coordinator_forms import ACTION_LABELS, CATEGORY_LABELS, ROLE_LABELS

bp = Blueprint("coordinator", __name__, url_prefix="/coordinator")
bp.before_request(roles_required(Role.COORDINATOR, Role.ADMIN)(lambda: None))


@bp.app_template_filter("helsinki_time")
def helsinki_time(moment: datetime) -> str:
    """Show a UTC moment in Finnish time as the user's language writes it (1.4.2024 klo 2.30)."""
    return format_datetime(moment, "short")


@bp.app_context_processor
def _labels() -> dict:
    return {
        "role_labels": ROLE_LABELS,
        "category_labels": CATEGORY_LABELS,
        "action_labels": ACTION_LABELS,
    }


# --- helpers ------------------------------------------------------------------------------


def _visible_or_404(query, object_id: int):
    return network.find_visible(query, object_id) or abort(404)


def _page(template: str, fragment: str | None = None, status: int = 200, **context):
    """Render the page, or for htmx only its fragment; tell caches the answer varies."""
    name = fragment if fragment and request.headers.get("HX-Request") else template
    response = make_response(render_template(name, **context), status)
    response.headers["Vary"] = "HX-Request"
    return response


def _status() -> int:
    return 422 if request.method == "POST" else 200


def _regions() -> list[Region]:
    return list(db.session.scalars(network.regions_visible_to(current_user)))
