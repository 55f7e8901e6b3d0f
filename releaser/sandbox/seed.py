"""Seed a sandbox forge with an example project: a small Python library with some history.

Everything goes through the forge's real interfaces, as a maintainer's work would: the REST
API (create the repository, open and merge pull requests, publish a release) and git pushes
over smart HTTP with the git CLI (a throw-away HOME, the token in an ``http.extraHeader``
passed through the environment, never on a command line or in a URL).

The history, oldest first, on ``main``::

    Release 1.1.0                 (tag v1.1.0, GitHub release v1.1.0)
    Start 1.2.0 development       (version 1.2.0-dev)
    Merge pull request #1 ...     Add retry with timeouts        (alice)
    Merge pull request #2 ...     Support JSON output            (bob)
    Merge pull request #3 ...     Handle empty input             (alice)
    Document installation         (a direct commit, carol)

so ``releaser prepare v1.2.0-rc1`` has merged pull requests and commits to write a changelog
from. ``write_example_config`` writes the matching ``releaser.toml``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

EXAMPLE_REPO = "acme/example"
PREVIOUS_VERSION = "1.1.0"
DEV_VERSION = "1.2.0-dev"
PREVIOUS_TAG = f"v{PREVIOUS_VERSION}"
VERSION_PATTERN = '__version__ = "(?P<version>[^"]+)"'
PYPROJECT_PATTERN = '(?m)^version = "(?P<version>[^"]+)"'
VERSION_FILES = ("example/__init__.py", "pyproject.toml")

WORKFLOW = """\
name: Build
on:
  push:
    tags: ["v*"]
  workflow_dispatch: {}
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: python -m pip install build && python -m build
      - uses: actions/upload-artifact@v4
        with: {name: dist, path: dist/}
x-sandbox:
  duration: 1
  conclusion: success
  log: ["building {tag}", "built example-{version}.tar.gz"]
  effects:
    artifacts:
      - name: dist
        files:
          "example-{version}.tar.gz": "example {version} source"
          "example-{version}-py3-none-any.whl": "example {version} wheel"
"""

# The same build, making real distributions from the tagged commit (``python_dists``): a
# wheel pip installs and an sdist, as ``python -m build`` would (the demo publishes them).
WORKFLOW_DISTS = (
    WORKFLOW.split("  effects:")[0]
    + """\
  effects:
    python_dists:
      artifact: dist
"""
)

CHANGELOG = """\
# Changelog

All notable changes to this project are listed here, newest first.

## v1.1.0

