"""Fixtures for step tests: a sandbox forge seeded with the example project, and helpers.

``project`` starts a ``SandboxServer`` on ``tmp_path/"forge"``, seeds ``acme/example``
(``releaser.sandbox.seed``), writes ``tmp_path/"work"/"releaser.toml"`` pointing at the forge
(``token_env = "SANDBOX_TOKEN"``) and yields a :class:`Project`::

    def test_something(project):
        results = project.run_stage("v1.2.0-rc1", "prepare")
        mark = len(project.requests())
        project.run_stage("v1.2.0-rc1", "prepare")
        assert project.writes_since(mark) == []

``make_project(release_branch="release", extra="...")`` builds a variant (several per test).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import Result

from releaser.sandbox.seed import (
    ChannelSeed,
    SeedInfo,
    seed_channels,
    seed_example_project,
    write_example_config,
)
from releaser.sandbox.server import SandboxServer
from releaser.step import StepResult
from tests.sandbox.helpers import git_env, sandbox_github

TOKEN_ENV = "SANDBOX_TOKEN"


class Project:
    """A seeded sandbox forge plus the releaser.toml of its example project."""

    def __init__(
        self,
        root: Path,
        release_branch: str | None = None,
        extra: str = "",
        full_name: str = "acme/example",
        python_dists: bool = False,
        channels: bool = False,
    ) -> None:
        self.root = root
        self.server = SandboxServer(root / "forge").start()
        self.info: dict[str, str] = self.server.info()
        self.token = self.info["token"]
        self.env: dict[str, str] = {}  # more credentials the steps read (channels, registries)
        self.channels: ChannelSeed | None = None
        if channels:  # the sandbox's Matrix, Discourse, Reddit and Discord, configured
            self.channels = seed_channels(self.info)
            self.env.update(self.channels.env)
            extra = self.channels.config + extra
        self.seed: SeedInfo = seed_example_project(
            self.info["api_url"],
            self.info["git_url"],
            self.token,
            full_name,
            work=root,
            release_branch=release_branch,
            python_dists=python_dists,
        )
        self.work = root / "work"
        self.config_path = write_example_config(
            self.work,
            self.seed,
            {
                "api_url": self.info["api_url"],
                "git_url": self.info["git_url"],
                "token_env": TOKEN_ENV,
            },
            extra=extra,
        )
        self.gh = sandbox_github(self.server)
        self.repo = self.gh.get_repo(full_name)
        self._out = io.StringIO()
        self._clones = 0

    # -- running releaser ------------------------------------------------------------------

    def context(self, version: str, token: str | None = None, **options: Any) -> Any:
        """A real Context (non-interactive, --yes) whose UI writes into ``output()``;
        ``token``: another user's (default: the forge's own, release-bot's)."""
        from releaser.commands import make_context
        from releaser.config import load_config
        from releaser.context import Options
        from releaser.secrets import Secrets
        from releaser.ui import UI
        from releaser.version import Version

        options.setdefault("non_interactive", True)
        options.setdefault("yes", True)
        for key in ("only", "skip"):
            if isinstance(options.get(key), str):
                options[key] = (options[key],)
        os.environ["XDG_CACHE_HOME"] = str(self.root / "cache")  # restored by the fixture
        self._out = io.StringIO()
        ui = UI(verbose=bool(options.get("verbose")), out=self._out, err=self._out)
        secrets = Secrets(ui.redactor, environ={TOKEN_ENV: token or self.token, **self.env})
        return make_context(
            load_config(self.config_path), Version.parse(version), Options(**options), ui, secrets
        )

    def output(self) -> str:
        """What the last context's UI printed (stdout and stderr)."""
        return self._out.getvalue()

    def run_stage(
        self, version: str, stage: str, token: str | None = None, **options: Any
    ) -> list[StepResult]:
        """``releaser STAGE VERSION`` through ``run_stages``; raises ReleaserError on a stop."""
        from releaser.commands.stage import run_stages

        ctx = self.context(version, token, **options)
        try:
            return run_stages(ctx, [stage])
        finally:
            ctx.close()

    def cli(self, *args: str, token: str | None = None) -> Result:
        """The CLI (``releaser.cli.app``) in the work directory, with the token set
        (``token``: another user's)."""
        from typer.testing import CliRunner

        from releaser.cli import app

        with contextlib.chdir(self.work):
            return CliRunner().invoke(
                app, list(args), env={TOKEN_ENV: token or self.token, **self.env}
            )

    # -- looking at the forge --------------------------------------------------------------

    def requests(self) -> list[dict[str, Any]]:
        """The forge's request log (method, path, status, write, ...)."""
        response = httpx.get(self.info["admin_url"] + "/requests", timeout=30)
        response.raise_for_status()
        return list(response.json())

    def writes_since(self, mark: int) -> list[dict[str, Any]]:
        """Mutating requests (the log's ``write`` field) after index ``mark``."""
        return [e for e in self.requests()[mark:] if e.get("write")]

    def release_writes_since(self, mark: int) -> list[tuple[str, str]]:
        """(method, path) of the writes after ``mark`` other than the ledger's (its claims and
        records: a tree, a commit and the creation or move of ``refs/releaser/...``)."""
        from tests.machines import ledger_writes

        writes = self.writes_since(mark)
        ledger = ledger_writes(writes)
        return [(w["method"], w["path"]) for i, w in enumerate(writes) if i not in ledger]

    def faults(self, *rules: dict[str, Any]) -> None:
        """Add fault rules (``{"method", "path", "nth", "action", "status"}``)."""
        url = self.info["admin_url"] + "/faults"
        httpx.post(url, json={"rules": list(rules)}, timeout=30).raise_for_status()

    def clear_faults(self) -> None:
        httpx.delete(self.info["admin_url"] + "/faults", timeout=30).raise_for_status()

    def git(self, *args: str) -> str:
        """Run git in a fresh bare clone of the project (branches and tags as local refs)."""
        self._clones += 1
        home = self.root / "git-home"
        env = git_env(home)
        clone = Path(tempfile.mkdtemp(prefix=f"clone{self._clones}-", dir=self.root))
        url = f"{self.info['git_url']}/{self.seed.full_name}.git"
        subprocess.run(
            ["git", "clone", "--quiet", "--bare", url, str(clone)],
            env=env,
            check=True,
            capture_output=True,
        )
        proc = subprocess.run(
            ["git", *args], cwd=clone, env=env, capture_output=True, text=True, check=True
        )
        return proc.stdout

    def file(self, path: str, ref: str) -> str | None:
        """A file's text on a branch or tag through the API (None when absent)."""
        from github import GithubException

        try:
            content = self.repo.get_contents(path, ref=ref)
        except GithubException as exc:
            if exc.status == 404:
                return None
            raise
        assert not isinstance(content, list)
        return content.decoded_content.decode()

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def make_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Project]]:
    """A factory: ``make_project(release_branch=None, extra="")`` (each on its own root)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CI", raising=False)
    made: list[Project] = []

    def make(**kwargs: Any) -> Project:
        root = tmp_path if not made else tmp_path / f"project{len(made)}"
        root.mkdir(parents=True, exist_ok=True)
        project = Project(root, **kwargs)
        made.append(project)
        return project

    try:
        yield make
    finally:
        for project in made:
            project.stop()


@pytest.fixture
def project(make_project: Callable[..., Project]) -> Project:
    """The example project on a fresh sandbox forge."""
    return make_project()


@contextlib.contextmanager
def scratch_project(prefix: str) -> Iterator[Project]:
    """A seeded project outside any test (e.g. a clean run at collection time), removed after;
    the environment (``XDG_CACHE_HOME``) is restored."""
    import shutil

    root = Path(tempfile.mkdtemp(prefix=prefix))
    saved = os.environ.get("XDG_CACHE_HOME")
    try:
        project = Project(root)
        try:
            yield project
        finally:
            project.stop()
    finally:
        if saved is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = saved
        shutil.rmtree(root, ignore_errors=True)


def crash_points(
    writes: list[dict[str, Any]], skip: frozenset[int] | set[int] = frozenset()
) -> list[tuple[str, str, int]]:
    """``(method, path, nth)`` for each write (nth: its rank among writes to that path), the
    address of a fault rule that hits exactly that request on a replay."""
    seen: dict[tuple[str, str], int] = {}
    points: list[tuple[str, str, int]] = []
    for i, entry in enumerate(writes):
        key = (entry["method"], entry["path"])
        seen[key] = seen.get(key, 0) + 1
        if i not in skip:
            points.append((entry["method"], entry["path"], seen[key]))
    return points
