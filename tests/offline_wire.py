"""Read the scanner's offline list as it goes on the wire (webapp.services.offline.wire_list)
back into one dict a card, the way static/js/offline-queue.js does."""

import base64
from datetime import date, timedelta
from itertools import accumulate

EPOCH = date(1970, 1, 1)


def _slices(packed: str, width: int) -> list[str]:
    raw = base64.b64decode(packed)
    return [raw[at : at + width].hex() for at in range(0, len(raw), width)]


def entries(body: dict) -> list[dict]:
    """Return the list's cards, each as the dict the phone keeps (dates as dates)."""
    columns = body["cards"]
    hashes = _slices(columns["hash"], body["hash_bytes"])
    tags = [_slices(packed, body["tag_bytes"]) for packed in columns["tags"]]
    starts = [EPOCH + timedelta(days=day) for day in accumulate(columns["valid_from"])]
    return [
        {
            "id": card_id,
            "tokens": [column[index] for column in tags],
            "number": hashes[index],
            "valid_from": starts[index],
            "valid_until": starts[index] + timedelta(days=columns["days"][index]),
            "region": body["regions"][columns["region"][index]],
            "children": columns["children"][index],
            "max_children": columns["max_children"][index],
            "device": columns["device"][index] or None,
            "generation": columns["generation"][index],
            "check": columns["check"][index],
            "kind": "community" if columns["community"][index] else "personal",
        }
        for index, card_id in enumerate(accumulate(columns["id"]))
    ]
