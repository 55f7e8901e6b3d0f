"""What every sandbox service shares: its own router and error shape, request bodies, rate-limit
counters.

A service is a module with a ``PREFIX`` (``/discourse``), a ``Router`` of its routes (paths
below the prefix), and its own error shape: handlers raise :class:`ServiceError` with a ready
``Response``; the service's ``error(status, message)`` turns the router's and the store's 404
and 405 into its shape.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, parse_qsl

from releaser.sandbox.http import ApiError, Request, Response, Router

if TYPE_CHECKING:
    from releaser.sandbox.forge import Forge


class ServiceError(Exception):
    """An answer in the service's own error shape."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


@dataclass
class Service:
    """One service served below ``prefix``."""

    name: str
    prefix: str  # "/discourse"
    router: Router
    error: Callable[[int, str], Response]  # the service's error shape
    rate_limited: Callable[[str, int, str], Response]  # (path, retry_after, kind)
    decorate: Callable[[Forge, Request, Response], None] | None = None  # per-answer headers
    # paths below the prefix whose POST is a login (an OAuth token grant): it changes nothing
    # anyone sees, so the request log counts it as a read ("login": true), not a write
    logins: tuple[str, ...] = ()
    # (method, path below the prefix, body) -> whether the request can store nothing (an
    # upload without a file, as a credential probe sends): logged as a read, not a write
    stores_nothing: Callable[[str, str, bytes], bool] | None = None

    def owns(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")

    def is_login(self, path: str) -> bool:
        return path[len(self.prefix) :].rstrip("/") in self.logins

    def changes_nothing(self, method: str, path: str, body: bytes) -> bool:
        below = path[len(self.prefix) :]
        return self.stores_nothing is not None and self.stores_nothing(method, below, body)

    def handle(
        self,
        forge: Forge,
        method: str,
        raw_path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
    ) -> Response:
        from urllib.parse import unquote

        below = raw_path[len(self.prefix) :] or "/"
        route_path = "/".join(unquote(seg) for seg in below.split("/"))
        req = Request(
            method=method,
            path=route_path,
            query=dict(parse_qsl(query, keep_blank_values=True)),
            headers=headers,
            body=body,
        )
        try:
            handler, params = self.router.match(
                "GET" if method == "HEAD" else method, route_path.rstrip("/") or "/"
            )
            req.params = params
            result = handler(forge, req)
            response = result if isinstance(result, Response) else Response(200, result)
        except ServiceError as exc:
            response = exc.response
        except ApiError as exc:  # the router's 404/405, the store's 404
            response = self.error(exc.status, exc.message)
        except Exception as exc:
            print(f"sandbox {self.name}: {method} {raw_path} failed:", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            response = self.error(500, f"Internal Server Error: {exc}")
        if self.decorate is not None:
            self.decorate(forge, req, response)
        return response


# ---- request bodies -----------------------------------------------------------------------


def form(req: Request) -> dict[str, list[str]]:
    """The body's fields, each with all its values: urlencoded, JSON object or multipart
    (files are left out: :func:`multipart` has them)."""
    ctype = req.headers.get("content-type", "").lower()
    if ctype.startswith("application/json"):
        try:
            data = json.loads(req.body or b"{}")
        except ValueError:
            return {}
        if not isinstance(data, dict):
            return {}
        out: dict[str, list[str]] = {}
        for key, value in data.items():
            values = value if isinstance(value, list) else [value]
            out[key] = [v if isinstance(v, str) else json.dumps(v) for v in values]
            if isinstance(value, bool):
                out[key] = ["true" if value else "false"]
        return out
    if ctype.startswith("multipart/form-data"):
        fields, _ = multipart(req)
        return fields
    return parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True)


@dataclass
class Upload:
    filename: str
    content: bytes
    content_type: str = "application/octet-stream"


def multipart(req: Request) -> tuple[dict[str, list[str]], dict[str, Upload]]:
    """Fields and files of a ``multipart/form-data`` body."""
    head = f"Content-Type: {req.headers.get('content-type', '')}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + req.body)
    fields: dict[str, list[str]] = {}
    files: dict[str, Upload] = {}
    if not message.is_multipart():
        return fields, files
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = Upload(filename, data, part.get_content_type())
        else:
            charset = part.get_content_charset() or "utf-8"
            fields.setdefault(name, []).append(data.decode(charset, "replace"))
    return fields, files


def first(fields: dict[str, list[str]], name: str, default: str = "") -> str:
    values = fields.get(name)
    return values[0] if values else default


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def bearer(req: Request) -> str:
    """The token of ``Authorization: Bearer X`` (any case), or ""."""
    scheme, _, cred = req.headers.get("authorization", "").strip().partition(" ")
    return cred.strip() if scheme.lower() == "bearer" else ""


# ---- rate-limit counters ------------------------------------------------------------------


@dataclass
class Window:
    """A fixed window of ``limit`` requests per ``seconds``, counted per key (a token)."""

    limit: int
    seconds: int
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (start, used)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, key: str) -> tuple[int, int, float]:
        """Count one request; (used, remaining, seconds until the window resets)."""
        now = time.time()
        with self.lock:
            start, used = self.counts.get(key, (int(now), 0))
            if now >= start + self.seconds:
                start, used = int(now), 0
            used += 1
            self.counts[key] = (start, used)
        return used, max(0, self.limit - used), max(0.0, start + self.seconds - now)


def loggable_query(query: str) -> str:
    """A query string fit for the request log: credential parameters blanked (a Matrix
    client may send ``?access_token=``)."""
    if "token" not in query.lower() and "key" not in query.lower():
        return query
    from urllib.parse import urlencode

    pairs = parse_qsl(query, keep_blank_values=True)
    hidden = {"access_token", "token", "api_key", "key"}
    return urlencode([(k, "***" if k.lower() in hidden else v) for k, v in pairs])
