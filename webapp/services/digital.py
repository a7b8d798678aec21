"""The digital card on the holder's phone: its unguessable link, the one device it is bound to
and the key with which that device signs its own codes.

The first device that opens the link gets a random device secret (kept in a cookie by
the view); the card stores only the secret's SHA-256. Any other device is refused until
the distributor moves the card (:func:`webapp.services.cards.move_digital_card`), which
gives it a new link, forgets the device and retires its signing key at once.

The bound device then makes a non-extractable ECDSA P-256 key with WebCrypto and sends
its public key (:func:`register_device`); the server keeps it as a :class:`DeviceKey`
and answers a certificate signed with the newest issuer key (``DIGITAL_ISSUER_KEYS``)
that binds card number, generation, device serial (the key's id) and an expiry: the end
of the card's last valid day (:func:`certificate_until`), so no code outlives the card even
where a door cannot ask. When the card is extended the phone has a new key certified the
next time it is online (it compares its certificate with ``certificate_until``). The
phone signs a fresh code every few seconds by itself (format in :mod:`webapp.tokens`);
nothing it shows stays valid longer than ``DIGITAL_TOKEN_MAX_AGE``.

A moved card's old phone is refused by serial, not by key: the server accepts only the
card's one unretired serial, and the offline list carries that serial in the card's
entry (:mod:`webapp.services.offline`). A list of retired keys would only grow; the
current serial is one small number per card and a delta updates it like any change.
"""

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta
from functools import lru_cache

import segno
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import current_app
from sqlalchemy import select, update

from .. import tokens
from ..errors import DomainError, ErrorCode
from ..extensions import db
from ..models import Card, DeviceKey, utcnow
from ..rules import Reason, finnish_moment
from . import audit

REPLAY_KEY_PREFIX = "code:"

_KEY = re.compile(r"[A-Za-z0-9_-]{20,64}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")


def card_for_key(key: str) -> Card | None:
    """Return the card whose digital link has that key, or None (also for a community card,
    which has no digital card)."""
    if not _KEY.fullmatch(key or ""):
        return None
    card = db.session.scalar(select(Card).where(Card.digital_key == key))
    return card if card is not None and card.has_digital_card else None


def new_device_secret() -> str:
    return secrets.token_urlsafe(32)


def device_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def is_bound_device(card: Card, secret: str | None) -> bool:
    """Tell whether the secret is the one of the device the card is bound to."""
    if card.digital_device is None or not secret or not _SECRET.fullmatch(secret):
        return False
    return hmac.compare_digest(card.digital_device, device_hash(secret))


def open_on_device(card: Card, secret: str | None) -> str | None:
    """Bind the card to this device if no device holds it yet.

    Return the device secret the device should keep (the given one, or a new one when
    it had none), or None when another device holds the card. Of two devices opening
    an unbound card at the same moment, only one wins.
    """
    if card.digital_device is None:
        secret = secret if secret and _SECRET.fullmatch(secret) else new_device_secret()
        claimed = db.session.execute(
            update(Card)
            .where(Card.id == card.id, Card.digital_device.is_(None))
            .values(digital_device=device_hash(secret))
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.refresh(card)
        if claimed:
            audit.record("card.digital_activated", card, actor=None)
    return secret if is_bound_device(card, secret) else None


def qr_svg(text: str, *, label: str) -> str:
    """Return the QR code of the text as inline SVG that scales with its container."""
    qr = segno.make(text, error="m", micro=False)
    svg = qr.svg_inline(
        border=4,
        omitsize=True,
        svgclass="qr",
        lineclass=None,
        title=label,
        dark="#000",
        light="#fff",
    )
    return svg.replace("<svg ", '<svg role="img" shape-rendering="crispEdges" ', 1)


# --- the device's signing key ----------------------------------------------------------


class DeviceKeyError(DomainError):
    """A public key that cannot be certified (``invalid_public_key``)."""


@lru_cache(maxsize=8)
def _load_issuers(pems: tuple[str, ...]) -> tuple[ec.EllipticCurvePrivateKey, ...]:
    return tuple(tokens.load_issuer_key(pem.encode()) for pem in pems)


@lru_cache(maxsize=8)
def _public_keys(pems: tuple[str, ...]) -> dict[str, ec.EllipticCurvePublicKey]:
    public = (key.public_key() for key in _load_issuers(pems))
    return {tokens.issuer_key_id(key): key for key in public}


def _pems() -> tuple[str, ...]:
    return tuple(current_app.config["DIGITAL_ISSUER_KEYS"])


def _issuers() -> tuple[ec.EllipticCurvePrivateKey, ...]:
    return _load_issuers(_pems())


def issuer_public_keys() -> dict[str, ec.EllipticCurvePublicKey]:
    """Return every configured issuer's public key by key id (the newest signs)."""
    return dict(_public_keys(_pems()))


def offline_issuers() -> dict[str, str]:
    """Return the issuers' public keys for the offline list: key id -> base64url raw point."""
    return {
        kid: b64(key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))
        for kid, key in issuer_public_keys().items()
    }


