"""Crash safety of a whole final release, at every write after `prepare`
(docs/architecture.md, "The engine").

`prepare`'s own writes have their matrix in tests/steps/test_prepare.py. Here a clean run
of `releaser release v1.2.0 --yes` (tag, build, publish, merge, next, after start and
prepare) lists its writes from the forge's request log. Then, for each write, on a fresh
forge: the forge fails that request, either before applying it (``error``) or after
(``error_after``, the ambiguous case: the write happened, the answer was lost). The command
either stops, or its re-check after the failed write finds the write applied and goes on.
Then the faults are cleared and the same command is run again. The end state must equal the
clean run's: every tag, release, asset, PR, issue and comment exactly once.

Ledger appends (tree, commit, ref on ``refs/releaser/*``) are left out: their
compare-and-swap has its own tests (tests/releaser/test_ledger_store.py).
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.machines import ledger_writes
from tests.steps.conftest import Project, crash_points, scratch_project

VERSION = "v1.2.0"
_CLEAN: dict[str, Any] = {}


def forge_state(project: Project) -> dict[str, Any]:
    """What a release leaves on the forge, without the ids and shas that differ per forge."""
    repo = project.repo
    releases = {
        r.tag_name: (r.prerelease, r.draft, sorted(a.name for a in r.get_assets()))
        for r in repo.get_releases()
    }
    issues = sorted(
        (i.title, i.state, i.comments, (i.body or "").count("- [x]"))
        for i in repo.get_issues(state="all")
        if i.pull_request is None
    )
    pulls = sorted((p.title, p.base.ref, p.state, p.merged) for p in repo.get_pulls(state="all"))
    refs = sorted(r.ref for r in repo.get_git_refs() if not r.ref.startswith("refs/releaser/"))
    return {"releases": releases, "issues": issues, "pulls": pulls, "refs": refs}


def _release(project: Project) -> int:
    return project.cli("--non-interactive", "release", VERSION, "--yes").exit_code


def _clean_run() -> dict[str, Any]:
    if _CLEAN:
        return _CLEAN
    with scratch_project("crash-clean-") as project:
        project.run_stage(VERSION, "start")
        project.run_stage(VERSION, "prepare")
        mark = len(project.requests())
        assert _release(project) == 0, project.output()
        writes = project.writes_since(mark)
        _CLEAN["state"] = forge_state(project)
    _CLEAN["points"] = crash_points(writes, skip=ledger_writes(writes))
    return _CLEAN


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "crash_point" in metafunc.fixturenames:
        points = _clean_run()["points"]
        params = [(action, *p) for p in points for action in ("error", "error_after")]
        ids = [f"{a}-{m}-{p.split('/', 5)[-1]}-{n}" for a, m, p, n in params]
        metafunc.parametrize("crash_point", params, ids=ids)


def test_the_clean_run_writes_in_every_stage_after_prepare() -> None:
    paths = [p for _, p, _ in _clean_run()["points"]]
    assert any("git-receive-pack" in p for p in paths)  # the tag push
    assert any(p.endswith("/releases") for p in paths)  # the release
    assert any("/uploads/" in p for p in paths)  # its assets
    assert any(p.endswith("/merge") for p in paths)  # merge-back
    assert any(p.endswith("/comments") for p in paths)  # the closing summary


@pytest.mark.slow
def test_crash_at_every_write_converges(project: Project, crash_point: tuple[Any, ...]) -> None:
    action, method, path, nth = crash_point
    project.run_stage(VERSION, "start")
    project.run_stage(VERSION, "prepare")
    project.faults(
        {
            "method": method,
            "path": "^" + re.escape(path) + "$",
            "nth": nth,
            "action": action,
            "status": 502,
        }
    )
    _release(project)  # stops, or re-checks and finds an applied write; both must converge
    rules = httpx.get(project.info["admin_url"] + "/faults", timeout=30).json()
    assert [r["fired"] for r in rules] == [1]  # the failure really happened
    project.clear_faults()
    assert _release(project) == 0, project.output()
    assert forge_state(project) == _clean_run()["state"]
    mark = len(project.requests())
    assert _release(project) == 0
    assert project.writes_since(mark) == []  # and a further re-run writes nothing
