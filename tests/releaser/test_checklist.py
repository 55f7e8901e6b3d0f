"""The tracking issue's checklist: rendering (offline), ticking, and syncing with the forge."""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from releaser.checklist import (
    END_MARKER,
    START_MARKER,
    apply_ticks,
    find_tracking_issue,
    items,
    render_checklist,
    sync_checklist,
    ticked,
)
from releaser.commands import make_context
from releaser.config import load_config
from releaser.context import Context, Options
from releaser.sandbox.seed import SeedInfo, write_example_config
from releaser.secrets import Secrets
from releaser.step import Status, StepResult, skip_reason
from releaser.ui import UI
from releaser.version import Version
from steps import PLANS
from tests.steps.conftest import Project


def offline_context(tmp_path: Path, version: str) -> Context:
    """A Context whose forge is unreachable: rendering must not need it."""
    seed = SeedInfo("acme/example", "http://127.0.0.1:9/api/v3", "http://127.0.0.1:9/git", "")
    forge = {"api_url": seed.api_url, "git_url": seed.git_url, "token_env": "NO_SUCH_TOKEN"}
    path = write_example_config(tmp_path / "offline", seed, forge)
    ui = UI(out=io.StringIO(), err=io.StringIO())
    return make_context(
        load_config(path),
        Version.parse(version),
        Options(non_interactive=True),
        ui,
        Secrets(ui.redactor, environ={}),
    )


# -- rendering --------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1.2.0-rc1", "v1.2.0", "v1.2.1"])
def test_render_lists_every_applicable_step(tmp_path: Path, version: str) -> None:
    ctx = offline_context(tmp_path, version)
    body = render_checklist(ctx)
    assert START_MARKER in body and END_MARKER in body
    assert body.index(START_MARKER) < body.index(END_MARKER)
    expected = {s.name for steps in PLANS.values() for s in steps if skip_reason(s, ctx) is None}
    assert items(body) == expected
    assert ticked(body) == set()
    assert f"Release v{Version.parse(version)}"[8:] in body
    assert f"releaser prepare v{Version.parse(version)}" in body
    for stage, steps in PLANS.items():
        if any(skip_reason(s, ctx) is None for s in steps):
            assert f"### {stage}" in body
    assert "api" not in ctx.__dict__, "rendering is offline"


def test_render_follows_release_kinds(tmp_path: Path) -> None:
    rc = render_checklist(offline_context(tmp_path, "v1.2.0-rc1"))
    patch = render_checklist(offline_context(tmp_path, "v1.2.1"))
    assert "- [ ] next-dev-bump: " in rc
    assert "next-dev-bump" not in patch
    assert "- [ ] version-branch: Create the version branch" in rc


# -- ticking ----------------------------------------------------------------------------------

BODY = f"""Intro written by a human.

- [ ] changelog: a line of the human's own, outside the markers

{START_MARKER}

### prepare

- [ ] version-branch: Create the version branch.
- [ ] changelog: Add the changelog section.
- [x] release-pr: Open the release PR. ([evidence](https://forge/pull/1))

{END_MARKER}

Notes below.
"""


def test_ticks_link_evidence_and_keep_the_rest() -> None:
    body = apply_ticks(
        BODY, {"version-branch": "https://forge/tree/release-v1.2", "changelog": "abc1234"}
    )
    assert "- [x] version-branch: Create the version branch. " in body
    assert "([evidence](https://forge/tree/release-v1.2))" in body
    assert "- [x] changelog: Add the changelog section. (evidence: `abc1234`)" in body
    assert "- [ ] changelog: a line of the human's own, outside the markers" in body
    assert body.startswith("Intro written by a human.") and body.endswith("Notes below.\n")
    assert ticked(body) == {"version-branch", "changelog", "release-pr"}


