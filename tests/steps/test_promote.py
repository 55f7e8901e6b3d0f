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

    results = project.run_stage("v1.2.0-rc1", "promote")
    [result] = [r for r in results if r.step == "announce-on-tracking-issue"]
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
    results = project.run_stage("v1.2.0-rc1", "promote")
    assert results and all(r.status == "skipped" for r in results)


# -- the infrastructure team's issue -----------------------------------------------------------

INFRA = """
[promote.infrastructure]
repo = "acme/infra"
"""


def infra_issues(project) -> list:
    return [i for i in project.gh.get_repo("acme/infra").get_issues(state="all")]


def test_infrastructure_issue_opened_and_told_once(make_project) -> None:
    from tests.sandbox.helpers import make_repo

    project = make_project(extra=INFRA + PROMOTE)
    make_repo(project.server, "acme/infra")
    published(project, "v1.2.0-rc1")

    mark = len(project.requests())
    project.run_stage("v1.2.0-rc1", "promote", dry_run=True)
    assert project.writes_since(mark) == []
    out = project.output()
    assert 'would create issue "Deploy example v1.2.0-rc1" in acme/infra' in out

    results = {r.step: r for r in project.run_stage("v1.2.0-rc1", "promote")}
    assert results["notify-infrastructure"].status is Status.DONE
    [issue] = infra_issues(project)
    assert issue.title == "Deploy example v1.2.0-rc1"
    [comment] = list(issue.get_comments())
    assert "example v1.2.0-rc1 is out: http" in comment.body and "Please update." in comment.body
    assert results["notify-infrastructure"].evidence == comment.html_url

    mark = len(project.requests())
    project.run_stage("v1.2.0-rc1", "promote")
    assert project.writes_since(mark) == []


def test_infrastructure_issue_opened_by_the_team_is_used(make_project) -> None:
    from tests.sandbox.helpers import make_repo

    project = make_project(extra=INFRA + PROMOTE)
    make_repo(project.server, "acme/infra")
    theirs = project.gh.get_repo("acme/infra").create_issue("Deploy example v1.2.0", "planned")
    published(project, "v1.2.0")
    project.run_stage("v1.2.0", "promote")
    assert [i.number for i in infra_issues(project)] == [theirs.number]
    assert len(list(theirs.get_comments())) == 1


def test_infrastructure_comment_lost_answer_is_not_posted_twice(make_project) -> None:
    from tests.sandbox.helpers import make_repo

    project = make_project(extra=INFRA + PROMOTE)
    make_repo(project.server, "acme/infra")
    published(project, "v1.2.0-rc1")
    # the comment is applied, but its answer is lost: the re-check finds it
    project.faults(
        {
            "method": "POST",
            "path": r"/repos/acme/infra/issues/\d+/comments$",
            "action": "error_after",
            "status": 502,
        }
    )
    results = {r.step: r for r in project.run_stage("v1.2.0-rc1", "promote")}
    project.clear_faults()
    assert results["notify-infrastructure"].status is Status.DONE
    [issue] = infra_issues(project)
    assert len(list(issue.get_comments())) == 1


SOAK = """
[promote.soak]
after = 86400

[engine]
poll_interval = 0.3
wait_timeout = 60
"""


def test_rc_soak_reminder_waits_then_lists_the_reports_once(make_project) -> None:
    from releaser.errors import StillRunning
    from releaser.sandbox.admin_client import SandboxAdmin

    project = make_project(extra=SOAK)
    rc = "v1.2.0-rc1"
    old = project.repo.create_issue("Crash in v1.2.0-rc1?", "filed before it was out")
    published(project, rc)
    with SandboxAdmin(project.info["admin_url"]) as admin:
        admin.freeze()
        crash = project.repo.create_issue("v1.2.0-rc1 crashes on empty input", "steps: ...")
        slow = project.repo.create_issue("Slow start", "since upgrading to 1.2.0-rc1 it is slow")
        project.repo.create_issue("Unrelated", "a feature request")
        admin.advance(86400 - 600)
        mark = len(project.requests())
        with pytest.raises(StillRunning) as err:
            project.run_stage(rc, "promote")
        assert err.value.exit_code == 4 and "soaks until" in err.value.message
        assert "re-run the same command after" in (err.value.hint or "")
        # Soaking writes nothing: what this run wrote is the checklist's tick of the step
        # found done before it (release-verified), under its claim.
        tracking = [w["path"] for w in project.writes_since(mark) if "/issues/" in w["path"]]
        assert project.release_writes_since(mark) == [("PATCH", tracking[0])]
        mark = len(project.requests())
        with pytest.raises(StillRunning):
            project.run_stage(rc, "promote")
        assert project.writes_since(mark) == []
        admin.advance(1200)
        results = {r.step: r for r in project.run_stage(rc, "promote")}
    assert results["soak-reminder"].status is Status.DONE
    [issue] = [
        i
        for i in project.repo.get_issues(state="all")
        if i.title == f"Release {rc}" and i.pull_request is None
    ]
    [body] = [c.body for c in issue.get_comments() if "releaser:soak" in c.body]
    assert body.startswith("v1.2.0-rc1 has soaked")
    assert f"#{crash.number} v1.2.0-rc1 crashes on empty input" in body
    assert f"#{slow.number} Slow start" in body
    assert f"#{old.number} " not in body and "Unrelated" not in body
    assert f"#{issue.number} " not in body  # not the tracking issue itself
    mark = len(project.requests())
    project.run_stage(rc, "promote")
    assert project.writes_since(mark) == []


def test_soak_reminder_is_for_rcs_only(make_project) -> None:
    project = make_project(extra=SOAK)
    results = {r.step: r for r in project.run_stage("v1.2.0", "promote", dry_run=True)}
    assert results["soak-reminder"].status == "skipped"
