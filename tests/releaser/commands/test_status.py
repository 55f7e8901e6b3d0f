"""`releaser status VERSION [--json]` from a machine that never ran anything: live state of
every step with evidence, the claim holder, the last ledger entries, the next command."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from releaser.commands import status as status_module
from releaser.step import Outcome, Step
from tests.machines import Machine, ledger_entries
from tests.steps.conftest import Project

VERSION = "v1.2.0-rc1"


def _steps(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["step"]: row for stage in data["stages"] for row in stage["steps"]}


def test_status_json_on_a_third_machine_matches_the_forge(project: Project) -> None:
    alice = Machine(project, "a", "alice", "laptop-a")
    bob = Machine(project, "b", "bob", "desktop-b")
    carol = Machine(project, "c", "carol", "laptop-c")  # never ran anything
    assert alice.cli("--yes", "start", VERSION).exit_code == 0
    assert bob.cli("--yes", "prepare", VERSION).exit_code == 0

    mark = len(project.requests())
    result = carol.cli("status", VERSION, "--json")
    assert result.exit_code == 0, result.output[-2000:]
    assert project.writes_since(mark) == []  # status only reads
    data = json.loads(result.stdout)

    # The format is pinned: these keys, and only these (documented in the module docstring).
    assert tuple(sorted(data)) == tuple(sorted(status_module.TOP_KEYS))
    assert data["format"] == 1
    assert (data["release"], data["version"], data["kind"], data["repo"]) == (
        "v1.2.0-rc1",
        "1.2.0-rc1",
        "rc",
        "acme/example",
    )
    assert [s["stage"] for s in data["stages"]][:3] == ["start", "prepare", "tag"]
    for stage in data["stages"]:
        assert sorted(stage) == ["command", "stage", "steps"]
        assert stage["command"] == f"releaser {stage['stage']} v1.2.0-rc1"
        for row in stage["steps"]:
            assert tuple(sorted(row)) == tuple(sorted(status_module.STEP_KEYS))
            assert row["status"] in ("done", "todo", "running", "blocked", "failed", "unknown")

    # The truth on the forge, read independently.
    repo = project.repo
    rows = _steps(data)
    issue = next(
        i
        for i in repo.get_issues(state="all")
        if i.title == "Release v1.2.0-rc1" and i.pull_request is None
    )
    assert rows["tracking-issue"]["status"] == "done"
    assert rows["tracking-issue"]["evidence"] == issue.html_url
    pr = next(p for p in repo.get_pulls(state="open") if p.head.ref == "release-v1.2")
    assert rows["release-pr"]["status"] == "done"
    assert rows["release-pr"]["evidence"] == pr.html_url
    prepared = next(s["steps"] for s in data["stages"] if s["stage"] == "prepare")
    assert {r["step"]: r["status"] for r in prepared} == {
        "version-branch": "done",
        "version-bump": "done",
        "changelog": "done",
        "release-pr": "done",
        "next-dev-bump": "done",
    }
    assert all(r["evidence"] for r in prepared)
    assert rows["push-tag"]["status"] != "done"
    assert rows["github-release"]["status"] == "blocked"  # no tag yet
    assert data["next"] == "releaser tag v1.2.0-rc1"
    assert data["claim"] is None
    # The last ledger entries: who ran what from where.
    assert data["ledger"] == ledger_entries(project, VERSION)[-10:]
    runs = [(e["stage"], e["by"], e["host"]) for e in data["ledger"] if e["type"] == "stage"]
    assert runs == [("start", "alice", "laptop-a"), ("prepare", "bob", "desktop-b")]


def test_status_names_the_claim_holder(project: Project) -> None:
    alice = Machine(project, "a", "alice", "laptop-a")
    carol = Machine(project, "c", "carol", "laptop-c")
    held = alice.context(VERSION).ledger.claim("prepare")  # alice is in the middle of prepare

    data = json.loads(carol.cli("status", VERSION, "--json").stdout)
    assert data["claim"] == {
        "login": "alice",
        "driver": "alice",
        "host": "laptop-a",
        "stage": "prepare",
        "since": held.since,
        "expires": held.expires,
    }
    text = carol.cli("status", VERSION)
    assert text.exit_code == 0, text.output[-2000:]
    out = text.output
    assert f"claim: alice on laptop-a (prepare) since {held.since}, until {held.expires}" in out
    assert "last ledger entries:" in out and "alice@laptop-a claimed the release" in out
    assert "next: releaser start v1.2.0-rc1" in out
    assert "tracking-issue" in out and "release-pr" in out


class Slow(Step):
    """A step whose check takes a while (a slow service).

    Why: to see the pool.
    By hand: nothing.
    """

    def __init__(self, name: str) -> None:
        self.step_name = name

    def check(self, ctx: Any) -> Outcome:
        time.sleep(0.1)
        return Outcome.done(self.step_name)


def test_checks_start_at_once_and_agree_with_a_sequential_run(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    import steps

    monkeypatch.setitem(steps.PLANS, "promote", [Slow(f"slow-{i}") for i in range(12)])
    in_flight, peak = [0], [0]
    lock = threading.Lock()
    real_check = status_module._check

    def counting(ctx: Any, step: Step) -> Outcome:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        try:
            return real_check(ctx, step)
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(status_module, "_check", counting)
    results = {}
    for workers in (4, 1):
        machine = Machine(project, f"c{workers}", "carol", "laptop-c")
        toml = machine.work / "releaser.toml"
        toml.write_text(toml.read_text() + f"\n[engine]\nconcurrency = {workers}\n")
        ctx = machine.context(VERSION)
        assert ctx.config.engine.concurrency == workers
        peak[0] = 0
        started = time.monotonic()
        data = status_module.collect(ctx)
        results[workers] = (data, time.monotonic() - started, peak[0])
    (parallel, fast, wide), (sequential, slow, narrow) = results[4], results[1]
    # every check at once (a check waiting on a shared read holds no slot another needs);
    # `concurrency = 1`: one after another
    assert wide >= 12 and narrow == 1
    assert fast < slow
    for data in (parallel, sequential):
        data.pop("checked_at")
    assert parallel == sequential


def test_requests_in_flight_to_the_forge_are_bounded_by_concurrency(project: Project) -> None:
    """Checks start at once, but no more than `[engine] concurrency` requests are in flight
    to the forge: what a rate limit and a forge's load depend on."""
    machine = Machine(project, "b4", "carol", "laptop-c")
    toml = machine.work / "releaser.toml"
    toml.write_text(toml.read_text() + "\n[engine]\nconcurrency = 3\n")
    ctx = machine.context(VERSION)
    api = ctx.api
    in_flight, peak = [0], [0]
    lock = threading.Lock()
    send = api._client.request

    def counting(*args: Any, **kwargs: Any) -> Any:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        try:
            time.sleep(0.05)  # long enough for the other threads to pile up behind it
            return send(*args, **kwargs)
        finally:
            with lock:
                in_flight[0] -= 1

    api._client.request = counting  # type: ignore[method-assign]
    threads = [
        threading.Thread(target=api.get_json, args=(f"/repos/{project.seed.full_name}",))
        for _ in range(12)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert peak[0] == 3
