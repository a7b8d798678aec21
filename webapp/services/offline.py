"""The offline validity list: what a venue's scanner needs to decide without a network.

The scanner downloads the list for its venue, then asks only for the changes since
its last download. The list holds no secret and nothing personal:

* ``tokens`` the first 16 hex characters of the SHA-256 of the card's *printed* token
  (:func:`webapp.tokens.token_digest`) as each signing key still accepted would sign it,
  so a card printed before ``flask keys new`` is still accepted offline during the
  overlap. The token carries a 256-bit signature, so a digest cannot be turned back into
  a token, and a forged or altered token hashes to a digest that is not in the list:
  offline, a forged printed code is never accepted. A replaced card's old token has
  another digest, so it is refused offline too.
* ``number`` a slow salted hash of the card's stable number, for a printed number typed
  by hand (a damaged card): PBKDF2-HMAC-SHA256 with the list's ``salt`` and
  ``iterations`` (:data:`NUMBER_HASH_ITERATIONS`), 64 bits of it. The phone parses the
  typed printed number into the stable number and its generation, does one PBKDF2 (a few
  ms, WebCrypto) and compares the generation with the entry's: an older one is
  ``replaced``. A number that was never issued matches some entry with a chance of
  (cards in the list) / 2**64, 5.4e-15 for 100,000 cards; and finding which numbers
  exist costs one PBKDF2 per guess of the 31**8 (8.5e11) numbers, about 225 CPU-core
  years at 10,000 iterations (1.2 million iterations per second on one core). The hash
  of a card is cached in ``Card.number_hash`` under the salt's id, so a list of 100,000
  cards is built from the column, not 100,000 PBKDF2s. The salt is the deployment's
  (derived from ``SECRET_KEY``, or ``OFFLINE_NUMBER_SALT``): one per list would make every
  list recompute every hash.
* the card's validity, region code, kind (a community card says so offline too),
  registered children and the children allowed at this venue, and an opaque ``id``
  (the card's row id) that deltas use to remove it.

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

The list carries ``count``, how many cards the whole list holds now: after applying a
delta the phone compares it with its own count and downloads the whole list when they
differ. ``generated_at`` is the server's clock, from which the phone learns how far its
own clock is off.

A delta is the cards changed (``Card.updated_at``) since the previous list, with a
short overlap against rows committed late: each changed card is either upserted
(still accepted here) or removed (revoked, replaced, expired, ...). A revocation
therefore takes effect at the next sync. Things that do not touch the card (a region
joining or leaving the network, a card reaching its first or last day) are handled
by the whole list being sent again when the previous one is from an earlier day.
"""

import hashlib
import hmac
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import joinedload

from .. import cardnumbers, tokens
from ..extensions import db
from ..models import Card, Organisation, Region, utcnow
from ..rules import helsinki_date, verdict
from .digital import current_serials, offline_issuers

SYNC_OVERLAP = timedelta(minutes=2)
NUMBER_HASH_BYTES = 8  # 64 bits
NUMBER_HASH_ITERATIONS = 10_000  # one lookup: 17 ms in WebCrypto on a busy 2-core server


def number_salt() -> str:
    """Return the salt of the number hashes (hex): configured, or derived from SECRET_KEY."""
    configured = current_app.config.get("OFFLINE_NUMBER_SALT")
    if configured:
        return configured
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, b"kaikukortti.offline-number-salt", hashlib.sha256).hexdigest()[:32]


def number_hash(number: str, salt: str, iterations: int = NUMBER_HASH_ITERATIONS) -> str:
    """Return the slow salted hash (16 hex) under which a stable card number is listed."""
    normalized = cardnumbers.normalize(number).encode()
    digest = hashlib.pbkdf2_hmac("sha256", normalized, salt.encode(), iterations, NUMBER_HASH_BYTES)
    return digest.hex()


def _salt_id(salt: str) -> str:
    return hashlib.sha256(f"{salt}:{NUMBER_HASH_ITERATIONS}".encode()).hexdigest()[:8]


def number_hashes(cards: list[Card], salt: str) -> dict[int, str]:
    """Return the cards' number hashes, computing and caching those not cached for the salt."""
    prefix = _salt_id(salt) + ":"
    hashes, missing = {}, []
    for card in cards:
        if card.number_hash and card.number_hash.startswith(prefix):
            hashes[card.id] = card.number_hash[len(prefix) :]
        else:
            hashes[card.id] = number_hash(card.number, salt)
            missing.append({"card_id": card.id, "hash": prefix + hashes[card.id]})
    if missing:  # a cache, not a change of the card: updated_at stays, deltas ignore it
        table = Card.__table__
        statement = (
            update(table)
            .where(table.c.id == bindparam("card_id"))
            .values(number_hash=bindparam("hash"), updated_at=table.c.updated_at)
        )
        db.session.connection().execute(statement, missing)
    return hashes


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
    salt = number_salt()
    hashes = number_hashes([card for card, _max in accepted], salt)
    keys = current_app.config["CARD_SIGNING_KEYS"]
    entries = [
        _entry(card, max_children, devices.get(card.id), hashes[card.id], keys)
        for card, max_children in accepted
    ]
    return {
        "venue": venue.id,
        "generated_at": moment.isoformat(),
        "valid_on": today.isoformat(),
        "full": full,
        "count": len(entries) if full else _count(venue, moment),
        "salt": salt,
        "iterations": NUMBER_HASH_ITERATIONS,
        "issuers": offline_issuers(),
        "max_age": current_app.config["DIGITAL_TOKEN_MAX_AGE"],
        "cards": entries,
        "removed": [] if full else removed,
    }


def _count(venue: Organisation, moment: datetime) -> int:
    """Return how many cards the whole list would hold now (the phone checks its own)."""
    today = helsinki_date(moment)
    if not venue.region.in_network_on(today):
        return 0
    query = (
        select(Card.region_id, func.count())
        .where(Card.revoked.is_(False), Card.valid_from <= today, Card.valid_until >= today)
        .group_by(Card.region_id)
    )
    if venue.home_region_only:
        query = query.where(Card.region_id == venue.region_id)
    counts = dict(db.session.execute(query).all())
    regions = db.session.scalars(select(Region).where(Region.id.in_(counts)))
    return sum(counts[region.id] for region in regions if region.in_network_on(today))


def _entry(card: Card, max_children: int, device: int | None, number: str, keys) -> dict:
    return {
        "id": card.id,
        "tokens": [
            tokens.token_digest(tokens.sign_card(card.number, card.generation, [key]))
            for key in keys
        ],
        "number": number,
        "valid_from": card.valid_from.isoformat(),
        "valid_until": card.valid_until.isoformat(),
        "region": card.region.code,
        "kind": card.kind.value,
        "children": card.children,
        "max_children": max_children,
        "device": device,
        "generation": card.generation,
    }
