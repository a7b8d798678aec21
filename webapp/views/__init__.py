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
        paper,
        pwa,
        scanner,
        scanner_sync,
        venue,
    )
    from .apikit import init_api

    for module in (
        auth,
        distributor,
        cardholder,
        scanner,
        scanner_sync,
        coordinator,
        invite,
        venue,
        paper,
        offers,
        pwa,
    ):
        app.register_blueprint(module.bp)
    init_api(app, api.bp)
