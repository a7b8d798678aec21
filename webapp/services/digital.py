"""The digital card on the holder's phone: its unguessable link and the one device it is bound to.

The first device that opens the link gets a random device secret (kept in a cookie by
the view); the card stores only the secret's SHA-256. Any other device is refused until
the distributor moves the card (:func:`webapp.services.cards.move_digital_card`), which
gives it a new link and forgets the device.
"""

import hashlib
import hmac
import re
import secrets

import segno
from sqlalchemy import select, update

from ..extensions import db
from ..models import Card
from . import audit

_KEY = re.compile(r"[A-Za-z0-9_-]{20,64}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")


def card_for_key(key: str) -> Card | None:
    """Return the card whose digital link has that key, or None."""
    if not _KEY.fullmatch(key or ""):
        return None
    return db.session.scalar(select(Card).where(Card.digital_key == key))


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
