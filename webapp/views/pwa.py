"""Site-root resources: the health check and the service worker of the installable scanner.

The service worker lives in static/sw.js but is served from /sw.js so that its scope
covers the whole site (and so /scan). Its first line names the files it precaches and
a version made from their contents: any change to one of them changes /sw.js, and the
browser installs the new worker, which the page then offers to load.
"""

import hashlib
import json
from functools import cache
from pathlib import Path

from flask import Blueprint, current_app, jsonify, make_response, request, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .. import assets
from ..extensions import db
from ..i18n import LANGUAGES

bp = Blueprint("pwa", __name__)

# The scanner's shell: everything /scan needs to start with no network.
PRECACHE = (
    "css/app.css",
    "css/scanner.css",
    "js/app.js",
    "js/vendor/htmx.min.js",
    "js/offline-queue.js",
    "js/scanner.js",
    "js/scanner-ui.js",
    "js/wedge.js",
    "js/offline-verdict.js",
    "js/cardnumber.js",
    "js/pwa.js",
    "js/decoder.js",
    "js/vendor/barcode-detector/ponyfill.js",
    "js/vendor/barcode-detector/zxing-exported.js",
    "js/vendor/zxing_reader.wasm",
    "icons/favicon-32.png",
)
SERVICE_WORKER = "sw.js"
MANIFEST = "manifest.json"  # the scanner's web app manifest, its texts in Finnish


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="unavailable"), 503
    return jsonify(status="ok")


@bp.get("/sw.js")
def service_worker():
    static = Path(current_app.static_folder)
    settings = {
        "version": service_worker_version(),
        "precache": [url_for("static", filename=name) for name in PRECACHE],
        "urls": {
            "scan": url_for("scanner.scan"),
            "session": url_for("scanner_sync.session_info"),
            "sync": url_for("scanner_sync.sync"),
            "undo": url_for("scanner_sync.undo"),
            "signOut": url_for("auth.sign_out"),
        },
        "offlineQueue": url_for("static", filename="js/offline-queue.js"),
    }
    worker = static / SERVICE_WORKER
    script = worker.read_text() if current_app.debug else assets.minified_text(worker)
    body = f"self.KAIKU_SW = {json.dumps(settings)};\n" + script
    response = make_response(body)
    response.headers["Content-Type"] = "text/javascript; charset=utf-8"
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache, max-age=0"
    return response


def service_worker_version() -> str:
    """Return a short hash of the service worker and the files it precaches."""
    static = Path(current_app.static_folder)
    files = [static / SERVICE_WORKER, *(static / name for name in PRECACHE)]
    return _version(tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files))


@cache
def _version(files: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for path, _mtime, _size in files:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:12]


@bp.get("/manifest.webmanifest")
def manifest():
    """Serve the scanner's manifest in the language asked for (?lang=), or the user's."""
    language = request.args.get("lang")
    if language not in LANGUAGES:
        language = str(get_locale())
    body = json.loads((Path(current_app.static_folder) / MANIFEST).read_text())
    with force_locale(language):
        body |= {
            "lang": language,
            "name": _("Kaikukortti – door"),
            "short_name": "Kaikukortti",
            "description": _(
                "Checking Kaikukortti cards and recording visits at the door, also offline."
            ),
        }
    response = make_response(json.dumps(body, ensure_ascii=False))
    response.mimetype = "application/manifest+json"
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
