"""The one HTTP client every service adapter is built on (forge, chat, forums, registries).

It owns what every service needs the same way, so no adapter does it again:

- **Narration**: with ``-v`` each request is one line, ``GET https://host:port/path -> 200
  (31 ms)``, secrets redacted; nothing else (no headers, no bodies).
- **Retries of what is safe to retry only.** GET, HEAD, OPTIONS, PUT and DELETE are retried
  after 5xx, timeouts and dropped connections, with backoff. POST and PATCH are not: a write
  whose answer was lost raises :class:`AmbiguousWrite`, and the engine re-checks remote state
  instead of sending it twice. A request that never reached the server (connection refused)
  and a rate-limit refusal (429, or the service's own rate-limit answer) were not applied, so
  they are retried whatever the method.
- **Rate limits**: ``Retry-After`` (seconds or a date) or the service's reset time is honoured;
  a wait over 10 s is shown with its reason and end time; one longer than ``max_wait`` raises
  :class:`RateLimited` (exit 4, re-run later).
- **One error mapping**: an unreachable service is :class:`Unreachable` naming the config key
  to check; 401 is :class:`CredentialError` (exit 2) naming the variable; other unexpected
  statuses are :class:`HTTPError` with the status, body and headers for the caller.
- **Conditional GETs**: with ``conditional=True`` responses carrying an ``ETag`` are kept and
  revalidated with ``If-None-Match``; a 304 answers from the cache (and costs no rate limit on
  GitHub).

Adapters subclass :class:`HTTPClient` and override :meth:`HTTPClient.refusal` for their own
error shapes, and :meth:`HTTPClient.rate_limit_wait` for their own rate-limit signals.
"""

from __future__ import annotations

import contextlib
import functools
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import httpx

from releaser.errors import (
    AmbiguousWrite,
    CredentialError,
    HTTPError,
    RateLimited,
    Unreachable,
    UsageError,
)

if TYPE_CHECKING:
    from releaser.redact import Redactor

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
NOTICE_AFTER = 10.0  # waits longer than this are shown without -v


class Narrator(Protocol):
    """What a client needs of the UI: narration with ``-v``, notices, and the redactor."""

    verbose: bool
    redactor: Redactor

    def debug(self, text: str) -> None: ...

    def notice(self, message: str) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # tries of an idempotent request after 5xx / timeouts / drops
    backoff: float = 0.5  # seconds before the 2nd try, doubled each time
    connect_attempts: int = 3  # tries when the connection itself is refused
    connect_backoff: float = 0.3
    max_wait: float = 300.0  # the longest rate-limit wait honoured; beyond it: RateLimited
    rate_limit_attempts: int = 5