def current_device(card: Card) -> DeviceKey | None:
    """Return the card's unretired device key, or None."""
    return db.session.scalar(
        select(DeviceKey).where(DeviceKey.card_id == card.id, DeviceKey.retired_at.is_(None))
    )


def current_serials(card_ids: list[int]) -> dict[int, int]:
    """Return the unretired device serial of each of the cards that has one."""
    if not card_ids:
        return {}
    query = select(DeviceKey.card_id, DeviceKey.id).where(DeviceKey.retired_at.is_(None))
    if len(card_ids) <= 1000:  # a delta; a whole list reads every current key at once
        query = query.where(DeviceKey.card_id.in_(card_ids))
    wanted = set(card_ids)
    return {card_id: serial for card_id, serial in db.session.execute(query) if card_id in wanted}


def register_device(card: Card, public_key: str) -> tuple[DeviceKey, bytes]:
    """Keep the phone's public key (base64url) as the card's only key; return it, certified.

    Retires the card's earlier keys at once. Raises DeviceKeyError for anything that is
    not a P-256 public key.
    """
    try:
        raw = base64.urlsafe_b64decode(public_key + "=" * (-len(public_key) % 4))
        point = tokens.compress_point(raw)
    except (binascii.Error, ValueError, TypeError):
        raise DeviceKeyError(ErrorCode.INVALID_PUBLIC_KEY) from None
    now = utcnow()
    retire_devices(card, now)
    card.updated_at = now  # the offline lists' next whole list and delta carry its serial
    device = DeviceKey(card_id=card.id, public_key=point, created_at=now)
    db.session.add(device)
    db.session.flush()
    audit.record("card.device_key", card, actor=None, serial=device.id)
    return device, certificate(card, device)


def certificate_until(card: Card) -> datetime:
    """Return when a certificate of the card lapses: the end of its last valid day in Finland."""
    return finnish_moment(card.valid_until + timedelta(days=1))


def certificate(card: Card, device: DeviceKey) -> bytes:
    """Return the certificate of the device key for the card's current generation."""
    return tokens.sign_certificate(
        _issuers()[-1],
        serial=device.id,
        number=card.number,
        generation=card.generation,
        expires_at=certificate_until(card),
        device_key=device.public_key,
    )


def retire_devices(card: Card, moment: datetime | None = None) -> None:
    """Retire every key of the card's phones: their codes are refused from now on."""
    moment = moment or utcnow()
    retired = db.session.execute(
        update(DeviceKey)
        .where(DeviceKey.card_id == card.id, DeviceKey.retired_at.is_(None))
        .values(retired_at=moment)
        .execution_options(synchronize_session=False)
    ).rowcount
    if retired:
        card.updated_at = moment  # the offline lists' next delta carries the change


# --- at the door -----------------------------------------------------------------------


def parse_token(token: str, moment: datetime) -> tokens.CardToken | tokens.DeviceCode:
    """Verify a scanned code: a printed token or a code signed by the card's current phone.

    Raises TokenError: ``invalid_token``, ``token_expired``, or ``replaced`` for a code
    of a phone the card has moved away from.
    """
    config = current_app.config
    if not tokens.is_device_code(token):
        return tokens.parse(
            token, config["CARD_SIGNING_KEYS"], max_age=config["DIGITAL_TOKEN_MAX_AGE"]
        )
    code = tokens.parse_device_code(
        token, issuer_public_keys(), max_age=config["DIGITAL_TOKEN_MAX_AGE"], now=moment
    )
    current = db.session.scalar(
        select(DeviceKey.id)
        .join(Card, Card.id == DeviceKey.card_id)
        .where(
            DeviceKey.id == code.certificate.serial,
            Card.number == code.number,
            DeviceKey.retired_at.is_(None),
        )
    )
    if current is None:
        raise tokens.TokenError(Reason.REPLACED)
    return code


def replay_key(token: str | None) -> str | None:
    """Return the idempotency key that makes a phone's code count once per venue, or None."""
    identity = tokens.device_code_identity(token) if token is not None else None
    if identity is None:
        return None
    return REPLAY_KEY_PREFIX + hashlib.sha256(identity).hexdigest()[:32]


def b64(raw: bytes) -> str:
    """Return the bytes as unpadded base64url."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
