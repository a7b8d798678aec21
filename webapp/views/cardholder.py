"""The cardholder's digital card: no account, bound to one phone, works offline.

``/k/<key>`` is the card's unguessable link (``digital_card_url``). The first device
that opens it activates it (a POST that the page sends by itself, so link previews and
prefetching never take the card); other devices are refused politely. The page then
makes its own signing key and has it certified at ``/k/<key>/device``; from then on it
signs a fresh code every few seconds by itself, online or offline, and never shows one
that stays valid longer than ``DIGITAL_TOKEN_MAX_AGE`` (nor the printed card's code).
``/k/sw.js`` keeps the page for offline use. ``/k/<key>/uses`` shows the bound
phone, and only it, the card's last uses.
"""

from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from ..cardnumbers import format_number
from ..extensions import db
from ..models import Card, utcnow
from ..rules import today_in_finland
from ..services import digital, offers

bp = Blueprint("cardholder", __name__, url_prefix="/k")
bp.add_app_template_filter(format_number, "card_number")

DEVICE_COOKIE = "kk_device"
DEVICE_COOKIE_MAX_AGE = 10 * 365 * 24 * 3600
REFRESH_SECONDS = 20
OFFLINE_CARD_HEADER = "X-Offline-Card"  # tells the service worker which pages to keep
PNG = {"type": "image/png"}


@bp.get("/sw.js")
def service_worker():
    script = Path(current_app.static_folder, "js", "digital-card-sw.js").read_bytes()
    response = current_app.response_class(script, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/<key>")
def card(key: str):
    card = _card_or_404(key)
    secret = request.cookies.get(DEVICE_COOKIE)
    if card.digital_device is None:
        return _private(make_response(render_template("cardholder/activate.html", card=card)))
    if not digital.is_bound_device(card, secret):
        return _refused()
    device = digital.current_device(card)
    response = make_response(
        render_template(
            "cardholder/card.html",
            card=card,
            status=card.status_on(today_in_finland()).value,
            serial=device.id if device is not None else "",
            refresh_seconds=_refresh_seconds(),
        )
    )
    response.headers[OFFLINE_CARD_HEADER] = "1"
    return _private(response)


@bp.post("/<key>")
def activate(key: str):
    card = _card_or_404(key)
    secret = digital.open_on_device(card, request.cookies.get(DEVICE_COOKIE))
    db.session.commit()
    if secret is None:
        return _refused()
    response = redirect(url_for(".card", key=card.digital_key), 303)
    response.set_cookie(
        DEVICE_COOKIE,
        secret,
        max_age=DEVICE_COOKIE_MAX_AGE,
        path=bp.url_prefix + "/",
        httponly=True,
        samesite="Lax",
        secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
    )
    return _private(response)


@bp.get("/<key>/device")
def device(key: str):
    card = _bound_card(key)
    current = digital.current_device(card)
    return _device_answer(card, current.id if current is not None else None)


@bp.post("/<key>/device")
def register_device(key: str):
    card = _bound_card(key)
    data = request.get_json(silent=True)
    public_key = data.get("public_key") if isinstance(data, dict) else None
    if not isinstance(public_key, str) or len(public_key) > 100:
        public_key = ""
    try:
        device, certificate = digital.register_device(card, public_key)
    except digital.DeviceKeyError as error:
        return _private(jsonify(error=error.code, message=error.message), 422)
    db.session.commit()
    return _device_answer(card, device.id, certificate)


def _bound_card(key: str) -> Card:
    """Return the card of the link for its bound phone; answer 403 or 410 otherwise."""
    card = _card_or_404(key)
    if not digital.is_bound_device(card, request.cookies.get(DEVICE_COOKIE)):
        message = _("This card is already in use on another phone")
        abort(_private(jsonify(error="other_device", message=message), 403))
    if card.revoked:
        message = _("This card is no longer in use. Please ask the place that gave you the card.")
        abort(_private(jsonify(error="revoked", message=message), 410))
    return card


def _device_answer(card: Card, serial: int | None, certificate: bytes | None = None):
    """What the page needs to sign codes: its serial and certificate and the server's clock."""
    response = jsonify(
        serial=serial,
        generation=card.generation,
        certificate=None if certificate is None else digital.b64(certificate),
        certificate_until=digital.certificate_until(card).timestamp(),
        max_age=current_app.config["DIGITAL_TOKEN_MAX_AGE"],
        refresh_in=_refresh_seconds(),
        server_time=utcnow().timestamp(),
    )
    response.headers["Cache-Control"] = "no-store"
    return _private(response)


def _refresh_seconds() -> int:
    """Sign a new code this often: well within the window, so a shown code is always fresh."""
    return max(1, min(REFRESH_SECONDS, current_app.config["DIGITAL_TOKEN_MAX_AGE"] // 4))


@bp.get("/<key>/uses")
def uses(key: str):
    card = _card_or_404(key)
    if not digital.is_bound_device(card, request.cookies.get(DEVICE_COOKIE)):
        return _refused()
    page = render_template("cardholder/uses.html", card=card, uses=offers.own_uses(card))
    response = make_response(page)
    response.headers["Cache-Control"] = "no-store"
    return _private(response)


@bp.get("/<key>/manifest.json")
def manifest(key: str):
    card = _card_or_404(key)
    start = url_for(".card", key=card.digital_key)
    icon = "icons/icon-{}.png"
    response = jsonify(
        id=start,
        name="Kaikukortti",
        short_name="Kaikukortti",
        description=_("Your Kaikukortti card"),
        start_url=start,
        scope=start,
        display="standalone",
        orientation="portrait",
        background_color="#ffffff",
        theme_color="#00565b",
        icons=[
            {"src": url_for("static", filename=icon.format(192)), **PNG, "sizes": "192x192"},
            {"src": url_for("static", filename=icon.format(512)), **PNG, "sizes": "512x512"},
            {
                "src": url_for("static", filename="icons/maskable-512.png"),
                **PNG,
                "sizes": "512x512",
                "purpose": "maskable",
            },
        ],
    )
    response.mimetype = "application/manifest+json"
    return _private(response)


def _card_or_404(key: str) -> Card:
    card = digital.card_for_key(key)
    if card is None:
        abort(_private(make_response(render_template("cardholder/gone.html"), 404)))
    return card


def _refused() -> Response:
    return _private(make_response(render_template("cardholder/refused.html"), 403))


def _private(response: Response, status: int | None = None) -> Response:
    """Keep the card's pages out of shared caches, search engines and referrers."""
    if status is not None:
        response.status_code = status
    response.headers.setdefault("Cache-Control", "private, no-cache")
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response