@dataclass
class Stats:
    """Requests this client made (benchmarks and ``-v`` print them)."""

    requests: int = 0
    writes: int = 0
    not_modified: int = 0  # conditional GETs answered 304 (free on GitHub)
    by_method: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Cached:
    etag: str
    status: int
    headers: dict[str, str]
    content: bytes


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every client of the process, as httpx would make each (reading
    the CA bundle costs 25 ms of CPU, and `status` makes a client per service at once)."""
    return httpx.create_ssl_context()


class HTTPClient:
    """An HTTP client for one service at ``base_url``."""

    service: str = "the service"  # "the forge", "the Matrix homeserver", ...
    config_key: str = ""  # what to check when it can't be reached: "[forge] api_url"
    credential: str = ""  # where the credential comes from: "GITHUB_TOKEN"

    def __init__(
        self,
        base_url: str,
        ui: Narrator,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        conditional: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        follow_redirects: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.ui = ui
        timeout = _timeout_override() or timeout
        self.retry = retry or RetryPolicy()
        self.conditional = conditional
        self.sleep = sleep
        self.stats = Stats()
        # Called before every write: a driver that lost its claim stops before writing.
        self.before_write: Callable[[], None] | None = None
        self._stats_lock = threading.Lock()
        self._etags: dict[str, _Cached] = {}
        # At most this many requests in flight at once (None: as many as threads ask for).
        self.in_flight: threading.Semaphore | None = None
        self._client = httpx.Client(
            headers=dict(headers or {}),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
            follow_redirects=follow_redirects,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
            verify=_tls(),
        )

    def close(self) -> None:
        self._client.close()

    # -- the one request path ------------------------------------------------------------

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        ok: Iterable[int] = (),
        retry: bool | None = None,
        fenced: bool = True,
    ) -> httpx.Response:
        """Send one request; return the response when it is 2xx/3xx or its status is in ``ok``.

        ``retry`` overrides whether the request may be re-sent after an ambiguous failure
        (default: idempotent methods only; a GraphQL query may say True). Before a write,
        ``before_write`` (the release's claim fence) runs, unless ``fenced`` is False.
        """
        method = method.upper()
        if fenced and method not in ("GET", "HEAD", "OPTIONS") and self.before_write:
            self.before_write()
        url = self.url(path)
        accepted = set(ok)
        may_retry = method in IDEMPOTENT if retry is None else retry
        send_headers = dict(headers or {})
        cache_key = ""
        cached: _Cached | None = None
        if self.conditional and method == "GET":
            cache_key = url + "?" + json.dumps(sorted((params or {}).items()), default=str)
            cached = self._etags.get(cache_key)
            if cached is not None:
                send_headers["If-None-Match"] = cached.etag
        attempt = connect_attempt = limited = 0
        while True:
            started = time.monotonic()
            try:
                with self.in_flight or contextlib.nullcontext():
                    response = self._client.request(
                        method,
                        url,
                        params=params,
                        json=json_body,
                        content=content,
                        headers=send_headers,
                    )
            except httpx.ConnectError as exc:  # never reached the server: safe to retry
                connect_attempt += 1
                self._narrate(method, url, f"cannot connect ({_reason(exc)})", started)
                if connect_attempt >= self.retry.connect_attempts:
                    raise self.unreachable(exc) from None
                self.sleep(self.retry.connect_backoff * connect_attempt)
                continue
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                attempt += 1
                self._narrate(method, url, f"no answer ({_reason(exc)})", started)
                if not may_retry:
                    raise AmbiguousWrite(
                        f"{method} {self._shown(url)}: the answer was lost ({_reason(exc)}); "
                        "the write may have been applied",
                        "re-run the command: it checks what was applied before writing again",
                    ) from None
                if attempt >= self.retry.attempts:
                    raise self.unreachable(exc) from None
                self.sleep(self.retry.backoff * 2 ** (attempt - 1))
                continue
            self._count(method, response.status_code)
            self._narrate(method, url, str(response.status_code), started)
            wait = self.rate_limit_wait(response)
            if wait is not None:
                limited += 1
                if limited > self.retry.rate_limit_attempts:
                    raise self._rate_limited(response, wait)
                self._wait_for_limit(response, wait)
                continue
            if response.status_code >= 500 and may_retry:
                attempt += 1
                if attempt < self.retry.attempts:
                    self.sleep(self.retry.backoff * 2 ** (attempt - 1))
                    continue
            break
        if response.status_code == 304 and cached is not None:
            with self._stats_lock:
                self.stats.not_modified += 1
            # the cached body, with this answer's headers (its Date: the forge's time now;
            # its rate-limit figures) over the cached ones
            fresh = {
                k: v
                for k, v in response.headers.items()
                if k.lower() not in ("content-length", "content-type", "content-encoding")
            }
            return httpx.Response(
                cached.status,
                headers={**cached.headers, **fresh},
                content=cached.content,
                request=response.request,
            )
        status = response.status_code
        if status < 400 or status in accepted:
            if cache_key and status == 200 and response.headers.get("etag"):
                self._etags[cache_key] = _Cached(
                    response.headers["etag"], status, dict(response.headers), response.content
                )
            return response
        raise self.refusal(response)

    # -- conveniences --------------------------------------------------------------------

    def get_json(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        return decode(self.request("GET", path, params=params))

    def find_json(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        """GET that answers None on 404 (something that may not exist yet)."""
        response = self.request("GET", path, params=params, ok=(404,))
        return None if response.status_code == 404 else decode(response)

    def send_json(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        return decode(self.request(method, path, json_body=body, **kwargs))

    # -- what adapters override ------------------------------------------------------------

    def rate_limit_wait(self, response: httpx.Response) -> float | None:
        """Seconds to wait before re-sending a request the service refused for its rate
        limit (None: not a rate-limit refusal). The request was not applied."""
        if response.status_code == 429 or (
            response.status_code == 503 and "retry-after" in response.headers
        ):
            return retry_after(response.headers, default=1.0)
        return None

    def refusal(self, response: httpx.Response) -> Exception:
        """The error for an unexpected status (adapters add their own shapes)."""
        status = response.status_code
        message = self.error_message(response)
        where = f"{response.request.method} {self._shown(str(response.request.url))}"
        if status == 401:
            source = f" in {self.credential}" if self.credential else ""
            return CredentialError(
                f"{self.service} refused the credentials{source} ({status} {message})",
                f"set a valid credential{source} (`releaser doctor` checks it)",
            )
        return HTTPError(
            f"{self.service} answered {status} to {where}: {message}",
            "re-run the command (it re-checks before writing); -v shows every request",
            status=status,
            body=decode_quietly(response),
            headers=dict(response.headers),
        )

    def error_message(self, response: httpx.Response) -> str:
        body = decode_quietly(response)
        if isinstance(body, dict):
            for key in ("message", "error", "errors", "detail"):
                if body.get(key):
                    return self.ui.redactor.redact(str(body[key]))
        text = response.text.strip() if isinstance(body, str) else ""
        return self.ui.redactor.redact(text[:200]) or response.reason_phrase

    def unreachable(self, exc: BaseException) -> Unreachable:
        check = f"check {self.config_key} or your network" if self.config_key else "check the URL"
        return Unreachable(f"cannot reach {self.base_url} ({_reason(exc)})", check)

    # -- internals -----------------------------------------------------------------------

    def _wait_for_limit(self, response: httpx.Response, wait: float) -> None:
        if wait > self.retry.max_wait:
            raise self._rate_limited(response, wait)
        if wait > NOTICE_AFTER:
            until = datetime.fromtimestamp(time.time() + wait, UTC).strftime("%H:%M:%S UTC")
            self.ui.notice(
                f"{self.service} is rate limiting this token: waiting {wait:.0f} s, until {until}"
            )
        self.sleep(wait)

    def _rate_limited(self, response: httpx.Response, wait: float) -> RateLimited:
        until = datetime.fromtimestamp(time.time() + wait, UTC).strftime("%Y-%m-%d %H:%M UTC")
        return RateLimited(
            f"{self.service} rate limit: no more requests until {until} ({wait:.0f} s)",
            f"re-run the same command after {until}: nothing was lost",
        )

    def _count(self, method: str, status: int) -> None:
        with self._stats_lock:
            self.stats.requests += 1
            self.stats.by_method[method] = self.stats.by_method.get(method, 0) + 1
            if method not in ("GET", "HEAD", "OPTIONS"):
                self.stats.writes += 1

    def _narrate(self, method: str, url: str, outcome: str, started: float) -> None:
        if self.ui.verbose:
            ms = (time.monotonic() - started) * 1000
            self.ui.debug(f"{method} {self._shown(url)} -> {outcome} ({ms:.0f} ms)")

    def _shown(self, url: str) -> str:
        """The URL as narrated: no query string (it may carry credentials), redacted."""
        parts = urlsplit(url)
        return self.ui.redactor.redact(f"{parts.scheme}://{parts.netloc}{parts.path}")


def decode(response: httpx.Response) -> Any:
    if not response.content:
        return None
    return response.json()


def decode_quietly(response: httpx.Response) -> Any:
    try:
        return decode(response)
    except ValueError:
        return response.text


def _timeout_override() -> float | None:
    """``RELEASER_HTTP_TIMEOUT``: seconds to wait for an answer instead of the default (a
    slow network; tests make timeouts quick with it)."""
    import math
    import os

    value = os.environ.get("RELEASER_HTTP_TIMEOUT", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not math.isfinite(seconds) or seconds <= 0:
        raise UsageError(
            f"RELEASER_HTTP_TIMEOUT is {value!r}, not a number of seconds",
            hint="set it to a positive number (e.g. 60), or unset it for the default (30)",
        )
    return seconds


def retry_after(headers: Mapping[str, str], default: float) -> float:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    value = headers.get("retry-after")
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, moment.timestamp() - time.time())


def _reason(exc: BaseException) -> str:
    text = str(exc).lower()
    if "refused" in text:
        return "connection refused"
    if "name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if "reset" in text:
        return "connection reset"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "connection dropped"
    return type(exc).__name__
