"""The offline validity list: what a venue's scanner needs to decide without a network.

The scanner downloads the list for its venue, then asks only for the changes since
its last download. The list holds no secret and nothing personal:

* ``token``  the first 16 hex characters of the SHA-256 of the card's *printed* token
  (:func:`webapp.tokens.token_digest`). The token carries a 256-bit signature, so the
  digest cannot be turned back into a token, and a forged or altered token hashes to a
  digest that is not in the list: offline, a forged printed code is never accepted.
  A replaced card's old token has another digest, so it is refused offline too.
* ``number`` the first 8 hex characters of a SHA-256 of the card number, for a number
  typed by hand (a damaged card). Only 32 bits: about 200 possible card numbers share
  each digest, so the list does not give away which numbers exist, while a mistyped
  number (already caught by the check character in 30 cases of 31) matches some valid
  card only with a chance of (cards in the list) / 2**32.
* the card's validity, region code, registered children and the children allowed at
  this venue, and an opaque ``id`` (the card's row id) that deltas use to remove it.

* ``device`` and ``generation``: the serial of the card's current phone key (None
  without a digital card) and the card's generation, for the digital card's own codes.

A digital card's phone signs its codes itself (:mod:`webapp.services.digital`): each
code carries a certificate that an issuer key signed. The list's ``issuers`` are those
issuers' *public* keys, so the scanner verifies the certificate and the phone's
signature with WebCrypto, checks the code's age, then finds the card by the
certificate's device serial; an old phone's serial (the card moved) or an older
generation (the card was reissued) is in no entry and is refused. Nothing on the door
can sign a code. The older server-signed digital codes (``D.…``) are still refused
offline: the staff types the number shown on the phone.

A delta is the cards changed (``Card.updated_at``) since the previous list, with a
short overlap against rows committed late: each changed card is either upserted
(still accepted here) or removed (revoked, replaced, expired, ...). A revocation
therefore takes effect at the next sync. Things that do not touch the card (a region
joining or leaving the network, a card reaching its first or last day) are handled
by the whole list being sent again when the previous one is from an earlier day.
"""

import hashlib
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from .. import cardnumbers, tokens
from ..extensions import db
from ..models import Card, Organisation, Region, utcnow
from ..rules import helsinki_date, verdict
from .cards import printed_token
from .digital import current_serials, offline_issuers

SYNC_OVERLAP = timedelta(minutes=2)
NUMBER_DIGEST_LENGTH = 8
NUMBER_DIGEST_PREFIX = "kaikukortti.number."


def number_digest(number: str) -> str:
    """Return the short digest under which a card number is listed (normalized first)."""
    normalized = cardnumbers.normalize(number)
    digest = hashlib.sha256((NUMBER_DIGEST_PREFIX + normalized).encode("utf-8"))
    return digest.hexdigest()[:NUMBER_DIGEST_LENGTH]


def validity_list(
    venue: Organisation, since: datetime | None = None, moment: datetime | None = None
) -> dict:
    """Return the venue's validity list, whole or as the changes since ``since``."""
    moment = moment or utcnow()
    today = helsinki_date(moment)
    full = since is None or since > moment or helsinki_date(since) != today
    query = select(Card).options(joinedload(Card.region).selectinload(Region.memberships))
    if full:
        query = query.where(
            Card.revoked.is_(False), Card.valid_from <= today, Card.valid_until >= today
        )
        if venue.home_region_only:
            query = query.where(Card.region_id == venue.region_id)
    else:
        query = query.where(Card.updated_at > since - SYNC_OVERLAP)

    accepted, removed = [], []
    for card in db.session.scalars(query.order_by(Card.id)):
        decision = verdict(card, card.generation, venue, moment)
        if decision.valid:
            accepted.append((card, decision.max_children))
        else:
            removed.append(card.id)
    devices = current_serials([card.id for card, _max in accepted])
    entries = [_entry(card, max_children, devices.get(card.id)) for card, max_children in accepted]
    return {
        "venue": venue.id,
        "generated_at": moment.isoformat(),
        "valid_on": today.isoformat(),
        "full": full,
        "issuers": offline_issuers(),
        "max_age": current_app.config["DIGITAL_TOKEN_MAX_AGE"],
        "cards": entries,
        "removed": [] if full else removed,
    }


def _entry(card: Card, max_children: int, device: int | None) -> dict:
    return {
        "id": card.id,
        "token": tokens.token_digest(printed_token(card)),
        "number": number_digest(card.number),
        "valid_from": card.valid_from.isoformat(),
        "valid_until": card.valid_until.isoformat(),
        "region": card.region.code,
        "children": card.children,
        "max_children": max_children,
        "device": device,
        "generation": card.generation,
    }
