"""Gunicorn settings for production (see docs/operations.md).

Run: ``gunicorn -c python:webapp.gunicorn_conf 'webapp:create_app()'``.
The access log never holds a secret: digital-card keys (``/k/<key>``), invitation and
password-reset tokens (``/invite/<token>``), card numbers (``/cards/<number>``, ``number=``),
tokens in query strings, in path, query or Referer, also percent-encoded inside another
parameter (``/language/en?next=/invite/<token>``); the Authorization and Cookie headers too.
"""

import os
import re
from urllib.parse import unquote

from gunicorn.glogging import Logger

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

REDACTED = "[redacted]"
_SECRET_PATH = re.compile(r"/(k|invite|cards)/[^/?&#\s\"]+")
_SECRET_QUERY = re.compile(
    r"((?:token|key|invite|password|number)[^=&\s]*=)[^&\s\"]*", re.IGNORECASE
)
_SECRET_HEADERS = ("{authorization}i", "{cookie}i", "{x-csrftoken}i", "{set-cookie}o")


def redact(text: str) -> str:
    """Remove secrets from a request line, path, query string or referrer."""
    for _ in range(3):  # a link inside a parameter may be encoded more than once
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    text = _SECRET_PATH.sub(r"/\1/" + REDACTED, text)
    return _SECRET_QUERY.sub(r"\1" + REDACTED, text)


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {
            name: REDACTED
            if name in _SECRET_HEADERS
            else redact(value)
            if isinstance(value, str)
            else value
            for name, value in atoms.items()
        }


logger_class = RedactingLogger
