"""The build stage: the run the tag push started, dispatched runs, failures, log patterns."""

from __future__ import annotations

import httpx
import pytest

from releaser.errors import ReleaserError
from releaser.step import Status
from tests.steps.release_helpers import (
    make_version_branch,
)

RC = "v1.2.0-rc1"
FAST = "\n[engine]\npoll_interval = 1\nwait_timeout = 60\n"


def tagged(project) -> None:
    make_version_branch(project)
    project.run_stage(RC, "tag")


def admin_actions(project, **values) -> None:
    body = {"repo": "acme/example", "workflow": "build.yml", **values}
    httpx.post(project.info["admin_url"] + "/actions", json=body, timeout=30).raise_for_status()


def test_blocked_until_the_tag_exists(make_project) -> None:
    project = make_project(extra=FAST)
    with pytest.raises(ReleaserError) as err:
        project.run_stage(RC, "build")
    assert "v1.2.0-rc1 doesn't exist" in err.value.message and "releaser tag" in err.value.message


def test_waits_for_the_tag_push_run_then_rerun_writes_nothing(make_project) -> None:
    project = make_project(extra=FAST)
    admin_actions(project, duration=2)
    tagged(project)
    [result] = project.run_stage(RC, "build")
    assert result.status is Status.DONE and "/actions/runs/" in (result.evidence or "")
    mark = len(project.requests())
    [again] = project.run_stage(RC, "build")
    assert again.status is Status.DONE and again.evidence == result.evidence
    assert project.writes_since(mark) == []


def test_no_wait_exits_while_running(make_project) -> None:
    project = make_project(extra=FAST)
    admin_actions(project, duration=30)
    tagged(project)
    with pytest.raises(ReleaserError) as err:
        project.run_stage(RC, "build", no_wait=True)
    message = err.value.message
    assert err.value.exit_code == 4
    assert "queued" in message or "in_progress" in message


def test_failed_run_names_the_run_and_the_job(make_project) -> None:
    project = make_project(extra=FAST)
    admin_actions(project, duration=0.2, conclusion="failure")
    tagged(project)
    with pytest.raises(ReleaserError) as err:
        project.run_stage(RC, "build")
    message = err.value.message
    assert "/actions/runs/" in message and "failure" in message and "build" in message
    assert "failed jobs: build" in message


def test_log_pattern_present_and_absent(make_project) -> None:
    ok = make_project(
        extra=FAST.replace(
            "[engine]",
            '[[build.workflows]]\nfile = "build.yml"\n'
            "log_pattern = 'built example-{version}'\n\n[engine]",
        )
    )
    tagged(ok)
    [result] = ok.run_stage(RC, "build")
    assert result.status is Status.DONE
    missing = make_project(
        extra=FAST.replace(
            "[engine]",
            '[[build.workflows]]\nfile = "build.yml"\n'
            "log_pattern = 'published v{version}'\n\n[engine]",
        )
    )
    tagged(missing)
    with pytest.raises(ReleaserError) as err:
        missing.run_stage(RC, "build")
    assert "published v1.2.0-rc1" in err.value.message and "/job/" in err.value.message


def test_dispatched_workflow_is_dispatched_once(make_project) -> None:
    extra = FAST.replace(
        "[engine]",
        '[[build.workflows]]\nfile = "build.yml"\non = "dispatch"\n\n[engine]',
    )
    project = make_project(extra=extra)
    tagged(project)
    mark = len(project.requests())
    results = project.run_stage(RC, "build", dry_run=True)
    assert results[0].status == "planned"
    assert project.writes_since(mark) == []
    assert "dispatch workflow build.yml" in project.output()
    project.run_stage(RC, "build")
    dispatches = [w for w in project.writes_since(mark) if w["path"].endswith("/dispatches")]
    assert len(dispatches) == 1
    mark = len(project.requests())
    [again] = project.run_stage(RC, "build")
    assert again.status is Status.DONE and project.writes_since(mark) == []


def test_dispatch_intent_without_a_run_asks_instead_of_dispatching_again(make_project) -> None:
    extra = FAST.replace(
        "[engine]",
        '[[build.workflows]]\nfile = "build.yml"\non = "dispatch"\n\n[engine]',
    )
    project = make_project(extra=extra)
    tagged(project)
    ctx = project.context(RC)
    try:
        # a dispatch started a minute ago whose result was never recorded (a crash, a lost
        # answer): longer than a run takes to show up, so the step asks at once
        now = ctx.now
        ctx.ledger.clock = lambda: now() - 60
        ctx.ledger.record_intent(
            "build-workflows", "dispatch:acme/example:build.yml@v1.2.0-rc1", "dispatch"
        )
    finally:
        ctx.close()
    mark = len(project.requests())
    with pytest.raises(ReleaserError) as err:
        project.run_stage(RC, "build")
    assert err.value.exit_code == 3 and "no run shows up" in err.value.message
    assert not [w for w in project.writes_since(mark) if w["path"].endswith("/dispatches")]
