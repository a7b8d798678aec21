"""Rate limits against guessing: sign-in per address and per account+address, door, lookups.

The limiter is one object for the process; whether limits apply is a setting of each app
(``RATE_LIMITS``), read at request time, so tests can run apps with and without them.
Several app instances share counts through Redis when ``REDIS_URL`` is set.

The door and the lookups count per *person*: the user that the API token or the session
authenticated (:func:`caller`), never a header the client spells as it likes. Each is one
budget shared by its endpoints: checking a card and recording a visit, in the scanner and
in the API, draw on the same door limit. The scanner's offline upload and its undo share
another, the offline list a third.
"""

import hashlib
from functools import wraps

from flask import current_app, g, request
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
# A phone back online sends its whole queue at once, one request a visit (or undo): a queue
# of 500 goes in one minute; past the limit the phone keeps the rest and sends it later.
OFFLINE_SYNC = "600 per minute; 5000 per hour"
OFFLINE_LISTS = "30 per minute"  # a list or its changes, at each start, reconnect and venue


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
    """Return who is asking: the user of the API token or of the session, else the address."""
    user_id = g.get("api_user_id")  # set by the API's authentication
    if user_id is None and current_user.is_authenticated:
        user_id = current_user.id
    return f"user:{user_id}" if user_id is not None else "address:" + get_remote_address()


def _shared(limits: str, scope: str):
    """Return a decorator that gives views one budget of ``limits`` per :func:`caller`.

    With the app's limits off the view runs without the limiter: it cost a door check a
    tenth of a millisecond only to find each limit exempt.
    """
    limited = limiter.shared_limit(limits, scope=scope, key_func=caller)

    def decorator(view):
        checked = limited(view)

        @wraps(view)
        def wrapped(*args, **kwargs):
            return view(*args, **kwargs) if limits_off() else checked(*args, **kwargs)

        return wrapped

    return decorator


door_checks = _shared(DOOR_CHECKS, "door")
card_lookups = _shared(CARD_LOOKUPS, "card-lookups")
offline_sync = _shared(OFFLINE_SYNC, "offline-sync")
offline_lists = _shared(OFFLINE_LISTS, "offline-lists")
