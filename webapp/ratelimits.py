"""Rate limits against guessing: sign-in per address and per account, door checks, lookups.

The limiter is one object for the process; whether limits apply is a setting of each app
(``RATE_LIMITS``), read at request time, so tests can run apps with and without them.
Several app instances share counts through Redis when ``REDIS_URL`` is set.
"""

from flask import current_app, request
from flask_limiter.util import get_remote_address

from .services.accounts import normalize_email

SIGN_IN_PER_ADDRESS = "30 per minute"
SIGN_IN_PER_ACCOUNT = "10 per 15 minutes"


def limits_off() -> bool:
    return not current_app.config.get("RATE_LIMITS", True)


def sign_in_failed(response) -> bool:
    return response.status_code != 302


def sign_in_account() -> str:
    return "account:" + normalize_email(request.form.get("email", ""))[:254]


def sign_in_address() -> str:
    return "address:" + get_remote_address()
