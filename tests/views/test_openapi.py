"""The OpenAPI document at /api/v1/openapi.json: generated from the code, complete enough that
a box-office system can integrate with nothing else."""

import uuid

import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Card, User
from webapp.services import accounts, cards

from .openapi_check import CARD_FIELDS, check_answer, documented_codes, resolve, validate

CONTRACT_OPERATIONS = {
    ("post", "/api/v1/cards"),
    ("get", "/api/v1/cards/{number}"),
    ("patch", "/api/v1/cards/{number}"),
    ("post", "/api/v1/cards/{number}/revoke"),
    ("post", "/api/v1/cards/{number}/reissue"),
    ("post", "/api/v1/verify"),
    ("post", "/api/v1/visits"),
    ("delete", "/api/v1/visits/{visit_id}"),
    ("get", "/api/v1/cards/{number}/card.pdf"),
    ("get", "/api/v1/stats"),
    ("get", "/api/v1/stats/national"),
    ("get", "/api/v1/stats/holders"),
    ("get", "/api/v1/offers"),
}
REASONS = {
    "ok",
    "invalid_token",
    "unknown_card",
    "revoked",
    "replaced",
    "expired",
    "not_yet_valid",
    "region_not_accepted",
    "home_region_only",
    "token_expired",
}
CHILD_REASONS = {"children_not_allowed", "too_many_children"}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
def spec(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method, path, operation


def schema_of(spec, node) -> dict:
    return resolve(spec, resolve(spec, node)["content"]["application/json"]["schema"])


def body_schema(spec, method, path) -> dict:
    return schema_of(spec, spec["paths"][path][method]["requestBody"])


def answer_schema(spec, method, path, status) -> dict:
    return schema_of(spec, spec["paths"][path][method]["responses"][status])


def all_refs(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from all_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from all_refs(value)


def test_served_without_authentication_as_openapi_3(spec):
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] and spec["info"]["version"]
    assert "Authorization: Bearer" in spec["info"]["description"]


def test_describes_every_operation_of_the_contract(spec):
    documented = {(method, path) for method, path, _ in operations(spec)}
    assert documented == CONTRACT_OPERATIONS
    ids = [operation["operationId"] for _, _, operation in operations(spec)]
    assert len(set(ids)) == len(ids)
    for _, _, operation in operations(spec):
        assert operation["summary"] and operation["description"]


def test_document_is_structurally_sound(spec):
    for ref in all_refs(spec):
        *_, kind, name = ref.split("/")
        assert ref.startswith("#/components/") and name in spec["components"][kind], ref
    for method, path, operation in operations(spec):
        declared = {
            p["name"]
            for p in spec["paths"][path].get("parameters", []) + operation.get("parameters", [])
            if p["in"] == "path"
        }
        in_template = {part[1:-1] for part in path.split("/") if part.startswith("{")}
        assert declared == in_template, (method, path)
        for parameter in spec["paths"][path].get("parameters", []):
            assert parameter["description"], (path, parameter["name"])
        for status, response in operation["responses"].items():
            assert status == "default" or 200 <= int(status) < 600
            assert resolve(spec, response)["description"], (method, path, status)


def test_bearer_token_is_the_security_scheme(spec):
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token of a user.",
    }
    assert spec["security"] == [{"bearerAuth": []}]


