"""Playwright fixtures for tests that drive the app in headless Chromium.

Chromium is Debian's (/usr/bin/chromium, or $KAIKU_CHROMIUM): Playwright cannot
download browsers here. A missing browser FAILS the tests that need it, it never
skips them, so a broken set-up cannot pass for a green run.

Fixtures
--------
browser
    Session-scoped ``playwright.sync_api.Browser``, headless, fresh profile.
camera_page(context_or_none, qr_text) -> Page
    Factory: a page whose camera (``navigator.mediaDevices.getUserMedia``) shows
    the QR code of ``qr_text`` (``None``: nothing) on a white 640x480 canvas. With
    ``None`` as the context a new one (camera permission granted) is made and closed
    after the test.
show_qr(page, text_or_none)
    Change the code the fake camera of ``page`` shows (``None``: an empty view).
axe_check(page) -> list[dict]
    Serious and critical WCAG 2 A/AA violations found by axe-core on the page.

``show_qr`` and ``axe_check`` are also plain functions of this module; the
fixtures of the same name return them, so tests need not import conftest.
"""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import segno
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

CHROMIUM = Path(os.environ.get("KAIKU_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe.min.js"


def qr_data_url(text: str) -> str:
    """PNG data URL of the QR code of ``text``: segno, error M, scale 8, border 4."""
    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="png", scale=8, border=4)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# Runs before any page script, in every frame. Each getUserMedia() call gets a
# new stream captured from one shared canvas; window.__setFakeQr(dataUrl|null)
# redraws that canvas (returns a Promise that resolves once the new code is
# drawn). The code shown resets to the initial one on navigation.
_FAKE_CAMERA_JS = """
(() => {
  const initial = %s;
  const W = 640, H = 480;
  let canvas = null, ctx = null, image = null;

  function draw() {
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, W, H);
    if (!image) return;
    // Native size when it fits (crisp modules), else shrink to fit the frame.
    const k = Math.min(1, (H - 20) / image.height, (W - 20) / image.width);
    const w = Math.round(image.width * k), h = Math.round(image.height * k);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(image, Math.round((W - w) / 2), Math.round((H - h) / 2), w, h);
  }

  function setFakeQr(dataUrl) {
    if (!canvas) {
      canvas = document.createElement("canvas");
      canvas.width = W;
      canvas.height = H;
      ctx = canvas.getContext("2d");
      draw();
      // Keep frames flowing even when nothing changes.
      setInterval(draw, 1000 / 15);
    }
    if (!dataUrl) {
      image = null;
      draw();
      return Promise.resolve();
    }
    const img = new Image();
    img.src = dataUrl;
    return img.decode().then(() => { image = img; draw(); });
  }

  const ready = () => (canvas ? Promise.resolve() : setFakeQr(initial));
  window.__setFakeQr = (dataUrl) => ready().then(() => setFakeQr(dataUrl));

  const md = navigator.mediaDevices;
  if (!md) return;  // not a secure context: no camera API to fake
  md.getUserMedia = async (constraints) => {
    if (constraints && !constraints.video) {
      throw new DOMException("The fake camera has video only", "NotFoundError");
    }
    await ready();
    return canvas.captureStream(30);
  };
  const realEnumerate = md.enumerateDevices.bind(md);
  md.enumerateDevices = async () => {
    const devices = (await realEnumerate()).filter((d) => d.kind !== "videoinput");
    const camera = {
      deviceId: "fake-qr-camera", groupId: "fake-qr-camera",
      kind: "videoinput", label: "Fake QR camera",
    };
    camera.toJSON = () => ({ ...camera });
    return [...devices, camera];
  };
})();
"""


def show_qr(page: Page, text: str | None) -> None:
    """Make the fake camera of ``page`` show the QR code of ``text`` (None: nothing).

    Returns once the new code is on the canvas; the next video frame shows it.
    Applies to the current document: after a navigation the page's initial
    code from ``camera_page`` is shown again.
    """
    page.evaluate("(url) => window.__setFakeQr(url)", qr_data_url(text) if text else None)


def axe_check(page: Page) -> list[dict]:
    """Run axe-core's WCAG 2 A and AA rules; return the serious and critical violations.

    axe is evaluated through the DevTools protocol rather than a <script> tag,
    so a Content-Security-Policy on the page does not block it.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    results = page.evaluate("() => axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})")
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "targets": [node["target"] for node in v["nodes"]],
        }
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install it with `apt-get install -y chromium` "
            "(or set KAIKU_CHROMIUM). Browser tests fail rather than skip without it.",
            pytrace=False,
        )
    with sync_playwright() as pw:
        # launch() gives every run a new temporary profile, removed on close.
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def camera_page(browser: Browser) -> Iterator[Callable[[BrowserContext | None, str], Page]]:
    made: list[BrowserContext] = []

    def make(context: BrowserContext | None, qr_text: str | None) -> Page:
        if context is None:
            context = browser.new_context(permissions=["camera"])
            made.append(context)
        page = context.new_page()
        initial = qr_data_url(qr_text) if qr_text else None  # None: an empty view
        page.add_init_script(_FAKE_CAMERA_JS % json.dumps(initial))
        return page

    yield make
    for context in made:
        context.close()


@pytest.fixture(name="show_qr")
def show_qr_fixture() -> Callable[[Page, str | None], None]:
    return show_qr


@pytest.fixture(name="axe_check")
def axe_check_fixture() -> Callable[[Page], list[dict]]:
    return axe_check
