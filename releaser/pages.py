"""A web page is its path and query: the same page whatever the scheme and host say.

A forge or a forum may move to another address, or be reached over http and https. A post
that links the release, or release notes that link the forum's topic, still count as linking
that page (``/o/r/releases/tag/v1.2.0``, ``/t/slug/42``), so nothing is posted twice.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit


def page(url: str) -> str:
    """``url``'s path (without a trailing slash) and query: what names the page."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    return f"{path}?{parts.query}" if parts.query else path


def same_page(a: str, b: str) -> bool:
    """Whether two URLs name the same page."""
    return page(a) == page(b)


def links_to(body: str, url: str) -> bool:
    """Whether ``body`` links ``url``'s page, at whatever address (not a longer path that
    begins with it: ``/t/slug/42`` is not ``/t/slug/421``)."""
    name = page(url)
    return bool(name) and re.search(re.escape(name) + r"(?![\w-])", body) is not None
