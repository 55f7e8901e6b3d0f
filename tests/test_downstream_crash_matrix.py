"""Crash safety of `releaser downstream`, at every write (docs/architecture.md, "The engine").

A clean run updates two dependents (acme/app: pattern and marker edits, a reviewer,
auto-merge held by a required check, its tests dispatched on the PR's branch; acme/desktop:
a command) and lists its writes from the forge's request log. Then, for each write, on a fresh
forge: the forge fails that request before applying it (``error``) or after (``error_after``:
applied, the answer lost). The command stops, or its re-check finds the write applied and goes
on. Then the faults are cleared and the command is run again (an operator answering
``--retry`` where a dispatch's fate can't be known: the dispatch was refused before any run
started). The end state must equal the clean run's: one commit per dependent, one PR each,
one test run, and a further re-run writes nothing.

Ledger appends (tree, commit, ref on ``refs/releaser/*``) are left out, as in
tests/test_crash_matrix.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.sandbox.helpers import make_repo
from tests.steps.conftest import Project
from tests.steps.downstream_helpers import APP, add_user, make_app, publish

VERSION = "v1.2.0"
EXTRA = (
    APP.replace("reviewers", "auto_merge = true\nreviewers")
    + """
[[downstream]]
repo = "acme/desktop"
command = "printf 'example %s\\n' \\"$RELEASER_VERSION\\" > VERSION"

[engine]
poll_interval = 0.5
wait_timeout = 60
"""
)
DEPENDENTS = ("acme/app", "acme/desktop")
_CLEAN: dict[str, Any] = {}


def prepare(project: Project) -> None:
    """The dependents and a published release, as `publish` leaves them."""
    add_user(project, "alice")
    make_app(project, allow_auto_merge=True)
    project.gh.get_repo("acme/app").get_branch("main").edit_protection(
        strict=False, contexts=["ci"]
    )
    make_repo(project.server, "acme/desktop", {"VERSION": "example 1.1.0\n"})
    project.run_stage(VERSION, "start")
    publish(project, VERSION)


def forge_state(project: Project) -> dict[str, Any]:
    """What the stage leaves in the dependents and on the tracking issue."""
    state: dict[str, Any] = {}
    for name in DEPENDENTS:
        repo = project.gh.get_repo(name)
        main = repo.get_branch("main").commit.sha
        branches = {}
        for branch in repo.get_branches():
            if branch.name != "main":
                head = repo.get_commit(branch.commit.sha)
                branches[branch.name] = (
                    [p.sha == main for p in head.parents],
                    sorted(f.filename for f in head.files),
                )
        pulls = sorted(
            (
                p.title,
                p.state,
                p.head.ref,
                sorted(u.login for u in p.get_review_requests()[0]),
                bool(p.raw_data.get("auto_merge")),
            )
            for p in repo.get_pulls(state="all")
        )
        runs = sorted(
            (r.head_branch, r.event) for r in repo.get_workflow_runs(event="workflow_dispatch")
        )
        state[name] = {"branches": branches, "pulls": pulls, "runs": runs}
    issue = next(i for i in project.repo.get_issues(state="all") if i.title == "Release v1.2.0")
    state["comments"] = issue.comments
    return state


def _downstream(project: Project) -> int:
    return project.cli("--non-interactive", "downstream", VERSION, "--yes").exit_code


@contextlib.contextmanager
def _scratch() -> Iterator[Project]:
    root = Path(tempfile.mkdtemp(prefix="downstream-crash-clean-"))
    saved = os.environ.get("XDG_CACHE_HOME")
    try:
        project = Project(root, extra=EXTRA)
        try:
            yield project
        finally:
            project.stop()
    finally:
        if saved is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = saved
        shutil.rmtree(root, ignore_errors=True)


def _clean_run() -> dict[str, Any]:
    if _CLEAN:
        return _CLEAN
    with _scratch() as project:
        prepare(project)
        mark = len(project.requests())
        assert _downstream(project) == 0, project.output()
        entries = project.requests()[mark:]
        _CLEAN["state"] = forge_state(project)
    _CLEAN["points"] = fault_points(entries)
    return _CLEAN


def fault_points(entries: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    """``(method, path, nth)`` of every write but the ledger's, nth counting every request
    to that path (a fault rule counts reads too: GraphQL queries and mutations share
    ``POST /api/graphql``), sorted: repositories are written concurrently, so every worker
    must list them alike."""
    from tests.reliability.crash import write_points

    return sorted(write_points(entries), key=lambda p: (p[1], p[0], p[2]))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "crash_point" in metafunc.fixturenames:
        points = _clean_run()["points"]
        params = [(action, *p) for p in points for action in ("error", "error_after")]
        ids = [f"{a}-{m}-{p.split('/', 5)[-1]}-{n}" for a, m, p, n in params]
        metafunc.parametrize("crash_point", params, ids=ids)


def test_the_clean_run_makes_one_commit_and_one_pr_per_dependent() -> None:
    state = _clean_run()["state"]
    for name in DEPENDENTS:
        [(parents, _)] = state[name]["branches"].values()
        assert parents == [True]  # one commit, on main's head
        assert len(state[name]["pulls"]) == 1
    assert state["acme/app"]["pulls"][0][3:] == (["alice"], True)  # reviewer, auto-merge
    assert state["acme/app"]["runs"] == [("update-to-v1.2.0", "workflow_dispatch")]
    paths = [p for _, p, _ in _clean_run()["points"]]
    assert sum(p.endswith("/git/commits") for p in paths) == 2
    assert sum(p.endswith("/pulls") for p in paths) == 2
    assert "/api/graphql" in paths and any(p.endswith("/dispatches") for p in paths)


@pytest.mark.slow
def test_crash_at_every_write_converges(make_project: Any, crash_point: tuple[Any, ...]) -> None:
    action, method, path, nth = crash_point
    project = make_project(extra=EXTRA)
    prepare(project)
    project.faults(
        {
            "method": method,
            "path": "^" + re.escape(path) + "$",
            "nth": nth,
            "action": action,
            "status": 502,
        }
    )
    _downstream(project)  # stops, or re-checks and finds the write applied
    rules = httpx.get(project.info["admin_url"] + "/faults", timeout=30).json()
    assert [r["fired"] for r in rules] == [1]  # the failure really happened
    project.clear_faults()
    code = _downstream(project)
    if code == 3:  # a dispatch refused before any run: the operator says it did not run
        answer = project.cli("confirm", VERSION, "dependent-tests", "--retry")
        assert answer.exit_code == 0, answer.output
        code = _downstream(project)
    assert code == 0, project.output()
    assert forge_state(project) == _clean_run()["state"]
    mark = len(project.requests())
    assert _downstream(project) == 0
    assert project.writes_since(mark) == []  # and a further re-run writes nothing
