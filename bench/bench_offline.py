"""The offline list at national scale: its size, the next day's refresh and its build time.

    python -m bench.bench_offline [--cards 100000]

A fresh SQLite database holds the demo and ``--cards`` cards accepted at the theatre (a
fifth of them with a digital card's phone key), their number hashes already cached as
the list keeps them. The list is fetched as the scanner fetches it (``GET
/scan/offline-list`` as the theatre's door staff) and measured as it goes on the wire,
gzip-compressed at gzip's default level like a reverse proxy would. Then the next day
comes: 300 new cards, 50 revoked, 20 reissued, and the scanner asks for what changed
since its list of yesterday.
"""

import argparse
import gc
import gzip
import json
import re
import secrets
import statistics
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from webapp import create_app, demo
from webapp.extensions import db
from webapp.models import Card, DeviceKey, Organisation, RevokeReason, utcnow
from webapp.rules import helsinki_date
from webapp.services import cards as card_service
from webapp.services import offline

from .gen_data import card_number

TARGETS = {"first_kb": 1500, "delta_kb": 25, "build_s": 0.5, "load_ms": 1000, "verdict_ms": 50}
THROTTLING = 4  # DevTools' CPU slowdown, Lighthouse's mobile profile

# On the scanner page: the whole list downloaded, decoded and stored; then loaded from
# storage as a page opened offline does; then offline verdicts on a printed code and a
# typed number (the median of five each, milliseconds).
PHONE_JS = """
async ([code, number]) => {
  const src = document.querySelector('script[type=module]').src;
  const m = await import(src.replace('scanner.js', 'offline-verdict.js'));
  const venue = JSON.parse(document.getElementById('scanner-config').textContent).venue;
  const t0 = performance.now();
  await KaikuOffline.syncList(venue, true);
  const t1 = performance.now();
  const list = new m.OfflineList(await KaikuOffline.getList(venue));
  const t2 = performance.now();
  const median = async (scan) => {
    const times = [];
    let state;
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      state = (await m.offlineVerdict(scan, list)).state;
      times.push(performance.now() - start);
    }
    return { ms: times.sort((a, b) => a - b)[2], state };
  };
  return {
    download: t1 - t0, load: t2 - t1, size: list.size,
    code: await median({ token: code }), typed: await median({ number }),
  };
}
"""
NEW, REVOKED, REISSUED = 300, 50, 20


