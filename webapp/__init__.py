"""Kaikukortti: card issuing, door validation and statistics for the culture card."""

from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config
from .extensions import babel, csrf, db, limiter, login_manager, migrate

PACKAGE = Path(__file__).resolve().parent
# templates/, static/ and migrations/ sit beside the package in the checkout (an editable
# install) and inside it in the wheel (setup.py copies them there).
ROOT = PACKAGE if (PACKAGE / "templates").is_dir() else PACKAGE.parent


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure the Kaikukortti app.

    Its instance folder (the SQLite database, generated secrets) is Flask's default:
    instance/ in the checkout, <prefix>/var/webapp-instance for an installed wheel.
    """
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    # JSON put in a page (|tojson: the scanner's words) keeps ä and ö as they are, not \u00e4.
    app.jinja_env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}
    app.config.from_mapping(config.from_environment(Path(app.instance_path)))
    if test_config:
        app.config.from_mapping(test_config)

    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    db.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=str(ROOT / "migrations"),
        compare_type=True,
        render_as_batch=True,
        render_item=render_migration_item,
    )
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)

    from . import i18n

    babel.init_app(
        app,
        locale_selector=i18n.select_locale,
        default_translation_directories=str(PACKAGE / "translations"),
    )
    i18n.init_app(app)

    from . import errors, security

    security.init_app(app)
    errors.init_app(app)

    from . import assets
    from .views import register_blueprints

    assets.init_app(app)
    register_blueprints(app)

    from .cli import register_commands

    register_commands(app)
    return app


def render_migration_item(type_: str, obj, autogen_context):
    """Write the project's column types into migrations as plain SQLAlchemy types."""
    from .models import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


@event.listens_for(Engine, "connect")
def _sqlite_foreign_keys(dbapi_connection, _record) -> None:
    """Make SQLite enforce foreign keys like PostgreSQL does."""
    if type(dbapi_connection).__module__ == "sqlite3":
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
