"""The offline validity list: what a venue's scanner needs to decide without a network.

The scanner downloads the list for its venue, then asks only for the changes since
its last download. The list holds no secret and nothing personal. Each card is found
by its number, the one a printed code carries in clear or a typed printed number holds:

* ``number`` a slow salted hash of the card's stable number: PBKDF2-HMAC-SHA256 with the
  list's ``salt`` and ``iterations`` (:data:`NUMBER_HASH_ITERATIONS`), of which the list
  carries ``hash_bytes`` (:func:`hash_bytes`: the fewest whole bytes, at least 6, that keep
  an invented number's chance of matching some entry, (cards in the list) / 2**bits, below
  :data:`FALSE_ACCEPT`, one in a billion; 48 bits up to 281,000 cards). The phone parses
  the typed number into the stable number, its generation and (from the first reissue)
  its random characters, does one PBKDF2 (a few ms, WebCrypto) and compares the
  generation with the entry's: an older one is ``replaced``.
* ``check``, for a reissued card, :data:`CHECK_BYTES` of the same slow hash of its whole
  current *printed number* (:func:`webapp.cardnumbers.printed_number`), as an integer (0
  for a card never reissued): a typed number of the current generation must match it, so
  the number of the lost card does not tell the new one offline either. Guessing the five
  random characters against the check costs a PBKDF2 per guess of 31**5, about 66
  CPU-core hours for someone holding both the list and the lost card; a wrong guess at the
  door matches with a chance of 2**-32. A typed number that matches is only orange ("look
  at the card"). Finding which numbers exist costs one PBKDF2 per guess of the 31**8
  (8.5e11) numbers, about 225 CPU-core years at 10,000 iterations (1.2 million iterations
  per second on one core). The hashes are computed when the card is issued or reissued
  (:func:`cache_number_hash`) and cached in ``Card.number_hash`` under a tag of the salt
  and the printed number they are of, so a reissue or another salt makes the old value
  stale by itself, and a list of 100,000 cards is built from the column, not 100,000
  PBKDF2s. The salt is the deployment's (derived from ``SECRET_KEY``, or
  ``OFFLINE_NUMBER_SALT``): one per list would make every list recompute every hash.
* ``tokens`` a tag of the card's *printed* token as each signing key still accepted would
  sign it (the first :data:`TOKEN_TAG_BYTES` of :func:`webapp.tokens.token_digest`), so a
  card printed before ``flask keys new`` is still accepted offline during the overlap (the
  list names its keys, ``keys``, by :func:`webapp.tokens.key_id`: a phone whose list was
  made with other keys, such as a compromised one since removed, downloads it whole). A
  scanned printed code must match its card's entry and then one of its tags: a forged or
  altered code for a number that is not listed is refused at the number, and one for a
  listed number has a chance of 2**-48 per attempt; producing one that matches takes
  first the number (years of CPU, above, unless it was read off the card) and then 2**48
  SHA-256s. A replaced card's old code is of an older generation: ``replaced``.
* the card's validity, region code, kind (``community`` 1 for a community card, which says
  so offline too), registered children and the children allowed at this venue, and an
  opaque ``id`` (the card's row id) that deltas use to remove it.

* ``device`` and ``generation``: the serial of the card's current phone key (None
  without a digital card) and the card's generation, for the digital card's own codes.

On the wire (:func:`wire_list`) the cards are columns, not objects: the hashes and tags
as base64 of their bytes side by side (random bytes do not compress; hex or JSON
objects around them did), ids and first days of validity as differences from the card
before, the length of validity in days, regions as indexes into ``regions``, a missing
device as 0. 100,000 cards take about 12.6 bytes each gzip, against 26.8 before. A whole
list takes seconds to build for 100,000 cards (a verdict and an HMAC a card), so it is
built once for each venue's rules and kept in memory until a card or the day changes
(:func:`wire_list`); a delta is built afresh, from the few cards it carries.

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

A delta is the cards whose entry may have changed since the previous list, with a short
overlap against rows committed late: those changed (``Card.updated_at``) and, when a day
or more has passed, those whose first day has come or whose last day has gone by. Each
is either upserted (still accepted here) or removed (revoked, replaced, expired, ...):
a revocation takes effect at the next sync, and a new day costs only the cards it
changes. The whole list is sent again only when a region joined or left the network in
between (that changes no card), to a phone whose list is older than :data:`LONGEST_DELTA`,
or to one whose delta does not add up to ``count``.
"""

