"""Helpers for tests that talk to a sandbox forge (importable from any test directory)."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import httpx
from github import Auth, Github

from releaser.sandbox.server import SandboxServer


def git_env(tmp_path: Path) -> dict[str, str]:
    """Environment for the git CLI in tests: no user/system config, no prompts, fixed identity."""
    home = Path(tmp_path) / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="Test Author",
        GIT_AUTHOR_EMAIL="author@example.invalid",
        GIT_COMMITTER_NAME="Test Committer",
        GIT_COMMITTER_EMAIL="committer@example.invalid",
    )
    return env


def sandbox_github(sandbox: SandboxServer, **kwargs: Any) -> Github:
    """A PyGithub client for the sandbox (GitHub Enterprise style ``base_url``).

    PyGithub throttles by default (0.25 s between requests, 1 s between writes); tests turn
    that off, and its retries, unless asked otherwise.
    """
    info = sandbox.info()
    kwargs.setdefault("retry", None)
    kwargs.setdefault("seconds_between_requests", None)
    kwargs.setdefault("seconds_between_writes", None)
    return Github(base_url=info["api_url"], auth=Auth.Token(info["token"]), **kwargs)


def api(sandbox: SandboxServer) -> httpx.Client:
    """An httpx client on ``{api_url}/`` with the token."""
    info = sandbox.info()
    return httpx.Client(
        base_url=info["api_url"] + "/",
        headers={
            "Authorization": f"token {info['token']}",
            "Accept": "application/vnd.github+json",
        },
        timeout=30,
    )


def authed_git_url(sandbox: SandboxServer, full_name: str) -> str:
    """``http://x-access-token:TOKEN@host/git/owner/name.git`` for pushing with the git CLI."""
    info = sandbox.info()
    scheme, rest = info["git_url"].split("://", 1)
    return f"{scheme}://x-access-token:{info['token']}@{rest}/{full_name}.git"


def make_repo(
    sandbox: SandboxServer,
    full_name: str,
    files: dict[str, str] | None = None,
    default_branch: str = "main",
) -> str:
    """Create ``owner/name`` with one commit holding ``files`` on ``default_branch``.

    Goes through the REST API (create repository, blobs, tree, commit, ref).
    """
    owner, name = full_name.split("/", 1)
    files = files if files is not None else {"README.md": f"# {name}\n"}
    with api(sandbox) as client:
        login = client.get("user").raise_for_status().json()["login"]
        url = "user/repos" if owner == login else f"orgs/{owner}/repos"
        client.post(url, json={"name": name, "default_branch": default_branch}).raise_for_status()
        tree = []
        for path, text in files.items():
            blob = client.post(
                f"repos/{full_name}/git/blobs",
                json={"content": base64.b64encode(text.encode()).decode(), "encoding": "base64"},
            ).raise_for_status()
            tree.append({"path": path, "mode": "100644", "type": "blob", "sha": blob.json()["sha"]})
        tree_sha = (
            client.post(f"repos/{full_name}/git/trees", json={"tree": tree})
            .raise_for_status()
            .json()["sha"]
        )
        commit = client.post(
            f"repos/{full_name}/git/commits",
            json={"message": "Initial commit", "tree": tree_sha, "parents": []},
        ).raise_for_status()
        client.post(
            f"repos/{full_name}/git/refs",
            json={"ref": f"refs/heads/{default_branch}", "sha": commit.json()["sha"]},
        ).raise_for_status()
    return full_name
