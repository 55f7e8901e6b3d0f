"""Reddit through praw (a "script" app's password grant): who posts, finding and submitting a
link post.

praw is imported only when a request is made (it is slow to import). What the project's HTTP
client does for other services is done here around praw:

- **No blind re-sends of a write.** prawcore re-sends any request after a dropped
  connection or a 5xx; the requestor given to praw stops that for a submission, so a
  submission whose answer was lost is :class:`~releaser.errors.AmbiguousWrite` (the caller
  looks for it with :meth:`Reddit.find_link`), never a second post.
- **Rate limits**: Reddit's RATELIMIT refusal ("take a break for 9 minutes") and 429 are
  waited out (shown when longer than 10 s) up to ``max_wait``, else
  :class:`~releaser.errors.RateLimited` (exit 4). Nothing was posted by a refused request.
- **One error mapping**: a refused client, password or account is
  :class:`~releaser.errors.CredentialError` (exit 2) naming the variables to fix; an unknown
  subreddit is a :class:`~releaser.errors.UsageError`; other statuses are
  :class:`~releaser.errors.HTTPError`. Secrets are registered with the redactor first.
- **Narration**: with ``-v`` one line per request, as the other clients print it.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from releaser.clients.http import IDEMPOTENT, NOTICE_AFTER, Narrator, retry_after
from releaser.errors import (
    AmbiguousWrite,
    CredentialError,
    HTTPError,
    RateLimited,
    RemoteError,
    Unreachable,
    UsageError,
)
from releaser.pages import same_page

if TYPE_CHECKING:
    import praw

T = TypeVar("T")
REDDIT_WEB = "https://www.reddit.com"
RATE_LIMIT_ATTEMPTS = 5
_RATELIMIT = re.compile(r"(\d+) (millisecond|second|minute)s?")


@dataclass(frozen=True)
class Submission:
    id: str
    permalink: str  # the post's page: https://www.reddit.com/r/sub/comments/id/slug/
    url: str  # the link it points to
    title: str = ""
    subreddit: str = ""


@dataclass(frozen=True)
class RedditVariables:
    """Where each credential comes from, for error messages."""

    client_id: str = "REDDIT_CLIENT_ID"
    client_secret: str = "REDDIT_CLIENT_SECRET"
    username: str = "REDDIT_USERNAME"
    password: str = "REDDIT_PASSWORD"


class _AnswerLost(Exception):
    """A write's connection broke after it was sent (prawcore must not re-send it)."""


