"""The one-time invitation link: a new person sets their own password (no sign-in)."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from ..extensions import db
from ..services import network
from ..services.network import NetworkError
from .coordinator_forms import InviteForm

bp = Blueprint("invite", __name__)


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept(token: str):
    person = network.person_for_invite(token)
    if person is None:
        return render_template("coordinator/invite_accept.html", person=None, form=None), 404
    form = InviteForm()
    if form.validate_on_submit():
        try:
            network.accept_invite(token, form.password.data)
        except NetworkError as error:
            db.session.rollback()
            form.password.errors = [*form.password.errors, error.message]
        else:
            db.session.commit()
            if current_user.is_authenticated:
                logout_user()
            flash(_("Your password is set. Sign in with your email address and the new password."))
            return redirect(url_for("auth.sign_in"), 303)
    status = 422 if form.errors else 200
    response = render_template("coordinator/invite_accept.html", person=person, form=form)
    return response, status, {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
