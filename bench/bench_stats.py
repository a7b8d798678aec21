"""Time every statistics query and view on SQLite and PostgreSQL (100,000 cards, 1,000,000 visits).

    python -m bench.bench_stats                      # both databases
    python -m bench.bench_stats --only sqlite --repeat 3

The first run generates the data (:mod:`bench.gen_data`, a few minutes per database) into
``instance/bench.db`` and the PostgreSQL database ``kk_bench`` beside ``test``; later runs
reuse it, migrated to the current schema. Each line is the median of ``--repeat`` runs
after one warm-up, in milliseconds, for the year 2024 (about 500,000 visits nationally,
1/20 of them in one region). The target is 300 ms for each.
"""

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import upgrade

from webapp.extensions import db
from webapp.models import Organisation, OrganisationKind, Region, Role, Setting, User
from webapp.services import accounts, stats

from .gen_data import MARKER, bench_app, ensure_postgres_database, generate

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE = f"sqlite:///{ROOT / 'instance' / 'bench.db'}"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/kk_bench"
TARGET_MS = 300
START, END = date(2024, 1, 1), date(2024, 12, 31)
PASSWORD = "bench-password"
PEOPLE = {
    "admin@bench.fi": Role.ADMIN,
    "koordinaattori@bench.fi": Role.COORDINATOR,
    "ovi@bench.fi": Role.VENUE,
}


def prepare(url: str, cards: int, visits: int):
    """Return an app on a database holding the benchmark data, generating it when missing."""
    ensure_postgres_database(url)
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    app = bench_app(url)
    with app.app_context():
        inspector = sa.inspect(db.engine)
        marker = db.session.get(Setting, MARKER) if inspector.has_table("setting") else None
    if marker is None:
        print(f"  generating {cards:,} cards and {visits:,} visits ...", flush=True)
        timings = generate(app, cards, visits)
        print("  " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()), flush=True)
    elif marker.value != {"cards": cards, "visits": visits}:
        raise SystemExit(f"{url} holds other benchmark data ({marker.value}); remove it first.")
    with app.app_context():
        upgrade()  # data made before a migration gets it (0002 fills the daily rollup)
        _people()
    return app


def _people() -> None:
    region = db.session.scalar(sa.select(Region).order_by(Region.id))
    venue = db.session.scalar(
        sa.select(Organisation)
        .where(Organisation.kind == OrganisationKind.VENUE, Organisation.region_id == region.id)
        .order_by(Organisation.id)
    )
    for email, role in PEOPLE.items():
        if db.session.scalar(sa.select(User).where(User.email == email)) is None:
            user = User(email=email, role=role, region=None if role is Role.ADMIN else region)
            if role is Role.VENUE:
                user.organisations.append(venue)
            accounts.set_password(user, PASSWORD)
            db.session.add(user)
    db.session.commit()


