"""The tag stage against the sandbox forge: the right commit, one tag, signed, idempotent."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from releaser.errors import ReleaserError
from releaser.step import Status
from tests.steps.release_helpers import (
    gpg_env,
    make_gpg_key,
    make_version_branch,
)

RC = "v1.2.0-rc1"


def by_name(results):
    return {r.step: r for r in results}


def test_rc_tag_on_version_branch_head_and_rerun_writes_nothing(project) -> None:
    head = make_version_branch(project)
    results = by_name(project.run_stage(RC, "tag"))
    assert results["push-tag"].status is Status.DONE and results["push-tag"].acted
    assert results["merge-release-pr"].status == "skipped"
    tag = project.repo.get_git_ref("tags/v1.2.0-rc1").object
    assert tag.type == "tag"
    assert project.git("rev-parse", "v1.2.0-rc1^{commit}").strip() == head
    assert "Prerelease 1.2.0-rc1" in project.git("cat-file", "-p", "v1.2.0-rc1")
    assert project.git("tag", "--list").split() == ["v1.1.0", "v1.2.0-rc1"]
    mark = len(project.requests())
    again = by_name(project.run_stage(RC, "tag"))
    assert again["push-tag"].status is Status.DONE and not again["push-tag"].acted
    assert project.writes_since(mark) == []
    assert "releases/tag/v1.2.0-rc1" in (again["push-tag"].evidence or "")


def test_dry_run_plans_the_tag_and_writes_nothing(project) -> None:
    head = make_version_branch(project)
    mark = len(project.requests())
    results = by_name(project.run_stage(RC, "tag", dry_run=True))
    assert results["push-tag"].status == "planned"
    assert project.writes_since(mark) == []
    out = project.output()
    assert "v1.2.0-rc1" in out and head in out and "Prerelease 1.2.0-rc1" in out
    assert project.git("tag", "--list").split() == ["v1.1.0"]


def test_blocked_without_the_version_branch(project) -> None:
    with pytest.raises(ReleaserError) as err:
        project.run_stage(RC, "tag")
    assert "release-v1.2" in err.value.message and "releaser prepare" in err.value.message


def test_existing_tag_on_another_commit_fails_naming_both(project) -> None:
    project.run_stage(RC, "start")  # a release releaser drives (it has a ledger)
    head = make_version_branch(project)
    other = project.seed.release_sha  # v1.1.0's commit
    obj = project.repo.create_git_tag("v1.2.0-rc1", "premature", other, "commit")
    project.repo.create_git_ref("refs/tags/v1.2.0-rc1", obj.sha)
    with pytest.raises(ReleaserError) as err:
        project.run_stage(RC, "tag")
    assert other in err.value.message and head in err.value.message
    assert "delete it by hand" in err.value.message and "next version" in err.value.message


def test_lightweight_tag_fails_explaining(project) -> None:
    project.run_stage(RC, "start")  # a release releaser drives (it has a ledger)
    head = make_version_branch(project)
    project.repo.create_git_ref("refs/tags/v1.2.0-rc1", head)
    with pytest.raises(ReleaserError) as err:
        project.run_stage(RC, "tag")
    assert "lightweight" in err.value.message


def test_signed_tag_verifies_with_real_git(make_project, tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "gnupg"
    fpr = make_gpg_key(home)
    monkeypatch.setenv("RELEASER_TEST_GNUPGHOME", str(home))
    project = make_project(
        extra=f'\n[signing]\ngpg_key = "{fpr}"\ngpg_home_env = "RELEASER_TEST_GNUPGHOME"\n'
    )
    make_version_branch(project)
    results = by_name(project.run_stage(RC, "tag"))
    assert "signed" in results["push-tag"].detail
    clone = tmp_path / "verify"
    url = f"{project.info['git_url']}/acme/example.git"
    env = gpg_env(home)
    env.update(HOME=str(tmp_path), GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0")
    subprocess.run(["git", "clone", "-q", url, str(clone)], env=env, check=True)
    proc = subprocess.run(
        ["git", "verify-tag", "v1.2.0-rc1"], cwd=clone, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0 and "Good signature" in proc.stderr


def test_final_with_release_branch_merges_the_release_pr_then_tags_the_merge(
    make_project,
) -> None:
    project = make_project(release_branch="release")
    repo = project.repo
    make_version_branch(project)
    if "release" not in [b.name for b in repo.get_branches()]:
        repo.create_git_ref("refs/heads/release", project.seed.release_sha)
    pr = repo.create_pull(base="release", head="release-v1.2", title="Release v1.2.0", body="")
    results = by_name(project.run_stage("v1.2.0", "tag"))
    assert results["merge-release-pr"].status is Status.DONE
    pr = repo.get_pull(pr.number)
    assert pr.merged
    merge = repo.get_commit(pr.merge_commit_sha)
    assert len(merge.parents) == 2, "a merge commit, never squash"
    assert project.git("rev-parse", "v1.2.0^{commit}").strip() == pr.merge_commit_sha
    assert "Release 1.2.0" in project.git("cat-file", "-p", "v1.2.0")
    mark = len(project.requests())
    project.run_stage("v1.2.0", "tag")
    assert project.writes_since(mark) == []


def test_final_blocked_while_release_pr_is_a_draft(make_project) -> None:
    project = make_project(release_branch="release")
    repo = project.repo
    make_version_branch(project)
    if "release" not in [b.name for b in repo.get_branches()]:
        repo.create_git_ref("refs/heads/release", project.seed.release_sha)
    repo.create_pull(base="release", head="release-v1.2", title="Release v1.2.0", draft=True)
    mark = len(project.requests())
    with pytest.raises(ReleaserError) as err:
        project.run_stage("v1.2.0", "tag")
    assert "draft" in err.value.message
    assert project.writes_since(mark) == [] or all(
        "/git/" in w["path"] and "releaser" in w["path"] for w in project.writes_since(mark)
    )
