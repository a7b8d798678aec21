"""Rate limits refuse guessing: the 11th rapid failed sign-in to one account is refused."""

import pytest

from webapp import create_app
from webapp.extensions import limiter

from ..conftest import Client, app_config


@pytest.fixture
def limited_client(database_url, demo_cards):
    app = create_app(app_config(database_url, RATE_LIMITS=True))
    app.test_client_class = Client
    limiter.reset()
    with app.app_context():
        yield app.test_client()
    limiter.reset()


def test_eleventh_failed_sign_in_to_one_account_is_refused(limited_client):
    for _ in range(10):
        assert limited_client.sign_in("ovi@example.fi", "wrong").status_code == 400
    refused = limited_client.sign_in("ovi@example.fi", "kaikukortti-demo")
    assert refused.status_code == 429
    assert "Liian monta yritystä" in refused.text


def test_failed_attempts_on_one_account_do_not_lock_out_another(limited_client):
    for _ in range(10):
        limited_client.sign_in("ovi@example.fi", "wrong")
    assert limited_client.sign_in("jakaja@example.fi").status_code == 302


def test_one_address_trying_many_accounts_is_refused(limited_client):
    for i in range(30):
        limited_client.sign_in(f"guess{i}@example.fi", "wrong")
    assert limited_client.sign_in("jakaja@example.fi").status_code == 429


def test_successful_sign_ins_are_not_counted(limited_client):
    for _ in range(12):
        assert limited_client.sign_in("ovi@example.fi").status_code == 302
        limited_client.post("/sign-out")
