"""Two release drivers on two machines (docs/architecture.md, "Where the state lives"):
they share one release through the forge.

- alternating the stages of one release ends in the same forge state as one driver;
- two drivers starting the same stage at the same instant: one proceeds, the other stops
  with exit 1 naming the holder, and no write is made twice;
- a driver killed while it waits is resumed by another once its lease expires, or at once
  with ``--take-over --yes``.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from releaser.errors import ClaimHeld, ReleaserError
from releaser.ledger import live_claim, parse_iso
from releaser.sandbox.admin_client import SandboxAdmin
from releaser.step import Action, Outcome, Step
from tests.machines import Machine, forge_state, ledger_entries, output, race, requests_since
from tests.steps.conftest import Project

VERSION = "v1.2.0-rc1"
FAST = "\n[engine]\npoll_interval = 0.2\nwait_timeout = 120\n"


def _stages() -> list[str]:
    """Every stage that has steps (more stages get steps as the project grows)."""
    import steps

    return [stage for stage in steps.STAGES if steps.PLANS[stage]]


RUN = re.compile(r"/actions/runs/\d+")
SHA = re.compile(r"\b[0-9a-f]{40}\b|\b[0-9a-f]{12}\b")


def _comparable(state: dict[str, Any]) -> dict[str, Any]:
    """Commit shas differ between two forges (commit times): leave them out."""
    state = dict(state)
    state["issues"] = [
        (t, s, RUN.sub("/actions/runs/N", SHA.sub("SHA", body))) for t, s, body in state["issues"]
    ]
    return state


@pytest.mark.slow
def test_alternating_drivers_end_like_one_driver(make_project: Callable[..., Project]) -> None:
    stages = _stages()
    assert stages[:2] == ["start", "prepare"]
    shared = make_project(extra=FAST)
    alice = Machine(shared, "a", "alice", "laptop-a")
    bob = Machine(shared, "b", "bob", "desktop-b")
    for i, stage in enumerate(stages):
        machine = (alice, bob)[i % 2]
        result = machine.cli("--yes", stage, VERSION)
        assert result.exit_code == 0, (stage, machine.name, result.output[-3000:])
    solo_project = make_project(extra=FAST)
    solo = Machine(solo_project, "solo", "carol", "laptop-c")
    for stage in stages:
        result = solo.cli("--yes", stage, VERSION)
        assert result.exit_code == 0, (stage, result.output[-3000:])

    def runs(project: Project) -> list[tuple[str, str, str]]:
        return sorted((r.name, r.event, r.head_branch) for r in project.repo.get_workflow_runs())

    assert runs(shared) == runs(solo_project)  # no run started twice
    ours, theirs = _comparable(forge_state(shared)), _comparable(forge_state(solo_project))
    for (title, _, body), (_, _, solo) in zip(ours["issues"], theirs["issues"], strict=True):
        diff = "\n".join(difflib.unified_diff(solo.splitlines(), body.splitlines(), lineterm=""))
        assert not diff, f"{title}:\n{diff}"
    assert ours == theirs

    # The ledger says who ran what from where, alternating. (A stage that found its work
    # done, like `build` once the tag push's runs finished, wrote nothing and left no entry;
    # one that waited on them left one.)
    ran_by = {stage: (alice, bob)[i % 2] for i, stage in enumerate(stages)}
    runs = [e for e in ledger_entries(shared, VERSION) if e["type"] == "stage"]
    assert {"start", "prepare", "tag", "publish"} <= {e["stage"] for e in runs}
    for e in runs:
        machine = ran_by[e["stage"]]
        assert (e["by"], e["host"], e["outcome"]) == (machine.driver, machine.host, "done")
        assert e["start"] <= e["end"]
    assert [e["stage"] for e in runs] == [s for s in stages if s in {e["stage"] for e in runs}]
    # Both machines kept their own local state apart.
    assert any(alice.cache.rglob("*")) or any(bob.cache.rglob("*"))
    assert live_claim(ledger_entries(shared, VERSION)) is None  # every claim was released

    # A third machine that never ran anything sees the whole release done.
    carol = Machine(shared, "c", "carol", "laptop-c")
    status = carol.cli("status", VERSION, "--json")
    assert status.exit_code == 0, status.output[-2000:]
    data = json.loads(status.stdout)
    rows = [row for stage in data["stages"] for row in stage["steps"]]
    assert {r["status"] for r in rows} == {"done"}, [r for r in rows if r["status"] != "done"]
    assert all(r["evidence"] for r in rows)
    assert data["next"] is None and data["claim"] is None

    # Re-running finished stages, from either machine: reads only (no claim, no ledger write).
    mark = len(shared.requests())
    for i, stage in enumerate(stages):
        result = (bob, alice)[i % 2].cli("--yes", stage, VERSION)
        assert result.exit_code == 0, (stage, result.output[-2000:])
    assert shared.writes_since(mark) == []


# -- two drivers, one stage, the same instant ------------------------------------------------


class TrialBranch(Step):
    """Create the branch `trial/<tag>` from main (a test step that writes to the forge).

    Why: a write two racing drivers must not make twice.
    By hand: git push origin main:refs/heads/trial/<tag>
    """

    name = "trial-branch"
    runs: Counter[str] = Counter()

    def check(self, ctx: Any) -> Outcome:
        there = ctx.forge.branch(f"trial/{ctx.tag}") is not None
        return Outcome.done("there") if there else Outcome.todo("missing")

    def plan(self, ctx: Any) -> list[Action]:
        return [Action("create", f"branch trial/{ctx.tag}")]

    def run(self, ctx: Any) -> None:
        TrialBranch.runs[ctx.tag] += 1
        time.sleep(0.3)  # a write that takes a while: the other driver arrives meanwhile
        main = ctx.forge.branch("main")
        ctx.forge.create_branch(f"trial/{ctx.tag}", main.sha)


def _race(contexts: list[Any], stage: str) -> list[BaseException | None]:
    from releaser.commands.stage import run_stages

    barrier = threading.Barrier(len(contexts))
    errors: list[BaseException | None] = [None] * len(contexts)

    def drive(i: int) -> None:
        ctx = contexts[i]
        ctx.forge.repository()  # connected before the start line, like a started CLI
        barrier.wait()
        try:
            run_stages(ctx, [stage])
        except ReleaserError as exc:
            errors[i] = exc

    threads = [threading.Thread(target=drive, args=(i,)) for i in range(len(contexts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def _successful(project: Project, method: str, pattern: str, mark: int) -> list[str]:
    return [
        e["path"]
        for e in requests_since(project, mark)
        if e["method"] == method and re.search(pattern, e["path"]) and e["status"] < 300
    ]


LIGHT_TRIALS = 17
FULL_TRIALS = 3


@pytest.mark.slow
def test_racing_drivers_one_proceeds_the_other_names_the_holder(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """17 races on a light stage (one step that writes a branch), in threads."""
    import steps

    monkeypatch.setitem(steps.PLANS, "start", [TrialBranch()])
    alice = Machine(project, "a", "alice", "laptop-a")
    bob = Machine(project, "b", "bob", "desktop-b")
    winners = Counter[str]()
    for trial in range(LIGHT_TRIALS):
        version = f"v2.0.{trial}"
        contexts = [alice.context(version), bob.context(version)]
        mark = len(project.requests())
        errors = _race(contexts, "start")
        assert sorted(e is None for e in errors) == [False, True], errors
        loser = next(i for i, e in enumerate(errors) if e is not None)
        winner = contexts[1 - loser]
        error = errors[loser]
        assert isinstance(error, ClaimHeld) and error.exit_code == 1
        holder = winner.ledger
        assert f"{holder.driver} on {holder.host}" in error.message
        assert re.search(r"since \S+Z, until \S+Z", error.message)
        assert "--take-over" in (error.hint or "")
        winners[holder.driver] += 1
        # No write twice: one run(), one branch created, one ledger ref created.
        assert TrialBranch.runs[f"v2.0.{trial}"] == 1
        created = _successful(project, "POST", r"/git/refs$", mark)
        assert len(created) == 2, created  # refs/releaser/<tag> and the branch
        entries = ledger_entries(project, version)
        claims = [e for e in entries if e["type"] == "claim"]
        assert {e["driver"] for e in claims} == {holder.driver}
        assert [e["type"] for e in entries] == ["claim", "stage", "unclaim"]
    assert sum(winners.values()) == LIGHT_TRIALS


def test_racing_drivers_on_prepare_write_once(make_project: Callable[..., Project]) -> None:
    """3 races on the real `prepare` of a freshly seeded project, as two processes."""
    for trial in range(FULL_TRIALS):
        project = make_project(extra=FAST)
        alice = Machine(project, "a", "alice", "laptop-a")
        bob = Machine(project, "b", "bob", "desktop-b")
        assert alice.cli("start", VERSION).exit_code == 0
        mark = len(project.requests())
        go = project.root / f"go{trial}"
        procs = [m.spawn("--yes", "prepare", VERSION, go=go) for m in (alice, bob)]
        race(procs, go)
        codes = [p.wait(60) for p in procs]
        assert sorted(codes) == [0, 1], [output(p)[-2000:] for p in procs]
        winner = (alice, bob)[codes.index(0)]
        loser_out = output(procs[codes.index(1)])
        assert f"{winner.driver} on {winner.host} holds the release (prepare)" in loser_out
        assert re.search(r"since \S+Z, until \S+Z", loser_out)
        # One branch, one release PR, one next-dev PR: nothing written twice.
        assert len(_successful(project, "POST", r"/pulls$", mark)) == 2, trial
        assert len(_successful(project, "POST", r"/git/refs$", mark)) == 2, trial
        heads = Counter(p.head.ref for p in project.repo.get_pulls(state="all"))
        assert set(heads.values()) == {1}
        # Branch moves as one driver makes them: the version bump and the changelog commit
        # on the version branch, the next-dev commit on its branch.
        moves = Counter(_successful(project, "PATCH", r"/git/refs/heads/", mark))
        assert {p.rsplit("/", 1)[-1]: n for p, n in moves.items()} == {
            "release-v1.2": 2,
            "bump-v1.3.0-dev": 1,
        }, trial
        project.stop()


# -- a driver killed while it waits ---------------------------------------------------------


def _set_build_duration(project: Project, seconds: float) -> None:
    import httpx

    httpx.post(
        project.info["admin_url"] + "/actions",
        json={"repo": project.seed.full_name, "workflow": "build.yml", "duration": seconds},
        timeout=30,
    ).raise_for_status()


def _wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _kill_while_waiting(project: Project, alice: Machine) -> None:
    """alice runs the whole release and is SIGKILLed while `build` waits for the workflow."""
    proc = alice.spawn("--yes", "release", VERSION)
    try:
        _wait_for(lambda: "waiting build-workflows" in output(proc), 90, "the build wait")
        time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    holder = live_claim(ledger_entries(project, VERSION))
    assert holder is not None and holder.driver == "alice" and holder.host == "laptop-a"


def _assert_release_once(project: Project) -> None:
    repo = project.repo
    assert Counter(r.tag_name for r in repo.get_releases())[VERSION] == 1
    assert (
        Counter(i.title for i in repo.get_issues(state="all") if i.pull_request is None)[
            "Release v1.2.0-rc1"
        ]
        == 1
    )
    assert set(Counter(p.head.ref for p in repo.get_pulls(state="all")).values()) == {1}
    release = repo.get_release(VERSION)
    assert "SHA256SUMS" in {a.name for a in release.get_assets()}


def test_killed_driver_is_resumed_once_its_lease_expires(
    make_project: Callable[..., Project],
) -> None:
    project = make_project(extra=FAST + "claim_ttl = 600\n")
    _set_build_duration(project, 6)
    alice = Machine(project, "a", "alice", "laptop-a")
    bob = Machine(project, "b", "bob", "desktop-b")
    _kill_while_waiting(project, alice)

    # While alice's lease is live, bob's first write stops him: exit 1, naming alice.
    early = bob.cli("--yes", "publish", VERSION)
    assert early.exit_code == 1, early.output[-2000:]
    assert "alice on laptop-a holds the release (release) since" in early.output
    assert "until" in early.output and "--take-over" in early.output

    # Nobody renews a dead driver's lease: once the forge's clock passes it, bob resumes
    # without --take-over (leases are judged by the forge's clock, which the test moves).
    holder = live_claim(ledger_entries(project, VERSION), _forge_now(project))
    assert holder is not None
    with SandboxAdmin(project.info["admin_url"]) as admin:
        admin.advance(parse_iso(holder.expires).timestamp() - admin.clock()["now"] + 1)
    resumed = bob.cli("--yes", "release", VERSION)
    assert resumed.exit_code == 0, resumed.output[-3000:]
    _assert_release_once(project)
    entries = ledger_entries(project, VERSION)
    claims = [e for e in entries if e["type"] == "claim"]
    assert [c["driver"] for c in claims][-1] == "bob" and "took_over_from" not in claims[-1]
    assert live_claim(entries, _forge_now(project)) is None


def _forge_now(project: Project) -> datetime:
    with SandboxAdmin(project.info["admin_url"]) as admin:
        return datetime.fromtimestamp(admin.clock()["now"], UTC)


def test_killed_driver_is_taken_over_at_once_with_take_over_yes(
    make_project: Callable[..., Project],
) -> None:
    project = make_project(extra=FAST + "claim_ttl = 600\n")
    _set_build_duration(project, 4)
    alice = Machine(project, "a", "alice", "laptop-a")
    bob = Machine(project, "b", "bob", "desktop-b")
    _kill_while_waiting(project, alice)

    # --take-over without --yes, non-interactive: exit 3 saying how.
    asked = bob.cli("publish", VERSION, "--take-over")
    assert asked.exit_code == 3, asked.output[-2000:]
    assert "alice on laptop-a" in asked.output and "--take-over --yes" in asked.output
    assert live_claim(ledger_entries(project, VERSION)).driver == "alice"  # type: ignore[union-attr]

    taken = bob.cli("--yes", "release", VERSION, "--take-over")
    assert taken.exit_code == 0, taken.output[-3000:]
    assert "taking over" in taken.output
    _assert_release_once(project)
    entries = ledger_entries(project, VERSION)
    took = [e for e in entries if e.get("took_over_from")]
    assert [(e["driver"], e["took_over_from"]) for e in took] == [("bob", "alice on laptop-a")]
    assert live_claim(entries) is None


# -- the tracking issue: two drivers ticking at once ----------------------------------------


def test_two_drivers_ticking_at_once_lose_no_tick(project: Project) -> None:
    from releaser.checklist import find_tracking_issue, items, sync_checklist, ticked
    from releaser.step import Status, StepResult

    alice = Machine(project, "a", "alice", "laptop-a")
    bob = Machine(project, "b", "bob", "desktop-b")
    assert alice.cli("start", VERSION).exit_code == 0
    issue = find_tracking_issue(alice.context(VERSION))
    assert issue is not None
    pristine = issue.body.replace("- [x] ", "- [ ] ")
    names = sorted(items(pristine))
    rounds = 6
    assert len(names) >= 2
    gh_issue = project.repo.get_issue(issue.number)
    for n in range(rounds):
        gh_issue.edit(body=pristine)
        mine, theirs = names[n % len(names)], names[(n + 1) % len(names)]
        contexts = [alice.context(VERSION), bob.context(VERSION)]
        for ctx in contexts:
            find_tracking_issue(ctx)  # found before the start line, like after a stage
        barrier = threading.Barrier(2)

        def tick(ctx: Any, name: str, barrier: Any = barrier) -> None:
            barrier.wait()
            sync_checklist(ctx, [StepResult(name, Status.DONE, "", f"https://e.example/{name}")])

        threads = [
            threading.Thread(target=tick, args=(contexts[0], mine)),
            threading.Thread(target=tick, args=(contexts[1], theirs)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        body = project.repo.get_issue(issue.number).body
        assert {mine, theirs} <= ticked(body), (n, mine, theirs)
        assert f"([evidence](https://e.example/{mine}))" in body


# -- leases renew during long waits ---------------------------------------------------------


class SlowRemote(Step):
    """Wait for remote work that takes longer than a lease (a long build).

    Why: a driver waiting on it must keep the release.
    By hand: wait.
    """

    name = "slow-remote"
    finished = threading.Event()  # set by the test: the remote work is done
    polls = 0

    def check(self, ctx: Any) -> Outcome:
        ctx.forge.branch("main")  # a real poll of the forge, as a wait for a build makes
        SlowRemote.polls += 1
        return Outcome.done("built") if self.finished.is_set() else Outcome.running("building")


def test_a_waiting_driver_renews_its_lease(
    make_project: Callable[..., Project], monkeypatch: pytest.MonkeyPatch
) -> None:
    import steps
    from releaser.commands.stage import run_stages

    project = make_project(extra=FAST + "claim_ttl = 600\n")
    monkeypatch.setitem(steps.PLANS, "start", [TrialBranch(), SlowRemote()])
    SlowRemote.finished.clear()
    alice = Machine(project, "a", "alice", "laptop-a")
    bob = Machine(project, "b", "bob", "desktop-b")
    errors: list[BaseException] = []

    def drive() -> None:
        try:
            run_stages(alice.context("v3.0.0"), ["start"])
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=drive)
    thread.start()
    _wait_for(lambda: SlowRemote.polls >= 2, 60, "alice waiting on the slow remote")
    # Move the forge's clock past alice's 600 s lease, a third of it at a time: only her
    # renewals during the wait keep the release hers.
    with SandboxAdmin(project.info["admin_url"]) as admin:
        for _ in range(4):
            seen = SlowRemote.polls
            admin.advance(250)
            _wait_for(lambda seen=seen: SlowRemote.polls >= seen + 2, 60, "alice's next polls")
    with pytest.raises(ClaimHeld, match="alice on laptop-a holds the release"):
        bob.context("v3.0.0").ledger.claim("start")
    SlowRemote.finished.set()
    thread.join(60)
    assert not errors
    claims = [e for e in ledger_entries(project, "v3.0.0") if e["type"] == "claim"]
    assert len(claims) == 1  # renewed in place
    assert parse_iso(claims[0]["expires"]) > parse_iso(claims[0]["since"]) + timedelta(seconds=1000)
    assert bob.context("v3.0.0").ledger.claim("start").driver == "bob"  # released at the end


# -- the other driver finished between our checks and our first write ------------------------


class Meanwhile(TrialBranch):
    """Create the branch `trial/<tag>`; bob runs the whole stage while alice is checking.

    Why: alice's check is stale by the time she claims the release.
    By hand: git push origin main:refs/heads/trial/<tag>
    """

    name = "trial-branch"
    bob: Any = None

    def check(self, ctx: Any) -> Outcome:
        outcome = super().check(ctx)
        if ctx.ledger.driver == "alice" and Meanwhile.bob is not None:
            from releaser.commands.stage import run_stages

            bob, Meanwhile.bob = Meanwhile.bob, None
            run_stages(bob, ["start"])  # bob, from start to finish, right now
        return outcome


def test_a_stage_finished_meanwhile_is_checked_again_before_writing(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    import steps
    from releaser.commands.stage import run_stages

    monkeypatch.setitem(steps.PLANS, "start", [Meanwhile()])
    alice = Machine(project, "a", "alice", "laptop-a")
    bob = Machine(project, "b", "bob", "desktop-b")
    Meanwhile.bob = bob.context("v4.0.0")
    ctx = alice.context("v4.0.0")
    results = run_stages(ctx, ["start"])  # alice saw TODO; bob made it meanwhile
    assert [(r.step, str(r.status), r.acted) for r in results] == [("trial-branch", "done", False)]
    assert TrialBranch.runs["v4.0.0"] == 1  # only bob wrote it
    assert "checking again before writing" in ctx.out.getvalue()
    types = [(e["type"], e["by"]) for e in ledger_entries(project, "v4.0.0")]
    assert types == [
        ("claim", "bob"),
        ("stage", "bob"),
        ("unclaim", "bob"),
        ("claim", "alice"),
        ("stage", "alice"),
        ("unclaim", "alice"),
    ]
