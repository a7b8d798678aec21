"""One blueprint per audience."""

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from . import (
        api,
        auth,
        cardholder,
        coordinator,
        distributor,
        invite,
        offers,
        pwa,
        scanner,
        venue,
    )

    for module in (
        auth,
        distributor,
        cardholder,
        scanner,
        coordinator,
        invite,
        venue,
        offers,
        pwa,
        api,
    ):
        app.register_blueprint(module.bp)
