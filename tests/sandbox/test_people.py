"""Users, tokens, orgs, teams and collaborators; roles enforced on REST writes and git pushes."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from github import Auth, Github, GithubException

from releaser.sandbox.admin_client import SandboxAdmin
from releaser.sandbox.server import SandboxServer
from tests.sandbox.helpers import api, git_env
from tests.sandbox.schemas import validate

ORG = "acme"
REPO = f"{ORG}/secret"
NO_ACCESS = "Resource not accessible by personal access token"


@dataclass
class Crew:
    """Users of an org's private repository: alice reads (collaborator), bob writes (team),
    mia maintains (collaborator), carol has no access, olga has a token without ``repo``."""

    tokens: dict[str, str]
    admin: SandboxAdmin


def client_for(sandbox: SandboxServer, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=sandbox.info()["api_url"] + "/",
        headers={"Authorization": f"token {token}", "Accept": "application/vnd.github+json"},
        timeout=30,
    )


def github_for(sandbox: SandboxServer, token: str) -> Github:
    return Github(
        base_url=sandbox.info()["api_url"],
        auth=Auth.Token(token),
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )


@pytest.fixture
def crew(sandbox: SandboxServer) -> Iterator[Crew]:
    with SandboxAdmin(sandbox.info()["admin_url"]) as admin, api(sandbox) as owner:
        created = owner.post(
            f"orgs/{ORG}/repos", json={"name": "secret", "private": True, "auto_init": True}
        )
        assert created.status_code == 201, created.text
        tokens = {"release-bot": sandbox.info()["token"]}
        for login in ("alice", "bob", "mia", "carol"):
            user = admin.create_user(login, name=login.title())
            assert user["scopes"] == "repo, workflow"
            tokens[login] = user["token"]
        tokens["olga"] = admin.create_user("olga", scopes=["read:org"])["token"]
        admin.add_collaborator(REPO, "alice", "read")
        admin.add_collaborator(REPO, "mia", "maintain")
        admin.add_collaborator(REPO, "olga", "write")
        team = admin.create_team(ORG, "Release Crew", members=["bob"], repos={REPO: "push"})
        assert (team["slug"], team["members"], team["repos"]) == (
            "release-crew",
            {"bob": "member"},
            {REPO: "write"},
        )
        yield Crew(tokens, admin)


def test_default_token_is_the_seeded_owner(sandbox: SandboxServer, crew: Crew) -> None:
    assert {"api_url", "git_url", "token", "admin_url"} <= set(sandbox.info())
    with api(sandbox) as client:
        me = client.get("user")
        validate("users/get-authenticated", 200, me.json())
        assert me.json()["login"] == "release-bot"
        repo = client.get(f"repos/{REPO}").json()
        validate("repos/get", 200, repo)
        assert repo["permissions"] == dict.fromkeys(
            ("admin", "maintain", "push", "triage", "pull"), True
        )
    assert crew.admin.access(REPO) == {
        "release-bot": "admin",
        "alice": "read",
        "bob": "write",
        "mia": "maintain",
        "olga": "write",
    }


def test_each_token_is_its_user(sandbox: SandboxServer, crew: Crew) -> None:
    for login in ("alice", "bob", "carol"):
        with client_for(sandbox, crew.tokens[login]) as client:
            me = client.get("user")
            validate("users/get-authenticated", 200, me.json())
            assert (me.json()["login"], me.json()["name"]) == (login, login.title())
            assert me.headers["X-OAuth-Scopes"] == "repo, workflow"
    assert github_for(sandbox, crew.tokens["bob"]).get_user().login == "bob"
    with client_for(sandbox, "ghp_not-a-token") as client:
        assert client.get("user").status_code == 401


def test_repository_permissions_per_caller(sandbox: SandboxServer, crew: Crew) -> None:
    expected = {
        "alice": {"admin": False, "maintain": False, "push": False, "triage": False, "pull": True},
        "bob": {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True},
        "mia": {"admin": False, "maintain": True, "push": True, "triage": True, "pull": True},
    }
    for login, permissions in expected.items():
        with client_for(sandbox, crew.tokens[login]) as client:
            body = client.get(f"repos/{REPO}").json()
            validate("repos/get", 200, body)
            assert body["permissions"] == permissions, login
    gh_repo = github_for(sandbox, crew.tokens["alice"]).get_repo(REPO)
    assert (gh_repo.permissions.pull, gh_repo.permissions.push) == (True, False)
    # no access to a private repository: it does not exist for carol
    with client_for(sandbox, crew.tokens["carol"]) as client:
        assert client.get(f"repos/{REPO}").status_code == 404
        assert client.get(f"repos/{REPO}/issues").status_code == 404
        assert client.post(f"repos/{REPO}/issues", json={"title": "x"}).status_code == 404
        assert [r["full_name"] for r in client.get("user/repos").json()] == []
    with client_for(sandbox, crew.tokens["alice"]) as client:
        assert [r["full_name"] for r in client.get("user/repos").json()] == [REPO]
        assert [r["full_name"] for r in client.get(f"orgs/{ORG}/repos").json()] == [REPO]


def test_collaborator_endpoints(sandbox: SandboxServer, crew: Crew) -> None:
    with client_for(sandbox, crew.tokens["alice"]) as client:
        roles = {}
        for login in ("release-bot", "alice", "bob", "mia", "carol"):
            resp = client.get(f"repos/{REPO}/collaborators/{login}/permission")
            validate("repos/get-collaborator-permission-level", 200, resp.json())
            assert resp.json()["user"]["login"] == login
            roles[login] = (resp.json()["permission"], resp.json()["role_name"])
        assert roles == {
            "release-bot": ("admin", "admin"),
            "alice": ("read", "read"),
            "bob": ("write", "write"),
            "mia": ("write", "maintain"),
            "carol": ("none", "none"),
        }
        assert client.get(f"repos/{REPO}/collaborators/nobody/permission").status_code == 404
        denied = client.get(f"repos/{REPO}/collaborators")
        assert denied.status_code == 403
        assert denied.json()["message"] == "Must have push access to view repository collaborators."
    with client_for(sandbox, crew.tokens["bob"]) as client:
        listed = client.get(f"repos/{REPO}/collaborators")
        validate("repos/list-collaborators", 200, listed.json())
        by_login = {c["login"]: c["role_name"] for c in listed.json()}
        assert by_login == {
            "alice": "read",
            "bob": "write",
            "mia": "maintain",
            "olga": "write",
            "release-bot": "admin",
        }
        direct = client.get(f"repos/{REPO}/collaborators", params={"affiliation": "direct"})
        assert sorted(c["login"] for c in direct.json()) == ["alice", "mia", "olga"]
    gh_repo = github_for(sandbox, crew.tokens["bob"]).get_repo(REPO)
    assert gh_repo.get_collaborator_permission("mia") == "write"
    assert gh_repo.get_collaborator_role_name("mia") == "maintain"


def test_team_endpoints(sandbox: SandboxServer, crew: Crew) -> None:
    with client_for(sandbox, crew.tokens["bob"]) as client:
        member = client.get(f"orgs/{ORG}/teams/release-crew/memberships/bob")
        validate("teams/get-membership-for-user-in-org", 200, member.json())
        assert (member.json()["role"], member.json()["state"]) == ("member", "active")
        assert client.get(f"orgs/{ORG}/teams/release-crew/memberships/alice").status_code == 404
        members = client.get(f"orgs/{ORG}/teams/release-crew/members")
        validate("teams/list-members-in-org", 200, members.json())
        assert [m["login"] for m in members.json()] == ["bob"]
        assert client.get(f"orgs/{ORG}/teams/nope/members").status_code == 404
    crew.admin.set_team_member(ORG, "release-crew", "alice", "maintainer")
    with client_for(sandbox, crew.tokens["alice"]) as client:
        # a team grant adds to a direct one: alice now writes
        assert client.get(f"repos/{REPO}").json()["permissions"]["push"] is True
        role = client.get(f"orgs/{ORG}/teams/release-crew/memberships/alice").json()["role"]
        assert role == "maintainer"
    with client_for(sandbox, crew.tokens["carol"]) as client:  # not in the org: hidden
        assert client.get(f"orgs/{ORG}/teams/release-crew/members").status_code == 404


def test_writes_need_the_role(sandbox: SandboxServer, crew: Crew) -> None:
    with api(sandbox) as owner:
        main = owner.get(f"repos/{REPO}/git/ref/heads/main").json()["object"]["sha"]
    with client_for(sandbox, crew.tokens["alice"]) as client:
        for method, path, body in (
            ("POST", f"repos/{REPO}/git/refs", {"ref": "refs/heads/x", "sha": main}),
            ("POST", f"repos/{REPO}/git/refs", {"ref": "refs/releaser/v1", "sha": main}),
            ("POST", f"repos/{REPO}/releases", {"tag_name": "v1"}),
            ("POST", f"repos/{REPO}/statuses/{main}", {"state": "success", "context": "ci"}),
            ("PATCH", f"repos/{REPO}", {"description": "mine"}),
        ):
            resp = client.request(method, path, json=body)
            assert resp.status_code == 403, (path, resp.text)
            assert resp.json()["message"] in (NO_ACCESS, "Must have admin rights to Repository.")
        # reading suffices to open an issue and comment on it; only its author edits it
        issue = client.post(f"repos/{REPO}/issues", json={"title": "Question"})
        assert issue.status_code == 201
        assert issue.json()["user"]["login"] == "alice"
        assert issue.json()["author_association"] == "COLLABORATOR"
        number = issue.json()["number"]
        assert client.patch(f"repos/{REPO}/issues/{number}", json={"title": "Q"}).status_code == 200
    with client_for(sandbox, crew.tokens["bob"]) as client:
        # triage or more edits anyone's issue
        assert client.patch(f"repos/{REPO}/issues/{number}", json={"state": "closed"}).is_success
        ref = client.post(f"repos/{REPO}/git/refs", json={"ref": "refs/releaser/v1", "sha": main})
        assert ref.status_code == 201
        assert client.patch(f"repos/{REPO}", json={"description": "x"}).status_code == 403
    with client_for(sandbox, crew.tokens["alice"]) as client:
        reopen = client.patch(f"repos/{REPO}/issues/{number}", json={"state": "open"})
        assert reopen.status_code == 200  # the author may
    with client_for(sandbox, crew.tokens["carol"]) as client:
        assert client.post(f"repos/{REPO}/releases", json={"tag_name": "v1"}).status_code == 404
    with client_for(sandbox, crew.tokens["olga"]) as client:  # write role, token without repo
        resp = client.post(f"repos/{REPO}/issues", json={"title": "x"})
        assert resp.status_code == 403
        assert resp.headers["X-Accepted-OAuth-Scopes"] == "repo"
        assert client.get("user").headers["X-OAuth-Scopes"] == "read:org"
    with pytest.raises(GithubException) as err:
        github_for(sandbox, crew.tokens["alice"]).get_repo(REPO).create_git_ref(
            "refs/heads/y", main
        )
    assert err.value.status == 403


def git(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)


def url_for(sandbox: SandboxServer, token: str | None) -> str:
    scheme, rest = sandbox.info()["git_url"].split("://", 1)
    auth = f"x-access-token:{token}@" if token else ""
    return f"{scheme}://{auth}{rest}/{REPO}.git"


def test_git_access_follows_roles(sandbox: SandboxServer, crew: Crew, tmp_path: Path) -> None:
    env = git_env(tmp_path)
    anonymous = git(tmp_path, "clone", "-q", url_for(sandbox, None), "anon", env=env)
    assert anonymous.returncode != 0  # private: credentials needed
    stranger = git(tmp_path, "clone", "-q", url_for(sandbox, crew.tokens["carol"]), "c", env=env)
    assert stranger.returncode != 0
    assert "not found" in stranger.stderr.lower() or "404" in stranger.stderr

    work = tmp_path / "alice"
    cloned = git(tmp_path, "clone", "-q", url_for(sandbox, crew.tokens["alice"]), "alice", env=env)
    assert cloned.returncode == 0, cloned.stderr
    (work / "note.txt").write_text("alice\n")
    git(work, "add", "note.txt", env=env)
    git(work, "commit", "-q", "-m", "alice's note", env=env)
    refused = git(work, "push", "origin", "HEAD:refs/heads/alice", env=env)
    assert refused.returncode != 0
    assert "403" in refused.stderr

    git(work, "remote", "set-url", "origin", url_for(sandbox, crew.tokens["bob"]), env=env)
    pushed = git(work, "push", "origin", "HEAD:refs/heads/alice", "HEAD:refs/releaser/v9", env=env)
    assert pushed.returncode == 0, pushed.stderr
    with api(sandbox) as owner:
        assert owner.get(f"repos/{REPO}/git/ref/heads/alice").status_code == 200


def test_users_survive_a_restart(tmp_path: Path) -> None:
    root = tmp_path / "forge"
    first = SandboxServer(root).start()
    try:
        with SandboxAdmin(first.info()["admin_url"]) as admin:
            token = admin.create_user("dora")["token"]
            second_token = admin.add_token("dora", scopes="repo")
            with pytest.raises(httpx.HTTPStatusError):
                admin.create_user("dora")
            listed = {u["login"]: u for u in admin.users()}
            assert [t["scopes"] for t in listed["dora"]["tokens"]] == ["repo, workflow", "repo"]
            assert token not in str(listed)  # tokens are stored hashed, never shown again
    finally:
        first.stop()
    assert token not in (root / "forge.db").read_bytes().decode("latin-1")
    second = SandboxServer(root).start()
    try:
        for value in (token, second_token):
            with client_for(second, value) as client:
                assert client.get("user").json()["login"] == "dora"
    finally:
        second.stop()
