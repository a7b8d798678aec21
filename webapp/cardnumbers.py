"""Kaikukortti card numbers that people can read aloud and type.

A card number is nine characters from a 31-character alphabet with no
look-alikes: the digits 2-9 and the letters A-Z without I, L and O (so there
is no O/0 and no I/1/L confusion).  The first eight characters are random data
from :mod:`secrets`; the ninth is a check character.  Numbers are stored in
upper case without separators, for example ``K7MX4PQ2D``, and displayed in
groups of three, ``K7M X4P Q2D``.

Check character scheme
----------------------
Let ``v(c)`` be the index of character ``c`` in :data:`ALPHABET` (0-30) and
number the nine positions 0-8 from the left.  Position ``p`` has the weight
``w(p) = 9 - p``, so the data characters get the weights 9, 8, ..., 2 and the
check character gets the weight 1.  A number is valid exactly when::

    sum(w(p) * v(c_p) for p in 0..8) % 31 == 0

so the check character is ``ALPHABET[-sum(w(p) * v(c_p) for p in 0..7) % 31]``.
Every residue mod 31 is a character of the alphabet, so any eight data
characters have exactly one check character.

Why it catches the errors people make (31 is prime, so the integers mod 31
form a field and a product of two non-zero residues is never zero):

* Substituting ``a`` with ``b`` at position ``p`` changes the sum by
  ``w(p) * (v(b) - v(a))``.  Both factors are non-zero mod 31
  (``1 <= w(p) <= 9`` and ``0 < |v(b) - v(a)| < 31``), so the sum is no longer
  0 mod 31: every single-character substitution is detected.
* Swapping different characters ``a`` and ``b`` at positions ``p`` and ``q``
  changes the sum by ``(w(p) - w(q)) * (v(b) - v(a))``.  The weights are
  distinct and lie in 1-9, so ``w(p) - w(q)`` is non-zero mod 31: every swap
  of two neighbouring characters is detected, and in fact every swap of any
  two different characters, including swaps with the check character.

A random mistyping of several characters slips through with probability 1/31.
Eight random characters give 31**8 (about 8.5e11, 39.6 bits) numbers, so the
code that stores a new number must still enforce uniqueness.

Printed numbers: what staff type changes at every reissue
----------------------------------------------------------
The number above is the card's stable identity.  What is printed on the card
(and shown on the digital card) is its *printed number*, which changes at every
reissue in a way that nobody holding the lost card can foresee:

* generation 1: the number itself, ``K7MX4PQ2D`` (cards printed before printed
  numbers existed show it, and keep working until they are reissued);
* generation ``g >= 2``: the eight data characters, the *version* ``g - 1``
  written in base 31 with the alphabet's digits and no leading zero (``3`` for
  generation 2, ... ``Z`` for 31, ``32`` for 32, at most seven characters for
  :data:`MAX_GENERATION`), then the card's *secret*: :data:`SECRET_LENGTH`
  random characters from :mod:`secrets`, drawn anew at every reissue and stored
  on the card (``Card.printed_secret``), then a check character over all of
  them: ``K7MX4PQ2`` + ``3`` + ``E9RWT`` + ``8`` = ``K7MX4PQ23E9RWT8``, 15 characters,
  shown as five groups of three, ``K7M X4P Q23 E9R WT8``.

Why five secret characters: the holder of a lost card knows everything but the
secret, so guessing the reissued card's number means guessing the secret (the
check character the guesser computes alone).  31**5 is 2.9e7.  At the door, each
typed guess is one chance in 2.9e7; through the API or the scanner a venue
account gets 120 checks a minute (:mod:`webapp.ratelimits`), so half the secrets
take 83 days of nonstop guessing, and a hit still answers orange ("look at the
card"), which asks for a card bearing that number.  Four characters (9.2e5)
would fall to one account in under three days; six would make every reissued
number 16 characters long.

The check character of a printed number of length ``L`` (9, or 15 to 21)
follows the rule above with the weights ``L, L-1, ..., 1``: the weighted sum of
all ``L`` characters is 0 mod 31.  The weights are distinct and lie in 1-21,
below 31, so the two arguments above hold word for word: every single
substitution and every swap of two different characters is detected, in the
version and the secret too.

Which generation a typed printed number shows (:func:`shown_generation`): the
version says the generation it claims, and only the current generation's
secret is stored, so

* an older version (the bare number of a reissued card included) is an older
  generation: the door answers ``replaced`` whatever its secret, since it cannot
  recompute an old secret and the old card's holder knows it anyway;
* the current version with the card's secret is the current card;
* the current version with another secret, or a version not issued yet, was
  never printed for this card: it is not a genuine number (``invalid_token``).

Base 31 without a leading zero writes each generation in exactly one way (a
leading ``2``, the zero digit, is refused), so an older generation's printed
number never equals the current one, whatever the secrets drawn.

Cards reissued before the secret existed were printed as the data characters,
the version and a check character (10 to 16 characters, computable from the
lost card): migration ``0012_printed_secret`` gave them a secret, so that
number is no printed number any more and such a card must be printed again.
"""

