"""Every route of the URL map, every parameter, boundary values: the answer is never a 5xx.

A fixed table rather than random examples, so that the run is the same on every machine
and stays within a minute: each route is called by each role with its path parameters,
every query parameter and every body field (form and JSON) set to a boundary value (year
1 and 9999, 2^31, 2^63, a megabyte string, deeply nested JSON). A new route is fuzzed
without anyone listing it.
"""

import os

import pytest
from werkzeug.routing import AnyConverter, IntegerConverter, Rule

from webapp.extensions import db
from webapp.models import Role, User
from webapp.services import accounts

from ..factories import create_user

ROLES = (
    None,
    "jakaja@example.fi",
    "koordinaattori@example.fi",
    "ovi@example.fi",
    "admin@example.fi",
)

# Every parameter a page, the scanner or the API reads (query, form or JSON).
PARAMETERS = (
    "action", "assistants", "birth_year", "card", "children", "code", "confirm", "content",
    "email", "ends_on", "event", "from", "group", "idempotency_key", "issuer", "key", "kind",
    "name", "next", "number", "organisations", "page", "password", "pilot_ends_on", "postcode",
    "quota", "reason", "region", "role", "scanned_at", "since", "starts_on", "table", "to",
    "token", "valid_from", "valid_until", "venue", "year",
)  # fmt: skip

BIG_NUMBERS = (2**31, 2**63, -(2**63) - 1, 10**400)
BOUNDARIES = (
    "0001-01-01",
    "9999-12-31",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-14:00",
    *(str(n) for n in BIG_NUMBERS),
    "-1",
    "1e400",
    "ä\x00",
)
MEGABYTE = "9" * 1_000_000
SKIPPED = {"static", "pwa.service_worker", "cardholder.service_worker"}


def _deep_json(depth: int) -> bytes:
    return b'{"venue": ' + b"[" * depth + b"]" * depth + b"}"


def _path(rule: Rule, value) -> str | None:
    """Build the rule's path with every parameter set to the value; None if it cannot be."""
    values = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        if isinstance(converter, AnyConverter):
            values[name] = sorted(converter.items)[0]
        elif isinstance(converter, IntegerConverter):
            if not str(value).lstrip("-").isdigit() or int(value) < 0:
                return None
            values[name] = int(value)
        else:
            values[name] = str(value)
    return rule.build(values, append_unknown=False)[1]


# Who calls the routes under a prefix, besides someone not signed in (other routes: all).
AUDIENCE = {
    "/distributor/": ("jakaja@example.fi",),
    "/coordinator/": ("koordinaattori@example.fi", "admin@example.fi"),
    "/scan": ("ovi@example.fi",),
    "/venue/": ("ovi@example.fi",),
}


def _requests(app, callers):
    """Yield each route, method and caller (a test client and its API headers)."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint in SKIPPED:
            continue
        audience = next((a for p, a in AUDIENCE.items() if rule.rule.startswith(p)), ROLES)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for email in {None, *audience}:
                yield rule, method, email, *callers[email]


@pytest.fixture
def callers(app, demo_cards):
    """A signed-in test client and an API token for each role (None: nobody signed in)."""
    create_user("admin@example.fi", Role.ADMIN, password="kaikukortti-demo")
    db.session.commit()
    result = {}
    for email in ROLES:
        client = app.test_client()
        headers = {}
        if email:
            assert client.sign_in(email).status_code == 302
            user = db.session.scalar(db.select(User).filter_by(email=email))
            headers["Authorization"] = f"Bearer {accounts.create_api_token(user)}"
        headers["X-CSRFToken"] = client.csrf_token()  # fetched once, not before every POST
        result[email] = (client, headers)
    db.session.commit()
    return result


def _call(client, method, path, headers, **kwargs):
    """Return the answer's status; an exception that escapes the app is the 500 it would be."""
    try:
        response = client.open(path, method=method, headers=headers, **kwargs)
    except Exception as error:  # noqa: BLE001 - the test reports every escaping error
        db.session.rollback()
        return f"500 {type(error).__name__}: {str(error)[:80]}"
    response.close()
    return response.status_code


def _report(failures: list) -> None:
    text = "\n".join(sorted({repr(failure)[:300] for failure in failures}))
    if os.environ.get("FUZZ_REPORT"):
        with open(os.environ["FUZZ_REPORT"], "a") as report:
            report.write(text + "\n")
    assert not failures, text


def test_no_route_answers_a_boundary_value_with_a_server_error(app, callers):
    failures = []
    for rule, method, email, client, headers in _requests(app, callers):
        if True:
            for value in (*BOUNDARIES, "1"):
                path = _path(rule, value) or _path(rule, "1")
                params = dict.fromkeys(PARAMETERS, value)
                if method == "GET":
                    calls = [{"query_string": params}]
                else:
                    json_value = int(value) if value.lstrip("-").isdigit() else value
                    calls = [
                        {"data": params, "query_string": params},
                        {"json": dict.fromkeys(PARAMETERS, json_value)},
                    ]
                for kwargs in calls:
                    status = _call(client, method, path, headers, **kwargs)
                    if not isinstance(status, int) or status >= 500:
                        failures.append((status, method, rule.rule, email, value, list(kwargs)))
    _report(failures)


def test_no_route_answers_a_huge_or_deep_body_with_a_server_error(app, callers):
    failures = []
    for rule, method, email, client, headers in _requests(app, callers):
        if method == "GET":
            continue
        path = _path(rule, "1")
        if True:
            bodies = [
                {"data": {"token": MEGABYTE, "number": MEGABYTE}},
                {"json": dict.fromkeys(PARAMETERS, MEGABYTE[:30_000])},
                {"data": _deep_json(100_000), "content_type": "application/json"},
                {"data": _deep_json(2_000), "content_type": "application/json"},
                {"data": b"x" * 3_000_000, "content_type": "application/json"},
            ]
            for kwargs in bodies:
                status = _call(client, method, path, headers, **kwargs)
                if not isinstance(status, int) or status >= 500:
                    failures.append((status, method, rule.rule, email, list(kwargs)))
    _report(failures)
