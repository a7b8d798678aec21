"""The JSON API's plumbing: bearer-token authentication, errors in the contract's shape and
the OpenAPI document that flask-smorest builds from the views and :mod:`webapp.schemas`.

Every error under ``/api/`` answers ``{"error": code, "message": text}`` (plus ``"fields"``
for invalid input), with the text in the user's language. The rest of the site keeps its
own error pages (see :meth:`Api.handle_http_exception`).
"""

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

import flask_smorest
from flask import Flask, Response, g, jsonify, request
from flask_babel import gettext
from webargs import core
from webargs.flaskparser import FlaskParser, abort
from werkzeug.exceptions import HTTPException

from .. import errors
from ..errors import DomainError
from ..models import Role
from ..schemas import ErrorSchema
from ..services import accounts

OPENAPI_VERSION = "3.0.3"
SECURITY_SCHEME = "bearerAuth"

DESCRIPTION = """\
The Kaikukortti API for venues' box-office systems, distributors' client registers and
regional coordinators' reports.

**Authentication.** Every operation needs an API token (`flask --app webapp api-token EMAIL`
creates one) in the header `Authorization: Bearer <token>`. The token acts as its user: what
it may do depends on the user's role (distributor staff, venue staff, coordinator). Session
cookies are not accepted.

**Errors.** Every error answers `{"error": "<code>", "message": "<human text>"}`; invalid
input adds `"fields": {"<field>": "<message>"}`. Codes are stable, messages are for people
and come in the user's language (Finnish by default, Swedish or English by the `lang`
cookie). Codes for every status: `unauthorized` (401), `forbidden` (403), `not_found` (404),
`method_not_allowed` (405), `invalid_json` (400), `validation_error` (422), `conflict` (409),
`rate_limited` (429), `server_error` (500); each operation lists its own codes.
Unknown fields in a request body are refused (422), so that a misspelt optional field does
not pass unnoticed.

**Lookups are scoped.** A card that the caller may not see answers 404 exactly like a number
that does not exist.
"""


class ApiError(DomainError):
    """An API answer other than success: an HTTP status, a code and, if the code's text of
    :mod:`webapp.errors` does not fit, a message; ``fields`` name the wrong inputs."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str | None = None,
        fields: dict[str, str] | None = None,
    ) -> None:
        super().__init__(code)
        self.status = status
        self.text = message
        self.fields = fields

    @property
    def message(self) -> str:
        return self.text or super().message


def error_response(
    status: int, code: str, message: str | None = None, fields: dict[str, str] | None = None
) -> Response:
    """Return the contract's error body: ``{"error", "message"}`` plus ``"fields"``."""
    body = {"error": code, "message": message or errors.message(code)}
    if fields:
        body["fields"] = fields
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="kaikukortti"'
    return response


def _code_for(error: HTTPException) -> str:
    data = getattr(error, "data", None) or {}
    return data.get("error") or errors.code_for(error)


def _translated(messages) -> list[str]:
    """Return the leaf messages of a marshmallow error structure, translated."""
    if isinstance(messages, str):
        return [gettext(messages)]
    if isinstance(messages, dict):
        return [text for value in messages.values() for text in _translated(value)]
    return [text for item in messages for text in _translated(item)]


def _field_errors(messages: dict) -> tuple[dict[str, str], list[str]]:
    """Split webargs' ``{location: {field: [messages]}}`` into field and general messages."""
    fields, general = {}, []
    for found in messages.values():
        if not isinstance(found, dict):
            general += _translated(found)
            continue
        for field, field_messages in found.items():
            if field == "_schema":
                general += _translated(field_messages)
            else:
                fields[str(field)] = " ".join(_translated(field_messages))
    return fields, general


def handle_http_exception(error: HTTPException) -> Response:
    """Answer an HTTP error (webargs' validation errors included) with the contract's body."""
    code = _code_for(error)
    data = getattr(error, "data", None) or {}
    fields, general = _field_errors(data.get("messages") or {})
    if code == "invalid_json":
        general = []
    message = " ".join(general) if general and not fields else None
    response = error_response(error.code or 500, code, message, fields)
    if error.code == 405:
        response.headers["Allow"] = ", ".join(sorted(getattr(error, "valid_methods", None) or ()))
    for name, value in (data.get("headers") or {}).items():
        response.headers[name] = value
    return response


def handle_domain_error(error: DomainError) -> Response:
    """Answer a service's refusal: 422 with its code, its text and the wrong field."""
    if isinstance(error, ApiError):
        return error_response(error.status, error.code, error.message, error.fields)
    text = error.message
    return error_response(422, error.code, text, {error.field: text} if error.field else None)