from __future__ import annotations

import secrets
import unicodedata
from typing import NamedTuple

ALPHABET: str = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 9
MAX_GENERATION = 999_999_999
SECRET_LENGTH = 5  # 31**5 = 2.9e7 (see the docstring)
# 8 data + 7 version characters (31**7 > MAX_GENERATION) + the secret + check
MAX_PRINTED_LENGTH = 8 + 7 + SECRET_LENGTH + 1
_GROUP = 3
# The longest printed number as the card shows it, in groups of three (what staff type).
MAX_SHOWN_LENGTH = MAX_PRINTED_LENGTH + (MAX_PRINTED_LENGTH - 1) // _GROUP

_DATA_LENGTH = LENGTH - 1
_MODULUS = len(ALPHABET)  # 31, a prime
_VALUES = {char: value for value, char in enumerate(ALPHABET)}
_MIN_VERSIONED = _DATA_LENGTH + 1 + SECRET_LENGTH + 1  # a one-character version

# Characters people and copy-paste put between groups, besides whitespace and dashes.
_EXTRA_SEPARATORS = frozenset("._/\\,:;·•‧∙")
# Unicode categories treated as separators: spaces, line and paragraph separators,
# control characters (tabs, newlines), format characters (zero-width space, soft
# hyphen, BOM) and dash punctuation (hyphen-minus, en dash, em dash, ...).
_SEPARATOR_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Pd"})

assert len(ALPHABET) == 31 and len(set(ALPHABET)) == 31
assert MAX_PRINTED_LENGTH < _MODULUS and _MODULUS**7 > MAX_GENERATION  # distinct weights


def _weighted_sum(chars: str, length: int = LENGTH) -> int:
    """Return the sum of weight (``length``, ``length - 1``, ...) x value of the characters."""
    return sum((length - p) * _VALUES[c] for p, c in enumerate(chars)) % _MODULUS


def _is_separator(char: str) -> bool:
    return (
        char in _EXTRA_SEPARATORS
        or char.isspace()
        or unicodedata.category(char) in _SEPARATOR_CATEGORIES
    )


def new_number() -> str:
    """Return a new random card number with its check character."""
    data = "".join(secrets.choice(ALPHABET) for _ in range(_DATA_LENGTH))
    return data + check_character(data)


def check_character(data: str) -> str:
    """Return the check character for eight upper-case alphabet characters, else ValueError."""
    if (
        not isinstance(data, str)
        or len(data) != _DATA_LENGTH
        or any(c not in _VALUES for c in data)
    ):
        raise ValueError(f"expected {_DATA_LENGTH} characters from the card number alphabet")
    return ALPHABET[-_weighted_sum(data) % _MODULUS]


