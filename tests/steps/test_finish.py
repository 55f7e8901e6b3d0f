"""The merge and next stages: merge-back with a merge commit, next dev version, closing."""

from __future__ import annotations

import pytest

from releaser.errors import ReleaserError
from releaser.step import Status

FINAL = "v1.2.0"
FAST = "\n[engine]\npoll_interval = 1\nwait_timeout = 60\n"


def by_name(results):
    return {r.step: r for r in results}


def released(project, version: str = FINAL) -> None:
    for stage in ("start", "prepare", "tag"):
        project.run_stage(version, stage)


def test_merge_back_keeps_the_dev_version_and_uses_a_merge_commit(make_project) -> None:
    project = make_project(extra=FAST)
    released(project)
    result = project.run_stage(FINAL, "merge")[0]
    assert result.status is Status.DONE and "/pull/" in (result.evidence or "")
    tag_commit = project.git("rev-parse", "v1.2.0^{commit}").strip()
    assert project.git("merge-base", "--is-ancestor", tag_commit, "main") == ""
    head = project.repo.get_branch("main").commit
    assert len(head.parents) == 2, "merged with a merge commit"
    assert '__version__ = "1.2.0-dev"' in (project.file("example/__init__.py", "main") or "")
    assert "## v1.2.0" in (project.file("CHANGELOG.md", "main") or "")
    mark = len(project.requests())
    project.run_stage(FINAL, "merge")
    assert project.writes_since(mark) == []


def test_review_release_pr_is_closed_after_merge_back_once(make_project) -> None:
    project = make_project(extra=FAST)
    released(project)
    [review] = list(project.repo.get_pulls(state="open", head="acme:release-v1.2", base="main"))
    project.faults(  # crash after the comment, before the close
        {"method": "PATCH", "path": rf"/pulls/{review.number}$", "action": "error", "status": 502}
    )
    with pytest.raises(ReleaserError):
        project.run_stage(FINAL, "merge")
    project.clear_faults()
    results = by_name(project.run_stage(FINAL, "merge"))
    assert results["close-release-pr"].status is Status.DONE
    review = project.repo.get_pull(review.number)
    assert review.state == "closed" and not review.merged
    [merge_pr] = [p for p in project.repo.get_pulls(state="all") if p.title.startswith("Merge v")]
    comments = [c.body for c in review.get_issue_comments()]
    assert len(comments) == 1  # commented once despite the crash
    assert f"#{merge_pr.number}" in comments[0] and "Released as v1.2.0" in comments[0]


def test_review_release_pr_stays_with_a_release_branch(make_project) -> None:
    project = make_project(extra=FAST, release_branch="release")
    results = by_name(project.run_stage(FINAL, "merge", only="close-release-pr"))
    assert results["close-release-pr"].status == "skipped"
    assert results["close-release-pr"].detail == "not configured for this project"


def test_merge_back_is_not_for_rcs(make_project) -> None:
    project = make_project(extra=FAST)
    result = project.run_stage("v1.2.0-rc1", "merge")[0]
    assert result.status == "skipped"


def test_merge_back_conflict_fails_with_git_commands(make_project) -> None:
    project = make_project(extra=FAST)
    released(project)
    # a conflicting change on main to a file the release branch also changed
    current = project.repo.get_contents("CHANGELOG.md", ref="main")
    project.repo.update_file(
        "CHANGELOG.md",
        "Rewrite the changelog",
        "# Changes\n\nrewritten\n",
        current.sha,
        branch="main",
    )
    with pytest.raises(ReleaserError) as err:
        project.run_stage(FINAL, "merge")
    assert "git merge origin/main" in err.value.message
    assert "git push origin merge-release-v1.2.0" in err.value.message


def test_next_stage_after_a_final_and_rerun(make_project) -> None:
    project = make_project(extra=FAST)
    released(project)
    project.run_stage(FINAL, "merge")
    results = by_name(project.run_stage(FINAL, "next"))
    assert results["next-dev-version"].status is Status.DONE
    assert results["close-tracking-issue"].status is Status.DONE
    issues = [
        i
        for i in project.repo.get_issues(state="all")
        if i.title == "Release v1.2.0" and i.pull_request is None
    ]
    assert len(issues) == 1 and issues[0].state == "closed"
    summaries = [c for c in issues[0].get_comments() if "releaser:summary" in c.body]
    assert len(summaries) == 1
    mark = len(project.requests())
    project.run_stage(FINAL, "next")
    assert project.writes_since(mark) == []


def test_next_dev_version_opens_the_pr_when_missing(make_project) -> None:
    project = make_project(extra=FAST)
    released(project)
    # the prepare stage's next-dev PR was closed without merging
    for pull in project.repo.get_pulls(state="open"):
        if pull.head.ref.startswith("bump-"):
            pull.edit(state="closed")
            project.repo.get_git_ref(f"heads/{pull.head.ref}").delete()
    results = by_name(project.run_stage(FINAL, "next", only=("next-dev-version",)))
    assert results["next-dev-version"].status is Status.DONE
