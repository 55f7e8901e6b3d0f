"""Transient faults: a seeded 20% of every request of a stage fails, then the stage is re-run
until it completes; the state must equal the clean run's, and one more run writes nothing.

The mix (``mix(seed)``): 502s before and after the handler ran, answers slower than the
client waits (``RELEASER_HTTP_TIMEOUT`` is 1 s here; the write may still be applied after the
client gave up), connections dropped before and after the handler ran, 429s with
``Retry-After`` and secondary rate limits (403 with ``Retry-After``), each in the service's own
shape (the forge, Matrix, Discourse, Reddit, Discord, the package index). The faults stay on
for the first ``FAULTY_RUNS`` runs (a bad patch of network), then pass; the driver re-runs the
command it was told to, and where the engine asks (a post whose fate it can't know), answers
as an operator would after looking at the channel.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.reliability.crash import Reference, copy_of
from tests.reliability.rig import VERSION, Rig, discord_links

SHARE = 0.2
MAX_RUNS = 8
FAULTY_RUNS = 2
TIMEOUT = "1"  # RELEASER_HTTP_TIMEOUT: the client gives up after 1 s
KINDS: list[tuple[float, dict[str, Any]]] = [
    (0.05, {"action": "error", "status": 502}),
    (0.02, {"action": "error_after", "status": 502}),
    (0.03, {"action": "delay", "ms": 1500}),  # a timeout: longer than the client waits
    (0.03, {"action": "drop"}),
    (0.02, {"action": "drop_after"}),
    (0.025, {"action": "rate_limit", "status": 429, "retry_after": 1}),
    (0.025, {"action": "rate_limit", "status": 403, "kind": "secondary", "retry_after": 1}),
]
assert abs(sum(share for share, _ in KINDS) - SHARE) < 1e-9


def mix(seed: int) -> list[dict[str, Any]]:
    """The fault rules of one trial: every API, git and service path, 20% in all."""
    path = r"^/(api|git|_matrix|discourse|reddit|discord|pypi)/"
    return [
        {**rule, "path": path, "chance": share, "seed": seed * 100 + i}
        for i, (share, rule) in enumerate(KINDS)
    ]


def answer_by_looking(rig: Rig, output: str) -> bool:
    """An operator asked about a write the engine can't judge looks at the service: the
    post is there (give its link) or not (retry). False when nothing was asked."""
    asked = re.findall(r"releaser confirm \S+ (\S+)", output)
    if not asked:
        return False
    step = asked[-1]
    sent = discord_links(rig) if "discord" in step else []
    flag = ["--evidence", sent[-1]] if sent else ["--retry"]
    for _ in range(5):  # the faults are still on: the answer may need re-sending too
        answered = rig.cli("confirm", VERSION, step, *flag, env={"RELEASER_HTTP_TIMEOUT": TIMEOUT})
        if answered.exit_code == 0:
            return True
    return True


def run_trial(ref: Reference, stage: str, seed: int, work: Path) -> str | None:
    rig = copy_of(ref.before(stage), work)
    env = {"RELEASER_HTTP_TIMEOUT": TIMEOUT}
    try:
        rig.faults(*mix(seed))
        codes = []
        flags: list[str] = []
        fired = 0
        for run in range(MAX_RUNS):
            if run == FAULTY_RUNS:
                fired = sum(r["fired"] for r in rig.fault_rules())
                rig.clear_faults()
            result = rig.cli("--non-interactive", stage, VERSION, "--yes", *flags, env=env)
            flags = ["--take-over"] if took_over(result.output) else []
            codes.append(result.exit_code)
            if "Traceback" in result.output:
                return "a traceback: " + result.output[-2500:]
            if result.exit_code == 0:
                if "could not" not in result.output:
                    break
                continue  # a warning that something could not be recorded says: re-run
            if result.exit_code == 3:
                answer_by_looking(rig, result.output)
            elif result.exit_code not in (1, 4):
                return f"exit {result.exit_code}: {result.output[-2000:]}"
        if len(codes) <= FAULTY_RUNS:
            fired = sum(r["fired"] for r in rig.fault_rules())
        rig.clear_faults()
        if codes[-1] != 0:
            return f"no convergence in {MAX_RUNS} runs ({codes}): {result.output[-2000:]}"
        if fired == 0:
            return "no fault fired"
        state = rig.state()
        if state != ref.states[stage]:
            from tests.reliability.crash import diff

            writes = [
                f"{w['method']} {w['path']} {w['status']}"
                for w in rig.requests()
                if w.get("write") and not w.get("path", "").startswith("/git/")
            ]
            return (
                f"runs {codes}, {fired} faults; the state differs:\n"
                + diff(ref.states[stage], state)
                + "\nwrites:\n"
                + "\n".join(writes[-80:])
                + "\nlast output:\n"
                + result.output[-3000:]
            )
        return settled(rig, stage)
    finally:
        rig.stop()


def took_over(output: str) -> bool:
    """The run stopped at a claim an earlier run of ours left (its release of the claim
    failed too): the hint says to take it over, as the driver knows that run stopped."""
    return "another run of yours" in output and "--take-over" in output


def settled(rig: Rig, stage: str) -> str | None:
    """One more run makes no release writes (it may release a claim a faulted run left), and
    the one after it no writes at all."""
    from tests.machines import ledger_writes

    mark = rig.mark()
    last = rig.stage(stage)
    writes = rig.writes_since(mark)
    ledger = ledger_writes(writes)
    others = [w for i, w in enumerate(writes) if i not in ledger]
    if last.exit_code != 0 or others:
        return f"one more run: exit {last.exit_code}, writes {others}"
    mark = rig.mark()
    last = rig.stage(stage)
    writes = rig.writes_since(mark)
    if last.exit_code != 0 or writes:
        return f"and the next: exit {last.exit_code}, writes {writes}"
    return None


def run_trial_at(root: str, stage: str, seed: int) -> str | None:
    from tests.reliability.trial import on_reference

    return on_reference("faults", run_trial, root, stage, seed)


def trials(ref: Reference, count: int) -> list[tuple[str, Any, tuple[Any, ...]]]:
    """``count`` trials, stages in turn, seeds 1.. (every stage gets its share)."""
    out = []
    stages = [s for s in ref.stages if s != "start"]  # start makes too few requests to fault
    for i in range(count):
        stage = stages[i % len(stages)]
        seed = i + 1
        out.append((f"{stage}-seed{seed}", run_trial_at, (str(ref.root), stage, seed)))
    return out
