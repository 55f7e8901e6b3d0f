"""A small client for the sandbox forge's admin API (``{admin_url}``), for tests and the demo.

Works against an in-process ``SandboxServer`` or a forge in another process alike::

    with SandboxAdmin(server.info()["admin_url"]) as admin:
        admin.freeze()                      # sandbox time stops
        admin.advance(30)                   # ... and moves 30 s on
        bob = admin.create_user("bob")      # {"login": "bob", "token": "ghp_...", ...}
        admin.add_collaborator("o/r", "bob", "read")

Every method raises ``httpx.HTTPStatusError`` when the forge refuses.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx


class SandboxAdmin:
    def __init__(self, admin_url: str, timeout: float = 30) -> None:
        self._http = httpx.Client(base_url=admin_url.rstrip("/") + "/", timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SandboxAdmin:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, path, json=body)
        response.raise_for_status()
        return response.json() if response.content else None

    # ---- clock ------------------------------------------------------------------------------

    def clock(self) -> dict[str, Any]:
        """``{"now": epoch, "mode": "system"|"manual", "offset": s, "iso": "...Z"}``"""
        return dict(self._call("GET", "clock"))

    def _clock(self, **body: Any) -> float:
        return float(self._call("POST", "clock", body)["now"])

    def freeze(self, at: float | None = None) -> float:
        """Stop sandbox time (at ``at`` if given); the frozen time."""
        return self._clock(mode="manual", **({} if at is None else {"set": at}))

    def advance(self, seconds: float) -> float:
        """Move sandbox time forward; the new time."""
        return self._clock(advance=seconds)

    def set_time(self, epoch: float) -> float:
        return self._clock(set=epoch)

    def unfreeze(self) -> float:
        """Let sandbox time run again from where it is."""
        return self._clock(mode="system")

    def reset_clock(self) -> float:
        """Plain system time."""
        return self._clock(reset=True)
