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
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from itsdangerous import (
    BadSignature,
    SignatureExpired,
    Signer,
    TimestampSigner,
    URLSafeTimedSerializer,
)
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


def printed_token_digests(cards: Sequence[tuple[str, int]], key: str) -> list[str]:
    """Return the token_digest of each stored card's (number, generation) printed token signed
    with ``key``, as :func:`sign_card` would sign it, with one signer for all of them."""
    signer = _make_signer(Signer, [key], CARD_SALT)
    return [
        token_digest(signer.sign(f"{number}{_SEP}{generation}").decode("ascii"))
        for number, generation in cards
    ]


def token_digest(token: str) -> str:
    """Return the first 16 hex characters of the SHA-256 of the whitespace-stripped token."""
    return hashlib.sha256(token.strip().encode("utf-8", "surrogatepass")).hexdigest()[:16]


def key_id(key: str) -> str:
    """Return a short public name for a signing key (it reveals nothing of the key)."""
    return hashlib.sha256(b"kaikukortti.key-id:" + key.encode()).hexdigest()[:8]


# --- the digital card's own codes, signed on the phone ------------------------------------
#
# At activation the phone makes a non-extractable ECDSA P-256 key (WebCrypto) and the
# server certifies its public key with an issuer key (:func:`sign_certificate`). The
# phone then signs a fresh code by itself, online or offline (:func:`device_code_message`).
# A code is ``C.`` and the unpadded base64url of these bytes (191 bytes, 257 characters,
# QR version 11 at error correction M)::
#
#   certificate  version 1 | issuer key id 4 | device serial 4 | generation 4
#                | expires (Unix s) 4 | card number 9 | device public key 33 (compressed)
#                | issuer signature 64 (r || s over CERT_DOMAIN + the 59 bytes before it)
#   code         certificate 123 | signed at (Unix s) 4
#                | device signature 64 (r || s over CODE_DOMAIN + the 127 bytes before it)
#
# The card number and generation come from the certificate, so the code itself is only
# a time and a signature. Nothing in it is personal, and nothing on a door can sign one.

DEVICE_PREFIX = "C."
CERT_DOMAIN = b"kaikukortti.certificate.v1\x00"
CODE_DOMAIN = b"kaikukortti.code.v1\x00"
CERT_VERSION = 1
CLOCK_SKEW = 30  # seconds a phone's clock may run ahead of the door's

_CERT_HEAD = struct.Struct(">B4sIII")  # version, key id, serial, generation, expires
_POINT = 33
_SIG = 64
CERT_BODY_LENGTH = _CERT_HEAD.size + cardnumbers.LENGTH + _POINT
CERT_LENGTH = CERT_BODY_LENGTH + _SIG
CODE_LENGTH = CERT_LENGTH + 4 + _SIG
_DEVICE_RE = re.compile(rf"{re.escape(DEVICE_PREFIX)}{_B64}{{{-(-CODE_LENGTH * 4 // 3)}}}")


@dataclass(frozen=True)
class Certificate:
    issuer: str  # the issuer key's id, 8 hex characters
    serial: int  # the device key's id on the server
    number: str
    generation: int
    expires_at: datetime
    device_key: bytes  # compressed P-256 point


@dataclass(frozen=True)
class DeviceCode:
    certificate: Certificate
    signed_at: datetime

    @property
    def number(self) -> str:
        return self.certificate.number

    @property
    def generation(self) -> int:
        return self.certificate.generation


def issuer_key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """Return the 8-hex-character id of an issuer key: its place in every certificate."""
    der = public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:8]


def load_issuer_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    """Load an ECDSA P-256 issuer key from PEM, or raise ValueError."""
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("an issuer key must be an ECDSA P-256 private key")
    return key


def compress_point(raw: bytes) -> bytes:
    """Return the compressed form of a P-256 public key (raw uncompressed or compressed)."""
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except (ValueError, TypeError):
        raise ValueError("not a P-256 public key") from None
    return key.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)


def sign_certificate(
    issuer: ec.EllipticCurvePrivateKey,
    *,
    serial: int,
    number: str,
    generation: int,
    expires_at: datetime,
    device_key: bytes,
) -> bytes:
    """Certify that the device key may show codes of this card generation until expires_at."""
    payload = _payload(number, generation)  # checks the number and the generation
    head = _CERT_HEAD.pack(
        CERT_VERSION,
        bytes.fromhex(issuer_key_id(issuer.public_key())),
        serial,
        generation,
        int(expires_at.timestamp()),
    )
    body = head + payload.split(_SEP)[0].encode("ascii") + compress_point(device_key)
    return body + _raw_signature(issuer.sign(CERT_DOMAIN + body, ec.ECDSA(hashes.SHA256())))


def device_code_message(certificate: bytes, signed_at: int) -> bytes:
    """Return the bytes the phone signs for a code made at signed_at (Unix seconds)."""
    return CODE_DOMAIN + certificate + struct.pack(">I", signed_at)


