"""One blueprint per audience."""

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from . import auth, coordinator, distributor, pwa, scanner

    for module in (auth, distributor, scanner, coordinator, pwa):
        app.register_blueprint(module.bp)
