"""Who may do what: sign-in loading, role checks and each role's home page."""

from collections.abc import Callable
from functools import wraps

from flask import abort, url_for
from flask_login import current_user, login_required

from .extensions import db, login_manager
from .models import Role, User

HOME_ENDPOINTS = {
    Role.ADMIN: "coordinator.home",
    Role.COORDINATOR: "coordinator.home",
    Role.DISTRIBUTOR: "distributor.home",
    Role.VENUE: "scanner.scan",
}


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """Load the signed-in user; a deactivated user or an ended session is signed out at once."""
    user_id, _, version = session_id.partition(".")
    if not (user_id.isdigit() and version.isdigit()) or len(session_id) > 40:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or str(user.session_version) != version:
        return None
    return user


login_manager.login_view = "auth.sign_in"
login_manager.login_message = None


def home_url(user: User) -> str:
    """Return the URL of the user's home page."""
    return url_for(HOME_ENDPOINTS[user.role])


def roles_required(*roles: Role) -> Callable:
    """Refuse the view (403) unless the signed-in user has one of the roles."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
