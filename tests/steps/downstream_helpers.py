"""Dependent repositories on the sandbox forge, and a published release to update them to."""

from __future__ import annotations

from typing import Any

import httpx

from tests.sandbox.helpers import api, make_repo

TEST_WORKFLOW = """\
name: Tests
on:
  workflow_dispatch:
    inputs:
      example-version: {required: true}
jobs:
  e2e:
    runs-on: ubuntu-latest
    steps:
      - run: pip install example==${{ inputs.example-version }} && pytest
x-sandbox:
  duration: 1
  conclusion: success
  log: ["testing against example {inputs.example-version}"]
"""

APP_FILES = {
    "requirements.txt": "example==1.1.0\nrequests==2.31.0\n",
    "Dockerfile": "FROM python:3.12\nARG EXAMPLE=1.1.0  # releaser: example-version\n",
    "README.md": "# app\n\nUses example 1.1.0.\n",
    ".github/workflows/test.yml": TEST_WORKFLOW,
}

# pattern (requirements.txt) and marker (Dockerfile), reviewers, auto-merge, tests on the PR
APP = """
[[downstream]]
repo = "acme/app"
files = ["requirements.txt", "Dockerfile"]
pattern = 'example==(?P<version>[^\\s]+)'
marker = "releaser: example-version"
reviewers = ["alice"]
workflow = "test.yml"
inputs = { example-version = "{version}" }
only = ["rc", "final"]
"""

FAST = """
[engine]
poll_interval = 0.3
wait_timeout = 60
"""


def make_app(project: Any, full_name: str = "acme/app", **extra: Any) -> str:
    """A dependent of the example library (``APP_FILES``); repository settings from
    ``extra`` (e.g. ``allow_auto_merge=True``)."""
    make_repo(project.server, full_name, dict(APP_FILES))
    with api(project.server) as client:
        if extra:
            client.patch(f"repos/{full_name}", json=extra).raise_for_status()
    return full_name


def add_user(project: Any, login: str) -> None:
    from releaser.sandbox.admin_client import SandboxAdmin

    with SandboxAdmin(project.info["admin_url"]) as admin:
        admin.create_user(login)


def publish(project: Any, tag: str) -> None:
    """The GitHub release for ``tag`` (a lightweight tag on main): what `publish` leaves."""
    project.repo.create_git_release(tag, tag, f"Release {tag}", prerelease="-" in tag)


def admin_actions(project: Any, repo: str, workflow: str, **values: Any) -> None:
    body = {"repo": repo, "workflow": workflow, **values}
    httpx.post(project.info["admin_url"] + "/actions", json=body, timeout=30).raise_for_status()


def repo_writes(entries: list[dict[str, Any]], repo: str) -> list[str]:
    """``METHOD path`` of the writes to one repository (``/repos/OWNER/NAME/...``)."""
    marker = f"/repos/{repo}/"
    return [f"{e['method']} {e['path']}" for e in entries if e.get("write") and marker in e["path"]]
