"""Issues, comments, labels and issue search of the sandbox forge (PyGithub and raw HTTP).

Every JSON body is validated against GitHub's published response schemas.
"""

from __future__ import annotations

import pytest
from github import Github, GithubException

from releaser.sandbox.server import SandboxServer
from tests.sandbox.helpers import api, make_repo, sandbox_github
from tests.sandbox.schemas import validate

REPO = "release-bot/tracker"


def github(sandbox: SandboxServer) -> Github:
    """PyGithub without its client-side write throttling (1 s between writes by default)."""
    return sandbox_github(sandbox, seconds_between_requests=None, seconds_between_writes=None)


@pytest.fixture
def repo(sandbox: SandboxServer) -> str:
    return make_repo(sandbox, REPO)


def test_issue_lifecycle_with_pygithub(sandbox: SandboxServer, repo: str) -> None:
    gh_repo = github(sandbox).get_repo(repo)
    gh_repo.create_label("release", "00ff00", "Release tracking")
    issue = gh_repo.create_issue(
        "Release v1.2.0", body="Tracking the release", labels=["release"], assignees=["alice"]
    )
    assert issue.number == 1
    assert issue.title == "Release v1.2.0"
    assert issue.body == "Tracking the release"
    assert issue.state == "open"
    assert issue.html_url == f"{sandbox.url}/{repo}/issues/1"
    assert [label.name for label in issue.labels] == ["release"]
    assert [a.login for a in issue.assignees] == ["alice"]

    comment = issue.create_comment("Stage 1 done")
    assert comment.body == "Stage 1 done"
    comment.edit("Stage 1 done (edited)")
    assert [c.body for c in issue.get_comments()] == ["Stage 1 done (edited)"]
    assert gh_repo.get_issue(1).get_comment(comment.id).body == "Stage 1 done (edited)"
    assert list(comment.get_reactions()) == []

    issue.add_to_labels("blocked")
    assert {label.name for label in issue.get_labels()} == {"release", "blocked"}
    issue.remove_from_labels("blocked")
    assert [label.name for label in issue.get_labels()] == ["release"]

    issue.edit(title="Release v1.2.0 (done)", state="closed", state_reason="completed")
    again = gh_repo.get_issue(1)
    assert again.title == "Release v1.2.0 (done)"
    assert again.state == "closed"
    assert again.closed_at is not None
    assert again.comments == 1
    assert [i.number for i in gh_repo.get_issues(state="closed")] == [1]
    assert list(gh_repo.get_issues(state="open")) == []


def test_shapes_validate(sandbox: SandboxServer, repo: str) -> None:
    with api(sandbox) as client:
        label = client.post(f"repos/{repo}/labels", json={"name": "bug", "color": "ff0000"})
        assert label.status_code == 201
        validate("issues/create-label", 201, label.json())
        dup = client.post(f"repos/{repo}/labels", json={"name": "bug"})
        assert dup.status_code == 422
        assert dup.json()["errors"][0]["code"] == "already_exists"

        created = client.post(f"repos/{repo}/issues", json={"title": "Crash", "labels": ["bug"]})
        assert created.status_code == 201
        validate("issues/create", 201, created.json())
        number = created.json()["number"]
        validate("issues/get", 200, client.get(f"repos/{repo}/issues/{number}").json())
        listed = client.get(f"repos/{repo}/issues")
        validate("issues/list-for-repo", 200, listed.json())
        updated = client.patch(f"repos/{repo}/issues/{number}", json={"body": "details"})
        validate("issues/update", 200, updated.json())

        comment = client.post(f"repos/{repo}/issues/{number}/comments", json={"body": "hi"})
        assert comment.status_code == 201
        validate("issues/create-comment", 201, comment.json())
        cid = comment.json()["id"]
        validate(
            "issues/update-comment",
            200,
            client.patch(f"repos/{repo}/issues/comments/{cid}", json={"body": "hello"}).json(),
        )
        validate(
            "issues/list-comments", 200, client.get(f"repos/{repo}/issues/{number}/comments").json()
        )
        reactions = client.get(f"repos/{repo}/issues/comments/{cid}/reactions")
        validate("reactions/list-for-issue-comment", 200, reactions.json())

        added = client.post(f"repos/{repo}/issues/{number}/labels", json={"labels": ["p1"]})
        validate("issues/add-labels", 200, added.json())
        on_issue = client.get(f"repos/{repo}/issues/{number}/labels")
        validate("issues/list-labels-on-issue", 200, on_issue.json())
        assert [x["name"] for x in on_issue.json()] == ["bug", "p1"]
        removed = client.delete(f"repos/{repo}/issues/{number}/labels/p1")
        validate("issues/remove-label", 200, removed.json())
        assert client.delete(f"repos/{repo}/issues/{number}/labels/p1").status_code == 404

        missing = client.post(f"repos/{repo}/issues", json={"body": "no title"})
        assert missing.status_code == 422
        assert client.get(f"repos/{repo}/issues/99").status_code == 404