def encode_device_code(certificate: bytes, signed_at: int, signature: bytes) -> str:
    """Return the QR text of a code: the certificate, the time and the device's signature."""
    raw = certificate + struct.pack(">I", signed_at) + signature
    return DEVICE_PREFIX + base64_encode(raw).decode("ascii")


def is_device_code(token: object) -> bool:
    return isinstance(token, str) and token.strip().startswith(DEVICE_PREFIX)


def device_code_identity(token: str) -> bytes | None:
    """Return what names one code whatever its signatures' spelling, or None if malformed.

    ECDSA signatures are malleable (``s`` and ``n - s`` both verify), so a replay is
    recognised by the certificate's body and the signing time, never by the signatures.
    """
    if not is_device_code(token) or not _DEVICE_RE.fullmatch(token.strip()):
        return None
    raw = base64_decode(token.strip().removeprefix(DEVICE_PREFIX))
    if len(raw) != CODE_LENGTH:
        return None
    return raw[:CERT_BODY_LENGTH] + raw[CERT_LENGTH : CERT_LENGTH + 4]


def parse_device_code(
    token: str,
    issuers: dict[str, ec.EllipticCurvePublicKey],
    *,
    max_age: int,
    now: datetime,
) -> DeviceCode:
    """Verify a code the phone signed and return it, else raise TokenError.

    ``invalid_token``: malformed, an unknown issuer, a bad signature or a lapsed
    certificate; ``token_expired``: made more than max_age seconds before now (or more
    than CLOCK_SKEW seconds after it).
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise TokenError(INVALID_TOKEN)
    token = token.strip()
    if not _DEVICE_RE.fullmatch(token):
        raise TokenError(INVALID_TOKEN)
    text = token.removeprefix(DEVICE_PREFIX)
    raw = base64_decode(text)
    if len(raw) != CODE_LENGTH or base64_encode(raw).decode("ascii") != text:
        raise TokenError(INVALID_TOKEN)
    body, cert = raw[:CERT_BODY_LENGTH], raw[:CERT_LENGTH]
    version, kid, serial, generation, expires = _CERT_HEAD.unpack_from(raw)
    number = body[_CERT_HEAD.size : _CERT_HEAD.size + cardnumbers.LENGTH].decode("latin-1")
    issuer = issuers.get(kid.hex())
    if version != CERT_VERSION or issuer is None or not cardnumbers.is_valid(number):
        raise TokenError(INVALID_TOKEN)
    if not 1 <= generation <= MAX_GENERATION:
        raise TokenError(INVALID_TOKEN)
    device_key = body[-_POINT:]
    (signed_at,) = struct.unpack_from(">I", raw, CERT_LENGTH)
    try:
        _verify(issuer, raw[CERT_BODY_LENGTH:CERT_LENGTH], CERT_DOMAIN + body)
        device = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), device_key)
        _verify(device, raw[-_SIG:], device_code_message(cert, signed_at))
    except (InvalidSignature, ValueError):
        raise TokenError(INVALID_TOKEN) from None
    moment = now.timestamp()
    if moment > expires:
        raise TokenError(INVALID_TOKEN)
    if not -CLOCK_SKEW <= moment - signed_at <= max_age:
        raise TokenError(TOKEN_EXPIRED)
    return DeviceCode(
        certificate=Certificate(
            issuer=kid.hex(),
            serial=serial,
            number=number,
            generation=generation,
            expires_at=datetime.fromtimestamp(expires, UTC),
            device_key=device_key,
        ),
        signed_at=datetime.fromtimestamp(signed_at, UTC),
    )


def _raw_signature(der: bytes) -> bytes:
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _verify(key: ec.EllipticCurvePublicKey, raw: bytes, message: bytes) -> None:
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))


# --- who recorded a visit on a shared phone ------------------------------------------------

RECORDER_SALT = "kaikukortti.scanner-recorder"


def sign_recorder(user_id: int, session_version: int, keys: Sequence[str]) -> str:
    """Sign the staff member (id and session version) for whom a scanner phone queues visits.

    The signature carries its time, so the token also lapses with age (``max_age``).
    """
    return _recorders(keys).dumps([user_id, session_version])


def parse_recorder(token: str, keys: Sequence[str], max_age: int) -> tuple[int, int]:
    """Return the user id and session version of a recorder token.

    Raises TokenError ``invalid_token`` for a bad, too old or malformed token.
    """
    try:
        signed = _recorders(keys).loads(token[:200], max_age=max_age)
    except BadSignature as error:
        raise TokenError(Reason.INVALID_TOKEN) from error
    if not (
        isinstance(signed, list)
        and len(signed) == 2
        and all(isinstance(part, int) and not isinstance(part, bool) for part in signed)
    ):
        raise TokenError(Reason.INVALID_TOKEN)
    return signed[0], signed[1]


def _recorders(keys: Sequence[str]) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        _check_keys(keys), salt=RECORDER_SALT, signer_kwargs={"digest_method": hashlib.sha256}
    )
