"""Generate a benchmark database: regions, venues, 100,000 cards and 1,000,000 visits.

    python -m bench.gen_data --database-url sqlite:////tmp/kk-bench.db
    python -m bench.gen_data --database-url postgresql+psycopg://postgres@127.0.0.1:5432/kk_bench

The database must be empty or absent (a PostgreSQL database is created when missing); the
schema comes from the project's migrations. Rows are written with one executemany on
SQLite and COPY on PostgreSQL, around the ORM, so the statistics' daily rollup
(``visit_day``, ``card.first_used_on``) is then filled from them in SQL
(:func:`webapp.services.rollup.rebuild`, as ``flask stats rebuild`` does). The data is random
but reproducible (``--seed``): most cards are used at venues of their own region, visits
spread over 2023 and 2024 in opening hours.
"""

import argparse
import bisect
import random
import secrets
import time
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from webapp import create_app
from webapp.cardnumbers import ALPHABET, check_character
from webapp.extensions import db
from webapp.models import (
    NetworkMembership,
    Organisation,
    OrganisationKind,
    Region,
    Setting,
    VenueCategory,
)
from webapp.rules import helsinki_date
from webapp.services import rollup

CARDS_FROM = date(2022, 1, 1)  # cards are registered over 2022-2024
FIRST_DAY = date(2023, 1, 1)  # visits spread evenly over 2023 and 2024
DAYS = 731
REGIONS = 20
VENUES_PER_REGION = 15
DISTRIBUTORS_PER_REGION = 3
MARKER = "bench"

CARD_COLUMNS = [
    *("id", "number", "generation", "region_id", "issuer_id", "birth_year", "postcode"),
    *("children", "valid_from", "valid_until", "revoked", "digital_key", "created_at"),
    "updated_at",
]
VISIT_COLUMNS = ["id", "card_id", "generation", "venue_id", "adults", "children"]
VISIT_COLUMNS += ["recorded_at", "day", "source"]


def bench_app(database_url: str) -> Flask:
    """Return an app on the benchmark database (CSRF off so the bench can sign in)."""
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "bench",
            "CARD_SIGNING_KEYS": ["bench-key"],
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        }
    )


def ensure_postgres_database(url: str) -> None:
    """Create the PostgreSQL database of the URL on its server when it does not exist."""
    target = sa.make_url(url)
    if not target.drivername.startswith("postgresql"):
        return
    server = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        found = conn.scalar(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
        )
        if not found:
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    server.dispose()


def card_number(index: int) -> str:
    """Return a distinct valid card number for the index."""
    data = ""
    for _ in range(8):
        index, digit = divmod(index, len(ALPHABET))
        data += ALPHABET[digit]
    return data + check_character(data)


def network(rng: random.Random) -> tuple[list[Region], list[Organisation], list[Organisation]]:
    """Create the regions, their venues and distributors with the ORM (a few hundred rows)."""
    regions, venues, distributors = [], [], []
    categories = list(VenueCategory)
    for r in range(REGIONS):
        region = Region(code=f"alue-{r:02d}", name=f"Alue {r:02d}")
        region.memberships.append(NetworkMembership(starts_on=date(2020, 1, 1)))
        regions.append(region)
        for v in range(VENUES_PER_REGION):
            venues.append(
                Organisation(
                    kind=OrganisationKind.VENUE,
                    name=f"Kohde {r:02d}-{v:02d}",
                    region=region,
                    category=categories[v % len(categories)],
                    course_provider=categories[v % len(categories)] is VenueCategory.EDUCATION,
                )
            )
        for d in range(DISTRIBUTORS_PER_REGION):
            distributors.append(
                Organisation(
                    kind=OrganisationKind.DISTRIBUTOR, name=f"Jakaja {r:02d}-{d}", region=region
                )
            )
    db.session.add_all(regions + venues + distributors)
    db.session.flush()
    return regions, venues, distributors


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)


def card_rows(rng: random.Random, count: int, distributors: list[Organisation]) -> list[dict]:
    """Return the cards in the order they were registered (ids grow with created_at)."""
    first = _utc_midnight(CARDS_FROM)
    seconds = int((_utc_midnight(FIRST_DAY + timedelta(days=DAYS)) - first).total_seconds())
    moments = sorted(first + timedelta(seconds=rng.randrange(seconds)) for _ in range(count))
    return [_card(rng, i, moment, rng.choice(distributors)) for i, moment in enumerate(moments, 1)]


