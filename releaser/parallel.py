"""Independent reads made at the same time (each waits one round trip, not one after the
other): the forge's answers come back in the order asked."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def at_once(calls: Sequence[Callable[[], T]], workers: int) -> list[T]:
    """Every ``call()``, at most ``workers`` at a time; their results in order. When calls
    fail, the first one's exception is raised once all have ended."""
    if workers <= 1 or len(calls) <= 1:
        return [call() for call in calls]
    workers = min(workers, len(calls))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="read") as pool:
        futures = [pool.submit(call) for call in calls]
    return [future.result() for future in futures]