class _RefusedWrite(Exception):
    """A write answered 5xx (prawcore must not re-send it)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Reddit:
    service = "Reddit"

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        username: str,
        password: str,
        user_agent: str,
        ui: Narrator,
        base_url: str | None = None,
        *,
        variables: RedditVariables | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 300.0,
        timeout: float = 30.0,
    ) -> None:
        ui.redactor.add(client_secret)
        ui.redactor.add(password)
        ui.redactor.add_basic(client_id, client_secret)
        self.ui = ui
        self.username = username
        self.variables = variables or RedditVariables()
        self.sleep = sleep
        self.max_wait = max_wait
        self.timeout = timeout
        self.base_url = base_url.rstrip("/") if base_url else None
        self.web_url = self.base_url or REDDIT_WEB
        self._settings: dict[str, Any] = {
            "client_id": client_id,
            "client_secret": client_secret,
            "username": username,
            "password": password,
            "user_agent": user_agent,
        }
        self._praw: praw.Reddit | None = None

    # -- the API ------------------------------------------------------------------------

    def me(self) -> str:
        """The account's name (the password grant works and the account is usable)."""
        user = self._call("read the account", lambda r: r.user.me())
        if user is None:
            raise RemoteError("Reddit did not say who the account is", "re-run the command")
        return str(user.name)

    def find_link(self, subreddit: str, url: str, limit: int = 100) -> Submission | None:
        """The account's recent submission of ``url`` to r/``subreddit``, if any."""

        def look(r: praw.Reddit) -> Submission | None:
            for post in r.redditor(self.username).submissions.new(limit=limit):
                same_sub = str(post.subreddit.display_name).lower() == subreddit.lower()
                if same_sub and same_page(str(post.url), url):
                    return self._submission(post)
            return None

        return self._call(f"list u/{self.username}'s submissions", look)

    def submit_link(self, subreddit: str, title: str, url: str) -> Submission:
        """Post a link to r/``subreddit``: one POST (a lost answer is AmbiguousWrite)."""

        # Two calls: a rate limit met reading the new post back (praw fetches its permalink)
        # repeats that read, never the submission.
        post = self._call(
            f"post to r/{subreddit}",
            lambda r: r.subreddit(subreddit).submit(title, url=url),
            subreddit=subreddit,
        )
        return self._call(f"read the new post {post.id}", lambda r: self._submission(post))

    # -- praw, lazily -------------------------------------------------------------------

    def reddit(self) -> praw.Reddit:
        if self._praw is None:
            import praw

            extra: dict[str, Any] = {}
            if self.base_url:
                # praw joins relative paths onto oauth_url: it must end with a slash
                extra = {"oauth_url": self.base_url + "/", "reddit_url": self.base_url}
            self._praw = praw.Reddit(
                **self._settings,
                **extra,
                check_for_updates=False,
                ratelimit_seconds=0,  # this client waits out RATELIMIT itself
                timeout=int(self.timeout),
                requestor_class=_requestor_class(self),
            )
        return self._praw

    def _call(self, what: str, action: Callable[[praw.Reddit], T], subreddit: str = "") -> T:
        import prawcore
        from praw.exceptions import RedditAPIException

        for _ in range(RATE_LIMIT_ATTEMPTS):
            try:
                return action(self.reddit())
            except RedditAPIException as exc:
                wait = self._ratelimit_seconds(exc)
                if wait is None:
                    raise self._api_error(what, exc, subreddit) from None
                self._wait(wait)
            except prawcore.TooManyRequests as exc:
                headers = exc.response.headers
                reset = headers.get("x-ratelimit-reset")
                self._wait(retry_after(headers, default=float(reset) if reset else 10.0))
            except prawcore.PrawcoreException as exc:
                raise self._error(what, exc, subreddit) from None
        raise RateLimited(
            f"Reddit kept refusing to {what} for its rate limit",
            "re-run the same command later: nothing was posted",
        )

    def _wait(self, seconds: float) -> None:
        if seconds > self.max_wait:
            until = datetime.fromtimestamp(time.time() + seconds, UTC).strftime("%Y-%m-%d %H:%M")
            raise RateLimited(
                f"Reddit rate limit: no more posts until {until} UTC ({seconds:.0f} s)",
                f"re-run the same command after {until} UTC: nothing was posted",
            )
        if seconds > NOTICE_AFTER:
            self.ui.notice(f"Reddit is rate limiting u/{self.username}: waiting {seconds:.0f} s")
        self.sleep(seconds)
        if self._praw is not None:  # the wait is done: praw must not sleep through it again
            session: Any = self._praw._core
            session.rate_limiter.next_request_timestamp_ns = None

    @staticmethod
    def _ratelimit_seconds(exc: Any) -> float | None:
        for item in exc.items:
            if item.error_type == "RATELIMIT":
                found = _RATELIMIT.search(item.message or "")
                if not found:
                    return 60.0
                amount, unit = int(found.group(1)), found.group(2)
                return {"millisecond": amount / 1000, "second": amount, "minute": amount * 60}[unit]
        return None

    # -- errors -------------------------------------------------------------------------

    def _api_error(self, what: str, exc: Any, subreddit: str) -> Exception:
        codes = {item.error_type for item in exc.items}
        text = self.ui.redactor.redact(str(exc))
        if "SUBREDDIT_NOEXIST" in codes:
            return UsageError(
                f"Reddit has no subreddit r/{subreddit}",
                "check [promote.reddit] subreddit (the name without r/)",
            )
        return RemoteError(f"Reddit refused to {what}: {text}", "fix the post and re-run")

    def _error(self, what: str, exc: Exception, subreddit: str) -> Exception:
        import prawcore

        v = self.variables
        redact = self.ui.redactor.redact
        if isinstance(exc, prawcore.OAuthException):
            return CredentialError(
                f"Reddit refused the account in {v.username} / {v.password} "
                f"(u/{self.username}: {redact(exc.error)})",
                f"set {v.username} and {v.password} to the script app's developer account "
                "(no two-factor authentication)",
            )
        if isinstance(exc, prawcore.RequestException):
            original = exc.original_exception
            if isinstance(original, _AnswerLost):
                return AmbiguousWrite(
                    f"Reddit: the answer to the request to {what} was lost; it may have been "
                    "applied",
                    "re-run the command: it looks for the post before posting again",
                )
            if isinstance(original, _RefusedWrite):
                return HTTPError(
                    f"Reddit answered {original.status} to the request to {what}",
                    "re-run the command: it looks for the post before posting again",
                    status=original.status,
                )
            return Unreachable(
                f"cannot reach Reddit at {self.web_url} ({type(original).__name__})",
                "check your network" if self.base_url is None else "check the Reddit URL",
            )
        if isinstance(exc, prawcore.Redirect):
            return UsageError(
                f"Reddit has no subreddit r/{subreddit}",
                "check [promote.reddit] subreddit (the name without r/)",
            )
        response = getattr(exc, "response", None)
        status = int(getattr(response, "status_code", 0) or 0)
        if status == 401 and str(getattr(response, "url", "")).endswith("/access_token"):
            return CredentialError(
                f"Reddit refused the app in {v.client_id} / {v.client_secret} (401)",
                f"set {v.client_id} and {v.client_secret} to the script app's id and secret",
            )
        if status in (401, 403):
            return CredentialError(
                f"Reddit refused u/{self.username} ({v.username}) the right to {what} ({status})",
                f"check {v.username} (the account must be allowed to post there) and the app's "
                f"{v.client_id} / {v.client_secret}",
            )
        return HTTPError(
            f"Reddit answered {status or 'an error'} to the request to {what}: {redact(str(exc))}",
            "re-run the command (it re-checks before posting); -v shows every request",
            status=status,
        )

    # -- internals ----------------------------------------------------------------------

    def _submission(self, post: Any) -> Submission:
        return Submission(
            id=str(post.id),
            permalink=self.web_url + str(post.permalink),
            url=str(post.url),
            title=str(post.title),
            subreddit=str(post.subreddit.display_name),
        )

    def narrate(self, method: str, url: str, outcome: str, started: float) -> None:
        if self.ui.verbose:
            parts = urlsplit(url)
            shown = self.ui.redactor.redact(f"{parts.scheme}://{parts.netloc}{parts.path}")
            ms = (time.monotonic() - started) * 1000
            self.ui.debug(f"{method.upper()} {shown} -> {outcome} ({ms:.0f} ms)")


