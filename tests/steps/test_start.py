"""The `start` stage against a real sandbox forge: the tracking issue and its checklist."""

from __future__ import annotations

import contextlib

import pytest

from releaser.checklist import END_MARKER, START_MARKER, items, ticked
from releaser.errors import StepFailed
from releaser.step import Status
from tests.steps.conftest import Project

VERSION = "v1.2.0-rc1"


def issues(project: Project) -> list:
    return [i for i in project.repo.get_issues(state="all") if i.pull_request is None]


def test_start_creates_the_tracking_issue(project: Project) -> None:
    results = project.run_stage(VERSION, "start")
    assert [(r.step, r.status, r.acted) for r in results] == [("tracking-issue", Status.DONE, True)]
    [issue] = issues(project)
    assert issue.title == "Release v1.2.0-rc1"
    assert [label.name for label in issue.labels] == ["release"]
    assert results[0].evidence == issue.html_url
    assert START_MARKER in issue.body and END_MARKER in issue.body
    assert {"tracking-issue", "version-branch", "release-pr", "next-dev-bump"} <= items(issue.body)
    assert "tracking-issue" in ticked(issue.body), "the stage runner ticks what is done"
    assert issue.html_url in project.output()


def test_second_run_writes_nothing(project: Project) -> None:
    project.run_stage(VERSION, "start")
    mark = len(project.requests())
    results = project.run_stage(VERSION, "start")
    assert results[0].status == Status.DONE and not results[0].acted
    assert project.writes_since(mark) == []
    # the tags (is this version releasable?), the ledger (tip and entries), the issue
    assert len(project.requests()) - mark <= 4
    assert len(issues(project)) == 1


def test_dry_run_writes_nothing_and_shows_the_issue(project: Project) -> None:
    mark = len(project.requests())
    results = project.run_stage(VERSION, "start", dry_run=True)
    assert results[0].status == "planned"
    assert project.writes_since(mark) == []
    out = project.output()
    assert 'would create issue "Release v1.2.0-rc1" with labels release' in out
    assert "- [ ] version-branch: " in out
    assert issues(project) == []


def test_existing_issue_without_checklist_gets_it_appended(project: Project) -> None:
    project.repo.create_issue("Release v1.2.0-rc1", body="Planned for Friday.", labels=["release"])
    results = project.run_stage(VERSION, "start")
    assert results[0].acted
    [issue] = issues(project)
    assert issue.body.startswith("Planned for Friday.\n\n")
    assert START_MARKER in issue.body


def test_edited_issue_is_not_overwritten(project: Project) -> None:
    project.run_stage(VERSION, "start")
    [issue] = issues(project)
    edited = "A maintainer's note.\n\n" + issue.body.replace("Tracking issue for", "Issue for")
    issue.edit(body=edited)
    mark = len(project.requests())
    results = project.run_stage(VERSION, "start")
    assert results[0].status == Status.DONE and not results[0].acted
    assert project.writes_since(mark) == []
    assert project.repo.get_issue(issue.number).body == edited


def test_closed_issue_is_found(project: Project) -> None:
    project.run_stage(VERSION, "start")
    [issue] = issues(project)
    issue.edit(state="closed")
    results = project.run_stage(VERSION, "start")
    assert results[0].status == Status.DONE and "(closed)" in results[0].detail
    assert len(issues(project)) == 1


def test_other_versions_get_their_own_issue(project: Project) -> None:
    project.run_stage(VERSION, "start")
    project.run_stage("v1.2.0-rc2", "start")
    assert sorted(i.title for i in issues(project)) == ["Release v1.2.0-rc1", "Release v1.2.0-rc2"]


@pytest.mark.parametrize("action", ["error", "error_after"])
def test_crash_at_create_converges(project: Project, action: str) -> None:
    project.faults(
        {"method": "POST", "path": "/repos/acme/example/issues$", "action": action, "nth": 1}
    )
    with contextlib.suppress(StepFailed):
        project.run_stage(VERSION, "start")
    project.clear_faults()
    results = project.run_stage(VERSION, "start")
    assert results[0].status == Status.DONE
    assert len(issues(project)) == 1