def test_every_error_answer_has_the_contract_error_body(spec):
    error = spec["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"error", "message", "fields"}
    assert set(error["required"]) == {"error", "message"}
    for method, path, operation in operations(spec):
        responses = operation["responses"]
        if operation.get("security") == []:  # public: no token, so never 401 or 403
            assert not {"401", "403"} & set(responses), (method, path)
        else:
            assert {"401", "403", "default"} <= set(responses), (method, path)
            assert documented_codes(responses["401"]) == ["unauthorized"]
            assert documented_codes(responses["403"]) == ["forbidden"]
        for status, response in responses.items():
            if status == "default" or int(status) >= 400:
                assert schema_of(spec, response) == error, (method, path, status)


def test_request_bodies_are_the_contracts(spec):
    create = body_schema(spec, "post", "/api/v1/cards")
    assert set(create["properties"]) == {
        "kind",
        "birth_year",
        "postcode",
        "children",
        "region",
        "valid_until",
        "issuer",
    }
    # A personal card (the default kind) also needs birth_year and postcode; a community none.
    assert set(create["required"]) == {"children"}
    assert create["properties"]["kind"]["enum"] == ["personal", "community"]
    assert create["properties"]["valid_until"]["format"] == "date"
    update = body_schema(spec, "patch", "/api/v1/cards/{number}")
    assert (set(update["properties"]), update["required"]) == ({"valid_until"}, ["valid_until"])
    revoke = body_schema(spec, "post", "/api/v1/cards/{number}/revoke")
    assert revoke["properties"]["reason"]["enum"] == ["lost", "misuse", "other"]
    verify = body_schema(spec, "post", "/api/v1/verify")
    # Either the scanned token or the typed printed number: neither is required alone.
    assert set(verify["properties"]) == {"token", "number", "venue", "event"}
    assert "required" not in verify
    visit = body_schema(spec, "post", "/api/v1/visits")
    assert set(visit["properties"]) == {
        "token",
        "number",
        "children",
        "assistants",
        "idempotency_key",
        "venue",
        "event",
    }
    assert set(visit["required"]) == {"children"}
    assert visit["properties"]["children"]["type"] == "integer"
    assistants = visit["properties"]["assistants"]
    assert (assistants["type"], assistants["minimum"], assistants["maximum"]) == ("integer", 0, 2)
    assert assistants["default"] == 0
    for schema in (create, update, revoke, verify, visit):
        assert schema["additionalProperties"] is False
        for name, field in schema["properties"].items():
            assert field["description"], name
    stats = spec["paths"]["/api/v1/stats"]["get"]["parameters"]
    query = {p["name"]: p for p in stats if p["in"] == "query"}
    assert query["from"]["required"] and query["to"]["required"]
    assert query["from"]["schema"]["format"] == query["to"]["schema"]["format"] == "date"
    assert {"month", "venue", "region"} <= set(query["group"]["schema"]["enum"])


def test_answers_are_the_contracts(spec):
    paths = spec["paths"]
    card = answer_schema(spec, "get", "/api/v1/cards/{number}", "200")
    assert set(card["properties"]) == CARD_FIELDS
    assert set(card["required"]) == CARD_FIELDS - {"token", "digital_card_url"}
    assert card["properties"]["status"]["enum"] == ["active", "revoked", "expired"]
    assert answer_schema(spec, "post", "/api/v1/cards", "201") == card
    assert answer_schema(spec, "post", "/api/v1/cards/{number}/reissue", "201") == card
    verdict = answer_schema(spec, "post", "/api/v1/verify", "200")
    assert set(verdict["properties"]) == {
        "valid",
        "reason",
        "message",
        "card",
        "children_allowed",
        "max_children",
        "warnings",
    }
    assert set(verdict["properties"]["reason"]["enum"]) >= REASONS
    assert {"visited_today", "already_enrolled"} <= set(
        verdict["properties"]["warnings"]["items"]["enum"]
    )
    verdict_card = resolve(spec, verdict["properties"]["card"]["allOf"][0])
    assert set(verdict_card["properties"]) == {
        "number",
        "kind",
        "valid_until",
        "region",
        "children",
    }
    visit = answer_schema(spec, "post", "/api/v1/visits", "201")
    assert set(visit["properties"]) == {
        "id",
        "card_number",
        "venue",
        "children",
        "adults",
        "assistants",
        "recorded_at",
        "offline",
        "already_enrolled",
    }
    assert visit["properties"]["recorded_at"]["format"] == "date-time"
    assert answer_schema(spec, "post", "/api/v1/visits", "200") == visit
    assert "content" not in paths["/api/v1/visits/{visit_id}"]["delete"]["responses"]["204"]
    pdf = paths["/api/v1/cards/{number}/card.pdf"]["get"]["responses"]["200"]["content"]
    assert pdf["application/pdf"]["schema"] == {"type": "string", "format": "binary"}
    stats = answer_schema(spec, "get", "/api/v1/stats", "200")
    row = resolve(spec, stats["properties"]["rows"]["items"])
    assert {"key", "visits", "adults", "children", "assistants"} <= set(row["properties"])
    totals = resolve(spec, stats["properties"]["totals"])
    assert set(totals["properties"]) == {"visits", "adults", "children", "assistants"}


def test_error_codes_are_listed_per_operation(spec):
    def codes(method, path, status):
        return set(documented_codes(spec["paths"][path][method]["responses"][status]))

    assert "holder_too_young" in codes("post", "/api/v1/cards", "422")
    assert (REASONS - {"ok"}) | CHILD_REASONS <= codes("post", "/api/v1/visits", "422")
    assert "undo_window_passed" in codes("delete", "/api/v1/visits/{visit_id}", "422")
    assert codes("post", "/api/v1/verify", "422") >= {"venue_required", "not_your_venue"}
    for method, path, operation in operations(spec):
        if "requestBody" in operation:
            assert codes(method, path, "400") == {"invalid_json"}
            assert "validation_error" in codes(method, path, "422")
        if "{" in path:
            assert codes(method, path, "404") == {"not_found"}


def test_the_checker_refuses_answers_that_differ_from_the_document(spec):
    card = {"$ref": "#/components/schemas/Card"}
    good = {
        "number": "K7MX4PQ2D",
        "printed_number": "K7MX4PQ23E9RWT8",
        "kind": "personal",
        "status": "active",
        "region": "kainuu",
        "valid_from": "2025-01-01",
        "valid_until": "2026-01-01",
        "birth_year": 1980,
        "postcode": "70100",
        "children": 0,
        "digital_card_url": "http://localhost/k/abc",
    }
    validate(spec, card, good)
    for bad in (
        {k: v for k, v in good.items() if k != "region"},
        {**good, "name": "Matti"},
        {**good, "children": "0"},
        {**good, "status": "lost"},
        {**good, "valid_until": "1.1.2026"},
        {**good, "digital_card_url": "/k/abc"},
    ):
        with pytest.raises(AssertionError):
            validate(spec, card, bad)


def test_a_box_office_system_integrates_from_the_document_alone(client, demo_cards):
    """Find the operations by operationId, build requests from the schemas, check answers."""
    spec = client.get("/api/v1/openapi.json").get_json()
    by_id = {op["operationId"]: (method, path) for method, path, op in operations(spec)}
    scheme = spec["components"]["securitySchemes"][next(iter(spec["security"][0]))]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    staff = db.session.scalar(select(User).where(User.email == "ovi@example.fi"))
    headers = {"Authorization": f"Bearer {accounts.create_api_token(staff)}"}
    db.session.commit()
    active = db.session.scalar(select(Card).where(Card.number == demo_cards["active"]))
    scanned = cards.printed_token(active)

    def call(operation_id, body=None, **params):
        method, path = by_id[operation_id]
        url = path.format(**params)
        response = client.open(url, method=method.upper(), json=body, headers=headers)
        check_answer(spec, method.upper(), url, response)
        return response

    method, path = by_id["verify"]
    assert {"token", "number"} <= set(body_schema(spec, method, path)["properties"])
    verdict = call("verify", {"token": scanned}).get_json()
    assert verdict["valid"] and verdict["max_children"] == 2
    verdict = call("verify", {"number": active.printed_number.lower()}).get_json()
    assert verdict["valid"] and verdict["max_children"] == 2
    assert verdict["warnings"] == ["check_card"]  # a warning the document names

    visit_body = {"token": scanned, "children": 1, "idempotency_key": str(uuid.uuid4())}
    assert set(visit_body) <= set(body_schema(spec, *by_id["recordVisit"])["properties"])
    first = call("recordVisit", visit_body)
    retry = call("recordVisit", visit_body)
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.get_json()["id"] == first.get_json()["id"]

    refused = call("recordVisit", {"token": scanned, "children": 5})
    method, path = by_id["recordVisit"]
    documented = documented_codes(spec["paths"][path][method]["responses"]["422"])
    assert refused.status_code == 422 and refused.get_json()["error"] in documented

    undone = call("undoVisit", visit_id=first.get_json()["id"])
    assert undone.status_code == 204