import base64
import hashlib
import hmac
import json
import math
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.orm import selectinload

from .. import cardnumbers, tokens
from ..extensions import db
from ..models import Card, CardKind, Organisation, Region, utcnow
from ..rules import helsinki_date, verdict
from .digital import current_serials, offline_issuers
from .door import DoorCard

SYNC_OVERLAP = timedelta(minutes=2)
# A phone's list older than this decides nothing (offline-verdict.js): it gets the whole
# list, which memory serves, rather than a delta that judges every card again.
LONGEST_DELTA = timedelta(hours=48)
NUMBER_HASH_BYTES = 8  # 64 bits computed and cached; the list carries what its size needs
NUMBER_HASH_ITERATIONS = 10_000  # one lookup: 17 ms in WebCrypto on a busy 2-core server
FALSE_ACCEPT = 1e-9  # the most an invented number may be accepted offline, per attempt
MIN_HASH_BYTES = 6
TOKEN_TAG_BYTES = 6  # 48 bits of the printed token's SHA-256, checked after the number
CHECK_BYTES = 4  # of a reissued card's printed-number hash: its random characters, offline
EPOCH = date(1970, 1, 1)


def number_salt() -> str:
    """Return the salt of the number hashes (hex): configured, or derived from SECRET_KEY."""
    configured = current_app.config.get("OFFLINE_NUMBER_SALT")
    if configured:
        return configured
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, b"kaikukortti.offline-number-salt", hashlib.sha256).hexdigest()[:32]


def number_hash(number: str, salt: str, iterations: int = NUMBER_HASH_ITERATIONS) -> str:
    """Return the slow salted hash (16 hex) of a number as typed: a card's stable number
    (under which it is listed) or a reissued card's printed number (its check)."""
    normalized = cardnumbers.normalize(number).encode()
    digest = hashlib.pbkdf2_hmac("sha256", normalized, salt.encode(), iterations, NUMBER_HASH_BYTES)
    return digest.hex()