class JsonParser(FlaskParser):
    """Read request bodies as JSON objects; anything else is 400 ``invalid_json``."""

    def load_json(self, req, schema):
        """Return the JSON body, or ``missing`` when there is none."""
        body = req.get_data(cache=True)
        if not core.is_json(req.mimetype):
            if body.strip():
                abort(400, error="invalid_json")
            return core.missing
        if not body:
            return core.missing
        try:
            return core.parse_json(body)
        except (RecursionError, ValueError):  # not JSON, not UTF-8, too deep, too long a number
            abort(400, error="invalid_json")


class Api(flask_smorest.Api):
    """flask-smorest's Api: the contract's error body under ``/api/``, the site's error pages
    elsewhere (flask-smorest registers this handler for every HTTP error of the app)."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException):
        if request.path.startswith("/api/"):
            return handle_http_exception(error)
        return errors.http_error(error)


def init_api(app: Flask, blueprint: "ApiBlueprint") -> Api:
    """Serve the blueprint's views and their OpenAPI document at ``<url_prefix>/openapi.json``."""
    app.config.setdefault("OPENAPI_URL_PREFIX", blueprint.url_prefix)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = Api(
        app,
        spec_kwargs={
            "title": "Kaikukortti API",
            "version": "1",
            "openapi_version": OPENAPI_VERSION,
            "info": {"description": DESCRIPTION},
            "security": [{SECURITY_SCHEME: []}],
        },
    )
    api.spec.components.security_scheme(
        SECURITY_SCHEME,
        {"type": "http", "scheme": "bearer", "description": "An API token of a user."},
    )
    api.register_blueprint(blueprint)
    return api


def _error_list(codes: Iterable[str]) -> str:
    return ", ".join(f"`{code}`" for code in codes)


class ApiBlueprint(flask_smorest.Blueprint):
    """A flask-smorest blueprint whose errors all answer the contract's JSON body; serve it
    with :func:`init_api`."""

    ARGUMENTS_PARSER = JsonParser()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register_error_handler(DomainError, handle_domain_error)

    def route(self, rule, **options) -> Callable:
        """Register and document a view; its name, in camelCase, is the operationId."""
        register = super().route(rule, **options)

        def decorator(view: Callable) -> Callable:
            head, *rest = view.__name__.split("_")
            operation_id = head + "".join(word.capitalize() for word in rest)
            return register(self.doc(operationId=operation_id)(view))

        return decorator

    def arguments(self, schema, *, location="json", **kwargs) -> Callable:
        """Parse and document the request's arguments; a JSON body may also fail with 400.

        A schema class is made an instance once here: webargs would build one for every
        request (marshmallow copies every declared field for it, on the door's busiest path).
        """
        if isinstance(schema, type):
            schema = schema()
        parse = super().arguments(schema, location=location, **kwargs)
        if location != "json":
            return parse
        bad_json = self.fails(400, "invalid_json", description="The body is not valid JSON.")
        return lambda view: bad_json(parse(view))

    def fails(self, status: int, *codes: str, description: str | None = None) -> Callable:
        """Document an error answer of the operation and the codes it may carry."""
        text = description or "Error."
        if codes:
            text = f"{text} Codes: {_error_list(codes)}."
        return self.alt_response(
            status,
            schema=ErrorSchema,
            description=text,
            example={"error": codes[0] if codes else "error", "message": "…"},
        )

    def authenticated(
        self,
        *roles: Role,
        load: Callable[[str], Any] = accounts.user_for_api_token,
    ) -> Callable:
        """Require a bearer token of a user with one of the roles; pass the user as ``user``.

        No token, or an unknown, revoked or deactivated one: 401 ``unauthorized``. Another
        role: 403 ``forbidden``. ``load`` turns the token into the user (the door's views
        load a lighter :class:`webapp.services.door.DoorStaff`).
        """

        def decorator(view: Callable) -> Callable:
            @wraps(view)
            def wrapped(*args, **kwargs):
                user = current_token_user(load)
                if user is None:
                    raise ApiError(401, "unauthorized")
                if user.role not in roles:
                    raise ApiError(403, "forbidden")
                g.api_user_id = user.id  # whom the rate limits count (webapp.ratelimits)
                return view(*args, user=user, **kwargs)

            wrapped = self.fails(401, "unauthorized", description="No valid API token was sent.")(
                wrapped
            )
            allowed = ", ".join(str(role) for role in roles)
            return self.fails(403, "forbidden", description=f"Allowed for the roles: {allowed}.")(
                wrapped
            )

        return decorator


def current_token_user(load: Callable[[str], Any]) -> Any:
    """Return the user of the request's bearer token, or None (never the session's user)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return load(token.strip())
