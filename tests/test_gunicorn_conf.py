from datetime import timedelta
from types import SimpleNamespace

from gunicorn.config import Config

from webapp.gunicorn_conf import RedactingLogger, redact


def test_digital_card_links_and_query_tokens_are_redacted():
    assert (
        redact("GET /k/Zx9_secret-key/code?x=1 HTTP/1.1") == "GET /k/[redacted]/code?x=1 HTTP/1.1"
    )
    assert redact("token=abc.def&lang=fi") == "token=[redacted]&lang=fi"


def test_access_log_atoms_hold_no_secret():
    logger = RedactingLogger(Config())
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/k/secret-key?token=K7MX4PQ2D.1.sig",
        "PATH_INFO": "/k/secret-key",
        "QUERY_STRING": "token=K7MX4PQ2D.1.sig",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": "https://example.fi/k/secret-key",
    }
    request = SimpleNamespace(
        headers=[("AUTHORIZATION", "Bearer kk_secret"), ("COOKIE", "session=secret")]
    )
    response = SimpleNamespace(status="200 OK", sent=10, headers=[])
    atoms = logger.atoms(response, request, environ, timedelta(milliseconds=5))
    text = " ".join(str(value) for value in atoms.values())
    for secret in ("secret-key", "K7MX4PQ2D", "kk_secret", "session=secret"):
        assert secret not in text