def hash_bytes(count: int) -> int:
    """Return how many bytes of the number hash keep (count) / 2**bits below FALSE_ACCEPT."""
    bits = math.ceil(math.log2(max(count, 1) / FALSE_ACCEPT))
    return min(NUMBER_HASH_BYTES, max(MIN_HASH_BYTES, -(-bits // 8)))


def _cache_tag(salt: str, printed: str) -> str:
    """Return what a cached hash is of: the salt, the iterations and the printed number."""
    return hashlib.sha256(f"{salt}:{NUMBER_HASH_ITERATIONS}:{printed}".encode()).hexdigest()[:8]


def _hashes(number: str, printed: str, salt: str) -> str:
    """Return the stable number's hash and, for a reissued card, its printed number's check."""
    stable = number_hash(number, salt)
    if printed == number:
        return stable
    return f"{stable}:{number_hash(printed, salt)[: 2 * CHECK_BYTES]}"


def cache_number_hash(card: Card) -> None:
    """Compute the card's listed hashes into ``Card.number_hash`` (at issue and reissue)."""
    salt, printed = number_salt(), card.printed_number
    card.number_hash = f"{_cache_tag(salt, printed)}:{_hashes(card.number, printed, salt)}"


def number_hashes(cards: Iterable, salt: str) -> dict[int, tuple[str, int]]:
    """Return each card's number hash and check (0 for a card never reissued), computing
    and caching those not cached for the salt and the card's current printed number.

    ``cards`` are cards or rows with ``id``, ``number``, ``generation``, ``printed_secret``
    and ``number_hash``.
    """
    hashes, missing = {}, []
    for card in cards:
        printed = cardnumbers.printed_number(card.number, card.generation, card.printed_secret)
        prefix = _cache_tag(salt, printed) + ":"
        if card.number_hash and card.number_hash.startswith(prefix):
            value = card.number_hash[len(prefix) :]
        else:
            value = _hashes(card.number, printed, salt)
            missing.append({"card_id": card.id, "hash": prefix + value})
        stable, _, check = value.partition(":")
        hashes[card.id] = (stable, int(check, 16) if check else 0)
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
    regions = _regions()
    full = _whole(regions, since, moment)
    card = Card.__table__.c
    query = select(
        *(card.id, card.number, card.generation, card.revoked, card.valid_from),
        *(card.valid_until, card.children, card.region_id, card.number_hash),
        card.printed_secret,
        card.kind,
    )
    if full:
        query = query.where(
            card.revoked.is_(False), card.valid_from <= today, card.valid_until >= today
        )
        if venue.home_region_only:
            query = query.where(card.region_id == venue.region_id)
    else:
        query = query.where(_changed_since(since, today))

    accepted, removed = [], []
    for row in db.session.execute(query.order_by(card.id)):
        facts = DoorCard(
            *(row.id, row.number, row.generation, row.revoked, row.valid_from),
            *(row.valid_until, row.children, regions[row.region_id]),
        )
        decision = verdict(facts, row.generation, venue, moment)
        if decision.valid:
            accepted.append((row, decision.max_children))
        else:
            removed.append(row.id)
    devices = current_serials([row.id for row, _max in accepted])
    hashes = number_hashes((row for row, _max in accepted), number_salt())
    keys = current_app.config["CARD_SIGNING_KEYS"]
    digests = [
        tokens.printed_token_digests([(row.number, row.generation) for row, _max in accepted], key)
        for key in keys
    ]
    entries = [
        {
            "id": row.id,
            "tokens": [digest[index] for digest in digests],
            "number": hashes[row.id][0],
            "check": hashes[row.id][1],
            "valid_from": row.valid_from,
            "valid_until": row.valid_until,
            "region": regions[row.region_id].code,
            "kind": row.kind,
            "children": row.children,
            "max_children": max_children,
            "device": devices.get(row.id),
            "generation": row.generation,
        }
        for index, (row, max_children) in enumerate(accepted)
    ]
    count = len(entries) if full else _count(venue, regions, today)
    return {
        **_header(venue, moment, full, count),
        "cards": entries,
        "removed": [] if full else removed,
    }


def venue_rules(venue: Organisation) -> str:
    """Return what of the venue decides its list (the cards it accepts, the children they
    may bring): a phone whose list was made under other rules downloads the whole list."""
    return f"{venue.region_id}:{int(venue.course_provider)}:{int(venue.home_region_only)}"


def _header(venue: Organisation, moment: datetime, full: bool, count: int) -> dict:
    return {
        "venue": venue.id,
        "venue_rules": venue_rules(venue),
        "generated_at": moment.isoformat(),
        "valid_on": helsinki_date(moment).isoformat(),
        "full": full,
        "count": count,
        "salt": number_salt(),
        "iterations": NUMBER_HASH_ITERATIONS,
        "keys": [tokens.key_id(key) for key in current_app.config["CARD_SIGNING_KEYS"]],
        "issuers": offline_issuers(),
        "max_age": current_app.config["DIGITAL_TOKEN_MAX_AGE"],
        "clock_skew": tokens.CLOCK_SKEW,
    }


def _regions() -> dict[int, Region]:
    query = select(Region).options(selectinload(Region.memberships))
    return {region.id: region for region in db.session.scalars(query)}


def _whole(regions: dict[int, Region], since: datetime | None, moment: datetime) -> bool:
    """Tell whether the whole list is due: no list yet or an old one, a clock behind, the
    network changed."""
    if since is None or since > moment or moment - since > LONGEST_DELTA:
        return True
    then, today = helsinki_date(since), helsinki_date(moment)
    return any(
        region.in_network_on(then) != region.in_network_on(today) for region in regions.values()
    )


def _changed_since(since: datetime, today: date):
    """The cards whose entry may differ from the list of ``since``: changed, or a day passed."""
    card = Card.__table__.c
    changed = card.updated_at > since - SYNC_OVERLAP
    then = helsinki_date(since)
    if then == today:
        return changed
    started = and_(card.valid_from > then, card.valid_from <= today)
    ended = and_(card.valid_until >= then, card.valid_until < today)
    return or_(changed, started, ended)


def _count(venue: Organisation, regions: dict[int, Region], today: date) -> int:
    """Return how many cards the whole list would hold now (the phone checks its own)."""
    if not venue.region.in_network_on(today):
        return 0
    query = (
        select(Card.region_id, func.count())
        .where(Card.revoked.is_(False), Card.valid_from <= today, Card.valid_until >= today)
        .group_by(Card.region_id)
    )
    if venue.home_region_only:
        query = query.where(Card.region_id == venue.region_id)
    counts = db.session.execute(query).all()
    return sum(count for region_id, count in counts if regions[region_id].in_network_on(today))


# The last whole list built for each venue_rules, as the columns of wire_list, with the
# state of the database and the configuration it was built from (see _version).
_whole_lists: dict[str, tuple[tuple, int, str]] = {}
WHOLE_LISTS_KEPT = 8


def wire_list(
    venue: Organisation, since: datetime | None = None, moment: datetime | None = None
) -> str:
    """Return the venue's validity list as the scanner downloads it (JSON): columns, bytes.

    A whole list is built once for each :func:`venue_rules` and state of the cards, and served
    from memory, already in JSON, until a card changes (its ``updated_at``), one is added,
    or the day, the network, the signing keys or the salt change.
    """
    moment = moment or utcnow()
    regions = _regions()
    if not _whole(regions, since, moment):
        result = validity_list(venue, since, moment)
        return _json({**result, **_columns(result["cards"], hash_bytes(result["count"]))})
    rules = venue_rules(venue)
    version, last_change = _version(regions, moment)
    cached = _whole_lists.get(rules)
    if cached is None or cached[0] != version:
        result = validity_list(venue, None, moment)
        count = result["count"]
        columns = _json({**_columns(result["cards"], hash_bytes(count)), "removed": []})
        if len(_whole_lists) >= WHOLE_LISTS_KEPT:
            _whole_lists.pop(next(iter(_whole_lists)))
        # A change that committed late may carry an updated_at older than the latest one
        # (as the deltas' overlap allows for): keep only a list built after it settled.
        if last_change is None or moment - last_change > SYNC_OVERLAP:
            _whole_lists[rules] = (version, count, columns)
    else:
        _, count, columns = cached
    return _json(_header(venue, moment, True, count))[:-1] + "," + columns[1:]


def _json(value: dict) -> str:
    return json.dumps(value, separators=(",", ":"))


def _version(regions: dict[int, Region], moment: datetime) -> tuple[tuple, datetime | None]:
    """Return what a whole list depends on besides the venue, and the cards' last change."""
    card = Card.__table__.c
    changed, count, last = db.session.execute(
        select(func.max(card.updated_at), func.count(), func.max(card.id))
    ).one()
    network = tuple(
        (region.id, tuple(sorted((m.starts_on, m.ends_on or date.max) for m in region.memberships)))
        for region in regions.values()
    )
    config = current_app.config
    version = (
        *(str(db.engine.url), helsinki_date(moment), changed, count, last, network),
        *(tuple(config["CARD_SIGNING_KEYS"]), number_salt()),
    )
    return version, changed


def _columns(entries: list[dict], width: int) -> dict:
    regions = sorted({entry["region"] for entry in entries})
    region_index = {code: index for index, code in enumerate(regions)}
    starts = [(entry["valid_from"] - EPOCH).days for entry in entries]
    return {
        "hash_bytes": width,
        "tag_bytes": TOKEN_TAG_BYTES,
        "check_bytes": CHECK_BYTES,
        "regions": regions,
        "cards": {
            "id": _differences([entry["id"] for entry in entries]),
            "hash": _packed((entry["number"] for entry in entries), width),
            "tags": [
                _packed((entry["tokens"][key] for entry in entries), TOKEN_TAG_BYTES)
                for key in range(len(current_app.config["CARD_SIGNING_KEYS"]))
            ],
            "generation": [entry["generation"] for entry in entries],
            "check": [entry["check"] for entry in entries],
            "community": [int(entry["kind"] == CardKind.COMMUNITY) for entry in entries],
            "valid_from": _differences(starts),
            "days": [(e["valid_until"] - e["valid_from"]).days for e in entries],
            "region": [region_index[entry["region"]] for entry in entries],
            "children": [entry["children"] for entry in entries],
            "max_children": [entry["max_children"] for entry in entries],
            "device": [entry["device"] or 0 for entry in entries],
        },
    }


def _differences(values: list[int]) -> list[int]:
    return [value - previous for previous, value in zip([0, *values], values, strict=False)]


def _packed(digests: Iterable[str], width: int) -> str:
    """Return the first ``width`` bytes of each hex digest, concatenated, in base64."""
    return base64.b64encode(b"".join(bytes.fromhex(digest)[:width] for digest in digests)).decode()
