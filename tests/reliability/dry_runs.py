"""Dry runs: every stage, and the whole release, with ``--dry-run`` on a fresh release and on
one half done (the reference before that stage); each must write nothing at all (the
forge's and the services' request log) and leave the state as it was."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tests.reliability.crash import Reference, copy_of, load_reference
from tests.reliability.rig import VERSION


def run_dry(ref: Reference, stage: str, at: str, work: Path) -> tuple[int, str | None]:
    """(writes, problem): the writes a dry run of ``stage`` made from the copy before
    ``at``; a problem when it raised, crashed or changed the state."""
    rig = copy_of(ref.before(at), work)
    try:
        before = rig.state()
        mark = rig.mark()
        command = ("release",) if stage == "release" else (stage,)
        result = rig.cli("--non-interactive", "--dry-run", *command, VERSION)
        writes = rig.writes_since(mark)
        if "Traceback" in result.output:
            return len(writes), "a traceback: " + result.output[-2000:]
        if result.exit_code not in (0, 1, 3, 4) or "dry run" not in result.output:
            return len(writes), f"exit {result.exit_code}: {result.output[-2000:]}"
        if rig.state() != before:
            return len(writes), "the state changed"
        if writes:
            return len(writes), f"writes: {[(w['method'], w['path']) for w in writes]}"
        return 0, None
    finally:
        rig.stop()


def run_dry_at(root: str, stage: str, at: str) -> str | None:
    from tests.reliability.trial import scratch

    work = scratch("dry")
    try:
        writes, problem = run_dry(load_reference(Path(root)), stage, at, work)
        return problem if writes == 0 else f"{writes} write(s): {problem}"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def trials(ref: Reference) -> list[tuple[str, Any, tuple[Any, ...]]]:
    out = []
    for stage in [*ref.stages, "release"]:
        for at in dict.fromkeys(["start", stage if stage != "release" else "promote"]):
            out.append((f"{stage}-on-{at}", run_dry_at, (str(ref.root), stage, at)))
    return out