def measure(run: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Return the median and the slowest time of the runs after a warm-up, in ms."""
    run()
    times = []
    for _ in range(repeat):
        begin = time.perf_counter()
        run()
        times.append((time.perf_counter() - begin) * 1000)
    return statistics.median(times), max(times)


def service_cases() -> dict[str, Callable[[], object]]:
    region = [db.session.scalar(sa.select(Region).order_by(Region.id))]
    cases = {}
    for group in stats.GROUPS:
        cases[f"visit_stats {group}, all regions"] = lambda g=group: stats.visit_stats(
            START, END, g, None
        )
    cases["visit_stats month, one region"] = lambda: stats.visit_stats(START, END, "month", region)
    cases["card_stats, all regions"] = lambda: stats.card_stats(START, END, None)
    cases["card_stats, one region"] = lambda: stats.card_stats(START, END, region)
    cases["report (every table), all regions"] = lambda: stats.report(START, END, None)
    cases["report (every table), one region"] = lambda: stats.report(START, END, region)
    return cases


def view_cases(app) -> dict[str, Callable[[], object]]:
    clients = {}
    for email in PEOPLE:
        client = app.test_client()
        response = client.post("/", data={"email": email, "password": PASSWORD})
        assert response.status_code == 302, f"{email} could not sign in"
        clients[email] = client
    with app.app_context():
        coordinator = db.session.scalar(
            sa.select(User).where(User.email == "koordinaattori@bench.fi")
        )
        token = accounts.create_api_token(coordinator)
        db.session.commit()
    admin, coord, door = (clients[e] for e in PEOPLE)
    period = f"start={START}&end={END}"
    api = f"/api/v1/stats?from={START}&to={END}&group="

    def get(client, url: str, headers=None) -> Callable[[], object]:
        def run():
            response = client.get(url, headers=headers or {})
            assert response.status_code == 200, (url, response.status_code)

        return run

    bearer = {"Authorization": f"Bearer {token}"}
    return {
        "GET /coordinator/ (admin)": get(admin, "/coordinator/"),
        "GET /coordinator/stats (admin, all regions)": get(
            admin, f"/coordinator/stats?{period}&region=0"
        ),
        "GET /coordinator/stats (coordinator, region)": get(coord, f"/coordinator/stats?{period}"),
        "GET /coordinator/stats.csv venue (admin)": get(
            admin, f"/coordinator/stats.csv?{period}&region=0&table=venue"
        ),
        "GET /coordinator/stats.xlsx (admin)": get(
            admin, f"/coordinator/stats.xlsx?{period}&region=0"
        ),
        "GET /coordinator/stats.xlsx (coordinator)": get(
            coord, f"/coordinator/stats.xlsx?{period}"
        ),
        "GET /venue/stats (venue staff)": get(door, "/venue/stats?year=2024"),
        "GET /api/v1/stats month (coordinator)": get(coord, api + "month", bearer),
        "GET /api/v1/stats venue (coordinator)": get(coord, api + "venue", bearer),
    }


def bench(name: str, url: str, args) -> list[tuple[str, str, float, float]]:
    print(f"\n{name}: {sa.make_url(url).render_as_string(hide_password=True)}", flush=True)
    app = prepare(url, args.cards, args.visits)
    results = []
    with app.app_context():
        count = db.session.scalar(
            sa.text("SELECT count(*) FROM visit WHERE day >= :start"), {"start": START}
        )
        print(f"  visits from {START} on: {count:,}")
        for label, run in service_cases().items():
            results.append(_run(name, label, run, args.repeat))
    # Views run outside an app context, as in production: each request gets its own.
    for label, run in view_cases(app).items():
        results.append(_run(name, label, run, args.repeat))
    return results


def _run(name: str, label: str, run, repeat: int) -> tuple[str, str, float, float]:
    median, worst = measure(run, repeat)
    flag = "ok" if median < TARGET_MS else "SLOW"
    print(f"  {label:48} {median:8.0f} ms  (max {worst:6.0f})  {flag}", flush=True)
    return name, label, median, worst


def figures(cards: int = 100_000, visits: int = 1_000_000, repeat: int = 3) -> list[tuple]:
    """Return rows of (figure, value, target, met) for the table of ``make bench``."""
    args = argparse.Namespace(cards=cards, visits=visits, repeat=repeat)
    rows = []
    for name, url in (("SQLite", DEFAULT_SQLITE), ("PostgreSQL", DEFAULT_POSTGRES)):
        results = bench(name.lower(), url, args)
        slowest = max(results, key=lambda result: result[2])
        rows.append(
            (
                f"slowest statistics view, {visits:,} visits, {name}",
                f"{slowest[2]:.0f} ms ({slowest[1]})",
                f"< {TARGET_MS} ms",
                slowest[2] < TARGET_MS,
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--sqlite-url", default=DEFAULT_SQLITE)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--cards", type=int, default=100_000)
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    targets = {"sqlite": args.sqlite_url, "postgresql": args.postgres_url}
    for name, url in targets.items():
        if args.only in (None, name):
            bench(name, url, args)


if __name__ == "__main__":
    main()
