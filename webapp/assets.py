"""Static files, served small: our own JS and CSS minified, vendored files precompressed.

The scanner's first load on a phone at a door is the budget (docs/performance.md). So the
``static`` endpoint serves

* our own ``.js`` and ``.css`` (not ``js/vendor/``) minified by rjsmin and rcssmin, and to
  a browser that accepts gzip compressed with zopfli too (1.7 % smaller than a proxy's
  gzip), made once per file version and kept in memory (in debug mode, as written);
* a file with a ``.gz`` beside it (the vendored decoder, its wasm and htmx, compressed
  with zopfli by ``make vendor``: about 5 % smaller than a proxy's gzip) as that gzip
  file, to a browser that accepts gzip;
* anything else as Flask does.

All of them answer conditional requests, so the service worker's revalidation of its
precache moves no bytes when nothing changed.
"""

import hashlib
import mimetypes
from functools import lru_cache
from pathlib import Path

import rcssmin
import rjsmin
import zopfli.gzip
from flask import Flask, Response, current_app, request, send_from_directory
from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join

MINIFIERS = {".js": rjsmin.jsmin, ".css": rcssmin.cssmin}
VENDOR = "js/vendor/"


def init_app(app: Flask) -> None:
    app.view_functions["static"] = serve_static


def serve_static(filename: str) -> Response:
    folder = current_app.static_folder
    path = safe_join(folder, filename)
    if path is None or not Path(path).is_file():
        raise NotFound()
    if Path(path + ".gz").is_file():
        if request.accept_encodings["gzip"]:
            return _precompressed(folder, filename)
        response = current_app.send_static_file(filename)
        response.vary.add("Accept-Encoding")  # the same address also answers in gzip
        return response
    ours = Path(path).suffix in MINIFIERS and not filename.startswith(VENDOR)
    if ours and not current_app.debug:
        return _minified(Path(path))
    return current_app.send_static_file(filename)


def minified_text(path: Path) -> str:
    """Return the file's text minified (JS or CSS), made once per version of the file."""
    return _minify(*_version(path))[0].decode()


def _version(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path), stat.st_mtime_ns, stat.st_size


@lru_cache(maxsize=64)
def _minify(path: str, _mtime_ns: int, _size: int) -> tuple[bytes, str]:
    """Return the minified bytes and their ETag."""
    text = MINIFIERS[Path(path).suffix](Path(path).read_text(encoding="utf-8"))
    body = text.encode()
    return body, hashlib.sha256(body).hexdigest()[:20]


@lru_cache(maxsize=64)
def _compress(path: str, mtime_ns: int, size: int) -> tuple[bytes, str]:
    """Return the minified bytes compressed with zopfli (gzip), and their ETag."""
    body, etag = _minify(path, mtime_ns, size)
    return zopfli.gzip.compress(body), f"{etag}.gz"


def _minified(path: Path) -> Response:
    gzipped = bool(request.accept_encodings["gzip"])
    body, etag = (_compress if gzipped else _minify)(*_version(path))
    response = Response(body, mimetype=mimetypes.guess_type(path.name)[0])
    if gzipped:
        response.content_encoding = "gzip"
    response.vary.add("Accept-Encoding")
    response.set_etag(etag)
    response.cache_control.no_cache = True
    return response.make_conditional(request)


def _precompressed(folder: str, filename: str) -> Response:
    response = send_from_directory(folder, filename + ".gz", conditional=True)
    response.mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    response.content_encoding = "gzip"
    response.vary.add("Accept-Encoding")
    return response
