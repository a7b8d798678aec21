"""Rate limits against guessing: sign-in per address and per account+address, door, lookups.

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

# Failed sign-ins count per address, and per account *and* address: a guesser waits longer
# and longer (5 a minute, then 10 an hour, then 20 a day) while the owner, at another
# address, signs in at once. No lock that an attacker could put on someone else's account.
SIGN_IN_PER_ADDRESS = "30 per minute"
SIGN_IN_PER_ACCOUNT_AND_ADDRESS = "5 per minute; 10 per hour; 20 per day"
DOOR_CHECKS = "120 per minute"  # a busy door scans one card every few seconds
CARD_LOOKUPS = "60 per minute"


def limits_off() -> bool:
    return not current_app.config.get("RATE_LIMITS", True)


def sign_in_failed(response) -> bool:
    return response.status_code != 302


def sign_in_account_and_address() -> str:
    email = normalize_email(request.form.get("email", ""))[:254]
    digest = hashlib.sha256(email.encode()).hexdigest()[:16]
    return f"account:{digest}:address:{get_remote_address()}"


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
