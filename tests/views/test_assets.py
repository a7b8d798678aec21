"""Static files are served small: our JS and CSS minified, the vendored files precompressed."""

import gzip

import pytest

from webapp import ROOT

STATIC = ROOT / "static"
PRECOMPRESSED = sorted(STATIC.glob("js/vendor/**/*.gz"))


def test_our_scripts_and_styles_are_served_minified_and_revalidate(client):
    for name, kept in (("js/scanner.js", "createDetector"), ("css/scanner.css", ".verdict")):
        source = (STATIC / name).read_text()
        response = client.get(f"/static/{name}")
        assert response.status_code == 200
        assert kept in response.text and "\n  " not in response.text
        assert len(response.data) < 0.9 * len(source.encode())
        again = client.get(f"/static/{name}", headers={"If-None-Match": response.headers["ETag"]})
        assert again.status_code == 304 and again.data == b""
    assert client.get("/static/js/scanner.js").mimetype == "text/javascript"
    assert client.get("/static/css/scanner.css").mimetype == "text/css"


def test_a_browser_accepting_gzip_gets_our_files_minified_and_zopfli_compressed(client):
    for name in ("js/scanner.js", "css/scanner.css"):
        plain = client.get(f"/static/{name}")
        gzip_accepted = {"Accept-Encoding": "gzip, deflate, br"}
        response = client.get(f"/static/{name}", headers=gzip_accepted)
        assert response.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in response.headers["Vary"]
        assert response.mimetype == plain.mimetype
        assert gzip.decompress(response.data) == plain.data
        assert len(response.data) < len(gzip.compress(plain.data, 6))  # a proxy's gzip
        assert response.headers["ETag"] != plain.headers["ETag"]
        again = client.get(
            f"/static/{name}",
            headers={**gzip_accepted, "If-None-Match": response.headers["ETag"]},
        )
        assert again.status_code == 304 and again.data == b""
        other = client.get(f"/static/{name}", headers={"If-None-Match": response.headers["ETag"]})
        assert other.status_code == 200 and other.data == plain.data


def test_the_service_worker_is_served_minified(client):
    text = client.get("/sw.js").text
    assert text.startswith("self.KAIKU_SW = ")
    assert "addEventListener(" in text and "// " not in text


def test_in_debug_mode_scripts_are_served_as_written(app, client):
    app.debug = True
    try:
        assert client.get("/static/js/scanner.js").data == (STATIC / "js/scanner.js").read_bytes()
    finally:
        app.debug = False


def test_each_precompressed_file_is_its_source_compressed():
    # `make vendor` writes them; a re-vendored file without its .gz must not slip through
    assert {path.with_suffix("").name for path in PRECOMPRESSED} >= {
        "zxing_reader.wasm",
        "htmx.min.js",
        "zxing-exported.js",
    }
    for path in PRECOMPRESSED:
        assert gzip.decompress(path.read_bytes()) == path.with_suffix("").read_bytes(), path


@pytest.mark.parametrize("path", PRECOMPRESSED, ids=lambda path: path.name)
def test_a_browser_accepting_gzip_gets_the_precompressed_file(client, path):
    name = path.relative_to(STATIC).with_suffix("").as_posix()
    response = client.get(f"/static/{name}", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert response.data == path.read_bytes()
    assert response.mimetype in ("application/wasm", "text/javascript")
    again = client.get(
        f"/static/{name}",
        headers={"Accept-Encoding": "gzip", "If-None-Match": response.headers["ETag"]},
    )
    assert again.status_code == 304


def test_a_client_without_gzip_gets_the_file_itself(client):
    response = client.get("/static/js/vendor/zxing_reader.wasm")
    assert "Content-Encoding" not in response.headers
    assert "Accept-Encoding" in response.headers["Vary"]
    assert response.data == (STATIC / "js/vendor/zxing_reader.wasm").read_bytes()


def test_an_unknown_or_escaping_static_path_is_404(client):
    assert client.get("/static/js/nothing.js").status_code == 404
    assert client.get("/static/../webapp/config.py").status_code == 404
