"""Check real API answers against the OpenAPI document that the app serves.

A small validator for the parts of JSON Schema the document uses ($ref, allOf, type,
properties, required, additionalProperties, enum, items, format, minimum, maximum,
nullable), and an API client that checks every answer: its status is documented for the
operation (or covered by the operation's default error), its body matches the documented
schema, and an error's code is one the operation lists for that status.
"""

import re
from datetime import date, datetime

from flask.testing import FlaskClient

# The card object's fields, as the contract names them.
CARD_FIELDS = {
    "number",
    "printed_number",
    "kind",
    "token",
    "status",
    "region",
    "valid_from",
    "valid_until",
    "birth_year",
    "postcode",
    "children",
    "digital_card_url",
}

JSON_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
}


def resolve(spec: dict, node: dict) -> dict:
    while "$ref" in node:
        *_, kind, name = node["$ref"].split("/")
        node = spec["components"][kind][name]
    return node


def validate(spec: dict, schema: dict, value, where: str = "body") -> None:
    """Assert that the value matches the schema; name the offending place otherwise."""
    schema = resolve(spec, schema)
    if value is None and schema.get("nullable"):
        return
    for part in schema.get("allOf", []):
        validate(spec, part, value, where)
    kind = schema.get("type")
    if kind is not None:
        ok = isinstance(value, JSON_TYPES[kind])
        if kind in ("integer", "number") and isinstance(value, bool):
            ok = False
        assert ok, f"{where}: {value!r} is not of type {kind}"
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if "minimum" in schema:
        assert value >= schema["minimum"], f"{where}: {value!r} below the minimum"
    if "maximum" in schema:
        assert value <= schema["maximum"], f"{where}: {value!r} above the maximum"
    _check_format(schema.get("format"), value, where)
    if kind == "array":
        for index, item in enumerate(value):
            validate(spec, schema.get("items", {}), item, f"{where}[{index}]")
    if kind == "object":
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            assert name in value, f"{where}: required property {name!r} missing"
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                validate(spec, properties[name], item, f"{where}.{name}")
            elif extra is False:
                raise AssertionError(f"{where}: undocumented property {name!r}")
            elif isinstance(extra, dict):
                validate(spec, extra, item, f"{where}.{name}")


def _check_format(fmt: str | None, value, where: str) -> None:
    if fmt == "date":
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", value), f"{where}: not an ISO date"
        date.fromisoformat(value)
    elif fmt == "date-time":
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T[0-9:.]+(Z|[+-]\d{2}:\d{2})", value), where
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    elif fmt == "uri":
        assert re.match(r"https?://[^/]+/", value), f"{where}: not an absolute URL"


def operation_for(spec: dict, method: str, path: str) -> dict | None:
    """Return the documented operation that serves the request, or None."""
    parts = path.split("?")[0].split("/")
    for template, operations in spec["paths"].items():
        pattern = template.split("/")
        if len(pattern) == len(parts) and all(
            p == s or (p.startswith("{") and p.endswith("}") and s)
            for p, s in zip(pattern, parts, strict=True)
        ):
            return operations.get(method.lower())
    return None


def documented_codes(response_doc: dict) -> list[str]:
    """Return the error codes listed in a response's description ("Codes: `a`, `b`.")."""
    text = response_doc.get("description", "")
    listed = text.split("Codes:", 1)[1] if "Codes:" in text else ""
    return re.findall(r"`([a-z_]+)`", listed)


def check_answer(spec: dict, method: str, path: str, response) -> None:
    """Assert that the answer is one the OpenAPI document describes for the request."""
    operation = operation_for(spec, method, path)
    error_schema = {"$ref": "#/components/schemas/Error"}
    if operation is None:  # unknown route or method: still the contract's error body
        assert response.status_code >= 400
        validate(spec, error_schema, response.get_json(), f"{method} {path}")
        return
    status = str(response.status_code)
    doc = operation["responses"].get(status)
    if doc is None:
        assert response.status_code >= 400, f"{method} {path}: {status} is not documented"
        doc = operation["responses"]["default"]
    doc = resolve(spec, doc)
    content = doc.get("content")
    if not content:
        assert response.data == b"", f"{method} {path}: {status} should have no body"
        return
    media_type = response.mimetype
    assert media_type in content, f"{method} {path}: {media_type} not documented for {status}"
    if media_type != "application/json":
        return
    body = response.get_json()
    validate(spec, content[media_type]["schema"], body, f"{method} {path} {status}")
    if response.status_code >= 400:
        codes = documented_codes(doc)
        if codes:
            assert body["error"] in codes, f"{method} {path}: {body['error']} not in {codes}"


class SpecCheckingClient:
    """Call the API as a user (with a bearer token) and check every answer against the spec."""

    def __init__(self, client: FlaskClient, spec: dict, token: str | None = None) -> None:
        self.client = client
        self.spec = spec
        self.token = token

    def as_token(self, token: str | None) -> "SpecCheckingClient":
        return SpecCheckingClient(self.client, self.spec, token)

    def open(self, method: str, path: str, **kwargs):
        headers = dict(kwargs.pop("headers", None) or {})
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        response = self.client.open(path, method=method, headers=headers, **kwargs)
        check_answer(self.spec, method, path, response)
        return response

    def get(self, path: str, **kwargs):
        return self.open("GET", path, **kwargs)

    def post(self, path: str, **kwargs):
        return self.open("POST", path, **kwargs)

    def patch(self, path: str, **kwargs):
        return self.open("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs):
        return self.open("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.open("DELETE", path, **kwargs)
