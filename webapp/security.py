"""Security headers on every answer, and limits on what a request may carry."""

import json

from flask import Flask, Response, abort, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter

from .schemas import MAX_ID

MAX_JSON_DEPTH = 20  # the deepest body of the API or the scanner is 2
# Paths whose views read JSON themselves; a page's form refuses a JSON body (415).
JSON_PATHS = ("/api/", "/scan/", "/k/")  # the digital card posts its public key as JSON

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        # The QR decoder compiles its WebAssembly module; nothing else is evaluated.
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "manifest-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class BoundedIntegerConverter(IntegerConverter):
    """``<int:...>`` in every route: 0 to MAX_ID, so a path with a larger id is not found."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits, min, MAX_ID if max is None else max, signed)


def _depth(value) -> int:
    """Return how deeply the JSON value nests (iteratively: no recursion to exhaust)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            todo.extend(
                (child, depth + 1) for child in (item.values() if isinstance(item, dict) else item)
            )
    return deepest


class LimitedJSONProvider(DefaultJSONProvider):
    """Parse request bodies no deeper than MAX_JSON_DEPTH; deeper is invalid JSON (400)."""

    def loads(self, s, **kwargs):
        try:
            value = json.loads(s, **kwargs)
        except RecursionError:
            raise ValueError("The JSON nests too deeply.") from None
        if _depth(value) > MAX_JSON_DEPTH:
            raise ValueError("The JSON nests too deeply.")
        return value


def init_app(app: Flask) -> None:
    """Install the limits (before the blueprints' routes are added) and the headers."""
    app.url_map.converters["int"] = BoundedIntegerConverter
    app.json = LimitedJSONProvider(app)

    @app.before_request
    def refuse_json_to_pages():
        if request.is_json and request.method != "GET" and not request.path.startswith(JSON_PATHS):
            abort(415)

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if app.config.get("PRODUCTION"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
