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


class AccessLogRecorder:
    """WSGI middleware: keep each request's environ and status, as gunicorn would log them."""

    def __init__(self, app):
        self.app, self.requests = app, []

    def __call__(self, environ, start_response):
        def recording_start_response(status, headers, exc_info=None):
            self.requests.append((dict(environ), status, headers))
            return start_response(status, headers, exc_info)

        return self.app(environ, recording_start_response)


def _production_access_log(requests, path) -> str:
    """Write the requests through gunicorn's logger with the production settings."""
    from webapp import gunicorn_conf

    config = Config()
    for name in ("accesslog", "logger_class", "forwarded_allow_ips"):
        config.set(name, getattr(gunicorn_conf, name))
    config.set("accesslog", str(path))
    logger = config.logger_class(config)
    for environ, status, headers in requests:
        environ.setdefault("RAW_URI", environ["PATH_INFO"])
        request = SimpleNamespace(
            headers=[(k[5:].replace("_", "-"), v) for k, v in environ.items() if k[:5] == "HTTP_"]
        )
        response = SimpleNamespace(status=status, sent=0, headers=headers)
        logger.access(response, request, environ, timedelta(milliseconds=3))
    for handler in logger.access_log.handlers:
        handler.flush()
    return path.read_text()


def test_the_access_log_of_a_walk_through_the_pages_holds_no_secret(app, demo_cards, tmp_path):
    import re

    from webapp.extensions import db
    from webapp.models import Card, Region, User

    from .conftest import Client

    recorder = AccessLogRecorder(app.wsgi_app)
    app.wsgi_app = recorder
    try:
        coordinator, staff, phone = Client(app), Client(app), Client(app)
        coordinator.sign_in("koordinaattori@example.fi")
        region = db.session.scalar(db.select(Region).filter_by(code="pohjois-savo"))
        invited = coordinator.post(
            "/coordinator/people/new",
            data={"email": "uusi@example.fi", "role": "coordinator", "region": region.id},
        )
        invite = re.search(r"/invite/([^\"]+)\"", invited.text).group(1)
        ovi = db.session.scalar(db.select(User).filter_by(email="ovi@example.fi"))
        reset_page = coordinator.post(f"/coordinator/people/{ovi.id}/reset")
        reset = re.search(r"/invite/([^\"]+)\"", reset_page.text).group(1)
        number = demo_cards["active"]
        key = db.session.scalar(db.select(Card).filter_by(number=number)).digital_key

        staff.get(f"/invite/{invite}")
        staff.get(f"/language/sv?next=/invite/{invite}")
        staff.get("/language/en?next=%2Finvite%2F" + reset)
        staff.get(f"/invite/{reset}", headers={"Referer": f"http://localhost/invite/{invite}"})
        staff.sign_in("jakaja@example.fi")
        home = "http://localhost/distributor/"
        staff.get(f"/distributor/find?number={number}", headers={"Referer": home})
        card_page = f"http://localhost/distributor/cards/{number}"
        staff.get(f"/distributor/cards/{number}", headers={"Referer": home})
        staff.get(f"/distributor/cards/{number}/handover", headers={"Referer": card_page})
        phone.get(f"/k/{key}", headers={"Referer": f"{card_page}/handover"})
        phone.get(f"/k/{key}/code")
    finally:
        app.wsgi_app = recorder.app

    log = _production_access_log(recorder.requests, tmp_path / "access.log")
    assert len(log.splitlines()) == len(recorder.requests) > 10
    assert "/distributor/cards/[redacted]/handover" in log
    for secret in (invite, reset, key, number, number.lower()):
        assert secret not in log
