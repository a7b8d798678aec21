"""static/js/decoder.js reads QR codes from the camera in Chromium on Linux.

Chromium on Linux has no native BarcodeDetector, so this exercises the vendored
`barcode-detector` ponyfill and its self-hosted ZXing wasm, the path iPhones
take too. The repo's static/ folder is served by a small local HTTP server, so
the test needs neither the Flask app nor any other host.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import qr_data_url

STATIC = Path(__file__).resolve().parents[2] / "static"

CARD_1 = "KK1:7QH2M4XR9T3WCB8ZJ6PNDF5VLS"
CARD_2 = "KK1:2ND8F4ZQ7RB3XTW9CM6HJ5PVKG"

TEST_PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>decoder test</title>
<link rel="icon" href="/static/icons/icon-192.png"></head>
<body>
<script type="module">
import { createDetector } from "/static/js/decoder.js";
window.createDetector = createDetector;
</script>
</body></html>
"""

# Start the camera, then decode frames until a code other than `previous` is
# read (or the time runs out). Returns the text and timings in milliseconds.
DECODE_JS = """
async ({ previous, timeoutMs }) => {
  const t0 = performance.now();
  if (!window.__video) {
    window.__detector = await window.createDetector();
    window.__tDetector = performance.now() - t0;
    const stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: "environment" }, audio: false,
    });
    const video = document.createElement("video");
    video.muted = true;
    video.playsInline = true;
    video.srcObject = stream;
    document.body.append(video);
    await video.play();
    window.__video = video;
  }
  const tStream = performance.now();
  let frames = 0;
  while (performance.now() - tStream < timeoutMs) {
    frames += 1;
    const codes = await window.__detector.detect(window.__video);
    const text = codes.length ? codes[0].rawValue : null;
    if (text !== null && text !== previous) {
      return {
        text, frames,
        msFromStream: performance.now() - tStream,
        msTotal: performance.now() - t0,
        msDetector: window.__tDetector,
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { text: null, frames };
}
"""


class _StaticHandler(http.server.SimpleHTTPRequestHandler):
    """Serves "/" (the test page) and /static/* from the repo's static/ folder."""

    extensions_map: ClassVar[dict[str, str]] = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".wasm": "application/wasm",
    }

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/":
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(TEST_PAGE)))
            self.end_headers()
            self.wfile.write(TEST_PAGE)
        elif path.startswith("/static/"):
            self.path = self.path[len("/static") :]
            super().do_GET()
        else:
            self.send_error(404)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # quiet test output


@pytest.fixture
def app_context():
    """Override the suite's autouse app/database fixture: no Flask app is used here."""
    yield


@pytest.fixture(scope="module")
def static_server() -> Iterator[str]:
    """Base URL of a threading HTTP server on 127.0.0.1 (random port) for static/."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(_StaticHandler, directory=str(STATIC))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_decodes_two_cards_with_self_hosted_wasm(static_server, camera_page, show_qr):
    page = camera_page(None, CARD_1)
    # Take the polyfill path even on a browser that has a native detector.
    page.add_init_script("delete window.BarcodeDetector;")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    wasm_responses = []
    page.on(
        "response",
        lambda r: wasm_responses.append(r) if r.url.endswith("/zxing_reader.wasm") else None,
    )

    t_goto = time.perf_counter()
    page.goto(static_server + "/")
    page.wait_for_function("() => typeof window.createDetector === 'function'")

    first = page.evaluate(DECODE_JS, {"previous": None, "timeoutMs": 10_000})
    t_first = time.perf_counter() - t_goto
    assert first["text"] == CARD_1, first

    show_qr(page, CARD_2)
    second = page.evaluate(DECODE_JS, {"previous": CARD_1, "timeoutMs": 10_000})
    assert second["text"] == CARD_2, second

    wasm_url = static_server + "/static/js/vendor/zxing_reader.wasm"
    assert requests.count(wasm_url) == 1, requests
    assert [(r.status, r.header_value("content-type")) for r in wasm_responses] == [
        (200, "application/wasm")
    ]
    others = [
        u for u in requests if not u.startswith(static_server + "/") and not u.startswith("data:")
    ]
    assert others == [], f"contacted another host: {others}"
    assert errors == []

    print(
        f"\nfirst decode: {first['msFromStream']:.0f} ms after the stream started "
        f"({first['frames']} frames); createDetector {first['msDetector']:.0f} ms; "
        f"{first['msTotal']:.0f} ms for createDetector + camera + first decode; "
        f"{t_first * 1000:.0f} ms from page.goto. "
        f"second card: {second['msFromStream']:.0f} ms ({second['frames']} frames)"
    )


# A camera of its own size: a canvas showing the code of `url`, `width` pixels wide,
# filmed by a <video>; then one detect() on the video and one on the canvas itself.
RESIZED_JS = """
async ({ url, width }) => {
  const image = new Image();
  image.src = url;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = Math.round(width * 3 / 4);
  const context = canvas.getContext("2d");
  const draw = () => {
    context.fillStyle = "#fff";
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.drawImage(image, (canvas.width - image.width) / 2, (canvas.height - image.height) / 2);
  };
  draw();
  const timer = setInterval(draw, 50);
  const video = document.createElement("video");
  video.muted = true;
  video.srcObject = canvas.captureStream(30);
  await video.play();
  window.__detector ??= await window.createDetector();
  try {
    let fromVideo = [];
    for (let i = 0; i < 50 && !fromVideo.length; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      fromVideo = await window.__detector.detect(video);
    }
    const fromCanvas = await window.__detector.detect(canvas);
    return {
      video: fromVideo.map((c) => c.rawValue), canvas: fromCanvas.map((c) => c.rawValue),
      size: [video.videoWidth, video.videoHeight],
    };
  } finally {
    clearInterval(timer);
  }
}
"""


def test_reads_cameras_of_any_size_one_after_the_other(static_server, browser):
    """The polyfill reads every camera's frames, whatever its size, and other sources too."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.add_init_script("delete window.BarcodeDetector;")
        page.goto(static_server + "/")
        page.wait_for_function("() => typeof window.createDetector === 'function'")
        for text, width in ((CARD_1, 640), (CARD_2, 1280), (CARD_1, 480)):
            read = page.evaluate(RESIZED_JS, {"url": qr_data_url(text), "width": width})
            assert read == {"video": [text], "canvas": [text], "size": [width, width * 3 // 4]}
    finally:
        context.close()


def test_axe_check_finds_serious_violations(browser, axe_check):
    """Smoke test of the vendored axe-core and the axe_check helper."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content(TEST_PAGE.decode())
        assert axe_check(page) == []
        page.set_content("<html><body><img src='data:,'><button></button></body></html>")
        found = {v["id"]: v["impact"] for v in axe_check(page)}
        assert {"image-alt", "button-name", "html-has-lang"} <= found.keys(), found
    finally:
        context.close()
