"""A Matrix homeserver through matrix-nio, behind a small synchronous façade.

nio is imported only when a ``Matrix`` is made (``releaser --help`` never loads it). Every
request keeps the shared client's rules (``releaser.clients.http``):

- nio never retries by itself (``max_limit_exceeded=0``, ``max_timeouts=0``): this façade
  does, boundedly. Every call here is idempotent (reads, ``join``, and ``send``, which is a
  PUT with a transaction id the homeserver deduplicates), so a dropped connection or a 5xx is
  retried with backoff, then :class:`Unreachable`.
- ``M_LIMIT_EXCEEDED`` waits ``retry_after_ms`` (shown when long) up to ``max_wait``; a longer
  wait, or too many in a row, is :class:`RateLimited` (exit 4).
- A bad token is :class:`CredentialError` (exit 2) naming the variable; with ``-v`` each
  request is one redacted line, as for every other service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit

from releaser.clients.http import NOTICE_AFTER, Narrator, RetryPolicy
from releaser.errors import CredentialError, RateLimited, RemoteError, Unreachable, UsageError

if TYPE_CHECKING:
    from nio import AsyncClient

MARKER_KEY = "org.releaser.marker"  # content key carrying a message's idempotency marker
DEFAULT_RATE_WAIT = 5.0  # seconds when M_LIMIT_EXCEEDED comes without retry_after_ms
BAD_TOKEN = frozenset({"M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"})
R = TypeVar("R")


@dataclass(frozen=True)
class Event:
    """A room message as the homeserver has it."""

    event_id: str
    room_id: str
    sender: str
    body: str
    marker: str | None = None
    origin_server_ts: int | None = None  # ms since the epoch (None for one just sent)
    content: dict[str, Any] = field(default_factory=dict)


class Matrix:
    """A homeserver as one user (the access token's)."""

    service = "the Matrix homeserver"
    page_size = 100  # messages per history request

    def __init__(
        self,
        homeserver: str,
        access_token: str,
        ui: Narrator,
        *,
        credential: str = "MATRIX_TOKEN",
        config_key: str = "[promote.matrix] homeserver",
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
    ) -> None:
        ui.redactor.add(access_token)
        self.homeserver = homeserver.rstrip("/")
        self.ui = ui
        self.credential = credential
        self.config_key = config_key
        self.retry = retry or RetryPolicy(max_wait=120.0)
        self.sleep = sleep
        self.requests = 0
        self._token = access_token
        self._timeout = timeout
        self._user_id = ""
        self._status = 0  # HTTP status of the last answer (nio hides it)
        self._lock = threading.Lock()  # one event loop: one call at a time
        self._loop = asyncio.new_event_loop()
        self._client: AsyncClient = self._loop.run_until_complete(self._make_client())

    async def _make_client(self) -> AsyncClient:
        from nio import AsyncClient, AsyncClientConfig

        config = AsyncClientConfig(
            max_limit_exceeded=0,  # a 429 comes back to us at once (nio would sleep forever)
            max_timeouts=0,  # so does a timeout or dropped connection
            request_timeout=self._timeout,
            encryption_enabled=False,
            store_sync_tokens=False,
        )
        _quiet_nio(self.ui)
        client = AsyncClient(self.homeserver, config=config)
        client.access_token = self._token
        send = client.send

        async def narrated(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            self.requests += 1
            shown = f"{self.homeserver}{urlsplit(path).path}"
            try:
                response = await send(method, path, *args, **kwargs)
            except Exception as exc:
                self._narrate(f"{method} {shown} -> no answer ({type(exc).__name__})", started)
                raise
            self._status = response.status
            self._narrate(f"{method} {shown} -> {response.status}", started)
            return response

        client.send = narrated
        return client

    def close(self) -> None:
        with self._lock:
            if not self._loop.is_closed():
                self._loop.run_until_complete(self._client.close())
                self._loop.close()

    def __enter__(self) -> Matrix:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the API -----------------------------------------------------------------------------

    def whoami(self) -> str:
        """The user id the access token belongs to."""
        from nio import WhoamiResponse

        response = self._call("check the access token", lambda c: c.whoami())
        if not isinstance(response, WhoamiResponse):
            raise self._refusal(response, "check the access token")
        self._user_id = response.user_id
        return response.user_id

    @property
    def user_id(self) -> str:
        """The token's user (read once)."""
        return self._user_id or self.whoami()

    def room_id(self, room: str) -> str:
        """The room id of an alias (``#name:server``) or id (``!id:server``)."""
        from nio import RoomResolveAliasResponse

        room = room.strip()
        if room.startswith("!"):
            return room
        if not room.startswith("#") or ":" not in room:
            raise UsageError(
                f"{room!r} is neither a room alias (#name:server) nor a room id (!id:server)",
                "set [promote.matrix] room to the room's alias or id",
            )
        response = self._call(f"look up {room}", lambda c: c.room_resolve_alias(room))
        if isinstance(response, RoomResolveAliasResponse):
            return response.room_id
        if getattr(response, "status_code", None) == "M_NOT_FOUND":
            raise UsageError(
                f"the room alias {room} does not exist on {self.homeserver}",
                "check [promote.matrix] room (the alias, with its server part)",
            )
        raise self._refusal(response, f"look up {room}")

    def joined(self, room_id: str) -> bool:
        """Whether the user is in the room (a read: the room's history is readable then)."""
        from nio import JoinedRoomsResponse

        rooms = self._call("list joined rooms", lambda c: c.joined_rooms())
        if not isinstance(rooms, JoinedRoomsResponse):
            raise self._refusal(rooms, "list joined rooms")
        return room_id in rooms.rooms

    def ensure_joined(self, room_id: str) -> bool:
        """Join the room unless already in it; True when it joined now."""
        from nio import JoinResponse

        if self.joined(room_id):
            return False
        response = self._call(f"join {room_id}", lambda c: c.join(room_id))
        if isinstance(response, JoinResponse):
            return True
        if getattr(response, "status_code", None) in ("M_FORBIDDEN", "M_NOT_FOUND"):
            raise CredentialError(
                f"{self._who()} may not join {room_id} ({response.message})",
                "invite the posting user to the room (or make the room public), then re-run",
            )
        raise self._refusal(response, f"join {room_id}")

    def find(self, room_id: str, marker: str, limit: int = 200) -> Event | None:
        """The newest of the room's last ``limit`` messages that carries ``marker`` (in
        ``content["org.releaser.marker"]``, or in its body); None when there is none."""
        from nio import RoomMessagesResponse

        seen, start = 0, ""
        while seen < limit:
            response = self._call(
                f"read {room_id}", _page(room_id, start, min(self.page_size, limit - seen))
            )
            if not isinstance(response, RoomMessagesResponse):
                raise self._refusal(response, f"read {room_id}")
            for nio_event in response.chunk:
                event = _event(room_id, nio_event.source)
                if event is not None and (event.marker == marker or marker in event.body):
                    return event
            seen += len(response.chunk)
            if not response.chunk or not response.end or response.end == start:
                break
            start = response.end
        return None

    def send(self, room_id: str, body: str, html: str | None, marker: str, txn_id: str) -> Event:
        """Send a message carrying ``marker``. The homeserver deduplicates by ``txn_id``
        (for the same access token): a re-sent call returns the first event, not a second."""
        from nio import RoomSendResponse

        content: dict[str, Any] = {"msgtype": "m.text", "body": body, MARKER_KEY: marker}
        if html:
            content["format"] = "org.matrix.custom.html"
            content["formatted_body"] = html
        response = self._call(
            f"post to {room_id}",
            lambda c: c.room_send(room_id, "m.room.message", content, tx_id=txn_id),
        )
        if not isinstance(response, RoomSendResponse):
            raise self._refusal(response, f"post to {room_id}")
        return Event(response.event_id, room_id, self._user_id, body, marker, None, content)

    def event_url(self, room_id: str, event_id: str) -> str:
        """A matrix.to link to the event (opens in any Matrix client), routed via the posting
        user's server (room ids of room version 12 name no server)."""
        server = (self._user_id or self.whoami()).split(":", 1)[1]
        room, event = quote(room_id, safe=""), quote(event_id, safe="")
        return f"https://matrix.to/#/{room}/{event}?via={quote(server, safe='')}"

    # -- one call, retried as the shared client would ------------------------------------------

    def _call(self, what: str, make: Callable[[AsyncClient], Awaitable[R]]) -> R:
        from aiohttp import ClientConnectorError, ClientError
        from nio import ErrorResponse

        attempt = connect_attempt = limited = 0
        while True:
            try:
                with self._lock:
                    self._status = 0
                    response = self._loop.run_until_complete(
                        asyncio.wait_for(make(self._client), self._timeout + 5)
                    )
                    status = self._status
            except ClientConnectorError as exc:
                connect_attempt += 1
                if connect_attempt >= self.retry.connect_attempts:
                    raise self._unreachable(exc) from None
                self.sleep(self.retry.connect_backoff * connect_attempt)
                continue
            except (ClientError, TimeoutError) as exc:  # dropped, reset, timed out
                attempt += 1
                if attempt >= self.retry.attempts:
                    raise self._unreachable(exc) from None
                self.sleep(self.retry.backoff * 2 ** (attempt - 1))
                continue
            if not isinstance(response, ErrorResponse):
                return response
            if response.status_code == "M_LIMIT_EXCEEDED" or status == 429:
                limited += 1
                wait = (response.retry_after_ms or DEFAULT_RATE_WAIT * 1000) / 1000
                if wait > self.retry.max_wait or limited > self.retry.rate_limit_attempts:
                    raise self._rate_limited(wait)
                if wait > NOTICE_AFTER:
                    self.ui.notice(
                        f"{self.service} is rate limiting this user: waiting {wait:.0f} s to {what}"
                    )
                self.sleep(wait)
                continue
            if status >= 500 or (status == 0 and response.status_code is None):
                attempt += 1
                if attempt < self.retry.attempts:
                    self.sleep(self.retry.backoff * 2 ** (attempt - 1))
                    continue
            return response  # an error answer: the caller maps it

    # -- errors ------------------------------------------------------------------------------

    def _refusal(self, response: Any, what: str) -> Exception:
        code = getattr(response, "status_code", None) or ""
        message = self.ui.redactor.redact(str(getattr(response, "message", "") or ""))
        if code in BAD_TOKEN or self._status == 401:
            return CredentialError(
                f"{self.service} {self.homeserver} refused the access token in "
                f"{self.credential} ({code or self._status} {message})",
                f"set {self.credential} to a valid access token of the posting user",
            )
        if code == "M_FORBIDDEN" or self._status == 403:
            return CredentialError(
                f"{self._who()} may not {what} ({code} {message})",
                "invite the posting user to the room and give it the power to post",
            )
        status = f"{self._status} " if self._status else ""
        return RemoteError(
            f"{self.service} could not {what}: {status}{code} {message}".rstrip(),
            "re-run the command (it re-checks before posting); -v shows every request",
        )

    def _unreachable(self, exc: BaseException) -> Unreachable:
        reason = str(exc) or type(exc).__name__
        if "refused" in reason.lower():
            reason = "connection refused"
        return Unreachable(
            f"cannot reach {self.homeserver} ({self.ui.redactor.redact(reason)})",
            f"check {self.config_key} or your network",
        )

    def _rate_limited(self, wait: float) -> RateLimited:
        until = datetime.fromtimestamp(time.time() + wait, UTC).strftime("%Y-%m-%d %H:%M UTC")
        return RateLimited(
            f"{self.service} rate limit: no more messages until {until} ({wait:.0f} s)",
            f"re-run the same command after {until}: nothing was lost",
        )

    def _who(self) -> str:
        return self._user_id or "the posting user"

    def _narrate(self, line: str, started: float) -> None:
        if self.ui.verbose:
            self.ui.debug(f"{line} ({(time.monotonic() - started) * 1000:.0f} ms)")


class _NioLog(logging.Handler):
    """nio's own log lines (a 429, a response it could not validate): -v only, redacted."""

    def __init__(self, ui: Narrator) -> None:
        super().__init__(logging.DEBUG)
        self.ui = ui

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.ui.debug(f"nio: {record.getMessage()}")


def _quiet_nio(ui: Narrator) -> None:
    logger = logging.getLogger("nio")
    logger.propagate = False  # never to stderr through the root logger's last resort
    for handler in list(logger.handlers):
        if isinstance(handler, _NioLog):
            logger.removeHandler(handler)
    logger.addHandler(_NioLog(ui))


def _page(room_id: str, start: str, size: int) -> Callable[[AsyncClient], Awaitable[Any]]:
    """One page of the room's messages, newest first, from ``start`` ("" = the newest)."""
    from nio import MessageDirection

    return lambda client: client.room_messages(
        room_id,
        start=start,
        direction=MessageDirection.back,
        limit=size,
        message_filter={"types": ["m.room.message"]},
    )


def _event(room_id: str, source: dict[str, Any]) -> Event | None:
    content = source.get("content")
    if not isinstance(content, dict) or "event_id" not in source:
        return None
    marker = content.get(MARKER_KEY)
    return Event(
        event_id=str(source["event_id"]),
        room_id=room_id,
        sender=str(source.get("sender", "")),
        body=str(content.get("body", "")),
        marker=str(marker) if marker is not None else None,
        origin_server_ts=source.get("origin_server_ts"),
        content=content,
    )
