"""The shared, platform-neutral core: catalogue, query parser, search and handler.

Nothing here imports ``bot``, ``discord``, ``telegram`` or ``aiohttp``.
"""

from handlers.answer import Handler
from handlers.catalogue import Catalogue, CatalogueError, load, validate
from handlers.models import Facts, Field, Item, Link, Reply, Request

__all__ = [
    "Catalogue",
    "CatalogueError",
    "Facts",
    "Field",
    "Handler",
    "Item",
    "Link",
    "Reply",
    "Request",
    "load",
    "validate",
]
