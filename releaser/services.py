"""The clients of services other than the forge, created on first use (``ctx.services``).

Each method returns one client per configuration for the whole command (``status`` shares
them between threads), built on :mod:`releaser.clients.http` (or the service's own library,
imported inside the method so ``releaser --help`` stays fast), with its credentials read
through ``ctx.secret`` (registered with the redactor before any request).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from releaser.context import Context

T = TypeVar("T")


class Services:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._clients: dict[Hashable, Any] = {}
        self._lock = threading.Lock()

    def _client(self, key: Hashable, make: Callable[[], T]) -> T:
        with self._lock:
            if key not in self._clients:
                made = make()
                if hasattr(made, "before_write"):
                    made.before_write = self.ctx.fence  # the claim's fence, on every write
                self._clients[key] = made
            client: T = self._clients[key]
            return client

    def close(self) -> None:
        for client in self._clients.values():
            close = getattr(client, "close", None)
            if callable(close):
                close()
        self._clients.clear()
