"""Fixtures shared by the whole suite.

The database is chosen with TEST_DATABASE_URL: unset, a fresh SQLite file; a
``postgresql+psycopg://`` URL, a fresh database created on that server for this run
and dropped at its end. Every test starts with empty tables.
"""

import os
import re
import threading
import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from webapp import create_app, demo
from webapp.extensions import db

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TEST_SIGNING_KEYS = ["retired-test-key", "current-test-key"]
PASSWORD = demo.PASSWORD


def postgres_server_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def create_postgres_database(server_url: str) -> tuple[str, callable]:
    """Create an empty database on the server; return its URL and a function that drops it."""
    name = f"kk_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def app_config(database_url: str, **extra) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret",
        "CARD_SIGNING_KEYS": TEST_SIGNING_KEYS,
        "RATE_LIMITS": False,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        **extra,
    }


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = os.environ.get("TEST_DATABASE_URL", "sqlite")
    if url == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    url, drop = create_postgres_database(url)
    yield url
    drop()


@pytest.fixture(scope="session")
def app(database_url):
    app = create_app(app_config(database_url))
    app.test_client_class = Client
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def app_context(app):
    """Run each test inside an app context and leave every table empty after it."""
    with app.app_context():
        yield
        db.session.rollback()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())
        db.session.remove()


class Client(FlaskClient):
    """A test client that sends the CSRF token with unsafe requests, as the pages do.

    Each request runs in an app context of its own, as in production: ``g`` (the signed-in
    user, the language, the CSRF token) and the database session do not leak between
    requests or clients of one test.
    """

    auto_csrf = True

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return self._open(*args, **kwargs)

    def _open(self, *args, **kwargs):
        method = kwargs.get("method", "GET").upper()
        path = args[0] if args and isinstance(args[0], str) else ""
        headers = dict(kwargs.pop("headers", None) or {})
        if (
            self.auto_csrf
            and method not in ("GET", "HEAD", "OPTIONS")
            and not path.startswith("/api/")
            and "X-CSRFToken" not in headers
        ):
            headers["X-CSRFToken"] = self.csrf_token()
        return super().open(*args, headers=headers, **kwargs)

    def csrf_token(self) -> str:
        page = super().open("/", follow_redirects=True)
        match = re.search(rb'name="csrf-token" content="([^"]+)"', page.data)
        assert match, "no CSRF token on the page"
        return match.group(1).decode()

    def sign_in(self, email: str, password: str = PASSWORD):
        return self.post("/", data={"email": email, "password": password})


@pytest.fixture
def client(app) -> Client:
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def demo_cards(app) -> dict[str, str]:
    """Load the contract's demo data; return the demo cards' numbers by state."""
    numbers = demo.load()
    db.session.commit()
    return numbers


@pytest.fixture
def signed_in(client, demo_cards):
    """Sign the test client in as a demo user: ``signed_in("ovi@example.fi")``."""

    def sign_in(email: str) -> Client:
        response = client.sign_in(email)
        assert response.status_code == 302, response.data
        return client

    return sign_in


@dataclass
class LiveServer:
    url: str


@pytest.fixture(scope="session")
def live_server(app):
    """Serve the test app on a loopback port in a background thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveServer(url=f"http://127.0.0.1:{server.server_port}")
    server.shutdown()
    thread.join(timeout=5)
