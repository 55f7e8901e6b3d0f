"""Pull requests of the sandbox forge: create, list, update, merge (three ways), reviewers.

Merges are checked with git in a real clone; every JSON body is validated against GitHub's
published response schemas.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import httpx
import pytest
from github import Github, GithubException

from releaser.sandbox.server import SandboxServer
from tests.sandbox.helpers import api, git_env, make_repo, sandbox_github
from tests.sandbox.schemas import validate

REPO = "release-bot/app"


def github(sandbox: SandboxServer) -> Github:
    return sandbox_github(sandbox, seconds_between_requests=None, seconds_between_writes=None)


def head_of(client: httpx.Client, repo: str, branch: str) -> str:
    ref = client.get(f"repos/{repo}/git/ref/heads/{branch}").raise_for_status()
    return str(ref.json()["object"]["sha"])


def branch_from(client: httpx.Client, repo: str, name: str, base: str = "main") -> None:
    sha = head_of(client, repo, base)
    client.post(
        f"repos/{repo}/git/refs", json={"ref": f"refs/heads/{name}", "sha": sha}
    ).raise_for_status()


def commit_file(client: httpx.Client, repo: str, branch: str, path: str, text: str) -> str:
    current = client.get(f"repos/{repo}/contents/{path}", params={"ref": branch})
    body = {
        "message": f"Change {path} on {branch}",
        "content": base64.b64encode(text.encode()).decode(),
        "branch": branch,
    }
    if current.status_code == 200:
        body["sha"] = current.json()["sha"]
    resp = client.put(f"repos/{repo}/contents/{path}", json=body).raise_for_status()
    return str(resp.json()["commit"]["sha"])


def clone(sandbox: SandboxServer, repo: str, tmp_path: Path) -> Path:
    target = tmp_path / "clone"
    url = f"{sandbox.info()['git_url']}/{repo}.git"
    subprocess.run(
        ["git", "clone", "--quiet", url, str(target)],
        check=True,
        env=git_env(tmp_path),
        capture_output=True,
    )
    return target


def git(cwd: Path, tmp_path: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=git_env(tmp_path), capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


@pytest.fixture
def repo(sandbox: SandboxServer) -> str:
    return make_repo(sandbox, REPO, {"README.md": "# app\n", "app.py": "VERSION = '1.0'\n"})


def test_create_get_list_update_with_pygithub(sandbox: SandboxServer, repo: str) -> None:
    with api(sandbox) as client:
        branch_from(client, repo, "release/1.1")
        commit_file(client, repo, "release/1.1", "app.py", "VERSION = '1.1'\n")
    gh_repo = github(sandbox).get_repo(repo)
    pull = gh_repo.create_pull(
        base="main", head="release-bot:release/1.1", title="Release 1.1", body="Bump", draft=True
    )
    assert pull.number == 1
    assert pull.draft is True
    assert pull.merged is False
    assert pull.head.ref == "release/1.1"
    assert pull.base.ref == "main"
    assert pull.head.repo.full_name == repo
    assert pull.html_url == f"{sandbox.url}/{repo}/pull/1"
    assert pull.commits == 1 and pull.additions == 1 and pull.deletions == 1
    assert pull.mergeable is True

    listed = gh_repo.get_pulls(state="open", head="release-bot:release/1.1", base="main")
    assert [p.number for p in listed] == [1]
    assert list(gh_repo.get_pulls(head="release-bot:other")) == []
    # pull requests are issues too
    issue = gh_repo.get_issue(1)
    assert issue.pull_request is not None
    issue.create_comment("CI is green")
    pull.create_review_request(reviewers=["alice"])
    assert [u.login for u in gh_repo.get_pull(1).requested_reviewers] == ["alice"]
    assert list(pull.get_reviews()) == []

    pull.edit(title="Release 1.1.0", body="Bump to 1.1.0")
    again = gh_repo.get_pull(1)
    assert again.title == "Release 1.1.0"
    assert again.body == "Bump to 1.1.0"
    assert again.comments == 1
    found = list(github(sandbox).search_issues(f"repo:{repo} is:pr is:open head:release/1.1"))
    assert [i.number for i in found] == [1]


def test_shapes_and_validation_errors(sandbox: SandboxServer, repo: str) -> None:
    with api(sandbox) as client:
        branch_from(client, repo, "feature")
        commit_file(client, repo, "feature", "feature.txt", "new\n")
        created = client.post(
            f"repos/{repo}/pulls", json={"title": "Feature", "head": "feature", "base": "main"}
        )
        assert created.status_code == 201
        validate("pulls/create", 201, created.json())
        validate("pulls/get", 200, client.get(f"repos/{repo}/pulls/1").json())
        validate("pulls/list", 200, client.get(f"repos/{repo}/pulls").json())
        validate("issues/list-for-repo", 200, client.get(f"repos/{repo}/issues").json())
        assert "pull_request" in client.get(f"repos/{repo}/issues/1").json()
        updated = client.patch(f"repos/{repo}/pulls/1", json={"body": "Details"})
        validate("pulls/update", 200, updated.json())
        reviews = client.get(f"repos/{repo}/pulls/1/reviews")
        validate("pulls/list-reviews", 200, reviews.json())
        requested = client.post(
            f"repos/{repo}/pulls/1/requested_reviewers", json={"reviewers": ["bob"]}
        )
        assert requested.status_code == 201
        validate("pulls/request-reviewers", 201, requested.json())

        dup = client.post(
            f"repos/{repo}/pulls",
            json={"title": "Again", "head": "release-bot:feature", "base": "main"},
        )
        assert dup.status_code == 422
        assert dup.json()["errors"][0]["message"] == (
            "A pull request already exists for release-bot:feature."
        )
        branch_from(client, repo, "empty")
        none = client.post(
            f"repos/{repo}/pulls", json={"title": "Empty", "head": "empty", "base": "main"}
        )
        assert none.status_code == 422
        assert none.json()["errors"][0]["message"] == "No commits between main and empty"
        bad_base = client.post(
            f"repos/{repo}/pulls", json={"title": "X", "head": "feature", "base": "nope"}
        )
        assert bad_base.status_code == 422
        assert client.get(f"repos/{repo}/pulls/1/merge").status_code == 404
        assert client.get(f"repos/{repo}/pulls/99").status_code == 404


@pytest.mark.parametrize(("method", "parents"), [("merge", 2), ("squash", 1), ("rebase", 1)])
def test_merge_methods(
    sandbox: SandboxServer, repo: str, tmp_path: Path, method: str, parents: int
) -> None:
    with api(sandbox) as client:
        branch_from(client, repo, "topic")
        commit_file(client, repo, "topic", "a.txt", "a\n")
        commit_file(client, repo, "topic", "b.txt", "b\n")
        # main moves on too, so every method has real merging to do
        commit_file(client, repo, "main", "README.md", "# app, updated\n")
        old_main = head_of(client, repo, "main")
    gh_repo = github(sandbox).get_repo(repo)
    pull = gh_repo.create_pull(base="main", head="topic", title="Topic work", body="")
    head_sha = pull.head.sha
    with pytest.raises(GithubException) as err:
        pull.merge(merge_method=method, sha="0" * 40)
    assert err.value.status == 409
    status = pull.merge(merge_method=method, sha=head_sha)
    assert status.merged is True
    with api(sandbox) as client:
        validate(
            "pulls/merge",
            200,
            {"sha": status.sha, "merged": status.merged, "message": status.message},
        )
        assert client.get(f"repos/{repo}/pulls/1/merge").status_code == 204
        validate("pulls/get", 200, client.get(f"repos/{repo}/pulls/1").json())
        assert head_of(client, repo, "main") == status.sha
    merged = gh_repo.get_pull(1)
    assert merged.merged is True
    assert merged.state == "closed"
    assert merged.merge_commit_sha == status.sha
    assert merged.merged_by is not None

    work = clone(sandbox, repo, tmp_path)
    line = git(work, tmp_path, "rev-list", "--parents", "-n", "1", "HEAD").split()
    assert line[0] == status.sha
    assert len(line) - 1 == parents
    assert sorted(git(work, tmp_path, "ls-files").split()) == [
        "README.md",
        "a.txt",
        "app.py",
        "b.txt",
    ]
    assert git(work, tmp_path, "show", "HEAD:README.md") == "# app, updated"
    assert git(work, tmp_path, "merge-base", "--is-ancestor", old_main, "HEAD") == ""
    count = git(work, tmp_path, "rev-list", "--count", f"{old_main}..HEAD")
    assert count == {"merge": "3", "squash": "1", "rebase": "2"}[method]
    if method == "merge":
        assert line[2] == head_sha
    with pytest.raises(GithubException) as again:
        pull.merge()
    assert again.value.status == 405


def test_conflicts_and_drafts_are_not_mergeable(sandbox: SandboxServer, repo: str) -> None:
    with api(sandbox) as client:
        branch_from(client, repo, "conflict")
        commit_file(client, repo, "conflict", "app.py", "VERSION = 'topic'\n")
        commit_file(client, repo, "main", "app.py", "VERSION = 'main'\n")
        branch_from(client, repo, "draft", base="conflict")
        commit_file(client, repo, "draft", "d.txt", "d\n")
        client.post(
            f"repos/{repo}/pulls", json={"title": "C", "head": "conflict", "base": "main"}
        ).raise_for_status()
        pull = client.get(f"repos/{repo}/pulls/1").json()
        assert pull["mergeable"] is False
        assert pull["mergeable_state"] == "dirty"
        refused = client.put(f"repos/{repo}/pulls/1/merge", json={})
        assert refused.status_code == 405
        assert refused.json()["message"] == "Pull Request is not mergeable"
        client.post(
            f"repos/{repo}/pulls",
            json={"title": "D", "head": "draft", "base": "conflict", "draft": True},
        ).raise_for_status()
        assert client.put(f"repos/{repo}/pulls/2/merge", json={}).status_code == 405
        ready = client.patch(f"repos/{repo}/pulls/2", json={"draft": False})
        assert ready.json()["draft"] is False
        merged = client.put(f"repos/{repo}/pulls/2/merge", json={"merge_method": "squash"})
        assert merged.status_code == 200
        closed = client.patch(f"repos/{repo}/pulls/1", json={"state": "closed"})
        assert closed.json()["state"] == "closed"
        assert [p["number"] for p in client.get(f"repos/{repo}/pulls").json()] == []
        assert [
            p["number"] for p in client.get(f"repos/{repo}/pulls", params={"state": "all"}).json()
        ] == [2, 1]
