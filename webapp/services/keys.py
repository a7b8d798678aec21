"""Signing-key rotation: which cards carry a token signed with which key.

Every time a card's token is handed out (issue, reissue, print), the audit event records the
id of the key that signed it (:func:`webapp.tokens.key_id`). When a key is compromised, it is
removed from ``CARD_SIGNING_KEYS`` and :func:`affected_cards` lists the still-valid cards whose
last handed-out token was signed with it, so they can be reissued with the current key.
"""

from collections.abc import Iterable

from sqlalchemy import select

from ..extensions import db
from ..models import AuditEvent, Card
from ..rules import today_in_finland
from . import cards

HANDOUT_ACTIONS = ("card.issued", "card.reissued", "card.printed")


def keys_of_valid_cards() -> dict[str, set[str]]:
    """Return, per key id, the numbers of valid cards whose last token that key signed."""
    today = today_in_finland()
    valid = set(
        db.session.scalars(
            select(Card.number).where(Card.revoked.is_(False), Card.valid_until >= today)
        )
    )
    last_key: dict[str, str] = {}
    events = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action.in_(HANDOUT_ACTIONS), AuditEvent.object_type == "card")
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    for event in events:
        key = (event.details or {}).get("key_id")
        if key and event.object_id in valid:
            last_key[event.object_id] = key
    by_key: dict[str, set[str]] = {}
    for number, key in last_key.items():
        by_key.setdefault(key, set()).add(number)
    return by_key


def affected_cards(compromised_key_id: str) -> list[Card]:
    """Return the valid cards whose last handed-out token the key signed."""
    numbers = keys_of_valid_cards().get(compromised_key_id, set())
    return list(db.session.scalars(select(Card).where(Card.number.in_(numbers))))


def reissue_all(affected: Iterable[Card]) -> list[Card]:
    """Reissue the cards with the current key (their old tokens then answer ``replaced``)."""
    return [cards.reissue_card(card, actor=None) for card in affected]
