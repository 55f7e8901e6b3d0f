"""The sandbox forge's small HTTP toolkit: requests, responses, GitHub-shaped errors, routing.

Handlers are plain functions registered on the module-level ``ROUTER``::

    @ROUTER.route("GET", "/repos/{owner}/{repo}/issues/{number}")
    def get_issue(forge: Forge, req: Request) -> Response: ...

A route below ``/repos/{owner}/{repo}`` states the role its caller needs on that repository
(``access``): by default ``read`` for GET and ``write`` for any other method; the server
checks it before the handler runs (404 without access, 403 with ``denied`` below it).

``{name}`` matches one path segment, ``{name:path}`` matches the rest of the path (slashes
included). Paths are relative to ``/api/v3`` (the REST prefix) and are URL-decoded per
segment before matching.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

if TYPE_CHECKING:
    from releaser.sandbox.forge import Forge

DOCS = "https://docs.github.com/rest"


@dataclass
class Request:
    method: str
    path: str  # below the API prefix, e.g. "/repos/o/r/issues"
    query: dict[str, str]  # first value of each parameter
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)  # filled from the route pattern
    user: str | None = None  # authenticated login

    def json(self) -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise ApiError(400, "Problems parsing JSON") from exc

    def int_query(self, name: str, default: int) -> int:
        try:
            return int(self.query.get(name, default))
        except ValueError as exc:
            raise ApiError(422, f"Invalid value for parameter '{name}'") from exc


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-serialisable, or bytes (sent as is)
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"
    reason: str | None = None  # the status line's reason phrase (PyPI puts messages there)

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


class ApiError(Exception):
    """An error answered in GitHub's shape: ``{message, documentation_url[, errors]}``."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}

    def response(self) -> Response:
        body: dict[str, Any] = {"message": self.message, "documentation_url": DOCS}
        if self.errors is not None:
            body["errors"] = self.errors
        body["status"] = str(self.status)
        return Response(self.status, body, dict(self.headers))


def not_found() -> ApiError:
    return ApiError(404, "Not Found")


def validation_failed(resource: str, code: str, field_name: str, **extra: Any) -> ApiError:
    """422 as GitHub answers it.

    E.g. ``validation_failed("Release", "already_exists", "tag_name")``.
    """
    error = {"resource": resource, "code": code, "field": field_name, **extra}
    return ApiError(422, "Validation Failed", [error])


Handler = Callable[["Forge", Request], "Response | Any"]


NO_ACCESS = "Resource not accessible by personal access token"


@dataclass
class Route:
    method: str
    pattern: str
    regex: re.Pattern[str]
    handler: Handler
    access: str  # role needed on {owner}/{repo}; "" when the route checks nothing itself
    denied: str  # the 403 message when the caller's role is too weak

    @property
    def repo_scoped(self) -> bool:
        return self.pattern.startswith(("/repos/{owner}/{repo}", "/uploads/repos/{owner}/{repo}"))


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def route(
        self, method: str, pattern: str, access: str | None = None, denied: str = NO_ACCESS
    ) -> Callable[[Handler], Handler]:
        regex = self._compile(pattern)
        method = method.upper()
        if access is None:
            access = "read" if method in ("GET", "HEAD") else "write"

        def register(handler: Handler) -> Handler:
            self.routes.append(Route(method, pattern, regex, handler, access, denied))
            return handler

        return register

    @staticmethod
    def _compile(pattern: str) -> re.Pattern[str]:
        def group(m: re.Match[str]) -> str:
            name, _, kind = m.group(1).partition(":")
            return f"(?P<{name}>.+)" if kind == "path" else f"(?P<{name}>[^/]+)"

        return re.compile("^" + re.sub(r"\{([^}]+)\}", group, pattern) + "/?$")

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        route, params = self.match_route(method, path)
        return route.handler, params

    def match_route(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route and path parameters; ApiError 404 (or 405 if only the method is wrong).

        Literal routes win over parameterised ones (``releases/latest`` before
        ``releases/{id}``): routes are tried in order of fewest parameters, routes with a
        greedy ``{name:path}`` after all others (``commits/{ref}/status`` before
        ``commits/{ref:path}``), and of two otherwise alike the one with more literal text
        first (``commits/{ref:path}/status`` before ``commits/{ref:path}``).
        """
        allowed = False
        order = sorted(self.routes, key=_specificity)
        for route in order:
            m = route.regex.match(path)
            if not m:
                continue
            if route.method != method.upper():
                allowed = True
                continue
            return route, m.groupdict()
        if allowed:
            raise ApiError(405, "Method Not Allowed")
        raise not_found()


def _specificity(route: Route) -> tuple[int, int, int]:
    literal = len(re.sub(r"\{[^}]+\}", "", route.pattern))
    return route.pattern.count(":path}"), route.pattern.count("{"), -literal


ROUTER = Router()


def paginate(forge: Forge, req: Request, items: list[Any], key: str | None = None) -> Response:
    """Answer one page of ``items`` with GitHub's ``Link`` header (``per_page``, ``page``).

    With ``key`` the page is wrapped as ``{"total_count": N, key: [...]}`` (the shape of
    workflow runs, jobs, check runs, ...).
    """
    per_page = max(1, min(100, req.int_query("per_page", 30)))
    page = max(1, req.int_query("page", 1))
    last = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    links = []

    def link(p: int, rel: str) -> str:
        query = {**req.query, "per_page": str(per_page), "page": str(p)}
        return f'<{forge.api_url}{req.path}?{urlencode(query)}>; rel="{rel}"'

    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        links += [link(1, "first"), link(page - 1, "prev")]
    headers = {"Link": ", ".join(links)} if links else {}
    body: Any = {"total_count": len(items), key: chunk} if key else chunk
    return Response(200, body, headers)


def bool_query(req: Request, name: str) -> bool | None:
    value = req.query.get(name)
    return None if value is None else value.lower() in ("1", "true", "yes")


def pick(mapping: dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    return {k: mapping[k] for k in keys if k in mapping}


# ---- request helpers shared by the API modules -------------------------------------------


def full_name(forge: Forge, req: Request) -> str:
    """The canonical ``owner/name`` of the request's repository (404 if it does not exist)."""
    return str(forge.repo(req.params["owner"], req.params["repo"])["full_name"])


def body_dict(req: Request) -> dict[str, Any]:
    """The JSON body, which must be an object."""
    data = req.json()
    if not isinstance(data, dict):
        raise ApiError(400, "Problems parsing JSON")
    return data


def require_str(data: dict[str, Any], key: str, resource: str) -> str:
    """``data[key]``, a non-empty string, else GitHub's 422 ``missing_field``."""
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise validation_failed(resource, "missing_field", key)
    return value
