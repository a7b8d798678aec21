"""Time and size of printed cards: one ID-1 card, and a batch of cards on A4 sheets.

    python -m bench.bench_print [--cards 1000] [--repeat 5]

The cards are built in memory (no database): printing reads only the card's number,
generation, validity and region, and signs its token with the app's key.
"""

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import date

from webapp import create_app
from webapp.cardnumbers import new_number
from webapp.models import Card, Region
from webapp.services import printing


def timed(make: Callable[[], bytes], repeat: int) -> tuple[float, bytes]:
    """Return the median seconds of ``repeat`` runs and the last result."""
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = make()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def sample_cards(count: int) -> list[Card]:
    region = Region(code="pohjois-savo", name="Pohjois-Savo")
    return [
        Card(number=new_number(), generation=1, region=region, valid_until=date(2027, 12, 31))
        for _ in range(count)
    ]


def bench_app():
    return create_app(
        {"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "bench", "CARD_SIGNING_KEYS": ["k"]}
    )


def measure(count: int = 1000, repeat: int = 5) -> list[tuple]:
    """Return rows of (figure, value, target, met) for the table of ``make bench``."""
    with bench_app().app_context():
        cards = sample_cards(count)
        single, pdf = timed(lambda: printing.card_pdf(cards[0]), repeat)
        batch, sheet = timed(lambda: printing.sheet_pdf(cards, backs=True), 1)
    return [
        ("single card PDF", f"{single * 1000:.0f} ms, {len(pdf) / 1024:.1f} KiB", "", True),
        (
            f"{count}-card A4 batch PDF (fronts and backs)",
            f"{batch:.1f} s, {len(sheet) / 1024 / 1024:.2f} MiB",
            "< 10 s",
            batch < 10,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=1000, help="cards in the A4 batch")
    parser.add_argument("--repeat", type=int, default=5, help="runs of the single card")
    args = parser.parse_args()

    with bench_app().app_context():
        cards = sample_cards(args.cards)
        seconds, pdf = timed(lambda: printing.card_pdf(cards[0]), args.repeat)
        print(f"single card, front and back: {seconds * 1000:.1f} ms, {len(pdf) / 1024:.1f} KiB")
        for backs in (True, False):
            seconds, pdf = timed(lambda backs=backs: printing.sheet_pdf(cards, backs=backs), 1)
            sheets = -(-len(cards) // printing.CARDS_PER_SHEET)
            pages = sheets * (2 if backs else 1)
            what = "fronts and backs" if backs else "fronts only"
            print(
                f"{len(cards)} cards on A4, {what} ({pages} pages): {seconds:.2f} s, "
                f"{len(pdf) / 1024 / 1024:.2f} MiB, {seconds / len(cards) * 1000:.1f} ms per card"
            )


if __name__ == "__main__":
    main()
