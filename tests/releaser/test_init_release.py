"""What `releaser init` writes works on the repository it was made for: against a sandbox
forge seeded with the example project, cloned with the git CLI, the starter passes
`releaser plan` and a full dry run (`releaser release VERSION -n`) without an edit."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from releaser.cli import app
from releaser.sandbox.seed import SeedInfo, seed_example_project
from releaser.sandbox.server import SandboxServer
from tests.sandbox.helpers import git_env

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git CLI")


@dataclass
class Clone:
    path: Path
    info: dict[str, str]
    seed: SeedInfo

    def cli(self, *args: str) -> Result:
        with contextlib.chdir(self.path):
            return CliRunner().invoke(app, list(args), env={"GITHUB_TOKEN": self.info["token"]})

    def writes(self) -> list[dict[str, object]]:
        log = httpx.get(self.info["admin_url"] + "/requests", timeout=30).json()
        return [e for e in log if e.get("write")]


@pytest.fixture
def clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Clone]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    server = SandboxServer(tmp_path / "forge").start()
    try:
        info = server.info()
        seed = seed_example_project(info["api_url"], info["git_url"], info["token"], work=tmp_path)
        path = tmp_path / "example"
        subprocess.run(
            ["git", "clone", "--quiet", seed.clone_url, str(path)],
            env=git_env(tmp_path), check=True, capture_output=True,
        )  # fmt: skip
        yield Clone(path, info, seed)
    finally:
        server.stop()


def _dry_run_ok(result: Result) -> None:
    assert result.exit_code == 0, result.output
    assert "dry run: nothing was written" in result.output
    for status in ("failed", "blocked"):  # a step that would stop the live release
        stuck = [
            line
            for line in result.output.splitlines()
            if status in line and "until the planned steps run" not in line
        ]
        assert not stuck, result.output


def test_starter_config_plans_and_dry_runs_a_release(clone: Clone) -> None:
    made = clone.cli("init")
    assert made.exit_code == 0, made.output
    assert "created " in made.output and ".gitignore with .env" in made.output
    config = tomllib.loads((clone.path / "releaser.toml").read_text())
    assert config["project"]["repo"] == "acme/example"
    assert config["forge"]["api_url"] == clone.info["api_url"]
    assert config["forge"]["git_url"] == clone.info["git_url"]  # with its /git path
    assert [w["file"] for w in config["build"]["workflows"]] == ["build.yml"]
    assert config["publish"]["github"]["assets_from"] == "artifacts"

    for version in ("v1.2.0-rc1", "v1.2.0", "v1.2.1"):
        planned = clone.cli("plan", version)
        assert planned.exit_code == 0, planned.output
        assert f"releaser start {version}" in planned.output

    before = len(clone.writes())
    doctor = clone.cli("doctor")
    assert doctor.exit_code == 0, doctor.output
    _dry_run_ok(clone.cli("release", "v1.2.0-rc1", "-n"))
    assert len(clone.writes()) == before


def test_starter_without_a_build_workflow_still_dry_runs(clone: Clone) -> None:
    shutil.rmtree(clone.path / ".github")
    made = clone.cli("init")
    assert made.exit_code == 0, made.output
    assert "no tag-triggered workflow found" in " ".join(made.output.split())
    text = (clone.path / "releaser.toml").read_text()
    assert "\n[publish.github]" not in text and "# [publish.github]" in text
    assert clone.cli("plan", "v1.2.0-rc1").exit_code == 0
    _dry_run_ok(clone.cli("release", "v1.2.0-rc1", "-n"))


def test_init_says_what_it_did_to_gitignore(clone: Clone) -> None:
    (clone.path / ".gitignore").write_text("dist/\n")
    made = clone.cli("init")
    assert made.exit_code == 0, made.output
    assert "added .env to" in made.output
    (clone.path / "releaser.toml").unlink()
    again = clone.cli("init")
    assert again.exit_code == 0 and ".gitignore" not in again.output
    assert (clone.path / ".gitignore").read_text().splitlines().count(".env") == 1
