"""What the coordinator's pages share: the blueprint, the error texts and small helpers."""

from datetime import datetime

from flask import Blueprint, abort, make_response, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ...access import roles_required
from ...extensions import db
from ...models import Region, Role
from ...rules import HELSINKI
from ...services import network
from ...services.network import NetworkError
from ..coordinator_forms import ACTION_LABELS, CATEGORY_LABELS, ROLE_LABELS

bp = Blueprint("coordinator", __name__, url_prefix="/coordinator")
bp.before_request(roles_required(Role.COORDINATOR, Role.ADMIN)(lambda: None))


NETWORK_ERRORS = {
    "not_your_region": _l("You can act only inside your own region."),
    "admin_only": _l("Only a national administrator can do this."),
    "required": _l("This field is required."),
    "too_long": _l("This is too long."),
    "invalid_code": _l("Use lower-case letters, digits and dashes, for example pohjois-savo."),
    "code_taken": _l("A region with this code already exists."),
    "invalid_period": _l("The period cannot end before it starts."),
    "membership_overlap": _l("The period overlaps another membership period of the region."),
    "category_required": _l("Choose the venue's category."),
    "name_taken": _l("The region already has an organisation with this name."),
    "not_a_venue": _l("Choose a venue."),
    "invalid_quota": _l("Enter a number of 0 or more."),
    "invalid_email": _l("Enter an email address, for example name@example.fi."),
    "email_taken": _l("Someone already uses this email address."),
    "organisation_required": _l("Choose at least one organisation for this role."),
    "wrong_organisation": _l("Choose organisations of the right kind in the person's region."),
    "no_organisations_for_role": _l("Coordinators and administrators belong to no organisation."),
    "cannot_change_own_role": _l("You cannot change your own role."),
    "cannot_deactivate_self": _l("You cannot deactivate yourself."),
    "inactive": _l("The person is deactivated."),
    "password_set": _l("The person has set a password: make a password reset link instead."),
    "no_password": _l("The person has not set a password yet: make a new invitation link."),
}


@bp.app_template_filter("helsinki_time")
def helsinki_time(moment: datetime) -> str:
    """Show a UTC moment as Finnish local time, e.g. 2024-03-31 02:30."""
    return moment.astimezone(HELSINKI).strftime("%Y-%m-%d %H:%M")


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


def _perform(form, action) -> bool:
    """Validate the form and run the action; commit, or show its error on the form."""
    if not form.validate_on_submit():
        return False
    try:
        action()
    except NetworkError as error:
        db.session.rollback()
        message = str(NETWORK_ERRORS.get(error.code, error.code))
        target = getattr(form, error.field or "", None)
        if target is not None and hasattr(target, "errors"):
            target.errors = [*target.errors, message]
        else:
            form.form_errors.append(message)
        return False
    db.session.commit()
    return True


def _status() -> int:
    return 422 if request.method == "POST" else 200


def _regions() -> list[Region]:
    return list(db.session.scalars(network.regions_visible_to(current_user)))
