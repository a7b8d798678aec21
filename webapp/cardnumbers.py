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
"""

from __future__ import annotations

import secrets
import unicodedata

ALPHABET: str = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 9

_DATA_LENGTH = LENGTH - 1
_MODULUS = len(ALPHABET)  # 31, a prime
_WEIGHTS = tuple(range(LENGTH, 0, -1))  # (9, 8, ..., 2) for data, 1 for the check character
_VALUES = {char: value for value, char in enumerate(ALPHABET)}
_GROUP = 3

# Characters people and copy-paste put between groups, besides whitespace and dashes.
_EXTRA_SEPARATORS = frozenset("._/\\,:;·•‧∙")
# Unicode categories treated as separators: spaces, line and paragraph separators,
# control characters (tabs, newlines), format characters (zero-width space, soft
# hyphen, BOM) and dash punctuation (hyphen-minus, en dash, em dash, ...).
_SEPARATOR_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Pd"})

assert len(ALPHABET) == 31 and len(set(ALPHABET)) == 31
assert len(set(_WEIGHTS)) == LENGTH and all(0 < w < _MODULUS for w in _WEIGHTS)


def _weighted_sum(chars: str) -> int:
    return sum(w * _VALUES[c] for w, c in zip(_WEIGHTS, chars, strict=False)) % _MODULUS


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


def format_number(number: str) -> str:
    """Normalize the number and split it into groups of three for display: ``K7M X4P Q2D``."""
    number = normalize(number)
    return " ".join(number[i : i + _GROUP] for i in range(0, len(number), _GROUP))