def build_app(directory: Path, count: int):
    """Return the app on a new database with the demo and ``count`` extra accepted cards."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{directory / 'offline.db'}",
            "SECRET_KEY": "bench-secret",
            "CARD_SIGNING_KEYS": ["bench-key"],
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        db.create_all()
        demo.load()
        issuer = db.session.scalar(
            select(Organisation).where(Organisation.name == "Kuopion sosiaalipalvelut")
        )
        today = helsinki_date(utcnow())
        two_days_ago = utcnow() - timedelta(days=2)
        salt = offline.number_salt()
        numbers = [card_number(1_000_000 + i) for i in range(count)]
        rows = [
            {
                "number": numbers[i],
                # cached as after the first list of the day; random ones stand for 100,000 PBKDF2s
                "number_hash": f"{offline._cache_tag(salt, numbers[i])}:{secrets.token_hex(8)}",
                "region_id": issuer.region_id,
                "issuer_id": issuer.id,
                "birth_year": 1950 + i % 50,
                "postcode": "70100",
                "children": i % 4,
                "valid_from": today - timedelta(days=i % 360),
                "valid_until": today - timedelta(days=i % 360) + timedelta(days=365),
                "digital_key": secrets.token_hex(16),
                "generation": 1,
                "revoked": False,
                "created_at": two_days_ago,
                "updated_at": two_days_ago,
            }
            for i in range(count)
        ]
        db.session.execute(Card.__table__.insert(), rows)
        # The demo's cards too were issued days ago: the list is in its steady state.
        db.session.execute(update(Card.__table__).values(updated_at=two_days_ago))
        ids = db.session.scalars(select(Card.id).where(Card.created_at == two_days_ago)).all()
        keys = [{"card_id": card_id, "public_key": secrets.token_bytes(33)} for card_id in ids]
        db.session.execute(DeviceKey.__table__.insert(), keys[: count // 5])
        db.session.commit()
    return app


def next_day(app, since_list_of: str) -> None:
    """300 new cards, 50 revoked, 20 reissued since the list generated at ``since_list_of``."""
    with app.app_context():
        issuer = db.session.scalar(
            select(Organisation).where(Organisation.name == "Kuopion sosiaalipalvelut")
        )
        for _ in range(NEW):
            card_service.issue_card(
                issuer=issuer, actor=None, birth_year=1980, postcode="70100", children=1
            )
        old = db.session.scalars(select(Card).order_by(Card.id).limit(REVOKED + REISSUED)).all()
        for card in old[:REVOKED]:
            card_service.revoke_card(card, actor=None, reason=RevokeReason.LOST)
        for card in old[REVOKED:]:
            card_service.reissue_card(card, actor=None)
        db.session.commit()


def fetch(client, since: str | None = None) -> tuple[float, bytes]:
    query = {"venue": str(theatre_id(client))}
    if since:
        query["since"] = since
    started = time.perf_counter()
    response = client.get("/scan/offline-list", query_string=query)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.status_code
    return elapsed, response.data


def theatre_id(client) -> int:
    with client.application.app_context():
        return db.session.scalar(
            select(Organisation.id).where(Organisation.name == "Kuopion kaupunginteatteri")
        )


def run(count: int) -> dict:
    with tempfile.TemporaryDirectory() as directory:
        app = build_app(Path(directory), count)
        client = app.test_client()
        client.post("/", data={"email": "ovi@example.fi", "password": demo.PASSWORD})
        before = memory_mb()
        build, body = fetch(client)
        after = memory_mb()
        memory = {"kept": after[0] - before[0], "peak": after[1] - before[0]}
        cached = statistics.median(fetch(client)[0] for _ in range(5))
        listed = json.loads(body)
        on_phone = phone(app)
        yesterday = (utcnow() - timedelta(days=1)).isoformat()
        next_day(app, yesterday)
        delta_seconds, delta = fetch(client, since=yesterday)
    return {
        "phone": on_phone,
        "count": listed["count"],
        "first": body,
        "build": build,
        "cached": cached,
        "delta": delta,
        "delta_full": json.loads(delta)["full"],
        "delta_seconds": delta_seconds,
        "memory": memory,
    }


def memory_mb() -> tuple[float, float]:
    """Return this process's resident memory now and its peak since the last call (MB).

    Reading the peak resets it (Linux's ``clear_refs``), so that a call before a step and
    one after it give what the step itself took at most.
    """
    gc.collect()
    status = Path("/proc/self/status").read_text()
    now, peak = (
        int(re.search(rf"{name}:\s+(\d+) kB", status).group(1)) / 1024
        for name in ("VmRSS", "VmHWM")
    )
    Path("/proc/self/clear_refs").write_text("5")
    return now, peak


def phone(app) -> dict:
    """Open /scan at 4x CPU throttling in Chromium; time the list and offline verdicts."""
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from tests.browser.conftest import _FAKE_CAMERA_JS, CHROMIUM, CHROMIUM_ARGS

    from .bench_scan import sign_in

    with app.app_context():
        # A demo card: the bulk cards' number hashes are random stand-ins, not PBKDF2s.
        today = helsinki_date(utcnow())
        card = db.session.scalar(
            select(Card)
            .join(Organisation, Organisation.id == Card.issuer_id)
            .where(Organisation.name == "Kuopion sosiaalipalvelut")
            .where(Card.created_at > utcnow() - timedelta(days=1))  # not one of the bulk
            .where(Card.revoked.is_(False), Card.valid_from <= today, Card.valid_until >= today)
            .order_by(Card.id)
            .limit(1)
        )
        code, number = card_service.printed_token(card), card.printed_number
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            context = browser.new_context(permissions=["camera"], service_workers="block")
            page = context.new_page()
            page.add_init_script(_FAKE_CAMERA_JS % "null")
            sign_in(page, base)
            page.goto(f"{base}/scan")
            page.wait_for_selector("#scanner-status:not([data-list-size=''])", timeout=120_000)
            cdp = context.new_cdp_session(page)
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": THROTTLING})
            result = page.evaluate(PHONE_JS, [code, number])
            browser.close()
    finally:
        server.shutdown()
    return result


def kb(data: bytes) -> float:
    return len(gzip.compress(data, 6)) / 1000


def measure(count: int = 100_000) -> list[tuple]:
    """Return rows of (figure, value, target, met) for the table of ``make bench``."""
    result = run(count)
    phone = result["phone"]
    first, delta = kb(result["first"]), kb(result["delta"])
    per_card = first * 1000 / result["count"]
    return [
        (
            f"offline list, first download, {result['count']:,} cards, gzip",
            f"{first:,.0f} KB ({per_card:.1f} B a card)",
            f"≤ {TARGETS['first_kb']:,} KB",
            first <= TARGETS["first_kb"],
        ),
        (
            f"offline list, next day after {NEW} new, {REVOKED} revoked, {REISSUED} reissued",
            f"{delta:,.1f} KB ({'whole list' if result['delta_full'] else 'delta'})",
            f"≤ {TARGETS['delta_kb']} KB, a delta",
            delta <= TARGETS["delta_kb"] and not result["delta_full"],
        ),
        (
            f"offline list on the server, {result['count']:,} cards, built / from the cache",
            f"{result['build']:.2f} / {result['cached']:.2f} s",
            f"< {TARGETS['build_s']} s (cached)",
            result["cached"] < TARGETS["build_s"],
        ),
        (
            f"offline list on the phone at {THROTTLING}x CPU, download and store / load",
            f"{phone['download']:.0f} / {phone['load']:.0f} ms",
            f"load < {TARGETS['load_ms']} ms",
            phone["load"] < TARGETS["load_ms"] and phone["size"] >= result["count"],
        ),
        (
            f"offline verdict at {THROTTLING}x CPU, printed code / typed number",
            f"{phone['code']['ms']:.0f} / {phone['typed']['ms']:.0f} ms",
            f"< {TARGETS['verdict_ms']} ms",
            max(phone["code"]["ms"], phone["typed"]["ms"]) < TARGETS["verdict_ms"]
            and (phone["code"]["state"], phone["typed"]["state"]) == ("ok", "warn"),
        ),
        (
            f"offline list in a worker's memory, {result['count']:,} cards: kept / peak building",
            f"+{result['memory']['kept']:.0f} / +{result['memory']['peak']:.0f} MB",
            "",
            True,
        ),
        (
            "offline list, the next day's delta on the server",
            f"{result['delta_seconds'] * 1000:.0f} ms",
            "",
            True,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=100_000)
    args = parser.parse_args()
    for figure, value, target, met in measure(args.cards):
        print(f"{figure}: {value} (target {target}: {'met' if met else 'MISSED'})")


if __name__ == "__main__":
    main()