def test_list_filters_sort_and_pagination(sandbox: SandboxServer, repo: str) -> None:
    with api(sandbox) as client:
        for n in range(5):
            labels = ["even"] if n % 2 == 0 else []
            client.post(f"repos/{repo}/issues", json={"title": f"issue {n}", "labels": labels})
        client.patch(f"repos/{repo}/issues/2", json={"state": "closed"})
        page = client.get(f"repos/{repo}/issues", params={"per_page": 2})
        assert [i["number"] for i in page.json()] == [5, 4]
        assert 'rel="next"' in page.headers["link"]
        asc = client.get(f"repos/{repo}/issues", params={"direction": "asc", "state": "all"})
        assert [i["number"] for i in asc.json()] == [1, 2, 3, 4, 5]
        even = client.get(f"repos/{repo}/issues", params={"labels": "even", "state": "all"})
        assert [i["number"] for i in even.json()] == [5, 3, 1]
        closed = client.get(f"repos/{repo}/issues", params={"state": "closed"})
        assert [i["number"] for i in closed.json()] == [2]
        mine = client.get(f"repos/{repo}/issues", params={"creator": "release-bot"})
        assert len(mine.json()) == 4
        assert client.get(f"repos/{repo}/issues", params={"creator": "other"}).json() == []
        since = client.get(f"repos/{repo}/issues", params={"since": "2999-01-01T00:00:00Z"})
        assert since.json() == []
    gh_repo = github(sandbox).get_repo(repo)
    assert gh_repo.get_issues(state="all").totalCount == 5


def test_search_finds_tracking_issue_and_pr(sandbox: SandboxServer, repo: str) -> None:
    make_repo(sandbox, "release-bot/other")
    with api(sandbox) as client:
        client.post(f"repos/{repo}/issues", json={"title": "Release v2.0.0", "labels": ["release"]})
        client.post(f"repos/{repo}/issues", json={"title": "Unrelated bug"})
        client.post("repos/release-bot/other/issues", json={"title": "Release v2.0.0"})
        found = client.get(
            "search/issues", params={"q": f'repo:{repo} is:issue is:open in:title "Release v2.0.0"'}
        )
        assert found.status_code == 200
        validate("search/issues-and-pull-requests", 200, found.json())
        assert found.json()["total_count"] == 1
        assert found.json()["items"][0]["number"] == 1
        by_label = client.get("search/issues", params={"q": f"repo:{repo} label:release"})
        assert [i["title"] for i in by_label.json()["items"]] == ["Release v2.0.0"]
        prs = client.get("search/issues", params={"q": f"repo:{repo} is:pr"})
        assert prs.json()["total_count"] == 0
        everywhere = client.get("search/issues", params={"q": '"Release v2.0.0" in:title'})
        assert everywhere.json()["total_count"] == 2
        assert client.get("search/issues").status_code == 422
    gh = github(sandbox)
    results = list(gh.search_issues(f"repo:{repo} is:issue in:title Unrelated"))
    assert [i.title for i in results] == ["Unrelated bug"]
    assert results[0].repository.full_name == repo


def test_errors(sandbox: SandboxServer, repo: str) -> None:
    gh_repo = github(sandbox).get_repo(repo)
    with pytest.raises(GithubException) as err:
        gh_repo.get_issue(42)
    assert err.value.status == 404
    with api(sandbox) as client:
        assert client.get("repos/release-bot/nope/issues").status_code == 404
        assert (
            client.patch(f"repos/{repo}/issues/comments/999", json={"body": "x"}).status_code == 404
        )