def _card(rng: random.Random, i: int, created: datetime, issuer: Organisation) -> dict:
    return {
        "id": i,
        "number": card_number(i),
        "generation": 1,
        "region_id": issuer.region_id,
        "issuer_id": issuer.id,
        "birth_year": rng.randint(1940, 2008),
        "postcode": f"{rng.randrange(100000):05d}",
        "children": rng.choice((0, 0, 0, 1, 2, 3)),
        "valid_from": created.date(),
        "valid_until": created.date() + timedelta(days=3 * 365),
        "revoked": False,
        "digital_key": secrets.token_urlsafe(16),
        "created_at": created,
        "updated_at": created,
    }


def visit_rows(rng: random.Random, count: int, cards: list[dict], venues: list[Organisation]):
    by_region: dict[int, list[Organisation]] = {}
    for venue in venues:
        by_region.setdefault(venue.region_id, []).append(venue)
    created = [card["created_at"] for card in cards]
    first = _utc_midnight(FIRST_DAY)
    for i in range(1, count + 1):
        moment = first + timedelta(days=rng.randrange(DAYS), seconds=rng.randrange(6, 18) * 3600)
        moment += timedelta(seconds=rng.randrange(3600))
        card = cards[rng.randrange(bisect.bisect_left(created, moment))]  # registered before
        own = rng.random() < 0.85
        venue = rng.choice(by_region[card["region_id"]] if own else venues)
        children = 0 if venue.course_provider else rng.randint(0, card["children"])
        yield {
            "id": i,
            "card_id": card["id"],
            "generation": 1,
            "venue_id": venue.id,
            "adults": 1,
            "children": children,
            "recorded_at": moment,
            "day": helsinki_date(moment),
            "source": "camera",
        }


def _recorded_at(row: dict) -> datetime:
    return row["recorded_at"]


def _sqlite_value(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def bulk_insert(table: str, columns: list[str], rows) -> None:
    """Write many rows at once: COPY on PostgreSQL, one executemany on SQLite."""
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if db.engine.dialect.name == "postgresql":
            names = ", ".join(f'"{c}"' for c in columns)
            with cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row([row[c] for c in columns])
        else:
            marks = ", ".join("?" for _ in columns)
            cursor.execute("PRAGMA synchronous = OFF")
            cursor.execute("PRAGMA cache_size = -500000")
            cursor.executemany(
                f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({marks})',
                ([_sqlite_value(row[c]) for c in columns] for row in rows),
            )
        raw.commit()
    finally:
        raw.close()


def generate(app: Flask, cards: int = 100_000, visits: int = 1_000_000, seed: int = 1) -> dict:
    """Fill the app's empty database; return how long each step took (seconds)."""
    rng = random.Random(seed)
    timings = {}
    with app.app_context():
        upgrade()
        if db.session.scalar(sa.select(sa.func.count()).select_from(Region)):
            raise SystemExit("The benchmark database is not empty; use a fresh one.")
        _, venues, distributors = network(rng)
        db.session.commit()
        begin = time.perf_counter()
        card_list = card_rows(rng, cards, distributors)
        bulk_insert("card", CARD_COLUMNS, card_list)
        timings["cards"] = time.perf_counter() - begin
        begin = time.perf_counter()
        # In time order, like a live system writes them (ids grow with recorded_at).
        visit_list = sorted(visit_rows(rng, visits, card_list, venues), key=_recorded_at)
        for number, row in enumerate(visit_list, start=1):
            row["id"] = number
        bulk_insert("visit", VISIT_COLUMNS, visit_list)
        timings["visits"] = time.perf_counter() - begin
        begin = time.perf_counter()
        rollup.rebuild(db.session)  # INSERT ... SELECT ... GROUP BY (venue, Helsinki day)
        db.session.commit()
        timings["rollup"] = time.perf_counter() - begin
        db.session.add(Setting(key=MARKER, value={"cards": cards, "visits": visits}))
        db.session.commit()
        settle()
    return timings


def settle() -> None:
    """Leave the tables as autovacuum keeps them: fresh statistics, on PostgreSQL vacuumed.

    The rollup rewrites every card row, and index-only scans need the visibility map.
    """
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    else:
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--cards", type=int, default=100_000)
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    ensure_postgres_database(args.database_url)
    timings = generate(bench_app(args.database_url), args.cards, args.visits, args.seed)
    for step, seconds in timings.items():
        print(f"{step}: {seconds:.1f} s")


if __name__ == "__main__":
    main()