def test_ticks_are_idempotent_and_never_untick() -> None:
    ticks: dict[str, str | None] = {"version-branch": None, "release-pr": "https://forge/pull/2"}
    once = apply_ticks(BODY, ticks)
    assert apply_ticks(once, ticks) == once
    assert "- [x] version-branch: Create the version branch.\n" in once
    assert "https://forge/pull/2" not in once, "an existing tick keeps its evidence"
    assert apply_ticks(once, {}) == once
    assert ticked(apply_ticks(once, {"changelog": None})) >= ticked(once)


def test_ticks_without_markers_change_nothing() -> None:
    body = "- [ ] changelog: no markers here\n"
    assert apply_ticks(body, {"changelog": None}) == body
    assert items(body) == set() and ticked(body) == set()


# -- syncing with the forge -------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    made = Project(tmp_path)
    try:
        yield made
    finally:
        made.stop()


def done(step: str, evidence: str | None = None) -> StepResult:
    return StepResult(step, Status.DONE, "", evidence)


def test_sync_ticks_once_and_rereads_nothing_after(project: Project) -> None:
    project.run_stage("v1.2.0-rc1", "start")
    ctx = project.context("v1.2.0-rc1")
    results = [done("version-branch", "https://x/tree/b"), StepResult("changelog", Status.TODO)]
    assert sync_checklist(ctx, results) is True
    issue = find_tracking_issue(project.context("v1.2.0-rc1"))
    assert issue is not None
    assert "- [x] version-branch: " in issue.body and "([evidence](https://x/tree/b))" in issue.body
    assert "- [ ] changelog: " in issue.body

    mark = len(project.requests())
    assert sync_checklist(project.context("v1.2.0-rc1"), results) is False
    assert project.writes_since(mark) == []
    assert sync_checklist(project.context("v1.2.0-rc1", dry_run=True), [done("changelog")]) is False
    assert project.writes_since(mark) == []


def test_sync_without_issue_or_done_steps_does_nothing(project: Project) -> None:
    mark = len(project.requests())
    assert sync_checklist(project.context("v1.2.0-rc1"), [done("version-branch")]) is False
    assert sync_checklist(project.context("v1.2.0-rc1"), []) is False
    assert project.writes_since(mark) == []


def test_sync_retries_when_a_concurrent_writer_drops_a_tick(project: Project) -> None:
    """Another driver reads the body before our write and writes its stale copy after it:
    our re-read sees our tick gone and writes it again (ticks merge by OR)."""
    project.run_stage("v1.2.0-rc1", "start")
    issue = find_tracking_issue(project.context("v1.2.0-rc1"))
    assert issue is not None
    path = f"/api/v3/repos/acme/example/issues/{issue.number}$"
    # Our re-read (the 2nd GET of the issue) is held long enough for the other driver, who
    # writes as soon as our PATCH is in the forge's log: no timing is assumed, only an order.
    project.faults({"method": "GET", "path": path, "nth": 2, "action": "delay", "ms": 4000})
    stale = issue.body
    mark = len(project.requests())
    api = httpx.Client(
        base_url=project.info["api_url"], headers={"Authorization": f"token {project.token}"}
    )

    def ours_patched() -> bool:
        return any(
            e["method"] == "PATCH" and re.search(path, e["path"]) and e["status"] == 200
            for e in project.requests()[mark:]
        )

    def other_driver() -> None:
        deadline = time.monotonic() + 60
        while not ours_patched() and time.monotonic() < deadline:
            time.sleep(0.02)
        body = apply_ticks(stale, {"changelog": None})
        api.patch(f"/repos/acme/example/issues/{issue.number}", json={"body": body})

    thread = threading.Thread(target=other_driver)
    thread.start()
    try:
        assert sync_checklist(project.context("v1.2.0-rc1"), [done("version-branch")]) is True
    finally:
        thread.join()
        project.clear_faults()
    final: Any = project.repo.get_issue(issue.number).body
    assert {"version-branch", "changelog"} <= ticked(final)
    patches = [
        e for e in project.requests()[mark:] if e["method"] == "PATCH" and "/issues/" in e["path"]
    ]
    assert len(patches) == 3  # ours, the other driver's, ours again
