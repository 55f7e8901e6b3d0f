"""GitHub through PyGithub, with a configurable ``base_url`` (GitHub, Enterprise, sandbox).

Imported only when a command talks to the forge: PyGithub costs most of a second to import.
Retries (5xx, rate limits with ``Retry-After``, secondary limits) are PyGithub's
``GithubRetry``; with ``-v`` every request is narrated (tokens redacted by the UI).
"""

from __future__ import annotations

import contextlib
import logging
from functools import cached_property
from typing import TYPE_CHECKING, Any

from github import Auth, Github, GithubException, GithubRetry, UnknownObjectException

from releaser.errors import RemoteError

if TYPE_CHECKING:
    from github.Repository import Repository

    from releaser.context import ForgeEndpoint
    from releaser.ui import UI

POOL_SIZE = 16  # kept-alive connections; >= [engine] concurrency keeps them all reused

__all__ = ["GitHub", "GithubException", "UnknownObjectException", "is_status"]


class _UILogHandler(logging.Handler):
    """Narrates PyGithub's requests with -v: ``GET <url> -> 200`` (bodies and headers left out)."""

    def __init__(self, ui: UI, origin: str) -> None:
        super().__init__(logging.DEBUG)
        self.ui = ui
        self.origin = origin  # scheme://host:port (PyGithub's own log line drops the port)

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # narration must never break a request
            self._emit(record)

    def _emit(self, record: logging.LogRecord) -> None:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 7 and "==>" in str(record.msg):
            verb, path, status = args[0], args[3], args[6]
            self.ui.debug(f"{verb} {self.origin}{path} -> {status}")
        else:
            self.ui.debug(record.getMessage().split(" {", 1)[0])


class GitHub:
    def __init__(self, forge: ForgeEndpoint, repo_name: str, ui: UI) -> None:
        self.forge = forge
        self.repo_name = repo_name
        self.ui = ui
        ui.redactor.add(forge.token)
        # GitHub asks integrators to space writes out (secondary rate limits); a local
        # forge (the sandbox, or a test server on loopback) doesn't need it.
        local = forge.sandbox is not None or _is_loopback(forge.api_url)
        self.gh = Github(
            base_url=forge.api_url,
            auth=Auth.Token(forge.token),
            per_page=100,
            timeout=30,
            pool_size=POOL_SIZE,  # `status` checks share the client from a thread pool
            # Retry reads and idempotent writes only: a POST or PATCH applied before its
            # answer was lost must not be sent again (a second issue, comment, release);
            # the engine re-checks instead, and the step decides.
            retry=GithubRetry(
                total=5,
                backoff_factor=0.5,
                secondary_rate_wait=10,
                allowed_methods=frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}),
            ),
            seconds_between_requests=None if local else 0.05,
            seconds_between_writes=None if local else 0.5,
        )
        self._log_handler: _UILogHandler | None = None
        if ui.verbose:
            logger = logging.getLogger("github.Requester")
            logger.setLevel(logging.DEBUG)
            from urllib.parse import urlparse

            parsed = urlparse(forge.api_url)
            self._log_handler = _UILogHandler(ui, f"{parsed.scheme}://{parsed.netloc}")
            logger.addHandler(self._log_handler)

    def close(self) -> None:
        """Detach the -v narration from PyGithub's logger (the UI may be gone)."""
        if self._log_handler is not None:
            logger = logging.getLogger("github.Requester")
            logger.removeHandler(self._log_handler)
            logger.setLevel(logging.NOTSET)
            self._log_handler = None

    @cached_property
    def repo(self) -> Repository:
        """The project's repository (one GET, then cached for the command)."""
        return self.repository(self.repo_name)

    def repository(self, full_name: str) -> Repository:
        try:
            return self.gh.get_repo(full_name)
        except UnknownObjectException as exc:
            raise RemoteError(
                f"repository {full_name} not found on {self.forge.api_url}",
                "check [project] repo in releaser.toml and that the token can read it",
            ) from exc
        except GithubException as exc:
            if exc.status == 401:
                raise RemoteError(
                    "the forge refused the token (401 Bad credentials)",
                    "set a valid token (`releaser doctor` checks it)",
                ) from exc
            raise

    @cached_property
    def login(self) -> str:
        return str(self.gh.get_user().login)

    def git_url(self, full_name: str | None = None) -> str:
        return f"{self.forge.git_url}/{full_name or self.repo_name}.git"

    def request_json(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """A raw REST call for what PyGithub lacks; ``path`` is relative to the API root."""
        requester = self.gh.requester
        url = path if path.startswith("http") else f"{self.forge.api_url}{path}"
        status, headers, body = requester.requestJson(method, url, **kwargs)
        import json

        data = json.loads(body) if body else None
        if status in (401, 403):
            # the same rule as for PyGithub's exceptions: a refused token or scope is exit 2
            from releaser.engine import credential_error

            credential_error(GithubException(status, data, headers))
        return status, data


def _is_loopback(url: str) -> bool:
    from urllib.parse import urlparse

    host = urlparse(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def is_status(exc: BaseException, *statuses: int) -> bool:
    return isinstance(exc, GithubException) and exc.status in statuses
