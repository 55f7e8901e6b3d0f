"""Commit statuses and the combined status of a ref, by GitHub's rules; check runs stay apart."""

from __future__ import annotations

import httpx
import pytest

from releaser.sandbox.admin_client import SandboxAdmin
from releaser.sandbox.server import SandboxServer
from tests.sandbox.helpers import api, make_repo, sandbox_github
from tests.sandbox.schemas import validate

REPO = "release-bot/stat"
CI = """\
name: CI
on: {push: {branches: [main]}}
jobs:
  test: {runs-on: ubuntu-latest, steps: [{run: make test}]}
x-sandbox: {duration: 1}
"""


@pytest.fixture
def repo(sandbox: SandboxServer) -> str:
    return make_repo(sandbox, REPO, {"README.md": "x\n"})


def post(
    client: httpx.Client, sha: str, state: str, context: str = "ci", **extra: str
) -> httpx.Response:
    return client.post(
        f"repos/{REPO}/statuses/{sha}", json={"state": state, "context": context, **extra}
    )


def test_statuses_and_combined_state(sandbox: SandboxServer, repo: str) -> None:
    with api(sandbox) as client:
        sha = client.get(f"repos/{REPO}/git/ref/heads/main").json()["object"]["sha"]

        def combined() -> tuple[str, dict[str, str]]:
            body = client.get(f"repos/{REPO}/commits/main/status").json()
            validate("repos/get-combined-status-for-ref", 200, body)
            assert body["sha"] == sha and body["total_count"] == len(body["statuses"])
            return body["state"], {s["context"]: s["state"] for s in body["statuses"]}

        assert combined() == ("pending", {})  # none yet
        first = post(client, sha, "pending", description="running", target_url="http://ci/1")
        assert first.status_code == 201
        validate("repos/create-commit-status", 201, first.json())
        assert first.json()["creator"]["login"] == "release-bot"
        assert (first.json()["description"], first.json()["target_url"]) == (
            "running",
            "http://ci/1",
        )
        assert combined() == ("pending", {"ci": "pending"})
        post(client, sha, "success")
        assert combined() == ("success", {"ci": "success"})  # the latest per context counts
        post(client, sha, "failure", context="lint")
        assert combined() == ("failure", {"ci": "success", "lint": "failure"})
        post(client, sha, "error", context="lint")
        assert combined()[0] == "failure"
        post(client, sha, "pending", context="docs")
        post(client, sha, "success", context="lint")
        assert combined() == ("pending", {"ci": "success", "lint": "success", "docs": "pending"})
        post(client, sha[:12], "success", context="docs")  # an abbreviated sha names it too
        assert combined()[0] == "success"

        listed = client.get(f"repos/{REPO}/commits/{sha}/statuses")
        validate("repos/list-commit-statuses-for-ref", 200, listed.json())
        assert [(s["context"], s["state"]) for s in listed.json()][:3] == [
            ("docs", "success"),
            ("lint", "success"),
            ("docs", "pending"),
        ]
        assert len(listed.json()) == 7

        assert post(client, sha, "green").status_code == 422
        missing = post(client, "0" * 40, "success")
        assert missing.status_code == 422
        assert missing.json()["message"] == f"No commit found for SHA: {'0' * 40}"
        assert client.get(f"repos/{REPO}/commits/nope/status").status_code == 404


def test_pygithub_statuses(sandbox: SandboxServer, repo: str) -> None:
    gh_repo = sandbox_github(sandbox).get_repo(REPO)
    commit = gh_repo.get_commit("main")
    commit.create_status("success", "http://ci/2", "all good", "build")
    commit.create_status("pending", context="deploy")
    combined = commit.get_combined_status()
    assert combined.state == "pending"
    assert sorted((s.context, s.state) for s in combined.statuses) == [
        ("build", "success"),
        ("deploy", "pending"),
    ]
    assert [s.context for s in commit.get_statuses()] == ["deploy", "build"]


def test_check_runs_follow_workflow_runs(sandbox: SandboxServer) -> None:
    with SandboxAdmin(sandbox.info()["admin_url"]) as admin:
        admin.freeze()
        make_repo(sandbox, REPO, {".github/workflows/ci.yml": CI})
        with api(sandbox) as client:

            def checks() -> list[tuple[str, str, str | None]]:
                body = client.get(f"repos/{REPO}/commits/main/check-runs").json()
                validate("checks/list-for-ref", 200, body)
                return [(c["name"], c["status"], c["conclusion"]) for c in body["check_runs"]]

            assert checks() == [("test", "queued", None)]
            admin.advance(5)
            assert checks() == [("test", "completed", "success")]
            # make the next run red: its check run fails
            red = httpx.post(
                f"{sandbox.info()['admin_url']}/actions",
                json={"repo": REPO, "workflow": "ci.yml", "conclusion": "failure"},
            )
            assert red.status_code == 200
            pushed = client.put(
                f"repos/{REPO}/contents/CHANGES.md", json={"message": "next", "content": "eA=="}
            )
            assert pushed.status_code == 201, pushed.text
            assert checks() == [("test", "queued", None)]  # main's new head
            admin.advance(5)
            assert checks() == [("test", "completed", "failure")]
            # statuses are separate: the combined status knows nothing of check runs
            assert client.get(f"repos/{REPO}/commits/main/status").json()["state"] == "pending"
