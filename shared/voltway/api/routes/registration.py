"""What ``functions/api/app.py`` registers: the conventions middleware and the blueprints."""

from __future__ import annotations

from chalice.app import Chalice

from voltway.api.conventions import conventions_middleware
from voltway.api.routes.docs import docs_blueprint
from voltway.api.routes.sites import sites_blueprint
from voltway.api.routes.stations import stations_blueprint


def register_conventions(app: Chalice) -> None:
    """Signed cursors and the one error shape on every route of ``app`` (also routes added later)."""
    app.register_middleware(conventions_middleware(), "http")


__all__ = ["docs_blueprint", "register_conventions", "sites_blueprint", "stations_blueprint"]
