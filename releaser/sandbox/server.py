"""The sandbox forge's HTTP server: GitHub's REST API, git smart HTTP, the admin API.

URL layout (``base`` is ``http://host:port``)::

    base/api/v3/X        REST (ROUTER path ``X``), token auth
    base/api/graphql     GraphQL (ROUTER path ``/graphql``; also base/api/v3/graphql)
    base/api/uploads/X   uploads (ROUTER path ``/uploads/X``), token auth
    base/_admin/X        admin (ROUTER path ``/_admin/X``), no auth, no faults
    base/git/O/R.git/... git smart HTTP (public reads anonymous; pushes need a token)
    base/_matrix/, base/discourse/, base/reddit/, base/discord/, base/pypi/
                         other services (``releaser.sandbox.services``), their own auth

Every token belongs to a user (:mod:`releaser.sandbox.people`); a route below
``/repos/{owner}/{repo}`` is served only to a caller with the role it states (404 without
access, 403 with too little), before its handler runs.
    base/X               web pages and downloads (ROUTER path ``/web/X``), no auth

``python -m releaser.sandbox.server --root DIR [--host H] [--port P]`` runs ``serve``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import importlib
import json
import re
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote

from releaser.sandbox import admin, git_http, gitdata, people, services
from releaser.sandbox.forge import Forge
from releaser.sandbox.http import DOCS, ROUTER, ApiError, Request, Response
from releaser.sandbox.people import Identity

GRAPHQL_PATHS = ("/api/graphql", "/api/v3/graphql")
API_MODULES = (
    "api_repos",
    "api_contents",
    "api_git",
    "api_issues",
    "api_pulls",
    "api_releases",
    "api_actions",
    "api_checks",
    "api_people",
    "api_statuses",
    "api_protection",
    "api_graphql",
)
# The modules that register forge hooks (forge.py), loaded whether or not an API module
# imports them: lower modules reach them through their hooks only (e.g. ``effects``).
HOOK_MODULES = ("actions", "effects", "automerge")
RATE_LIMIT = 5000
MEDIA_TYPE = "github.v3; format=json"


_COMMENTS = re.compile(r"#[^\n]*")


def is_mutation(body: bytes) -> bool:
    """Whether a GraphQL request body asks for a mutation (a write), without parsing it."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return False
    query = data.get("query") if isinstance(data, dict) else None
    if not isinstance(query, str):
        return False
    text = _COMMENTS.sub("", query)
    name = data.get("operationName")
    if isinstance(name, str) and name:
        return re.search(rf"\bmutation\s+{re.escape(name)}\b", text) is not None
    return text.lstrip().startswith("mutation")


def load_api_modules() -> list[str]:
    """Import the API modules, so their routes register, and the hook modules, so their
    hooks do (before serving: else a run would complete without its effects); their names."""
    names = [*API_MODULES, *HOOK_MODULES]
    for name in names:
        importlib.import_module(f"releaser.sandbox.{name}")
    return names


class _RateCounter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset = 0
        self.used = 0

    def take(self, clock: float, count: bool = True) -> tuple[int, int]:
        """Count one request at sandbox time ``clock`` (``count=False``: a 304, which GitHub
        doesn't count); (used, reset epoch)."""
        with self.lock:
            now = int(clock)
            if now >= self.reset:
                self.reset, self.used = now + 3600, 0
            if count:
                self.used += 1
            return self.used, self.reset


