"""GitHub's REST and GraphQL APIs over the shared HTTP client (GitHub, Enterprise, sandbox).

GitHub specifics on top of :mod:`releaser.clients.http`: token auth, API version headers,
``Link`` pagination, primary and secondary rate limits, scope errors (exit 2 naming the
scope), and GraphQL. Conditional GETs are on: a re-read answered 304 costs no rate limit.

Why not PyGithub: its objects fetch lazily (a missing attribute is a hidden GET), it retries
with urllib3 (15 s before an unreachable forge is reported, in urllib3's words), it cannot
send conditional requests, and its debug log dumps whole headers and bodies. Measured on the
demo's ``status``, the same checks made fewer requests through this client; see
docs/architecture.md. PyGithub stays in the test suite, which uses it to prove the sandbox
answers as GitHub does.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from releaser.clients.http import HTTPClient, RetryPolicy, decode, decode_quietly, retry_after
from releaser.errors import CredentialError, HTTPError, RemoteError

if TYPE_CHECKING:
    import httpx

    from releaser.clients.http import Narrator

API_VERSION = "2022-11-28"
PER_PAGE = 100


class GitHubAPI(HTTPClient):
    service = "the forge"
    config_key = "[forge] api_url"

    def __init__(
        self,
        api_url: str,
        token: str,
        ui: Narrator,
        *,
        token_env: str = "GITHUB_TOKEN",
        local: bool = False,
        retry: RetryPolicy | None = None,
    ) -> None:
        ui.redactor.add(token)
        super().__init__(
            api_url,
            ui,
            headers={
                "Authorization": f"token {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "releaser",
            },
            conditional=True,
            retry=retry,
        )
        self.credential = token_env
        # GitHub asks integrations to space out writes (secondary rate limits); a local
        # forge (the sandbox, a test server) doesn't need it.
        self._write_gap = 0.0 if local else 0.5
        self._last_write = 0.0
        self._offset = 0.0  # the forge's clock minus ours, from its Date headers
        parts = urlsplit(api_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        # GitHub: https://api.github.com -> /graphql; Enterprise: /api/v3 -> /api/graphql
        if parts.path.rstrip("/").endswith("/api/v3"):
            self.graphql_url = f"{self.origin}{parts.path.rstrip('/')[: -len('/v3')]}/graphql"
        else:
            self.graphql_url = f"{self.base_url}/graphql"

    # -- requests ------------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if method.upper() not in ("GET", "HEAD") and self._write_gap:
            pause = self._last_write + self._write_gap - time.monotonic()
            if pause > 0:
                self.sleep(pause)
            self._last_write = time.monotonic()
        response = super().request(method, path, **kwargs)
        self._note_date(response.headers.get("date"))
        return response

    def _note_date(self, date: str | None) -> None:
        if not date:
            return
        try:
            said = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            return
        self._offset = said - time.time()

    def now(self) -> float:
        """The forge's time (from its last ``Date`` header): leases and timeouts are judged
        by the forge's clock, which every driver shares, not by each machine's own."""
        return time.time() + self._offset

    def paginate(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """Every item of a listing, page by page (``Link: rel="next"``); a listing wrapped
        in an object (``{"workflow_runs": [...]}``) yields the inner items."""
        query = {"per_page": PER_PAGE, **(params or {})}
        url: str | None = path
        while url is not None:
            response = self.request("GET", url, params=query)
            body = decode(response)
            if isinstance(body, dict):
                body = next((v for v in body.values() if isinstance(v, list)), [])
            yield from body or []
            url = response.links.get("next", {}).get("url")
            query = {}  # the next link carries the query

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> Any:
        """Run a GraphQL query or mutation; its ``data``. Queries are retried (reads)."""
        is_query = query.lstrip().startswith(("query", "{"))
        response = self.request(
            "POST",
            self.graphql_url,
            json_body={"query": query, "variables": dict(variables or {})},
            retry=is_query,
            fenced=not is_query,
        )
        body = decode(response)
        errors = body.get("errors") if isinstance(body, dict) else None
        if errors:
            text = "; ".join(str(e.get("message", e)) for e in errors)
            raise RemoteError(
                f"the forge's GraphQL API refused the request: {self.ui.redactor.redact(text)}",
                "re-run the command; -v shows the request",
            )
        return body.get("data") if isinstance(body, dict) else None

    # -- GitHub's own answers --------------------------------------------------------------

    def rate_limit_wait(self, response: httpx.Response) -> float | None:
        status = response.status_code
        if status not in (403, 429):
            return None
        headers = response.headers
        message = str(decode_quietly(response)).lower()
        if "secondary rate limit" in message or "abuse" in message:
            return retry_after(headers, default=60.0)
        if headers.get("x-ratelimit-remaining") == "0":
            reset = float(headers.get("x-ratelimit-reset") or 0)
            return max(1.0, reset - time.time()) if reset else 60.0
        if status == 429:
            return retry_after(headers, default=1.0)
        return None

    def refusal(self, response: httpx.Response) -> Exception:
        status = response.status_code
        headers = {k.lower(): v for k, v in response.headers.items()}
        if status == 403 and "x-accepted-oauth-scopes" in headers:
            have = _scopes(headers.get("x-oauth-scopes", ""))
            need = _scopes(headers["x-accepted-oauth-scopes"])
            if need and not need & have:
                return CredentialError(
                    f"the token in {self.credential} lacks the scope this needs: "
                    f"{', '.join(sorted(need))}",
                    "create a token with that scope (`releaser env` lists the scopes)",
                )
        error = super().refusal(response)
        if isinstance(error, HTTPError) and status == 403:
            error.hint = (
                f"the token in {self.credential} may not do this on the repository: check its "
                "permissions (`releaser doctor`)"
            )
        return error


def _scopes(text: str) -> set[str]:
    return {s.strip() for s in text.split(",") if s.strip()}
