"""The one memo of a command: every read is made once, until the engine forgets them all.

``status`` checks steps in parallel threads, so the memo is thread-safe: one lock per key,
and a caller asking for a key being computed waits for that computation instead of making
the same request. The engine calls :meth:`Memo.forget` after every write (and while waiting on
remote work), so a check never sees the forge as it was before a write. A value computed
while a ``forget`` happened is handed to its caller but not kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class Memo:
    def __init__(self) -> None:
        self._values: dict[Hashable, Any] = {}
        self._kept: dict[Hashable, Any] = {}  # lasting values: forget() keeps them
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()
        self._generation = 0

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` once for ``key`` (until the next :meth:`forget`)."""
        if key in self._values:
            value: T = self._values[key]
            return value
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key in self._values:
                kept: T = self._values[key]
                return kept
            generation = self._generation
            value = compute()
            with self._guard:
                if generation == self._generation:
                    self._values[key] = value
            return value

    def lasting(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` once for ``key`` for the whole command, kept across :meth:`forget`:
        for what no write of the command can change (the token's own identity)."""
        box = ("lasting", key)
        with self._guard:
            if box in self._kept:
                found: T = self._kept[box]
                return found
            lock = self._locks.setdefault(box, threading.Lock())
        with lock:
            if box not in self._kept:
                value = compute()
                with self._guard:
                    self._kept[box] = value
            kept: T = self._kept[box]
            return kept

    def put(self, key: Hashable, value: Any) -> None:
        """Remember a value learnt from a write's answer (saves the read that would follow)."""
        with self._guard:
            self._values[key] = value

    def drop(self, key: Hashable) -> None:
        """Forget one read (a write in the middle of a step changed it)."""
        with self._guard:
            self._values.pop(key, None)

    def forget(self) -> None:
        """Forget every read: the next look sees the services as they are now."""
        with self._guard:
            self._generation += 1
            self._values.clear()

    @property
    def generation(self) -> int:
        """How many times it forgot: a reader keeping its own copy re-reads once it moved."""
        return self._generation

    def __contains__(self, key: Hashable) -> bool:
        return key in self._values
