"""Sign-in, sign-out and the language switch."""

from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from .. import ratelimits
from ..access import home_url
from ..extensions import db, limiter
from ..i18n import COOKIE, LANGUAGES
from ..services import accounts

bp = Blueprint("auth", __name__)


class SignInForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])


@bp.route("/", methods=["GET", "POST"])
@limiter.limit(
    ratelimits.SIGN_IN_PER_ADDRESS,
    key_func=ratelimits.sign_in_address,
    methods=["POST"],
    exempt_when=ratelimits.limits_off,
    deduct_when=ratelimits.sign_in_failed,
)
@limiter.limit(
    ratelimits.SIGN_IN_PER_ACCOUNT_AND_ADDRESS,
    key_func=ratelimits.sign_in_account_and_address,
    methods=["POST"],
    exempt_when=ratelimits.limits_off,
    deduct_when=ratelimits.sign_in_failed,
)
def sign_in():
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    form = SignInForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is not None:
            _start_session()
            login_user(user)
            return redirect(_safe_next(request.args.get("next")) or home_url(user))
        flash(_("The email address or password is wrong, or the account is not in use."), "error")
    status = 400 if form.errors or request.method == "POST" else 200
    return render_template("auth/sign_in.html", form=form), status


@bp.post("/sign-out")
@login_required
def sign_out():
    accounts.end_sessions(current_user)
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.sign_in"))


@bp.get("/language/<code>")
def set_language(code: str):
    target = _safe_next(request.args.get("next")) or url_for("auth.sign_in")
    response = redirect(target)
    if code in LANGUAGES:
        response.set_cookie(COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response


def _start_session() -> None:
    """Begin the signed-in session afresh: nothing of before, a new CSRF secret."""
    session.clear()
    g.pop("csrf_token", None)


def _safe_next(target: str | None) -> str | None:
    """Return a same-site path to go back to, or None."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
