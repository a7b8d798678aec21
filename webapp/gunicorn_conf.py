"""Gunicorn settings for production (see docs/operations.md).

Run: ``gunicorn -c python:webapp.gunicorn_conf 'webapp:create_app()'``.
The access log never holds a secret: digital-card links (``/k/<key>``), tokens in query
strings, and the Authorization and Cookie headers are redacted.
"""

import os
import re

from gunicorn.glogging import Logger

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

REDACTED = "[redacted]"
_SECRET_PATH = re.compile(r"/k/[^/?\s]+")
_SECRET_QUERY = re.compile(r"((?:token|key|invite|password)[^=&\s]*=)[^&\s]*", re.IGNORECASE)
_SECRET_HEADERS = ("{authorization}i", "{cookie}i", "{x-csrftoken}i", "{set-cookie}o")


def redact(text: str) -> str:
    """Remove secrets from a request line, path, query string or referrer."""
    text = _SECRET_PATH.sub("/k/" + REDACTED, text)
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
