"""Rate limits against guessing: sign-in per address and per account, door checks, lookups.

The limiter is one object for the process; whether limits apply is a setting of each app
(``RATE_LIMITS``), read at request time, so tests can run apps with and without them.
Several app instances share counts through Redis when ``REDIS_URL`` is set.
"""

import hashlib

from flask import current_app, request
from flask_limiter.util import get_remote_address
from flask_login import current_user

from .extensions import limiter
from .services.accounts import normalize_email

SIGN_IN_PER_ADDRESS = "30 per minute"
SIGN_IN_PER_ACCOUNT = "10 per 15 minutes"
DOOR_CHECKS = "120 per minute"  # a busy door scans one card every few seconds
CARD_LOOKUPS = "60 per minute"


def limits_off() -> bool:
    return not current_app.config.get("RATE_LIMITS", True)


def sign_in_failed(response) -> bool:
    return response.status_code != 302


def sign_in_account() -> str:
    return "account:" + normalize_email(request.form.get("email", ""))[:254]


def sign_in_address() -> str:
    return "address:" + get_remote_address()


def caller() -> str:
    """Return who is asking: the API token, else the signed-in user, else the address."""
    authorization = request.headers.get("Authorization")
    if authorization:
        return "token:" + hashlib.sha256(authorization.encode()).hexdigest()[:16]
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return "address:" + get_remote_address()


door_checks = limiter.limit(DOOR_CHECKS, key_func=caller, exempt_when=limits_off)
card_lookups = limiter.limit(CARD_LOOKUPS, key_func=caller, exempt_when=limits_off)
