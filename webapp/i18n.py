"""Languages: Finnish by default, Swedish and English on request."""

from flask import Flask, g, request
from flask_babel import get_locale

LANGUAGES = {"fi": "Suomi", "sv": "Svenska", "en": "English"}
COOKIE = "lang"


def select_locale() -> str:
    """Return the language a page chose (``g.language``), else the switch's, else Finnish."""
    chosen = g.get("language") or request.cookies.get(COOKIE)
    return chosen if chosen in LANGUAGES else "fi"


def init_app(app: Flask) -> None:
    @app.context_processor
    def language_context() -> dict:
        return {"languages": LANGUAGES, "current_language": str(get_locale())}