def _requestor_class(client: Reddit) -> type:
    """A prawcore Requestor that narrates, registers the access token with the redactor and
    keeps prawcore from re-sending a write whose outcome is unknown."""
    from prawcore import Requestor
    from prawcore.exceptions import RequestException
    from prawcore.sessions import Session

    class _Requestor(Requestor):
        def request(self, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
            method, url = str(args[0]).upper(), str(args[1])
            token_call = url.endswith("/api/v1/access_token")
            write = method not in IDEMPOTENT and not token_call
            started = time.monotonic()
            try:
                http: Any = self._http
                response = http.request(*args, timeout=timeout or self.timeout, **kwargs)
            except Exception as exc:
                client.narrate(method, url, f"no answer ({type(exc).__name__})", started)
                refused = "NewConnectionError" in repr(exc) or "refused" in str(exc).lower()
                lost: Exception = _AnswerLost(str(exc)) if write and not refused else exc
                raise RequestException(lost, args, kwargs) from None
            client.narrate(method, url, str(response.status_code), started)
            if token_call and response.status_code == 200:
                with contextlib.suppress(ValueError):
                    client.ui.redactor.add(str(response.json().get("access_token") or ""))
            if write and response.status_code in Session.RETRY_STATUSES:
                raise RequestException(_RefusedWrite(response.status_code), args, kwargs)
            return response

    return _Requestor
