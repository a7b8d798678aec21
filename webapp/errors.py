"""Error pages in the user's language; JSON bodies of the contract's form under /api/."""

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from .extensions import db


def _message(error: HTTPException) -> str:
    if isinstance(error, CSRFError):
        return _("The page had expired. Go back, reload the page and try again.")
    return {
        400: _("The request could not be understood."),
        403: _("You do not have access to this page."),
        404: _("The page was not found."),
        405: _("The request could not be understood."),
        413: _("The request is too large."),
        415: _("The request could not be understood."),
        429: _("Too many attempts. Wait a moment and try again."),
    }.get(error.code, _("Something went wrong. Please try again in a moment."))


def _code(error: HTTPException) -> str:
    return {
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        413: "request_too_large",
        415: "unsupported_media_type",
        429: "rate_limited",
    }.get(error.code, "server_error")


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        message = _message(error)
        if request.path.startswith("/api/"):
            return jsonify(error=_code(error), message=message), error.code
        return render_template("error.html", message=message), error.code

    @app.errorhandler(OperationalError)
    def database_unavailable(error: DBAPIError):
        """The database is restarting or out of reach: ask the client to retry."""
        db.session.rollback()
        message = _("The service is briefly unavailable. Try again in a moment.")
        if request.path.startswith("/api/"):
            response = jsonify(error="unavailable", message=message)
        else:
            response = render_template("error.html", message=message)
        return response, 503, {"Retry-After": "2"}

    @app.errorhandler(500)
    def server_error(error):
        message = _("Something went wrong. Please try again in a moment.")
        if request.path.startswith("/api/"):
            return jsonify(error="server_error", message=message), 500
        return render_template("error.html", message=message), 500
