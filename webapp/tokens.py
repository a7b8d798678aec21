"""Signed card tokens for the Kaikukortti QR codes that door staff scan.

There are two kinds of token, each signed with HMAC-SHA256 by :mod:`itsdangerous`
under its own salt, so a signature made for one kind never verifies as the other:

* Printed card (:data:`CARD_SALT`, no expiry)::

      K7MX4PQ2D.12.<43-character signature>

* Digital card shown on the phone (:data:`DIGITAL_SALT`, expires after
  ``max_age`` seconds, default 120)::

      D.K7MX4PQ2D.12.<timestamp>.<43-character signature>

The payload is only the card number and the card's generation (bumped when a
card is reissued, which invalidates the older tokens); nothing personal. A
printed token is 56 characters for a one- or two-digit generation (QR version 4
at error correction M), a digital token 65 (version 5).

Keys are passed in as a list ordered oldest to newest: tokens are signed with
the newest key and verified with every key in the list, so keys can rotate
without reprinting cards. :func:`parse` accepts only the exact canonical form
that the signing functions produce (apart from surrounding whitespace), so a
valid card has exactly one token string per kind and generation and
:func:`token_digest` can be used in offline validity and revocation lists.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from itsdangerous import BadSignature, SignatureExpired, Signer, TimestampSigner
from itsdangerous.encoding import base64_decode, base64_encode

from . import cardnumbers
from .errors import DomainError
from .rules import Reason

CARD_SALT = "kaikukortti.card.v1"
DIGITAL_SALT = "kaikukortti.digital.v1"

INVALID_TOKEN = Reason.INVALID_TOKEN
TOKEN_EXPIRED = Reason.TOKEN_EXPIRED

MAX_TOKEN_LENGTH = 512
MAX_GENERATION = 999_999_999

DIGITAL_PREFIX = "D."
_SEP = "."

_NUMBER = f"[{re.escape(cardnumbers.ALPHABET)}]{{{cardnumbers.LENGTH}}}"
_GENERATION = "[1-9][0-9]{0,8}"
_B64 = "[A-Za-z0-9_-]"
# HMAC-SHA256 gives 32 bytes, 43 characters of unpadded URL-safe base64.
_SIGNATURE = f"{_B64}{{43}}"
_CARD_RE = re.compile(rf"(?P<number>{_NUMBER})\.(?P<generation>{_GENERATION})\.{_SIGNATURE}")
_DIGITAL_RE = re.compile(
    rf"{re.escape(DIGITAL_PREFIX)}(?P<number>{_NUMBER})\.(?P<generation>{_GENERATION})"
    rf"\.{_B64}{{1,11}}\.{_SIGNATURE}"
)
_PAYLOAD_RE = re.compile(rf"(?P<number>{_NUMBER})\.(?P<generation>{_GENERATION})")

_S = TypeVar("_S", bound=Signer)


@dataclass(frozen=True)
class CardToken:
    number: str
    generation: int
    signed_at: datetime | None  # UTC, only for time-limited digital tokens


class TokenError(DomainError):
    """A token that cannot be accepted; ``code`` is ``invalid_token`` or ``token_expired``."""


def _check_keys(keys: Sequence[str]) -> list[str]:
    if isinstance(keys, str | bytes):
        # A bare string is a Sequence[str] too, and would silently become one key per character.
        raise TypeError("keys must be a list of keys ordered oldest to newest, not a single string")
    keys = list(keys)
    if not keys or not all(isinstance(k, str | bytes) and k for k in keys):
        raise ValueError("keys must be a non-empty list of non-empty keys")
    return keys


def _make_signer(cls: type[_S], keys: Sequence[str], salt: str) -> _S:
    return cls(
        _check_keys(keys),
        salt=salt,
        sep=_SEP,
        key_derivation="hmac",
        digest_method=hashlib.sha256,
    )


def _payload(number: str, generation: int) -> str:
    if not isinstance(number, str) or not cardnumbers.is_valid(number):
        raise ValueError("not a valid card number")
    if (
        not isinstance(generation, int)
        or isinstance(generation, bool)
        or not 1 <= generation <= MAX_GENERATION
    ):
        raise ValueError(f"generation must be an integer from 1 to {MAX_GENERATION}")
    return f"{cardnumbers.normalize(number)}{_SEP}{generation}"


def _is_canonical_base64(text: str) -> bool:
    # base64 decoding ignores the unused low bits of the last character, so
    # several strings decode to the same signature; accept only the one we emit.
    return base64_encode(base64_decode(text)).decode("ascii") == text


def sign_card(number: str, generation: int, keys: Sequence[str]) -> str:
    """Sign a non-expiring token for the printed card with the newest key."""
    payload = _payload(number, generation)
    return _make_signer(Signer, keys, CARD_SALT).sign(payload).decode("ascii")


def sign_digital(number: str, generation: int, keys: Sequence[str]) -> str:
    """Sign a time-limited token for the digital card on the phone with the newest key."""
    payload = _payload(number, generation)
    signed = _make_signer(TimestampSigner, keys, DIGITAL_SALT).sign(payload)
    return DIGITAL_PREFIX + signed.decode("ascii")


def parse(token: str, keys: Sequence[str], max_age: int = 120) -> CardToken:
    """Verify a printed or digital token and return its contents, else raise TokenError."""
    card_signer = _make_signer(Signer, keys, CARD_SALT)
    digital_signer = _make_signer(TimestampSigner, keys, DIGITAL_SALT)

    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise TokenError(INVALID_TOKEN)
    token = token.strip()
    digital = token.startswith(DIGITAL_PREFIX)
    match = (_DIGITAL_RE if digital else _CARD_RE).fullmatch(token)
    if match is None or not _is_canonical_base64(token.rsplit(_SEP, 1)[1]):
        raise TokenError(INVALID_TOKEN)

    signed_at: datetime | None = None
    try:
        if digital:
            value, signed_at = digital_signer.unsign(
                token.removeprefix(DIGITAL_PREFIX), max_age=max_age, return_timestamp=True
            )
        else:
            value = card_signer.unsign(token)
    except SignatureExpired:
        raise TokenError(TOKEN_EXPIRED) from None
    except BadSignature:
        raise TokenError(INVALID_TOKEN) from None

    payload = _PAYLOAD_RE.fullmatch(value.decode("ascii"))
    if payload is None or not cardnumbers.is_valid(payload["number"]):
        raise TokenError(INVALID_TOKEN)
    generation = int(payload["generation"])
    if not 1 <= generation <= MAX_GENERATION:
        raise TokenError(INVALID_TOKEN)
    return CardToken(number=payload["number"], generation=generation, signed_at=signed_at)


def token_digest(token: str) -> str:
    """Return the first 16 hex characters of the SHA-256 of the whitespace-stripped token."""
    return hashlib.sha256(token.strip().encode("utf-8", "surrogatepass")).hexdigest()[:16]


def key_id(key: str) -> str:
    """Return a short public name for a signing key (it reveals nothing of the key)."""
    return hashlib.sha256(b"kaikukortti.key-id:" + key.encode()).hexdigest()[:8]
