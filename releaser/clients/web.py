"""Anonymous HTTP: what any user's browser or ``curl`` gets from a public URL.

Release assets are downloaded here the way users download them (the asset's browser URL,
redirects followed, no token anywhere), and a published site is probed (``verify_url``:
does it answer 200 yet?). Built on the shared HTTP client: retries of reads, rate limits and
``-v`` narration as for every service; no credential is ever sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from releaser.clients.http import HTTPClient, Narrator
from releaser.errors import Unreachable


class Web(HTTPClient):
    service = "the web server"

    def __init__(
        self, ui: Narrator, rewrite: Callable[[str], str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__("", ui, follow_redirects=True, **kwargs)
        self._rewrite = rewrite or (lambda url: url)

    def fetch(self, url: str) -> bytes | None:
        """The bytes at ``url``; None when it answers 404 or 410 (not there)."""
        response = self._get(url, ok=(404, 410))
        return None if response.status_code in (404, 410) else response.content

    def status(self, url: str) -> int:
        """The status ``url`` answers with (after redirects); 0 when it can't be reached."""
        try:
            return self._get(url, ok=range(400, 600)).status_code
        except Unreachable:
            return 0

    def available(self, url: str) -> int:
        """The status a GET of ``url`` answers (after redirects), without reading the body:
        whether a download would start (0 when it can't be reached)."""
        import httpx

        target = self._rewrite(url)
        try:
            with self._client.stream("GET", target) as response:
                status = response.status_code
        except httpx.HTTPError:
            status = 0
        self.ui.debug(f"GET {self._shown(target)} -> {status or 'unreachable'} (body not read)")
        return status

    def _get(self, url: str, ok: Any) -> Any:
        target = self._rewrite(url)
        try:
            return self.request("GET", target, ok=ok)
        except Unreachable as exc:
            reason = exc.message.removeprefix("cannot reach ").strip()
            raise Unreachable(
                f"cannot reach {self._shown(target)} {reason}",
                "check the URL (a private repository's assets can't be downloaded anonymously)",
            ) from None
