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


def on_reference(prefix: str, run: Callable[..., Any], root: str, *args: Any) -> Any:
    """``run(reference, *args, work)`` in a worker process: the reference read from ``root``,
    ``work`` a scratch directory of its own, removed after."""
    import shutil

    from tests.reliability.crash import load_reference

    work = scratch(prefix)
    try:
        return run(load_reference(Path(root)), *args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- the whole trial --------------------------------------------------------------------------

FAULT_TRIALS = 104  # 13 seeds for each of the 8 stages with enough requests to fault


def run_all(workers: int = 2, log: Callable[[str], None] = print) -> dict[str, Tally]:
    """Every category, as ``bench/reliability.py`` prints it."""
    import shutil
    import time

    from tests.reliability import bad_inputs, crash, dry_runs, faults, races, secrets_scan

    started = time.monotonic()
    root = scratch("reference")
    try:
        ref = crash.reference(root)
        log(
            f"reference release: {len(ref.points)} crash points ({time.monotonic() - started:.0f}s)"
        )
        tallies: dict[str, Tally] = {}
        plan = {
            "crash points": [(p.id, crash.run_trial_at, (str(root), p)) for p in ref.points],
            "faults": faults.trials(ref, FAULT_TRIALS),
            "races": races.race_trials(ref),
            "take-overs": races.take_over_trials(ref),
            "bad inputs": bad_inputs.trials(ref),
            "dry runs": dry_runs.trials(ref),
        }
        for name, trials in plan.items():
            tallies[name] = run(name, trials, workers)
            log(f"{name}: {tallies[name].figure()} ({time.monotonic() - started:.0f}s)")
        found = secrets_scan.scan_at(str(root))
        tallies["secret leaks"] = Tally("secret leaks", passed=0, total=len(found))
        tallies["secret leaks"].failures = [("leak", f) for f in found]
        return tallies
    finally:
        shutil.rmtree(root, ignore_errors=True)


def summary(t: dict[str, Tally]) -> str:
    """The bench's last line."""
    dry = t["dry runs"]
    dry_writes = sum(1 for _, f in dry.failures if "write" in f)
    return (
        f"reliability: crash points {t['crash points'].figure()}, faults {t['faults'].figure()}, "
        f"races {t['races'].figure()}, take-overs {t['take-overs'].figure()}, "
        f"bad inputs {t['bad inputs'].figure()}, secret leaks {t['secret leaks'].total}, "
        f"dry-run writes {dry_writes}"
    )
