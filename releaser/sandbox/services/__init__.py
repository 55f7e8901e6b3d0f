"""The other services a release talks to, served by the sandbox on the forge's port.

URL layout (``base`` is the sandbox's ``http://host:port``), with the ``SandboxServer.info()``
key of each base URL::

    base/_matrix/client/...            Matrix client-server API   matrix_url = base
    base/discourse/...                 Discourse API, topic pages discourse_url
    base/reddit/...                    Reddit OAuth API (praw)    reddit_url
    base/discord/api/webhooks/{id}/{t} Discord webhooks           discord_url = base/discord/api
    base/pypi/legacy/                  PyPI upload API (twine)    pypi_upload_url
    base/pypi/{project}[/{v}]/json     PyPI JSON API              pypi_url = base
    base/pypi/simple/{project}/        PyPI simple index (pip)    pypi_simple_url
    base/pypi/packages/...             uploaded files

Each keeps its state in the sandbox root (the forge's document store, files under
``ROOT/pypi``), answers with the real service's shapes, errors and rate-limit headers, and
is seen like the forge by the request log and the admin faults (a ``rate_limit`` fault
answers in the service's own rate-limit shape). Each module documents its endpoints and its
admin API (``/_admin/matrix/...``, ``/_admin/discourse/...``, ``/_admin/reddit/...``,
``/_admin/discord/...``, ``/_admin/pypi/...``) for tests and the demo to create users,
rooms, categories, subreddits, webhooks and tokens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from releaser.sandbox.services import discord, discourse, matrix, pypi, reddit
from releaser.sandbox.services.common import Service, loggable_query

if TYPE_CHECKING:
    from releaser.sandbox.forge import Forge
    from releaser.sandbox.http import Response

SERVICES: tuple[Service, ...] = (
    matrix.SERVICE,
    discourse.SERVICE,
    reddit.SERVICE,
    discord.SERVICE,
    pypi.SERVICE,
)

__all__ = [
    "SERVICES",
    "dispatch",
    "is_login",
    "loggable_path",
    "loggable_query",
    "rate_limited",
    "stores_nothing",
    "urls",
]


def loggable_path(path: str) -> str:
    """A path fit for the request log: a Discord webhook's token (the credential is in the
    URL) is blanked."""
    return discord.loggable_path(path) if discord.SERVICE.owns(path) else path


def is_login(path: str) -> bool:
    """Whether ``path`` is a service's login (an OAuth token grant): logged as a read."""
    service = _owner(path)
    return service is not None and service.is_login(path)


def stores_nothing(method: str, path: str, body: bytes) -> bool:
    """Whether a request to a service can store nothing (a probe): logged as a read."""
    service = _owner(path)
    return service is not None and service.changes_nothing(method, path, body)


def _owner(path: str) -> Service | None:
    return next((s for s in SERVICES if s.owns(path)), None)


def dispatch(
    forge: Forge, method: str, raw_path: str, query: str, headers: dict[str, str], body: bytes
) -> Response | None:
    """The service's answer to a request below one of their prefixes, else None."""
    service = _owner(raw_path)
    if service is None:
        return None
    return service.handle(forge, method, raw_path, query, headers, body)


def rate_limited(path: str, retry_after: int, kind: str) -> Response | None:
    """A ``rate_limit`` fault's answer in the shape of the service owning ``path``."""
    service = _owner(path)
    return None if service is None else service.rate_limited(path, retry_after, kind)


def urls(base_url: str) -> dict[str, str]:
    """The services' base URLs (merged into ``SandboxServer.info()``)."""
    base = base_url.rstrip("/")
    return {
        "matrix_url": base,
        "discourse_url": base + discourse.PREFIX,
        "reddit_url": base + reddit.PREFIX,
        "discord_url": base + discord.PREFIX + "/api",
        "pypi_url": base,
        "pypi_upload_url": base + pypi.PREFIX + "/legacy/",
        "pypi_simple_url": base + pypi.PREFIX + "/simple/",
    }
