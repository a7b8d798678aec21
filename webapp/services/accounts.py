"""People and their API tokens: passwords, and who is behind a bearer token."""

import hashlib
import secrets
from datetime import datetime

from flask import current_app
from sqlalchemy import bindparam, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..models import ApiToken, User, utcnow
from ..rules import helsinki_date
from . import door

MAX_API_TOKEN_LENGTH = 200

# Checked when no account matches, so that a wrong address takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))


def normalize_email(email: str) -> str:
    return email.strip().lower()


def set_password(user: User, password: str) -> None:
    """Store a hash of the password (scrypt unless configured otherwise); end old sessions."""
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    user.password_hash = generate_password_hash(password, method=method)
    end_sessions(user)


def end_sessions(user: User) -> None:
    """End every session of the person, on every device (sign-out, deactivation, new password)."""
    user.session_version = (user.session_version or 0) + 1
    user.sessions_ended_at = utcnow()


def session_was_live(user: User, version: int, moment: datetime) -> bool:
    """Tell whether the person's session of that version was live at the moment.

    The current version is live now; the one just before it was live until its sessions
    ended. Older ones are not known to have been live at any moment.
    """
    if version == user.session_version:
        return True
    ended = user.sessions_ended_at
    return version == user.session_version - 1 and ended is not None and moment <= ended


def authenticate(email: str, password: str) -> User | None:
    """Return the active user with that email and password, or None."""
    email = normalize_email(email)
    storable = "\x00" not in email and len(email) <= 254  # PostgreSQL refuses a NUL in text
    user = db.session.scalar(select(User).where(User.email == email)) if storable else None
    if user is None or user.password_hash is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def hash_api_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(user: User) -> str:
    """Create an API token for the user; only its hash is stored, the token is returned once."""
    token = "kk_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user=user, token_hash=hash_api_token(token)))
    return token


# The user of the unrevoked API token whose hash is bound as ``token_hash``.
TOKEN_OWNER = (
    select(ApiToken.user_id)
    .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None))
    .scalar_subquery()
)
_STAFF_OF_TOKEN = door.staff_statement(TOKEN_OWNER)  # one statement: token, user, venues
_STAFF_AND_CARD_OF_TOKEN = {by: door.staff_statement(TOKEN_OWNER, by) for by in door.CARD_KEYS}


def user_for_api_token(token: str) -> User | None:
    """Return the active user whose unrevoked API token this is, or None."""
    if not _plausible(token):
        return None
    query = select(User).where(User.id == TOKEN_OWNER, User.active)
    return db.session.scalar(query, {"token_hash": hash_api_token(token)})


def staff_for_api_token(token: str, shown: door.Shown | None = None) -> door.DoorStaff | None:
    """Return the active user of the unrevoked API token with their venues, or None.

    The door's lighter read of :func:`user_for_api_token` (see :func:`door.staff`). With what
    the request ``shown``, the same statement reads the card it names
    (:attr:`door.DoorStaff.read_ahead`); for a token that is no one's it reads no card.
    """
    if not _plausible(token):
        return None
    params = {"token_hash": hash_api_token(token)}
    moment = utcnow()
    named = None if shown is None else door.name_of(shown, moment)
    if named is None or named.by is None:
        return door.staff_from(db.session.connection().execute(_STAFF_OF_TOKEN, params))
    ahead = door.CardReadAhead(shown, named, helsinki_date(moment))
    params.update({named.by: named.value, "day": ahead.day})
    result = db.session.connection().execute(_STAFF_AND_CARD_OF_TOKEN[named.by], params)
    return door.staff_from(result, ahead)


def _plausible(token: str) -> bool:
    return bool(token) and len(token) <= MAX_API_TOKEN_LENGTH


def revoke_api_tokens(user: User, now: datetime | None = None) -> int:
    """Revoke every API token of the user that is still in use; return how many."""
    result = db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return result.rowcount
