"""A busy festival day on PostgreSQL: many scanners, client retries, a database restart.

Every acknowledged visit must be stored exactly once, and the app must recover by itself.
"""

import json
import random
import threading
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

SCANNERS = 50


class Scanner:
    """One door device: records visits over the API and retries like a phone would."""

    def __init__(self, server, api_token: str, card_token: str):
        self.server = server
        self.headers = {"Authorization": f"Bearer {api_token}", "Content-Type": "application/json"}
        self.card_token = card_token
        self.server_errors: list[int] = []

    def post_visit(self, key: str) -> tuple[int, dict | None]:
        body = json.dumps({"token": self.card_token, "children": 0, "idempotency_key": key})
        request = urllib.request.Request(
            f"{self.server.url}/api/v1/visits", data=body.encode(), headers=self.headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            if error.code >= 500:
                self.server_errors.append(error.code)
            return error.code, None
        except OSError:
            return 0, None  # no answer: the connection broke

    def record(self, key: str, *, retry_until_acknowledged: bool) -> dict | None:
        """Send a visit, sometimes twice (a client retry); return the acknowledged visit."""
        _, visit = self.send(key, retry_until_acknowledged)
        if visit is not None and random.random() < 0.2:
            # The answer was lost on the way: the phone sends the same visit again.
            status, again = self.send(key, retry_until_acknowledged)
            assert again is None or (status == 200 and again["id"] == visit["id"])
        return visit

    def send(self, key: str, retry_until_acknowledged: bool) -> tuple[int, dict | None]:
        """Post the visit, retrying while the server is unreachable if asked to."""
        for _attempt in range(200):
            status, visit = self.post_visit(key)
            if status in (200, 201) or not retry_until_acknowledged:
                return status, visit
            threading.Event().wait(0.05)
        return status, None


@pytest.fixture(scope="module")
def tokens(gunicorn_server):
    venue_token = gunicorn_server.flask("api-token", "ovi@example.fi").strip().splitlines()[-1]
    distributor = gunicorn_server.flask("api-token", "jakaja@example.fi").strip().splitlines()[-1]
    numbers = dict(line.split(" ", 1) for line in gunicorn_server.flask("demo").splitlines())
    request = urllib.request.Request(
        f"{gunicorn_server.url}/api/v1/cards/{numbers['active']}",
        headers={"Authorization": f"Bearer {distributor}"},
    )
    with urllib.request.urlopen(request) as response:
        return venue_token, json.load(response)["token"]


@pytest.fixture
def database(private_postgres):
    engine = sa.create_engine(private_postgres.url, pool_pre_ping=True)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM visit"))
    yield engine
    engine.dispose()


def stored_keys(engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.scalars(sa.text("SELECT idempotency_key FROM visit")))


def run_scanners(scanner: Scanner, keys: list[str], *, retry: bool) -> list[dict]:
    with ThreadPoolExecutor(max_workers=SCANNERS) as pool:
        results = pool.map(lambda key: scanner.record(key, retry_until_acknowledged=retry), keys)
        return [visit for visit in results if visit is not None]


def test_fifty_scanners_store_exactly_five_thousand_visits(gunicorn_server, tokens, database):
    scanner = Scanner(gunicorn_server, *tokens)
    keys = [f"load-{uuid.uuid4()}" for _ in range(5000)]
    acknowledged = run_scanners(scanner, keys, retry=False)
    assert scanner.server_errors == []
    assert len(acknowledged) == 5000
    stored = stored_keys(database)
    assert len(stored) == 5000
    assert set(stored) == set(keys)


def test_database_restart_loses_no_acknowledged_visit(
    gunicorn_server, tokens, database, private_postgres
):
    scanner = Scanner(gunicorn_server, *tokens)
    keys = [f"fault-{uuid.uuid4()}" for _ in range(2000)]
    acknowledged_before_restart = threading.Event()
    done = []

    def restart_when_busy():
        while len(stored_keys(database)) < 500:
            threading.Event().wait(0.05)
        private_postgres.restart()
        acknowledged_before_restart.set()

    restarter = threading.Thread(target=restart_when_busy)
    restarter.start()
    done = run_scanners(scanner, keys, retry=True)
    restarter.join(timeout=120)
    assert acknowledged_before_restart.is_set(), "the database was not restarted mid-run"

    assert len(done) == 2000
    stored = stored_keys(database)
    assert len(stored) == 2000 and set(stored) == set(keys)
    with urllib.request.urlopen(f"{gunicorn_server.url}/healthz", timeout=5) as response:
        assert response.status == 200


def test_undo_racing_a_retry_leaves_a_consistent_state(gunicorn_server, tokens, database):
    scanner = Scanner(gunicorn_server, *tokens)
    for _ in range(20):
        key = f"race-{uuid.uuid4()}"
        status, visit = scanner.post_visit(key)
        assert status == 201
        delete = urllib.request.Request(
            f"{gunicorn_server.url}/api/v1/visits/{visit['id']}",
            method="DELETE",
            headers=scanner.headers,
        )
        with ThreadPoolExecutor(max_workers=2) as pool:
            undo = pool.submit(lambda request=delete: urllib.request.urlopen(request, timeout=30))
            retry = pool.submit(scanner.post_visit, key)
            assert undo.result().status == 204
            retry_status, _ = retry.result()
        # The retry either found the visit before the undo removed it (200), or came after
        # the undo (409 visit_undone): an undone visit stays undone.
        assert retry_status in (200, 409)
        with database.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT id FROM visit WHERE idempotency_key = :key"), {"key": key}
            ).all()
        assert rows == []
    assert scanner.server_errors == []
