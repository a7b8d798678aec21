"""Web security: CSRF on every form and htmx request, strict CSP, cookie flags."""

import re

import pytest

from webapp import create_app
from webapp.security import CONTENT_SECURITY_POLICY

from ..conftest import app_config


def test_post_without_csrf_token_is_refused(client, demo_cards):
    client.auto_csrf = False
    response = client.post("/", data={"email": "ovi@example.fi", "password": "kaikukortti-demo"})
    assert response.status_code == 400
    assert client.get("/scan").status_code == 302  # not signed in


def test_htmx_post_without_csrf_header_is_refused(signed_in, demo_cards):
    client = signed_in("ovi@example.fi")
    client.auto_csrf = False
    response = client.post("/scan/verify", data={"token": "x"}, headers={"HX-Request": "true"})
    assert response.status_code == 400


def test_post_with_the_pages_csrf_token_is_accepted(client, demo_cards):
    token = client.csrf_token()
    client.auto_csrf = False
    response = client.post(
        "/",
        data={"email": "ovi@example.fi", "password": "kaikukortti-demo", "csrf_token": token},
    )
    assert response.status_code == 302


@pytest.mark.parametrize("path", ["/", "/healthz", "/static/css/app.css"])
def test_every_answer_carries_a_strict_content_security_policy(client, path):
    response = client.get(path)
    response.close()
    policy = response.headers["Content-Security-Policy"]
    assert policy == CONTENT_SECURITY_POLICY
    sources = policy.replace(";", " ").split()
    assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("page", ["/", "/language/sv?next=/"])
def test_pages_have_no_inline_script_or_style(client, page):
    html = client.get(page, follow_redirects=True).text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert " style=" not in html and "<style" not in html
    assert '"allowEval": false' in html  # htmx never evaluates strings


def test_signed_in_pages_have_no_inline_script_or_style(signed_in):
    for email, page in [
        ("ovi@example.fi", "/scan"),
        ("jakaja@example.fi", "/distributor/cards/new"),
        ("koordinaattori@example.fi", "/coordinator/stats"),
    ]:
        client = signed_in(email)
        html = client.get(page).text
        assert not re.search(
            r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", html
        ), page
        assert " style=" not in html, page
        client.post("/sign-out")


def test_session_cookie_is_httponly_and_lax(client, demo_cards):
    response = client.sign_in("ovi@example.fi")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_production_answers_ask_for_https():
    app = create_app(app_config("sqlite://", PRODUCTION=True))
    response = app.test_client().get("/static/css/app.css")
    response.close()
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