- Add `example.parse` (#0)
"""

README = """\
# example

A small example library, released with `releaser`.
"""

# (branch, author, title, files) of the feature pull requests merged since v1.1.0
FEATURES: tuple[tuple[str, str, str, dict[str, str]], ...] = (
    (
        "feature/retry-timeouts",
        "alice",
        "Add retry with timeouts",
        {"example/retry.py": "def retry(fn, attempts=3, timeout=1.0):\n    return fn()\n"},
    ),
    (
        "feature/json-output",
        "bob",
        "Support JSON output",
        {
            "example/output.py": (
                "import json\n\n\ndef to_json(value):\n    return json.dumps(value)\n"
            )
        },
    ),
    (
        "fix/empty-input",
        "alice",
        "Handle empty input",
        {"example/parse.py": "def parse(text):\n    return text.split() if text else []\n"},
    ),
)
AUTHORS = {
    "alice": ("Alice Liddell", "1001+alice@users.noreply.github.com"),
    "bob": ("Bob Builder", "1002+bob@users.noreply.github.com"),
    "carol": ("Carol Danvers", "1003+carol@users.noreply.github.com"),
    "bot": ("Release Bot", "release-bot@sandbox.invalid"),
}


@dataclass
class SeedInfo:
    """What was seeded: names, shas and numbers tests and the demo refer to."""

    full_name: str
    api_url: str
    git_url: str
    token: str = field(repr=False)
    default_branch: str = "main"
    previous_tag: str = PREVIOUS_TAG
    dev_version: str = DEV_VERSION
    release_sha: str = ""  # the commit v1.1.0 tags
    head_sha: str = ""  # main's head after seeding
    pulls: list[int] = field(default_factory=list)  # merged pull requests, oldest first
    pull_titles: list[str] = field(default_factory=list)
    direct_commit: str = ""  # subject of the direct commit since v1.1.0
    release_branch: str | None = None  # a long-lived release branch, when one was seeded

    @property
    def clone_url(self) -> str:
        return f"{self.git_url}/{self.full_name}.git"


def _files(version: str, workflow: str = WORKFLOW) -> dict[str, str]:
    return {
        "example/__init__.py": f'"""An example library."""\n\n__version__ = "{version}"\n',
        "pyproject.toml": (
            '[project]\nname = "example"\n'
            f'version = "{version}"\n'
            'description = "An example library"\nrequires-python = ">=3.11"\n'
        ),
        "CHANGELOG.md": CHANGELOG,
        "README.md": README,
        ".github/workflows/build.yml": workflow,
    }


class _Git:
    """The git CLI in one working tree, isolated from the user's configuration."""

    def __init__(self, work: Path, token: str) -> None:
        self.work = work
        home = work.parent / (work.name + "-home")
        home.mkdir(parents=True, exist_ok=True)
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            GIT_CONFIG_NOSYSTEM="1",
            GIT_TERMINAL_PROMPT="0",
            GIT_CONFIG_COUNT="1",
            GIT_CONFIG_KEY_0="http.extraHeader",
            GIT_CONFIG_VALUE_0=f"Authorization: Basic {basic}",
        )
        self.env = env

    def __call__(self, *args: str, author: str = "bot") -> str:
        name, email = AUTHORS[author]
        env = {
            **self.env,
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }
        proc = subprocess.run(
            ["git", *args], cwd=self.work, env=env, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(f"git {args[0]} failed: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def write(self, files: dict[str, str]) -> None:
        for path, text in files.items():
            target = self.work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)

    def commit(self, message: str, files: dict[str, str], author: str = "bot") -> str:
        self.write(files)
        self("add", "--all", author=author)
        self("commit", "--quiet", "-m", message, author=author)
        return self("rev-parse", "HEAD")


def _check(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 400:
        raise RuntimeError(f"seeding failed: {what}: {response.status_code} {response.text[:200]}")
    return response.json() if response.content else None


def seed_example_project(
    api_url: str,
    git_url: str,
    token: str,
    full_name: str = EXAMPLE_REPO,
    work: Path | None = None,
    release_branch: str | None = None,
    python_dists: bool = False,
) -> SeedInfo:
    """Create ``full_name`` on the forge with the example library's history (see the module).

    ``work`` is a scratch directory for the local clone (a temporary one by default; it is
    removed afterwards). ``release_branch``: also create that long-lived branch at v1.1.0.
    ``python_dists``: the build workflow makes a real wheel and sdist (else two small text
    files named like them).
    """
    owner, name = full_name.split("/", 1)
    info = SeedInfo(full_name, api_url, git_url, token, release_branch=release_branch)
    headers = {"Authorization": f"token {token}", "Accept": "application/vnd.github+json"}
    scratch = Path(tempfile.mkdtemp(prefix="seed-", dir=work))
    try:
        with httpx.Client(base_url=api_url.rstrip("/") + "/", headers=headers, timeout=30) as api:
            login = _check(api.get("user"), "read the user")["login"]
            create = "user/repos" if owner == login else f"orgs/{owner}/repos"
            _check(
                api.post(
                    create,
                    json={"name": name, "description": "An example library", "auto_init": False},
                ),
                f"create {full_name}",
            )
            repo_api = f"repos/{full_name}"
            git = _Git(scratch / "repo", token)
            git.work.mkdir()
            git("init", "--quiet", "--initial-branch=main")
            git("remote", "add", "origin", info.clone_url)

            # v1.1.0, then the start of 1.2.0 development
            workflow = WORKFLOW_DISTS if python_dists else WORKFLOW
            info.release_sha = git.commit(
                f"Release {PREVIOUS_VERSION}", _files(PREVIOUS_VERSION, workflow)
            )
            git("tag", "-a", PREVIOUS_TAG, "-m", f"Release {PREVIOUS_VERSION}")
            dev = {k: v for k, v in _files(DEV_VERSION).items() if k in VERSION_FILES}
            git.commit(f"Start {DEV_VERSION} development", dev)
            refs = ["main", f"refs/tags/{PREVIOUS_TAG}"]
            if release_branch:
                refs.append(f"{info.release_sha}:refs/heads/{release_branch}")
            git("push", "--quiet", "origin", *refs)
            _check(
                api.post(
                    f"{repo_api}/releases",
                    json={
                        "tag_name": PREVIOUS_TAG,
                        "name": PREVIOUS_TAG,
                        "body": "- Add `example.parse` (#0)\n",
                    },
                ),
                f"create release {PREVIOUS_TAG}",
            )

            # feature branches, merged through pull requests with merge commits
            for branch, author, title, files in FEATURES:
                git("checkout", "--quiet", "-b", branch, "main")
                git.commit(title, files, author=author)
            git("push", "--quiet", "origin", *[f[0] for f in FEATURES])
            for branch, author, title, _ in FEATURES:
                pull = _check(
                    api.post(
                        f"{repo_api}/pulls",
                        json={
                            "title": title,
                            "head": branch,
                            "base": "main",
                            "body": f"{title}.\n\nBy @{author}.",
                        },
                    ),
                    f"open the pull request for {branch}",
                )
                _check(
                    api.put(
                        f"{repo_api}/pulls/{pull['number']}/merge",
                        json={"merge_method": "merge"},
                    ),
                    f"merge #{pull['number']}",
                )
                info.pulls.append(int(pull["number"]))
                info.pull_titles.append(title)

            # one direct commit on main
            git("checkout", "--quiet", "main")
            git("pull", "--quiet", "--ff-only", "origin", "main")
            info.direct_commit = "Document installation"
            readme = README + "\n## Install\n\n    pip install example\n"
            info.head_sha = git.commit(info.direct_commit, {"README.md": readme}, author="carol")
            git("push", "--quiet", "origin", "main")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return info


# -- a dependent -----------------------------------------------------------------------------

DEPENDENT_REPO = "acme/example-app"
DEPENDENT_WORKFLOW = """\
name: Tests
on:
  workflow_dispatch:
    inputs:
      example-version: {required: true, description: "the example release to test against"}
jobs:
  e2e:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: pip install -r requirements.txt "example==${{ inputs.example-version }}" && pytest
x-sandbox:
  duration: 1
  conclusion: success
  log: ["testing example-app against example {inputs.example-version}", "12 passed"]
"""
DEPENDENT_FILES = {
    "requirements.txt": f"example=={PREVIOUS_VERSION}\nrequests==2.32.3\n",
    "Dockerfile": (
        "FROM python:3.12-slim\n"
        f"ARG EXAMPLE_VERSION={PREVIOUS_VERSION}  # releaser: example-version\n"
        'RUN pip install "example==${EXAMPLE_VERSION}"\n'
    ),
    "README.md": "# example-app\n\nAn application built on the example library.\n",
    ".github/workflows/test.yml": DEPENDENT_WORKFLOW,
}
# Its [[downstream]] table: both files in one commit, the test workflow run on the PR's branch.
DEPENDENT_CONFIG = f"""
[[downstream]]
repo = "{DEPENDENT_REPO}"
files = ["requirements.txt", "Dockerfile"]
pattern = 'example==(?P<version>[^\\s]+)'
marker = "releaser: example-version"
workflow = "test.yml"
inputs = {{ example-version = "{{version}}" }}
"""


def seed_dependent(api_url: str, token: str, full_name: str = DEPENDENT_REPO) -> str:
    """Create ``full_name``, an application depending on the example library (it pins
    example 1.1.0 in two files and has a test workflow), through the REST API."""
    owner, name = full_name.split("/", 1)
    headers = {"Authorization": f"token {token}", "Accept": "application/vnd.github+json"}
    with httpx.Client(base_url=api_url.rstrip("/") + "/", headers=headers, timeout=30) as api:
        login = _check(api.get("user"), "read the user")["login"]
        create = "user/repos" if owner == login else f"orgs/{owner}/repos"
        _check(api.post(create, json={"name": name}), f"create {full_name}")
        tree = [
            {"path": path, "mode": "100644", "type": "blob", "content": text}
            for path, text in DEPENDENT_FILES.items()
        ]
        sha = _check(api.post(f"repos/{full_name}/git/trees", json={"tree": tree}), "tree")
        commit = _check(
            api.post(
                f"repos/{full_name}/git/commits",
                json={"message": "Start example-app", "tree": sha["sha"], "parents": []},
            ),
            "commit",
        )
        _check(
            api.post(
                f"repos/{full_name}/git/refs",
                json={"ref": "refs/heads/main", "sha": commit["sha"]},
            ),
            f"create main in {full_name}",
        )
    return full_name


# -- releaser.toml --------------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    return json.dumps(value)  # TOML basic strings, arrays and booleans are JSON-compatible


def write_example_config(
    path: Path,
    info: SeedInfo,
    forge: dict[str, str],
    release_branch: str | None = None,
    extra: str = "",
) -> Path:
    """Write a releaser.toml for the seeded project; returns its path.

    ``forge`` is the ``[forge]`` table: ``{"sandbox": "../forge"}`` (the demo: the sandbox is
    started in-process on that root, relative to the file) or ``{"api_url": ..., "git_url":
    ..., "token_env": "SANDBOX_TOKEN"}`` (tests, against a running forge). ``release_branch``
    defaults to the one seeded, if any; ``extra`` is appended as is (more tables).
    """
    path = Path(path)
    if path.is_dir() or path.suffix != ".toml":
        path = path / "releaser.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    release_branch = release_branch or info.release_branch
    forge_lines = "\n".join(f"{key} = {_toml_value(value)}" for key, value in forge.items())
    release_line = f"release_branch = {_toml_value(release_branch)}\n" if release_branch else ""
    text = f"""\
# releaser.toml for the sandbox example project ({info.full_name})

[project]
name = "example"
repo = {_toml_value(info.full_name)}
default_branch = {_toml_value(info.default_branch)}
version_branch = "release-v{{major}}.{{minor}}"
{release_line}tag = "v{{version}}"

[forge]
{forge_lines}

[tracking_issue]
title = "Release v{{version}}"
labels = ["release"]

[[version_files]]
path = "example/__init__.py"
pattern = {_toml_value(VERSION_PATTERN)}
dev_format = "{{version}}"

[[version_files]]
path = "pyproject.toml"
pattern = {_toml_value(PYPROJECT_PATTERN)}
dev_format = "{{version}}"

[changelog]
path = "CHANGELOG.md"

[[build.workflows]]
file = "build.yml"
on = "tag"

[publish.github]
assets_from = "artifacts"
{extra}"""
    path.write_text(text)
    return path


# -- announcement channels ------------------------------------------------------------------

CHANNEL_VARIABLES = {
    "matrix": "SANDBOX_MATRIX_TOKEN",
    "discourse": "SANDBOX_DISCOURSE_API_KEY",
    "reddit_client_id": "SANDBOX_REDDIT_CLIENT_ID",
    "reddit_client_secret": "SANDBOX_REDDIT_CLIENT_SECRET",
    "reddit_username": "SANDBOX_REDDIT_USERNAME",
    "reddit_password": "SANDBOX_REDDIT_PASSWORD",
    "discord": "SANDBOX_DISCORD_WEBHOOK_URL",
}


@dataclass
class ChannelSeed:
    """The sandbox's accounts for announcing a release: the ``[promote.*]`` tables pointing
    at its services, the credentials they name (variable -> value: secrets), and where to
    look at what was posted."""

    config: str
    env: dict[str, str] = field(repr=False)
    room: str = ""  # the Matrix room's alias
    room_id: str = ""
    subreddit: str = ""
    webhook_id: str = ""
    discourse_user: str = ""

    def dotenv(self) -> str:
        """The credentials as a ``.env`` file."""
        return "".join(f"{name}={value}\n" for name, value in sorted(self.env.items()))


def seed_channels(info: dict[str, str], subreddit: str = "example") -> ChannelSeed:
    """Create, on a started sandbox (``SandboxServer.info()``), a Matrix user and a public
    room it has not joined yet, a Discourse user with an API key and a "News" category, a
    Reddit script app, account and subreddit, and a Discord webhook; return the
    ``[promote.*]`` tables for them and their credentials."""
    names = CHANNEL_VARIABLES
    with httpx.Client(base_url=info["admin_url"] + "/", timeout=30) as admin:

        def post(path: str, body: dict[str, Any]) -> Any:
            return _check(admin.post(path, json=body), f"seed {path}")

        bot = post("matrix/users", {"username": "releasebot"})
        room = post(
            "matrix/rooms", {"alias": "#releases:sandbox", "name": "Releases", "public": True}
        )
        post("discourse/users", {"username": "releasebot", "admin": True})
        key = post("discourse/api_keys", {"username": "releasebot"})["key"]
        post("discourse/categories", {"name": "News"})
        app = post("reddit/apps", {})
        account = post("reddit/users", {"username": "example_announcer"})
        post("reddit/subreddits", {"name": subreddit})
        hook = post("discord/webhooks", {"name": "Releases"})
    env = {
        names["matrix"]: bot["access_token"],
        names["discourse"]: key,
        names["reddit_client_id"]: app["client_id"],
        names["reddit_client_secret"]: app["client_secret"],
        names["reddit_username"]: account["username"],
        names["reddit_password"]: account["password"],
        names["discord"]: hook["url"],
    }
    config = f"""
[[promote.matrix]]
homeserver = {_toml_value(info["matrix_url"])}
room = {_toml_value(room["alias"])}
user_id = {_toml_value(bot["user_id"])}
token_env = {_toml_value(names["matrix"])}

[promote.discourse]
url = {_toml_value(info["discourse_url"])}
api_key_env = {_toml_value(names["discourse"])}
category = "News"
tags = ["release"]
pin = true

[promote.reddit]
subreddit = {_toml_value(subreddit)}
api_url = {_toml_value(info["reddit_url"])}
client_id_env = {_toml_value(names["reddit_client_id"])}
client_secret_env = {_toml_value(names["reddit_client_secret"])}
username_env = {_toml_value(names["reddit_username"])}
password_env = {_toml_value(names["reddit_password"])}

[promote.discord]
webhook_env = {_toml_value(names["discord"])}
"""
    return ChannelSeed(
        config,
        env,
        room=str(room["alias"]),
        room_id=str(room["room_id"]),
        subreddit=subreddit,
        webhook_id=str(hook["id"]),
        discourse_user="releasebot",
    )
