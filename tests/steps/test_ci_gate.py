"""The CI gate (`ci-green`, first step of `tag`): the release commit's required checks must be
green before it is merged or tagged. Real commit statuses, branch protection and workflow
check runs on the sandbox forge; time moves on the sandbox's clock."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from releaser.errors import ReleaserError, StillRunning
from releaser.sandbox.admin_client import SandboxAdmin
from releaser.step import Status
from tests.steps.release_helpers import make_version_branch

RC = "v1.2.0-rc1"


def by_name(results: Any) -> dict[str, Any]:
    return {r.step: r for r in results}


def api(project: Any, method: str, path: str, body: Any = None) -> Any:
    response = httpx.request(
        method,
        f"{project.info['api_url']}/repos/acme/example/{path}",
        json=body,
        headers={"Authorization": f"token {project.token}"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json() if response.content else None


def protect(project: Any, branch: str, contexts: list[str]) -> None:
    api(
        project,
        "PUT",
        f"branches/{branch}/protection",
        {
            "required_status_checks": {"strict": False, "contexts": contexts},
            "enforce_admins": False,
            "required_pull_request_reviews": None,
            "restrictions": None,
        },
    )


def status(project: Any, sha: str, context: str, state: str) -> None:
    api(project, "POST", f"statuses/{sha}", {"state": state, "context": context})


def tags(project: Any) -> list[str]:
    return project.git("tag", "--list").split()


def test_red_required_check_blocks_the_tag_naming_it(project) -> None:
    head = make_version_branch(project)
    protect(project, "release-v1.2", ["ci/test"])
    status(project, head, "ci/test", "failure")
    status(project, head, "lint", "success")
    mark = len(project.requests())
    with pytest.raises(ReleaserError) as err:
        project.run_stage(RC, "tag")
    assert project.writes_since(mark) == [], "stopped before any write (no claim either)"
    assert err.value.exit_code == 1
    assert "ci-green" in err.value.message and "ci/test" in err.value.message
    assert head[:12] in err.value.message
    assert tags(project) == ["v1.1.0"], "nothing tagged"
    # fixed (a new status for the context): the release goes on
    status(project, head, "ci/test", "success")
    results = by_name(project.run_stage(RC, "tag"))
    assert results["ci-green"].status is Status.DONE
    assert "ci/test" in results["ci-green"].detail
    assert "v1.2.0-rc1" in tags(project)


def test_a_check_neither_required_nor_configured_is_ignored(make_project) -> None:
    project = make_project()
    head = make_version_branch(project)
    protect(project, "release-v1.2", ["ci/test"])
    status(project, head, "ci/test", "success")
    status(project, head, "nightly-fuzz", "failure")  # nobody requires it
    results = by_name(project.run_stage(RC, "tag"))
    assert results["ci-green"].status is Status.DONE
    assert "nightly-fuzz" not in results["ci-green"].detail
    assert "v1.2.0-rc1" in tags(project)


def test_all_mode_counts_every_check_and_configured_names(make_project) -> None:
    project = make_project(extra='\n[gates]\nci = "all"\n')
    head = make_version_branch(project)
    status(project, head, "nightly-fuzz", "error")
    with pytest.raises(ReleaserError) as err:
        project.run_stage(RC, "tag")
    assert "nightly-fuzz (error)" in err.value.message


def test_configured_check_not_reported_is_waited_for(make_project) -> None:
    project = make_project(extra='\n[gates]\nchecks = ["build"]\n')
    head = make_version_branch(project)
    mark = len(project.requests())
    with pytest.raises(StillRunning) as err:
        project.run_stage(RC, "tag", no_wait=True)
    assert err.value.exit_code == 4 and "build not reported yet" in err.value.message
    assert project.writes_since(mark) == []
    status(project, head, "build", "pending")
    with pytest.raises(StillRunning) as err:
        project.run_stage(RC, "tag", no_wait=True)
    assert "build pending" in err.value.message
    status(project, head, "build", "success")
    results = by_name(project.run_stage(RC, "tag", no_wait=True))
    assert results["push-tag"].status is Status.DONE


def test_workflow_check_runs_count_pending_waits_red_names_the_job(make_project) -> None:
    """A required check that is a workflow's job (a check run, not a status): queued/in
    progress is waited for (the engine polls, the sandbox clock moves); red is named."""
    project = make_project(extra="\n[engine]\npoll_interval = 0.2\nwait_timeout = 60\n")
    head = make_version_branch(project)
    protect(project, "release-v1.2", ["build"])
    with SandboxAdmin(project.info["admin_url"]) as admin:
        admin.freeze()
        api(project, "POST", "actions/workflows/build.yml/dispatches", {"ref": "release-v1.2"})
        with pytest.raises(StillRunning) as err:
            project.run_stage(RC, "tag", no_wait=True)
        assert "build pending" in err.value.message
        admin.advance(30)  # the run (duration 1 s) completes: success
        results = by_name(project.run_stage(RC, "tag"))
    assert results["ci-green"].status is Status.DONE and "build" in results["ci-green"].detail
    assert head in (results["ci-green"].evidence or "")


def test_red_workflow_check_run_names_the_job(make_project) -> None:
    project = make_project()
    make_version_branch(project)
    protect(project, "release-v1.2", ["build"])
    with SandboxAdmin(project.info["admin_url"]) as admin:
        httpx.post(
            project.info["admin_url"] + "/actions",
            json={"repo": "acme/example", "workflow": "build.yml", "conclusion": "failure"},
            timeout=30,
        ).raise_for_status()
        admin.freeze()
        api(project, "POST", "actions/workflows/build.yml/dispatches", {"ref": "release-v1.2"})
        admin.advance(30)
        with pytest.raises(ReleaserError) as err:
            project.run_stage(RC, "tag")
    assert "red checks" in err.value.message and "build (failure)" in err.value.message
    assert "/actions/runs/" in project.output()
    assert tags(project) == ["v1.1.0"]


def test_off_skips_the_gate(make_project) -> None:
    project = make_project(extra='\n[gates]\nci = "off"\n')
    head = make_version_branch(project)
    protect(project, "release-v1.2", ["ci/test"])
    status(project, head, "ci/test", "failure")
    results = by_name(project.run_stage(RC, "tag"))
    assert results["ci-green"].status == "skipped"
    assert "v1.2.0-rc1" in tags(project)


def test_final_with_release_branch_gates_the_release_pr_head_before_merging(
    make_project,
) -> None:
    project = make_project(release_branch="release")
    repo = project.repo
    make_version_branch(project)
    pr = repo.create_pull(base="release", head="release-v1.2", title="Release v1.2.0", body="")
    protect(project, "release", ["ci/test"])
    status(project, pr.head.sha, "ci/test", "failure")
    with pytest.raises(ReleaserError) as err:
        project.run_stage("v1.2.0", "tag")
    assert f"head of the release PR #{pr.number}" in err.value.message
    assert not repo.get_pull(pr.number).merged, "not merged while red"
    status(project, pr.head.sha, "ci/test", "success")
    results = by_name(project.run_stage("v1.2.0", "tag"))
    assert results["merge-release-pr"].status is Status.DONE
    assert results["push-tag"].status is Status.DONE
