"""Branch protection, reviews and tag protection: enforced on merges, pushes and the REST API."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from releaser.sandbox.admin_client import SandboxAdmin
from releaser.sandbox.server import SandboxServer
from tests.sandbox.helpers import git_env, make_repo, sandbox_github
from tests.sandbox.schemas import validate

REPO = "release-bot/guarded"
CI = """\
name: CI
on: {push: {branches: ["**"]}}
jobs:
  test: {runs-on: ubuntu-latest, steps: [{run: make test}]}
x-sandbox: {duration: 2}
"""
CHECKS_ONLY = {
    "required_status_checks": {"strict": False, "contexts": ["ci"]},
    "enforce_admins": True,
    "required_pull_request_reviews": None,
    "restrictions": None,
}
CHECKS_AND_REVIEW = {
    **CHECKS_ONLY,
    "required_pull_request_reviews": {"required_approving_review_count": 1},
}


class Team:
    """The repository's users: bob and carol write, mia maintains, alice reads."""

    def __init__(self, sandbox: SandboxServer, admin: SandboxAdmin) -> None:
        self.sandbox = sandbox
        self.admin = admin
        self.tokens = {"release-bot": sandbox.info()["token"]}
        for login, role in (("bob", "write"), ("carol", "write"), ("mia", "maintain")):
            self.tokens[login] = admin.create_user(login)["token"]
            admin.add_collaborator(REPO, login, role)
        self.tokens["alice"] = admin.create_user("alice")["token"]
        admin.add_collaborator(REPO, "alice", "read")

    def client(self, login: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.sandbox.info()["api_url"] + "/",
            headers={"Authorization": f"token {self.tokens[login]}"},
            timeout=30,
        )

    def git_url(self, login: str) -> str:
        scheme, rest = self.sandbox.info()["git_url"].split("://", 1)
        return f"{scheme}://x-access-token:{self.tokens[login]}@{rest}/{REPO}.git"


@pytest.fixture
def team(sandbox: SandboxServer) -> Iterator[Team]:
    make_repo(sandbox, REPO, {"README.md": "# guarded\n"})
    with SandboxAdmin(sandbox.info()["admin_url"]) as admin:
        yield Team(sandbox, admin)


def protect(client: httpx.Client, rules: dict[str, Any], branch: str = "main") -> httpx.Response:
    return client.put(f"repos/{REPO}/branches/{branch}/protection", json=rules)


def branch_with_commit(client: httpx.Client, branch: str, text: str) -> str:
    """Create ``branch`` from main with one more commit (contents API); its head sha."""
    main = client.get(f"repos/{REPO}/git/ref/heads/main").json()["object"]["sha"]
    client.post(
        f"repos/{REPO}/git/refs", json={"ref": f"refs/heads/{branch}", "sha": main}
    ).raise_for_status()
    put = client.put(
        f"repos/{REPO}/contents/{branch}.txt",
        json={"message": text, "content": "eA==", "branch": branch},
    )
    put.raise_for_status()
    return str(put.json()["commit"]["sha"])


def test_protection_endpoints(sandbox: SandboxServer, team: Team) -> None:
    with team.client("release-bot") as client:
        assert client.get(f"repos/{REPO}/branches/main/protection").status_code == 404
        put = protect(client, {**CHECKS_AND_REVIEW, "allow_force_pushes": True})
        assert put.status_code == 200, put.text
        validate("repos/update-branch-protection", 200, put.json())
        got = client.get(f"repos/{REPO}/branches/main/protection")
        validate("repos/get-branch-protection", 200, got.json())
        assert got.json()["required_status_checks"]["contexts"] == ["ci"]
        assert got.json()["required_pull_request_reviews"]["required_approving_review_count"] == 1
        assert got.json()["enforce_admins"]["enabled"] is True
        assert got.json()["allow_force_pushes"]["enabled"] is True
        branch = client.get(f"repos/{REPO}/branches/main").json()
        validate("repos/get-branch", 200, branch)
        assert branch["protected"] is True
        assert branch["protection"]["required_status_checks"]["contexts"] == ["ci"]
        assert client.get(f"repos/{REPO}/branches").json()[0]["protected"] is True
        incomplete = protect(client, {"enforce_admins": True})
        assert incomplete.status_code == 422
        assert "wasn't supplied" in incomplete.json()["message"]
    with team.client("mia") as client:  # maintain is not admin
        denied = protect(client, CHECKS_ONLY)
        assert denied.status_code == 403
        assert denied.json()["message"] == "Must have admin rights to Repository."
    with team.client("release-bot") as client:
        assert client.delete(f"repos/{REPO}/branches/main/protection").status_code == 204
        assert client.get(f"repos/{REPO}/branches/main").json()["protected"] is False
    # PyGithub's view of the same endpoints
    gh_branch = sandbox_github(sandbox).get_repo(REPO).get_branch("main")
    gh_branch.edit_protection(strict=True, contexts=["build"], required_approving_review_count=2)
    gh_protection = gh_branch.get_protection()
    assert gh_protection.required_status_checks.contexts == ["build"]
    assert gh_protection.required_pull_request_reviews.required_approving_review_count == 2
    gh_branch.remove_protection()


