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
        pwa,
        scanner,
        scanner_sync,
        venue,
    )

    for module in (
        auth,
        distributor,
        cardholder,
        scanner,
        scanner_sync,
        coordinator,
        invite,
        venue,
        pwa,
        api,
    ):
        app.register_blueprint(module.bp)