def normalize(text: str) -> str:
    """Upper-case the text and drop spaces, dashes, dots and other separators without validating."""
    if text.isascii() and text.isalnum():  # no separator to drop: the stored numbers, fast
        return text.upper()
    return "".join(c for c in text.upper() if not _is_separator(c))


def is_valid(number: str) -> bool:
    """Tell whether the text, once normalized, is a card number with a correct check character."""
    if not isinstance(number, str):
        return False
    number = normalize(number)
    return (
        len(number) == LENGTH and all(c in _VALUES for c in number) and _weighted_sum(number) == 0
    )


class Printed(NamedTuple):
    """A typed printed number, parsed: the card's stable number, the generation its version
    claims and its secret (None for generation 1)."""

    number: str
    generation: int
    secret: str | None


def new_secret() -> str:
    """Return the random characters of a reissued card's printed number."""
    return "".join(secrets.choice(ALPHABET) for _ in range(SECRET_LENGTH))


def printed_number(number: str, generation: int, secret: str | None = None) -> str:
    """Return what is printed on the card of that number, generation and secret (see the
    docstring); raise ValueError for a bad number or generation, or a secret that is missing
    (from generation 2), not :data:`SECRET_LENGTH` alphabet characters or given for
    generation 1."""
    if not is_valid(number) or not 1 <= generation <= MAX_GENERATION:
        raise ValueError("expected a valid card number and a generation from 1")
    number = normalize(number)
    if generation == 1:
        if secret is not None:
            raise ValueError("generation 1 is printed without a secret")
        return number
    if not _is_secret(secret):
        raise ValueError(f"expected {SECRET_LENGTH} characters from the alphabet")
    version, value = "", generation - 1
    while value:
        value, digit = divmod(value, _MODULUS)
        version = ALPHABET[digit] + version
    body = number[:_DATA_LENGTH] + version + secret
    length = len(body) + 1
    return body + ALPHABET[-_weighted_sum(body, length) % _MODULUS]


def parse_printed(text: str) -> Printed | None:
    """Return the parts of a typed printed number, None if it is none.

    Tolerant of case and separators like :func:`normalize`; a bare number is generation 1.
    """
    if not isinstance(text, str):
        return None
    typed = normalize(text)
    if len(typed) == LENGTH:
        return Printed(typed, 1, None) if is_valid(typed) else None
    if not _MIN_VERSIONED <= len(typed) <= MAX_PRINTED_LENGTH or any(
        c not in _VALUES for c in typed
    ):
        return None
    version = typed[_DATA_LENGTH : -SECRET_LENGTH - 1]
    if version[0] == ALPHABET[0] or _weighted_sum(typed, len(typed)) != 0:
        return None
    value = 0
    for char in version:
        value = value * _MODULUS + _VALUES[char]
    generation = value + 1
    if generation > MAX_GENERATION:
        return None
    data = typed[:_DATA_LENGTH]
    return Printed(data + check_character(data), generation, typed[-SECRET_LENGTH - 1 : -1])


def shown_generation(printed: Printed, generation: int, secret: str | None) -> int | None:
    """Return the generation a typed printed number shows of a card now at ``generation``
    with ``secret``: an older one (replaced), the current one, or None when it was never
    printed for the card (another secret, a version not issued yet)."""
    if printed.generation < generation:
        return printed.generation
    if printed.generation == generation and printed.secret == secret:
        return generation
    return None


def _is_secret(secret: str | None) -> bool:
    return (
        isinstance(secret, str)
        and len(secret) == SECRET_LENGTH
        and all(c in _VALUES for c in secret)
    )


def format_number(number: str) -> str:
    """Normalize the number and split it into groups of three for display: ``K7M X4P Q2D``
    (a lone last character joins the group before it: ``K7M X4P Q23 2E9 RWTM``)."""
    number = normalize(number)
    groups = [number[i : i + _GROUP] for i in range(0, len(number), _GROUP)]
    if len(groups) > 1 and len(groups[-1]) == 1:
        groups[-2:] = [groups[-2] + groups[-1]]
    return " ".join(groups)
