"""Answers that depend only on git objects named by their sha, kept: a commit's fields, an
object's type, the diff and the merge of two commits. Objects never change, so an answer
found once holds; only answers about existing objects are kept (an object may appear later).
Bounded (least recently used first out) and shared by the forges of one process, keyed by
repository path.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")
SIZE = 8192
_SHA = re.compile(r"[0-9a-f]{40}")
_values: OrderedDict[Hashable, object] = OrderedDict()
_lock = threading.Lock()


def is_sha(value: str) -> bool:
    return bool(_SHA.fullmatch(value))


def kept(
    key: tuple[Hashable, ...],
    shas: tuple[str, ...],
    compute: Callable[[], T],
    keep: Callable[[T], bool] = lambda value: value is not None,
) -> T:
    """``compute()`` once for ``key`` when every name in ``shas`` is a full sha (a ref name
    may move: computed each time); an answer ``keep`` refuses (None: an object not there
    yet) is not kept."""
    if not all(is_sha(s) for s in shas):
        return compute()
    with _lock:
        if key in _values:
            _values.move_to_end(key)
            value: T = _values[key]  # type: ignore[assignment]
            return value
    value = compute()
    if keep(value):
        with _lock:
            _values[key] = value
            while len(_values) > SIZE:
                _values.popitem(last=False)
    return value
