"""Crash points: every mutating request of a clean release, failed in both ways, then a re-run.

``reference()`` releases v1.2.0 cleanly on a fresh rig (tests/reliability/rig.py), stage by
stage, keeping a copy of the forge before each stage, the requests each stage made and the
state after each. A crash point is one write of one stage, addressed as a fault rule
(method, exact path, nth among requests to that path), in one of two variants:

- ``error``: the forge answers 502 before applying the write;
- ``error_after``: the forge applies it, then answers 502 (the answer is lost).

A trial starts from the copy before the stage, runs the stage with the fault (it stops, or its
re-check finds the write applied and goes on), checks that the fault fired on that very write,
clears it and runs the stage again (an operator answering where the engine must ask: the
ledger holds an intent whose fate it can't know). The state must then equal the clean run's
after that stage, object by object (tags, branches, releases, assets, PRs, issues and their
comments, dispatched runs, channel posts, package files), and one more run writes nothing.

Ledger appends (a tree, a commit and the move of ``refs/releaser/*``) are left out: their
compare-and-swap has its own tests (tests/releaser/test_ledger_store.py).
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.machines import ledger_writes
from tests.reliability.rig import VERSION, Rig, discord_links

VARIANTS = ("error", "error_after")


@dataclass(frozen=True)
class CrashPoint:
    stage: str
    method: str
    path: str  # as logged (a Discord webhook's token blanked)
    nth: int  # among requests with this method and path
    variant: str

    @property
    def id(self) -> str:
        """A name that is the same on every reference (test ids must be: pytest-xdist's
        workers each make one): the ids of rooms, events and webhooks left out."""
        tail = self.path.rsplit("/repos/", 1)[-1]
        tail = re.sub(r"![^/]+|releaser-[0-9a-f]+|/\d{6,}|/\*\*\*", "", tail)[-48:]
        return f"{self.stage}-{self.variant}-{self.method}-{tail}-{self.nth}"

    def rule(self) -> dict[str, Any]:
        path = re.escape(self.path).replace(r"\*\*\*", "[^/]+")
        return {
            "method": self.method,
            "path": "^" + path + "$",
            "nth": self.nth,
            "action": self.variant,
            "status": 502,
        }


@dataclass
class Reference:
    """A clean release: a copy of the forge before each stage, and what each stage did."""

    root: Path
    stages: list[str]
    points: list[CrashPoint]
    states: dict[str, Any]  # stage -> the state after it

    def before(self, stage: str) -> Path:
        return self.root / f"before-{stage}"


def write_points(entries: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    """``(method, path, nth)`` of every write in the request log ``entries`` but the
    ledger's; nth counts every request with that method and path (GraphQL queries and
    mutations share one path)."""
    writes = [e for e in entries if e.get("write")]
    ledger = {id(writes[i]) for i in ledger_writes(writes)}
    seen: dict[tuple[str, str], int] = {}
    points = []
    for entry in entries:
        key = (entry["method"], entry["path"])
        seen[key] = seen.get(key, 0) + 1
        if entry.get("write") and id(entry) not in ledger:
            points.append((entry["method"], entry["path"], seen[key]))
    return points


_REFERENCE: dict[str, Reference] = {}  # per process, by the stages it covers


def reference(root: Path | None = None, stages: tuple[str, ...] | None = None) -> Reference:
    """The clean release (made once per process, kept in ``root`` or a temporary dir);
    ``stages``: only the first ones (a quicker reference for the fast tier)."""
    from releaser.stages import STAGES

    key = ",".join(stages or ())
    if key in _REFERENCE:
        return _REFERENCE[key]
    STAGES = stages or STAGES
    root = root or Path(tempfile.mkdtemp(prefix="reliability-ref-"))
    rig = Rig.seeded(root / "clean")
    points: list[CrashPoint] = []
    states: dict[str, Any] = {}
    try:
        for stage in STAGES:
            rig.copy(root / f"before-{stage}").stop()
            mark = rig.mark()
            result = rig.stage(stage)
            assert result.exit_code == 0, f"clean {stage}: {result.output[-3000:]}"
            for method, path, nth in write_points(rig.requests(mark)):
                points += [CrashPoint(stage, method, path, nth, v) for v in VARIANTS]
            states[stage] = rig.state()
        rig.copy(root / "after").stop()
    finally:
        rig.stop()
    ref = Reference(root, list(STAGES), points, states)
    (root / "reference.json").write_text(
        json.dumps({"stages": ref.stages, "points": [p.__dict__ for p in points], "states": states})
    )
    _REFERENCE[key] = ref
    return ref


def load_reference(root: Path) -> Reference:
    """A reference made by another process (``reference(root)``)."""
    data = json.loads((root / "reference.json").read_text())
    points = [CrashPoint(**p) for p in data["points"]]
    return Reference(root, data["stages"], points, data["states"])


def open_rig(path: Path) -> Rig:
    data = json.loads((path / "rig.json").read_text())
    return Rig(path, data["env"])


def copy_of(snapshot: Path, work: Path) -> Rig:
    """A rig of its own in ``work``, started from the saved ``snapshot`` (left untouched)."""
    source = open_rig(snapshot)
    try:
        return source.copy(work)
    finally:
        source.stop()


def answer_operator(rig: Rig, result: Any, point: CrashPoint) -> Any:
    """Where the engine asks (exit 3: a write whose fate it can't know), the operator knows
    what happened: ``error`` wrote nothing (retry), ``error_after`` did (but its evidence is
    not known to them either: they say it is done)."""
    for _ in range(3):
        if result.exit_code != 3:
            return result
        asked = re.findall(r"releaser confirm \S+ (\S+)", result.output)
        assert asked, result.output[-2000:]
        step = asked[-1]
        flag = ["--retry"]
        if point.variant == "error_after":
            sent = discord_links(rig) if "discord" in step else []
            assert sent, f"{step}: the operator finds no post to give as evidence"
            flag = ["--evidence", sent[-1]]
        answered = rig.cli("confirm", VERSION, step, *flag)
        assert answered.exit_code == 0, answered.output[-2000:]
        result = rig.stage(point.stage)
    return result


def run_trial(ref: Reference, point: CrashPoint, work: Path) -> str | None:
    """One crash point; None when it converged, else what went wrong."""
    rig = copy_of(ref.before(point.stage), work)
    try:
        rig.faults(point.rule())
        mark = rig.mark()
        first = rig.stage(point.stage)
        fired = [r["fired"] for r in rig.fault_rules()]
        if fired != [1]:
            return f"the fault fired {fired} times (exit {first.exit_code})"
        hit = [e for e in rig.requests(mark) if e.get("status") == 502 or e.get("dropped")]
        if not hit or not hit[0].get("write"):
            return f"the fault hit a read: {hit[:1]}"
        if "Traceback" in first.output:
            return "a traceback: " + first.output[-1500:]
        rig.clear_faults()
        again = answer_operator(rig, rig.stage(point.stage), point)
        if again.exit_code != 0:
            return f"the re-run exited {again.exit_code}: {again.output[-2000:]}"
        state = rig.state()
        want = ref.states[point.stage]
        if state != want:
            return "the state differs from the clean run's:\n" + diff(want, state)
        mark = rig.mark()
        last = rig.stage(point.stage)
        writes = rig.writes_since(mark)
        if last.exit_code != 0 or writes:
            return f"one more run: exit {last.exit_code}, writes {writes}"
        return None
    finally:
        rig.stop()


def diff(want: Any, got: Any) -> str:
    import difflib

    a = json.dumps(want, indent=1, sort_keys=True).splitlines()
    b = json.dumps(got, indent=1, sort_keys=True).splitlines()
    return "\n".join(list(difflib.unified_diff(a, b, "clean", "trial", lineterm="", n=1))[:80])


def run_trial_at(root: str, point: CrashPoint) -> str | None:
    """``run_trial`` in a worker process: the reference read from ``root``."""
    from tests.reliability.trial import on_reference

    return on_reference("crash", run_trial, root, point)
