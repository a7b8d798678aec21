"""Languages: Finnish by default, Swedish and English on request."""

from flask import Flask, request
from flask_babel import get_locale

LANGUAGES = {"fi": "Suomi", "sv": "Svenska", "en": "English"}
COOKIE = "lang"
PAGE_CHOICE = "kaikukortti.language"  # set by a page that chooses its own language


def choose_for_page(language: str) -> None:
    """Make the current request's pages speak the language, whatever the cookie says."""
    request.environ[PAGE_CHOICE] = language


def select_locale() -> str:
    """Return the language the page chose, else the language switch's, else Finnish."""
    chosen = request.environ.get(PAGE_CHOICE) or request.cookies.get(COOKIE)
    return chosen if chosen in LANGUAGES else "fi"


def init_app(app: Flask) -> None:
    @app.context_processor
    def language_context() -> dict:
        return {"languages": LANGUAGES, "current_language": str(get_locale())}
