"""The reliability trial's figures, counted the same way by the suite and by
``bench/reliability.py``: each category is a list of trials, each trial a function returning
None (it held) or what went wrong. ``run`` runs them on a pool of processes (each trial starts
its own sandbox forges, so they are independent) and returns ``(passed, total, failures)``.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Tally:
    name: str
    passed: int = 0
    total: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def whole(self) -> bool:
        return self.total > 0 and self.passed == self.total

    def figure(self) -> str:
        return f"{self.passed}/{self.total}"


Trial = tuple[str, Callable[..., str | None], tuple[Any, ...]]  # (id, function, arguments)


def _run_one(trial: Trial) -> tuple[str, str | None]:
    ident, function, args = trial
    os.environ.pop("CI", None)
    try:
        return ident, function(*args)
    except BaseException as exc:  # a trial that raised failed: say how
        if isinstance(exc, KeyboardInterrupt):
            raise
        return ident, "raised: " + "".join(traceback.format_exception(exc))[-3000:]


def run(name: str, trials: list[Trial], workers: int = 2) -> Tally:
    """Run ``trials`` (picklable: module-level functions) on ``workers`` processes."""
    tally = Tally(name, total=len(trials))
    if workers <= 1:
        results = [_run_one(t) for t in trials]
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init) as pool:
            results = list(pool.map(_run_one, trials))
    for ident, failure in results:
        if failure is None:
            tally.passed += 1
        else:
            tally.failures.append((ident, failure))
    return tally


def _init() -> None:
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))


def scratch(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"reliability-{prefix}-"))
