"""The promote stage: the announcement on the tracking issue, once."""

from __future__ import annotations

import pytest

from releaser.errors import ReleaserError
from releaser.step import Status

PROMOTE = """
[promote.tracking_issue]
early_testers = ["@alice", "@bob"]

[engine]
poll_interval = 0.3
wait_timeout = 60
"""


def published(project, version: str) -> None:
    for stage in ("start", "prepare", "tag", "build", "publish"):
        project.run_stage(version, stage)


def announcements(project, title: str) -> list[str]:
    issues = project.repo.get_issues(state="all")
    [issue] = [i for i in issues if i.title == title and i.pull_request is None]
    return [c.body for c in issue.get_comments() if "releaser:announce" in c.body]


def test_rc_announcement_pings_early_testers_once(make_project) -> None:
    project = make_project(extra=PROMOTE)
    published(project, "v1.2.0-rc1")
    mark = len(project.requests())
    project.run_stage("v1.2.0-rc1", "promote", dry_run=True)
    assert project.writes_since(mark) == []
    assert "would comment on #" in project.output() and "@alice @bob" in project.output()

    [result] = project.run_stage("v1.2.0-rc1", "promote")
    assert result.status is Status.DONE and "#issuecomment-" in (result.evidence or "")
    [body] = announcements(project, "Release v1.2.0-rc1")
    assert "v1.2.0-rc1 is out: http" in body and "/releases/tag/v1.2.0-rc1" in body
    assert "@alice @bob: please test v1.2.0-rc1" in body

    mark = len(project.requests())
    project.run_stage("v1.2.0-rc1", "promote")
    assert project.writes_since(mark) == []


def test_final_announcement_has_no_tester_ping(make_project) -> None:
    project = make_project(extra=PROMOTE)
    published(project, "v1.2.0")
    project.run_stage("v1.2.0", "promote")
    [body] = announcements(project, "Release v1.2.0")
    assert "@alice" not in body


def test_blocked_before_the_release_exists(make_project) -> None:
    project = make_project(extra=PROMOTE)
    project.run_stage("v1.2.0-rc1", "start")
    with pytest.raises(ReleaserError, match=r"no GitHub release for v1\.2\.0-rc1 yet"):
        project.run_stage("v1.2.0-rc1", "promote")


def test_not_configured_means_skipped(project) -> None:
    [result] = project.run_stage("v1.2.0-rc1", "promote")
    assert result.status == "skipped"
