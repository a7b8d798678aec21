"""Schemathesis against /api/v1/openapi.json: any generated request gets an answer that the
spec describes and never a 5xx. Bounded: a few dozen examples per operation."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from webapp.extensions import db
from webapp.models import User
from webapp.services import accounts

ROLE_OF_OPERATION = {
    ("POST", "/api/v1/cards"): "jakaja@example.fi",
    ("GET", "/api/v1/cards/{number}"): "jakaja@example.fi",
    ("PATCH", "/api/v1/cards/{number}"): "koordinaattori@example.fi",
    ("POST", "/api/v1/cards/{number}/revoke"): "jakaja@example.fi",
    ("POST", "/api/v1/cards/{number}/reissue"): "jakaja@example.fi",
    ("GET", "/api/v1/cards/{number}/card.pdf"): "jakaja@example.fi",
    ("POST", "/api/v1/verify"): "ovi@example.fi",
    ("POST", "/api/v1/visits"): "ovi@example.fi",
    ("DELETE", "/api/v1/visits/{visit_id}"): "ovi@example.fi",
    ("GET", "/api/v1/stats"): "koordinaattori@example.fi",
    ("GET", "/api/v1/stats/national"): "koordinaattori@example.fi",
    ("GET", "/api/v1/stats/holders"): "koordinaattori@example.fi",
    ("GET", "/api/v1/offers"): "ovi@example.fi",  # public: a token sent is ignored
}


@pytest.fixture
def bearer(demo_cards):
    tokens = {}
    for email in set(ROLE_OF_OPERATION.values()):
        user = db.session.scalar(db.select(User).where(User.email == email))
        tokens[email] = accounts.create_api_token(user)
    db.session.commit()
    return tokens


@pytest.mark.parametrize(("method", "path"), sorted(ROLE_OF_OPERATION))
def test_api_answers_as_its_spec_says(app, bearer, method, path):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operation = schema[path][method]
    headers = {"Authorization": f"Bearer {bearer[ROLE_OF_OPERATION[(method, path)]]}"}

    @given(case=operation.as_strategy())
    @settings(
        max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    def call(case):
        # A schema-valid request may still break a domain rule (a holder too young, a venue
        # not the user's, more children than registered): those answer 422 by design.
        case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

    call()


def test_every_documented_operation_is_fuzzed(app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    documented = {
        (result.ok().method.upper(), result.ok().path) for result in schema.get_all_operations()
    }
    documented.discard(("GET", "/api/v1/openapi.json"))
    assert documented == set(ROLE_OF_OPERATION)
