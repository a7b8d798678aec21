"""The cardholder's digital card: no account, bound to one phone, works offline.

``/k/<key>`` is the card's unguessable link (``digital_card_url``). The first device
that opens it activates it (a POST that the page sends by itself, so link previews and
prefetching never take the card); other devices are refused politely. The page shows a
time-limited code from ``/k/<key>/code`` while online and the printed card's code
offline; ``/k/sw.js`` keeps the page for offline use. ``/k/<key>/uses`` shows the bound
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
from ..models import Card
from ..rules import today_in_finland
from ..services import cards, digital, offers

bp = Blueprint("cardholder", __name__, url_prefix="/k")
bp.add_app_template_filter(format_number, "card_number")

DEVICE_COOKIE = "kk_device"
DEVICE_COOKIE_MAX_AGE = 10 * 365 * 24 * 3600
REFRESH_SECONDS = 30
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
    response = make_response(
        render_template(
            "cardholder/card.html",
            card=card,
            status=card.status_on(today_in_finland()).value,
            static_qr=digital.qr_svg(cards.printed_token(card), label=_("QR code of your card")),
            refresh_seconds=REFRESH_SECONDS,
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


@bp.get("/<key>/code")
def code(key: str):
    card = _card_or_404(key)
    if not digital.is_bound_device(card, request.cookies.get(DEVICE_COOKIE)):
        return _private(jsonify(error="other_device"), 403)
    if card.revoked:
        return _private(jsonify(error="revoked"), 410)
    token = cards.digital_token(card)
    response = jsonify(
        svg=digital.qr_svg(token, label=_("QR code of your card")),
        expires_in=current_app.config["DIGITAL_TOKEN_MAX_AGE"],
        refresh_in=REFRESH_SECONDS,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


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
