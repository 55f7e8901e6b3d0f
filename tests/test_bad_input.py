"""Bad input against a real forge: one clear message naming the fix, the documented exit code,
no traceback, nothing written (docs/architecture.md, "The engine")."""

from __future__ import annotations

import httpx

from tests.steps.conftest import Project


def _set_scopes(project: Project, scopes: str) -> None:
    url = project.info["admin_url"] + "/settings"
    httpx.post(url, json={"scopes": scopes}, timeout=30).raise_for_status()


def test_a_token_without_the_repo_scope_exits_2_and_writes_nothing(project: Project) -> None:
    _set_scopes(project, "read:org, workflow")
    mark = len(project.requests())
    result = project.cli("--non-interactive", "prepare", "v1.2.0-rc1")
    assert result.exit_code == 2, result.output
    assert "the token scope repo (it has: read:org, workflow)" in result.output
    assert "Traceback" not in result.output
    # found by the permission check before the first write: nothing even attempted
    assert project.writes_since(mark) == []
    assert "release-v1.2" not in {b.name for b in project.repo.get_branches()}


def test_a_bad_version_on_a_real_forge_writes_nothing(project: Project) -> None:
    mark = len(project.requests())
    result = project.cli("--non-interactive", "release", "v1.2", "--yes")
    assert result.exit_code == 2
    assert "v1.2.3-rc1" in result.output  # the accepted forms
    assert project.requests()[mark:] == []  # not even a read


def test_a_tag_on_the_wrong_commit_exits_1_naming_both_and_the_fix(project: Project) -> None:
    project.run_stage("v1.2.0-rc1", "prepare")
    main = project.repo.get_branch("main").commit.sha
    tag = project.repo.create_git_tag("v1.2.0-rc1", "premature", main, "commit")
    project.repo.create_git_ref("refs/tags/v1.2.0-rc1", tag.sha)
    result = project.cli("--non-interactive", "tag", "v1.2.0-rc1", "--yes")
    assert result.exit_code == 1
    assert main in result.output and "delete it by hand" in result.output
    assert "Traceback" not in result.output
