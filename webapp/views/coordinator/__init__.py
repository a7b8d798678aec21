"""The regional coordinator: the network (regions, venues, distributors, events, people),
its statistics and the audit log.

A coordinator acts only inside their region, a national admin everywhere. Every lookup
goes through a ``*_visible_to`` query of :mod:`webapp.services.network`, so another
region's venue or person is simply not found (404). Lists that filter (statistics, audit
log) answer htmx requests with their results fragment only (``Vary: HX-Request``).
"""

from . import people, places, reports  # noqa: F401  (each registers its views on bp)
from .base import bp

__all__ = ["bp"]