def test_merge_needs_checks_and_reviews(sandbox: SandboxServer, team: Team) -> None:
    with team.client("release-bot") as owner:
        assert protect(owner, CHECKS_AND_REVIEW).status_code == 200
    with team.client("bob") as bob:
        head = branch_with_commit(bob, "feature", "add feature")
        pull = bob.post(
            f"repos/{REPO}/pulls", json={"title": "Feature", "head": "feature", "base": "main"}
        ).json()
        number = pull["number"]

        def merge() -> httpx.Response:
            return bob.put(f"repos/{REPO}/pulls/{number}/merge", json={})

        def status(state: str) -> None:
            bob.post(
                f"repos/{REPO}/statuses/{head}", json={"state": state, "context": "ci"}
            ).raise_for_status()

        blocked = merge()
        assert blocked.status_code == 405
        assert blocked.json()["message"] == 'Required status check "ci" is expected.'
        assert bob.get(f"repos/{REPO}/pulls/{number}").json()["mergeable_state"] == "blocked"
        status("pending")
        assert merge().json()["message"] == 'Required status check "ci" is expected.'
        status("failure")
        assert merge().json()["message"] == 'Required status check "ci" is failing.'
        status("success")
        needs_review = merge()
        assert needs_review.status_code == 405
        assert needs_review.json()["message"] == (
            "At least 1 approving review is required by reviewers with write access."
        )
        own = bob.post(f"repos/{REPO}/pulls/{number}/reviews", json={"event": "APPROVE"})
        assert own.status_code == 422
        assert own.json()["errors"] == ["Can not approve your own pull request"]
    with team.client("alice") as alice:  # a reader's approval does not count
        review = alice.post(f"repos/{REPO}/pulls/{number}/reviews", json={"event": "APPROVE"})
        assert review.status_code == 200, review.text
        validate("pulls/create-review", 200, review.json())
        assert review.json()["state"] == "APPROVED"
        assert review.json()["commit_id"] == head
    with team.client("carol") as carol:
        changes = carol.post(
            f"repos/{REPO}/pulls/{number}/reviews",
            json={"event": "REQUEST_CHANGES", "body": "rename it"},
        )
        assert changes.json()["state"] == "CHANGES_REQUESTED"
    with team.client("bob") as bob:
        assert merge().json()["message"] == "Changes requested by a reviewer with write access."
    with team.client("carol") as carol:
        carol.post(f"repos/{REPO}/pulls/{number}/reviews", json={"event": "APPROVE"})
        listed = carol.get(f"repos/{REPO}/pulls/{number}/reviews")
        validate("pulls/list-reviews", 200, listed.json())
        assert [(r["user"]["login"], r["state"]) for r in listed.json()] == [
            ("alice", "APPROVED"),
            ("carol", "CHANGES_REQUESTED"),
            ("carol", "APPROVED"),
        ]
    with team.client("bob") as bob:
        assert bob.get(f"repos/{REPO}/pulls/{number}").json()["mergeable_state"] == "clean"
        merged = merge()
        assert merged.status_code == 200, merged.text
        validate("pulls/merge", 200, merged.json())


