"""The IDs printed on cards of the national Kaikukortti register, before this system.

A register card carries a letter/number ID as a QR code or a Code 39 barcode, unsigned.
Imported cards keep it (``Card.legacy_id``), and the door accepts it as the card's first
generation until the card is reissued with a signed code, or until the region stops
accepting unsigned cards.

A register ID, as stored and compared, is 4 to 20 upper-case letters A-Z and digits 0-9,
after :func:`webapp.cardnumbers.normalize` (any case, spaces and dashes allowed). It never
has the shape of a Kaikukortti printed number (9 to 21 characters, all from the card
number alphabet): a mistyped card number is therefore never taken for a register ID, and
the scanner can still say "check the number" at once (``static/js/cardnumber.js`` holds
the same rule as ``registerId``).
"""

import re

from . import cardnumbers

MIN_LENGTH = 4
MAX_LENGTH = 20
_SHAPE = re.compile(rf"[A-Z0-9]{{{MIN_LENGTH},{MAX_LENGTH}}}")


def normalize(text: str) -> str | None:
    """Return the register ID of the text as stored, None when the text cannot be one."""
    if not isinstance(text, str):
        return None
    typed = cardnumbers.normalize(text)
    if not _SHAPE.fullmatch(typed) or _card_number_shaped(typed):
        return None
    return typed


def _card_number_shaped(typed: str) -> bool:
    return cardnumbers.LENGTH <= len(typed) <= cardnumbers.MAX_PRINTED_LENGTH and all(
        char in cardnumbers.ALPHABET for char in typed
    )
