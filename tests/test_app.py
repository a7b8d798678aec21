import pytest

from webapp import create_app
from webapp.config import ConfigError, from_environment
from webapp.extensions import db


def test_production_refuses_to_start_without_secret_key(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        from_environment(tmp_path, {"KAIKUKORTTI_ENV": "production", "CARD_SIGNING_KEYS": "k"})


def test_production_refuses_to_start_without_signing_keys(tmp_path):
    with pytest.raises(ConfigError, match="CARD_SIGNING_KEYS"):
        from_environment(tmp_path, {"KAIKUKORTTI_ENV": "production", "SECRET_KEY": "s"})


def test_production_uses_secure_cookies(tmp_path):
    config = from_environment(
        tmp_path, {"KAIKUKORTTI_ENV": "production", "SECRET_KEY": "s", "CARD_SIGNING_KEYS": "a,b"}
    )
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["CARD_SIGNING_KEYS"] == ["a", "b"]


def test_development_generates_a_secret_once_into_the_instance_folder(tmp_path):
    first = from_environment(tmp_path, {})
    second = from_environment(tmp_path, {})
    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    assert len(first["SECRET_KEY"]) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert first["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'kaikukortti.db'}"


def test_database_url_comes_from_the_environment(tmp_path):
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    assert from_environment(tmp_path, {"DATABASE_URL": url})["SQLALCHEMY_DATABASE_URI"] == url


def test_factory_applies_test_config_over_the_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:////nonexistent/from-environment.db")
    from_env = create_app()
    assert (
        from_env.config["SQLALCHEMY_DATABASE_URI"] == "sqlite:////nonexistent/from-environment.db"
    )
    assert not from_env.testing
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite://"
    assert app.testing


def test_healthz_answers_once_the_database_is_reachable(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_healthz_reports_an_unreachable_database():
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite:////nonexistent/dir/kaikukortti.db"}
    )
    assert app.test_client().get("/healthz").status_code == 503


def test_database_outage_answers_503_and_retry_after(app, client):
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    def unreachable(*args, **kwargs):  # every statement fails, as with the server gone
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", unreachable)
    try:
        headers = {"Authorization": "Bearer x"}
        api = client.post("/api/v1/verify", json={"token": "x"}, headers=headers)
        assert api.status_code == 503 and api.json["error"] == "unavailable"
        assert api.headers["Retry-After"] == "2"
        page = client.post("/", data={"email": "ovi@example.fi", "password": "x"})
        assert page.status_code == 503
    finally:
        event.remove(engine, "before_cursor_execute", unreachable)