def test_admins_bypass_unless_enforced(sandbox: SandboxServer, team: Team) -> None:
    with team.client("release-bot") as owner:
        protect(owner, {**CHECKS_AND_REVIEW, "enforce_admins": False})
        branch_with_commit(owner, "hotfix", "fix")
        pull = owner.post(
            f"repos/{REPO}/pulls", json={"title": "Fix", "head": "hotfix", "base": "main"}
        ).json()
        assert owner.get(f"repos/{REPO}/pulls/{pull['number']}").json()["mergeable_state"] == (
            "blocked"
        )
        merged = owner.put(f"repos/{REPO}/pulls/{pull['number']}/merge", json={})
        assert merged.status_code == 200, merged.text  # an admin, enforce_admins off


def git(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)


def clone(team: Team, login: str, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    env = git_env(tmp_path)
    work = tmp_path / login
    proc = git(tmp_path, "clone", "-q", team.git_url(login), str(work), env=env)
    assert proc.returncode == 0, proc.stderr
    return work, env


def commit(work: Path, env: dict[str, str], name: str) -> str:
    (work / name).write_text(f"{name}\n")
    git(work, "add", name, env=env)
    git(work, "commit", "-q", "-m", f"add {name}", env=env)
    return git(work, "rev-parse", "HEAD", env=env).stdout.strip()


def test_direct_pushes_to_a_protected_branch(
    sandbox: SandboxServer, team: Team, tmp_path: Path
) -> None:
    with team.client("release-bot") as owner:
        protect(owner, CHECKS_AND_REVIEW)
    work, env = clone(team, "bob", tmp_path)
    commit(work, env, "direct.txt")
    refused = git(work, "push", "origin", "main", env=env)
    assert refused.returncode != 0
    assert "GH006: Protected branch update failed for refs/heads/main." in refused.stderr
    assert "Changes must be made through a pull request." in refused.stderr
    assert "[remote rejected] main -> main" in refused.stderr
    with team.client("bob") as bob:
        main = bob.get(f"repos/{REPO}/git/ref/heads/main").json()["object"]["sha"]
        side = branch_with_commit(bob, "side", "side work")
        patched = bob.patch(f"repos/{REPO}/git/refs/heads/main", json={"sha": side})
        assert patched.status_code == 422
        assert "Changes must be made through a pull request." in patched.json()["message"]
        put = bob.put(f"repos/{REPO}/contents/x.txt", json={"message": "x", "content": "eA=="})
        assert put.status_code == 422
        deleted = bob.delete(f"repos/{REPO}/git/refs/heads/main")
        assert deleted.status_code == 422
        assert "Cannot delete this protected branch" in deleted.json()["message"]
        assert bob.get(f"repos/{REPO}/git/ref/heads/main").json()["object"]["sha"] == main

    # required checks only: a commit with a green "ci" may be pushed directly
    with team.client("release-bot") as owner:
        protect(owner, CHECKS_ONLY)
    unchecked = git(work, "push", "origin", "main", env=env)
    assert unchecked.returncode != 0
    assert 'Required status check "ci" is expected.' in unchecked.stderr
    head = git(work, "rev-parse", "HEAD", env=env).stdout.strip()
    assert git(work, "push", "origin", "HEAD:refs/heads/candidate", env=env).returncode == 0
    with team.client("bob") as bob:
        bob.post(
            f"repos/{REPO}/statuses/{head}", json={"state": "success", "context": "ci"}
        ).raise_for_status()
    accepted = git(work, "push", "origin", "main", env=env)
    assert accepted.returncode == 0, accepted.stderr
    with team.client("bob") as bob:
        assert bob.get(f"repos/{REPO}/git/ref/heads/main").json()["object"]["sha"] == head


def test_admin_pushes_unless_enforced(sandbox: SandboxServer, team: Team, tmp_path: Path) -> None:
    with team.client("release-bot") as owner:
        protect(owner, {**CHECKS_AND_REVIEW, "enforce_admins": False})
    work, env = clone(team, "release-bot", tmp_path)
    commit(work, env, "admin.txt")
    pushed = git(work, "push", "origin", "main", env=env)
    assert pushed.returncode == 0, pushed.stderr
    with team.client("release-bot") as owner:
        protect(owner, CHECKS_AND_REVIEW)
    commit(work, env, "again.txt")
    refused = git(work, "push", "origin", "main", env=env)
    assert refused.returncode != 0
    assert "Changes must be made through a pull request." in refused.stderr


def test_required_check_from_a_workflow(sandbox: SandboxServer, team: Team) -> None:
    with team.client("release-bot") as owner:
        owner.put(
            f"repos/{REPO}/contents/.github/workflows/ci.yml",
            json={"message": "CI", "content": base64.b64encode(CI.encode()).decode()},
        ).raise_for_status()
        protect(
            owner, {**CHECKS_ONLY, "required_status_checks": {"strict": True, "contexts": ["test"]}}
        )
    team.admin.freeze()
    with team.client("bob") as bob:
        branch_with_commit(bob, "green", "green change")
        number = bob.post(
            f"repos/{REPO}/pulls", json={"title": "Green", "head": "green", "base": "main"}
        ).json()["number"]
        queued = bob.put(f"repos/{REPO}/pulls/{number}/merge", json={})
        assert queued.json()["message"] == 'Required status check "test" is expected.'
        team.admin.advance(5)
        assert bob.put(f"repos/{REPO}/pulls/{number}/merge", json={}).status_code == 200

        httpx.post(
            f"{sandbox.info()['admin_url']}/actions",
            json={"repo": REPO, "workflow": "ci.yml", "conclusion": "failure"},
        ).raise_for_status()
        branch_with_commit(bob, "red", "red change")
        number = bob.post(
            f"repos/{REPO}/pulls", json={"title": "Red", "head": "red", "base": "main"}
        ).json()["number"]
        team.admin.advance(5)
        red = bob.put(f"repos/{REPO}/pulls/{number}/merge", json={})
        assert red.status_code == 405
        assert red.json()["message"] == 'Required status check "test" is failing.'


def test_tag_protection(sandbox: SandboxServer, team: Team, tmp_path: Path) -> None:
    with team.client("bob") as bob:
        assert bob.post(f"repos/{REPO}/tags/protection", json={"pattern": "v*"}).status_code == 403
    with team.client("release-bot") as owner:
        created = owner.post(f"repos/{REPO}/tags/protection", json={"pattern": "v*"})
        assert created.status_code == 201
        validate("repos/create-tag-protection", 201, created.json())
        listed = owner.get(f"repos/{REPO}/tags/protection")
        validate("repos/list-tag-protection", 200, listed.json())
        assert [r["pattern"] for r in listed.json()] == ["v*"]
        rule_id = created.json()["id"]
        main = owner.get(f"repos/{REPO}/git/ref/heads/main").json()["object"]["sha"]

    work, env = clone(team, "bob", tmp_path)
    git(work, "tag", "v1.0.0", env=env)
    git(work, "tag", "nightly-1", env=env)
    refused = git(work, "push", "origin", "v1.0.0", "nightly-1", env=env)
    assert refused.returncode != 0
    assert "GH006: Protected tag update failed for refs/tags/v1.0.0." in refused.stderr
    with team.client("bob") as bob:
        assert bob.get(f"repos/{REPO}/git/ref/tags/nightly-1").status_code == 200
        assert bob.get(f"repos/{REPO}/git/ref/tags/v1.0.0").status_code == 404
        api_tag = bob.post(f"repos/{REPO}/git/refs", json={"ref": "refs/tags/v1.0.1", "sha": main})
        assert api_tag.status_code == 422
        assert "Protected tag" in api_tag.json()["message"]
        release = bob.post(f"repos/{REPO}/releases", json={"tag_name": "v1.0.2"})
        assert release.status_code == 422
        # a ref of releaser's own is not a tag: write access suffices
        ledger = bob.post(f"repos/{REPO}/git/refs", json={"ref": "refs/releaser/v1", "sha": main})
        assert ledger.status_code == 201

    mia_work, mia_env = clone(team, "mia", tmp_path)
    git(mia_work, "tag", "v1.0.0", env=mia_env)
    pushed = git(mia_work, "push", "origin", "v1.0.0", env=mia_env)
    assert pushed.returncode == 0, pushed.stderr

    with team.client("release-bot") as owner:
        assert owner.delete(f"repos/{REPO}/tags/protection/{rule_id}").status_code == 204
        assert owner.get(f"repos/{REPO}/tags/protection").json() == []
    with team.client("bob") as bob:
        release = bob.post(f"repos/{REPO}/releases", json={"tag_name": "v1.0.2"})
        assert release.status_code == 201, release.text
