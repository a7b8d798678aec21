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
(and shown on the digital card) is its *printed number*, which also says the
card's generation, so that the number on a lost card stops working when the
card is reissued:

* generation 1: the number itself, ``K7MX4PQ2D`` (cards printed before printed
  numbers existed show it, and keep working until they are reissued);
* generation ``g >= 2``: the eight data characters, the *version* ``g - 1``
  written in base 31 with the alphabet's digits and no leading zero (``3`` for
  generation 2, ... ``Z`` for 31, ``32`` for 32, at most seven characters for
  :data:`MAX_GENERATION`), then a check character over all of them:
  ``K7MX4PQ2`` + ``3`` + ``X`` = ``K7MX4PQ23X``.

The check character of a printed number of length ``L`` (10 to 16) follows the
same rule with the weights ``L, L-1, ..., 1``: the weighted sum of all ``L``
characters is 0 mod 31.  The weights are distinct and lie in 1-16, below 31,
so the two arguments above hold word for word: every single substitution and
every swap of two different characters is detected, in the version too.  The
map generation -> printed number is one-to-one: the length tells a bare number
(generation 1) from a versioned one, and base 31 without a leading zero writes
each generation in exactly one way (a leading ``2``, the zero digit, is
refused).  So an older generation's printed number never equals the current
one: it parses to its own, lower generation, which the door answers
``replaced``.
"""

from __future__ import annotations

import secrets
import unicodedata

ALPHABET: str = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 9
MAX_GENERATION = 999_999_999
MAX_PRINTED_LENGTH = 16  # 8 data + 7 version characters (31**7 > MAX_GENERATION) + check

_DATA_LENGTH = LENGTH - 1
_MODULUS = len(ALPHABET)  # 31, a prime
_VALUES = {char: value for value, char in enumerate(ALPHABET)}
_GROUP = 3

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
    return "".join(c for c in text.upper() if not _is_separator(c))


def is_valid(number: str) -> bool:
    """Tell whether the text, once normalized, is a card number with a correct check character."""
    if not isinstance(number, str):
        return False
    number = normalize(number)
    return (
        len(number) == LENGTH and all(c in _VALUES for c in number) and _weighted_sum(number) == 0
    )


def printed_number(number: str, generation: int) -> str:
    """Return what is printed on the card of that number and generation (see the docstring)."""
    if not is_valid(number) or not 1 <= generation <= MAX_GENERATION:
        raise ValueError("expected a valid card number and a generation from 1")
    number = normalize(number)
    if generation == 1:
        return number
    version, value = "", generation - 1
    while value:
        value, digit = divmod(value, _MODULUS)
        version = ALPHABET[digit] + version
    body = number[:_DATA_LENGTH] + version
    length = len(body) + 1
    return body + ALPHABET[-_weighted_sum(body, length) % _MODULUS]


def parse_printed(text: str) -> tuple[str, int] | None:
    """Return the (stable number, generation) of a typed printed number, None if it is none.

    Tolerant of case and separators like :func:`normalize`; a bare number is generation 1.
    """
    if not isinstance(text, str):
        return None
    typed = normalize(text)
    if len(typed) == LENGTH:
        return (typed, 1) if is_valid(typed) else None
    if not LENGTH < len(typed) <= MAX_PRINTED_LENGTH or any(c not in _VALUES for c in typed):
        return None
    version = typed[_DATA_LENGTH:-1]
    if version[0] == ALPHABET[0] or _weighted_sum(typed, len(typed)) != 0:
        return None
    value = 0
    for char in version:
        value = value * _MODULUS + _VALUES[char]
    generation = value + 1
    if generation > MAX_GENERATION:
        return None
    data = typed[:_DATA_LENGTH]
    return data + check_character(data), generation


def format_number(number: str) -> str:
    """Normalize the number and split it into groups of three for display: ``K7M X4P Q2D``
    (a lone last character joins the group before it: ``K7M X4P Q23X``)."""
    number = normalize(number)
    groups = [number[i : i + _GROUP] for i in range(0, len(number), _GROUP)]
    if len(groups) > 1 and len(groups[-1]) == 1:
        groups[-2:] = [groups[-2] + groups[-1]]
    return " ".join(groups)