def conditional(method: str, path: str, headers: dict[str, str], response: Response) -> Response:
    """GitHub's conditional GETs: a 200 from the REST API carries an ``ETag`` (of its body),
    and a GET whose ``If-None-Match`` names the current one is answered 304 with no body."""
    if method not in ("GET", "HEAD") or response.status != 200 or not path.startswith("/api/v3"):
        return response
    etag = 'W/"' + hashlib.sha256(response.encoded()).hexdigest()[:40] + '"'
    asked = {tag.strip() for tag in headers.get("if-none-match", "").split(",")}
    if etag in asked or etag.removeprefix("W/") in asked:
        return Response(304, None, {"ETag": etag})
    response.headers.setdefault("ETag", etag)
    return response


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    sandbox: SandboxServer

    def server_activate(self) -> None:
        self._active = 0  # requests being served (a delayed one outlives its client)
        self._idle = threading.Condition()
        super().server_activate()

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """Around one request (not a connection: a kept-alive one idles between requests)."""
        with self._idle:
            self._active += 1
        try:
            yield
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> None:
        """Wait (at most ``timeout`` s) for the requests being handled: one its client gave
        up on (a delay past the client's timeout) still writes to the forge's files."""
        with self._idle:
            self._idle.wait_for(lambda: self._active == 0, timeout=timeout)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that closed its connection (a dropped or timed-out request) is not the
        forge's error: say nothing; anything else is printed as before."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Dropped(Exception):
    """The connection is to be closed without an answer."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _HTTPServer
    server_version = "SandboxForge/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests.log has them

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header: the sandbox clock's time (RFC 7231)."""
        return self.server.sandbox.forge.clock.http_date()

    def do_GET(self) -> None:
        with self.server.serving():
            self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    # ---- reading ---------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline()
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    # ---- serving ---------------------------------------------------------------------------

    identity: Identity | None = None  # of the request being served

    def _serve(self) -> None:
        self.identity = None
        sandbox = self.server.sandbox
        forge = sandbox.forge
        method = self.command.upper()
        raw_path, _, query = self.path.partition("?")
        path = unquote(raw_path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        body = self._read_body()
        entry: dict[str, Any] = {
            "time": forge.now_iso(),
            "method": method,
            "path": services.loggable_path(path),
            "query": services.loggable_query(query),
            "status": None,
            "write": self._is_write(method, path, body),
        }
        if services.is_login(path):
            entry["login"] = True
        if method == "POST" and path.endswith("/git/refs"):
            entry["ref"] = _created_ref(body)  # which ref a creation made (tests tell them apart)
        is_admin = path == "/_admin" or path.startswith("/_admin/")
        if not is_admin:
            admin.log_body(forge, method, entry["path"], bool(entry.get("login")), body)
        try:
            try:
                forge.tick()
            except Exception:
                traceback.print_exc(file=sys.stderr)
            response = self._respond(forge, method, raw_path, path, query, headers, body, is_admin)
        except _Dropped:
            entry["status"] = 0
            entry["dropped"] = True
            entry["user"] = self.identity.login if self.identity else None
            if not is_admin:
                admin.log_request(forge, entry)
            self.close_connection = True
            return
        if path.startswith("/api/"):
            response = conditional(method, path, headers, response)
            scopes = self.identity.scopes if self.identity else None
            counted = response.status != 304
            response.headers.update(sandbox.api_headers(response.headers, scopes, counted))
        entry["status"] = response.status
        entry["user"] = self.identity.login if self.identity else None  # who made it
        if not is_admin:
            admin.log_request(forge, entry)
        self._send(method, response)

    def _lacks_repo_scope(self, path: str, body: bytes) -> bool:
        """A write (API, GraphQL mutation or git push) with a token whose scopes lack `repo`.
        The admin API is not GitHub's and needs no scope."""
        if self.identity is None or path == "/_admin" or path.startswith("/_admin/"):
            return False
        if path.startswith(git_http.GIT_PREFIX) and not git_http.is_write("POST", path):
            return False  # a fetch (POST git-upload-pack) is a read
        if path in GRAPHQL_PATHS and not is_mutation(body):
            return False
        return not self.identity.has_scope("repo")

    def _is_write(self, method: str, path: str, body: bytes) -> bool:
        if services.is_login(path) or services.stores_nothing(method, path, body):
            return False
        if path.startswith(git_http.GIT_PREFIX):
            return git_http.is_write(method, path)
        if path in GRAPHQL_PATHS:
            return is_mutation(body)
        return method not in ("GET", "HEAD")

    def _respond(
        self,
        forge: Forge,
        method: str,
        raw_path: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        is_admin: bool,
    ) -> Response:
        def user() -> str | None:
            who = self._authenticate(forge, headers)
            return who.login if isinstance(who, Identity) else None

        acting = [] if is_admin else admin.faults(forge).match(method, path, user)
        terminal = None
        for rule in acting:
            if rule.action == "delay":
                time.sleep(rule.ms / 1000)
            else:
                terminal = rule
        if terminal is not None:
            if terminal.action == "drop":
                raise _Dropped
            if terminal.action == "rate_limit" and terminal.body is None:
                limited = services.rate_limited(path, terminal.retry_after, terminal.kind)
                if limited is not None:
                    return limited  # in the service's own shape
            if terminal.action in ("error", "rate_limit"):
                return terminal.response(forge.clock.now())
        response = self._dispatch(forge, method, raw_path, path, query, headers, body)
        if terminal is not None:
            if terminal.action == "drop_after":
                raise _Dropped
            if terminal.action == "error_after":
                return terminal.response(forge.clock.now())
        return response

    def _dispatch(
        self,
        forge: Forge,
        method: str,
        raw_path: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
    ) -> Response:
        served = services.dispatch(forge, method, raw_path, query, headers, body)
        if served is not None:
            return served
        try:
            authenticated = self._authenticate(forge, headers)
            if isinstance(authenticated, Identity):
                self.identity = authenticated
            if method not in ("GET", "HEAD") and self._lacks_repo_scope(path, body):
                # As GitHub answers a classic token without `repo` trying to write.
                raise ApiError(
                    403,
                    "Resource not accessible by personal access token",
                    headers={"X-Accepted-OAuth-Scopes": "repo"},
                )
            if path.startswith(git_http.GIT_PREFIX):
                return git_http.handle(
                    forge,
                    method if method != "HEAD" else "GET",
                    path[len(git_http.GIT_PREFIX) :],
                    query,
                    headers,
                    body,
                    self.identity.login if self.identity else None,
                )
            if raw_path.rstrip("/") in GRAPHQL_PATHS:
                route_path, api = "/graphql", True
            elif raw_path.startswith("/api/v3"):
                route_path, api = raw_path[len("/api/v3") :] or "/", True
            elif raw_path.startswith("/api/uploads"):
                route_path, api = "/uploads" + raw_path[len("/api/uploads") :], True
            elif raw_path == "/_admin" or raw_path.startswith("/_admin/"):
                route_path, api = raw_path, False
            else:
                route_path, api = "/web" + raw_path, False
            user = None
            if api:
                if authenticated is None:
                    raise ApiError(401, "Requires authentication")
                if authenticated is False:
                    raise ApiError(401, "Bad credentials")
                user = self.identity.login if self.identity else None
            route_path = "/".join(unquote(seg) for seg in route_path.split("/"))
            route, params = ROUTER.match_route(
                "GET" if method == "HEAD" else method, route_path.rstrip("/") or "/"
            )
            if api and route.repo_scoped and route.access:
                repo = forge.repo(params["owner"], params["repo"])
                people.require(forge, user, repo, route.access, route.denied)
            req = Request(
                method=method,
                path=route_path,
                query=dict(parse_qsl(query, keep_blank_values=True)),
                headers=headers,
                body=body,
                params=params,
                user=user,
            )
            result = route.handler(forge, req)
            if isinstance(result, Response):
                return result
            if result is None:
                return Response(204)
            return Response(200, result)
        except ApiError as exc:
            return exc.response()
        except Exception as exc:
            print(f"sandbox forge: {method} {path} failed:", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            body_json = {"message": f"Internal Server Error: {exc}", "documentation_url": DOCS}
            return Response(500, body_json)

    @staticmethod
    def _authenticate(forge: Forge, headers: dict[str, str]) -> Identity | bool | None:
        """None without credentials, the token's identity, or False for a bad token."""
        value = headers.get("authorization", "").strip()
        if not value:
            return None
        scheme, _, cred = value.partition(" ")
        cred = cred.strip()
        candidates: list[str] = []
        if scheme.lower() in ("token", "bearer"):
            candidates = [cred]
        elif scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(cred).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            candidates = [password, user]
        for candidate in candidates:
            identity = people.authenticate(forge, candidate)
            if identity is not None:
                return identity
        return False

    def _send(self, method: str, response: Response) -> None:
        payload = b"" if response.status in (204, 304) else response.encoded()
        try:
            self.send_response(response.status, response.reason)
            for key, value in response.headers.items():
                if key.lower() not in ("content-length", "content-type", "transfer-encoding"):
                    self.send_header(key, value)
            if payload or response.status not in (204, 304):
                self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(payload)))
            if self.close_connection:  # asked by the client: say so, or it may reuse the socket
                self.send_header("Connection", "close")
            self.end_headers()
            if method != "HEAD" and payload:
                self.wfile.write(payload)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class SandboxServer:
    """The forge on a background thread; ``with SandboxServer(root).start() as s: ...``."""

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        load_api_modules()
        self.root = Path(root)
        self.host = host
        self.port = port
        self.forge = Forge(self.root)
        people.ensure_default_user(self.forge)
        self.rate = _RateCounter()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------------

    def _bind(self) -> _HTTPServer:
        port_file = self.root / "port"
        candidates = [self.port] if self.port else []
        if not self.port and port_file.exists():
            with contextlib.suppress(ValueError):
                candidates.append(int(port_file.read_text().strip()))
        if not self.port:
            candidates.append(0)
        last: OSError | None = None
        for port in candidates:
            try:
                return _HTTPServer((self.host, port), _Handler)
            except OSError as exc:
                last = exc
        assert last is not None
        raise last

    def start(self) -> SandboxServer:
        if self._httpd is not None:
            return self
        httpd = self._bind()
        httpd.sandbox = self
        port = int(httpd.server_address[1])
        (self.root / "port").write_text(f"{port}\n")
        host = self.host if self.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        self.forge.set_base_url(f"http://{host}:{port}")
        for repo_dir in (self.root / "repos").glob("*/*.git"):
            gitdata.install_hooks(repo_dir)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.wait_idle(timeout=10)  # then its files may be removed
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- facts -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.forge.base_url

    def info(self) -> dict[str, str]:
        return {
            "api_url": self.forge.api_url,
            "git_url": self.forge.git_url,
            "token": self.forge.token,
            "admin_url": self.forge.admin_url,
            **services.urls(self.forge.base_url),
        }

    def api_headers(
        self, existing: dict[str, str], scopes: str | None, counted: bool = True
    ) -> dict[str, str]:
        """Headers GitHub puts on every API answer (a fault's own rate headers win);
        ``scopes``: the caller's token's; ``counted``: False for a 304 (free on GitHub)."""
        used, reset = self.rate.take(self.forge.clock.now(), counted)
        headers = {
            "X-OAuth-Scopes": scopes or "",
            "X-Accepted-OAuth-Scopes": "repo",
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": str(max(0, RATE_LIMIT - used)),
            "X-RateLimit-Reset": str(reset),
            "X-RateLimit-Used": str(used),
            "X-RateLimit-Resource": "core",
            "X-GitHub-Media-Type": MEDIA_TYPE,
            "X-GitHub-Request-Id": uuid.uuid4().hex[:20].upper(),
            "X-GitHub-Api-Version-Selected": "2022-11-28",
        }
        if scopes == people.FINE_GRAINED:  # GitHub sends no scopes for fine-grained tokens
            del headers["X-OAuth-Scopes"], headers["X-Accepted-OAuth-Scopes"]
        return {k: v for k, v in headers.items() if k not in existing}


def _created_ref(body: bytes) -> str | None:
    try:
        ref = json.loads(body or b"{}").get("ref")
    except (ValueError, AttributeError):
        return None
    return ref if isinstance(ref, str) else None


def serve(root: Path, host: str = "127.0.0.1", port: int = 0) -> None:
    """Run the forge until SIGINT/SIGTERM; print ``info()`` as one JSON line when ready."""
    server = SandboxServer(Path(root), host, port).start()
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(json.dumps(server.info()), flush=True)
        while not stop.wait(0.2):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m releaser.sandbox.server")
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default=0, type=int)
    args = parser.parse_args(argv)
    serve(args.root, args.host, args.port)


if __name__ == "__main__":
    main()
