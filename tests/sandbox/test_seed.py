"""The example project seed: real API calls and git pushes, a usable history, a valid config."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from releaser.config import load_config
from releaser.sandbox.seed import SeedInfo, seed_example_project, write_example_config
from releaser.sandbox.server import SandboxServer
from tests.sandbox.helpers import sandbox_github


def _seed(sandbox: SandboxServer, tmp_path: Path, **kwargs: Any) -> SeedInfo:
    info = sandbox.info()
    return seed_example_project(
        info["api_url"], info["git_url"], info["token"], work=tmp_path, **kwargs
    )


def test_seed_builds_the_history_quickly(
    sandbox: SandboxServer, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    seed = _seed(sandbox, tmp_path)
    # ~0.6 s on an idle machine (the budget is 5 s); generous here for a loaded parallel run
    assert time.monotonic() - started < 15

    repo = sandbox_github(sandbox).get_repo("acme/example")
    assert repo.default_branch == "main"
    main = repo.get_branch("main").commit.sha
    assert main == seed.head_sha

    def text_of(path: str, ref: str = "main") -> str:
        content: Any = repo.get_contents(path, ref=ref)
        return str(content.decoded_content.decode())

    text = text_of("example/__init__.py")
    assert '__version__ = "1.2.0-dev"' in text
    tag_text = text_of("example/__init__.py", "v1.1.0")
    assert '__version__ = "1.1.0"' in tag_text
    changelog = text_of("CHANGELOG.md")
    assert changelog.startswith("# Changelog") and "## v1.1.0" in changelog
    workflow = text_of(".github/workflows/build.yml")
    assert "x-sandbox:" in workflow and "example-{version}.tar.gz" in workflow
    assert repo.get_release("v1.1.0").tag_name == "v1.1.0"

    pulls = list(repo.get_pulls(state="closed"))
    assert sorted(p.number for p in pulls) == seed.pulls == [1, 2, 3]
    assert all(p.merged_at is not None for p in pulls)
    commits = repo.compare("v1.1.0", "main").commits
    authors = {c.author.login for c in commits if c.author is not None}
    assert {"alice", "bob", "carol"} <= authors
    merges = [c for c in commits if len(c.parents) == 2]
    assert len(merges) == 3
    assert any(c.commit.message.strip() == seed.direct_commit for c in commits)

    out, err = capfd.readouterr()
    assert sandbox.info()["token"] not in out + err
    assert not list(tmp_path.glob("seed-*")), "the scratch clone is removed"


def test_seed_with_a_release_branch(sandbox: SandboxServer, tmp_path: Path) -> None:
    seed = _seed(sandbox, tmp_path, release_branch="release")
    repo = sandbox_github(sandbox).get_repo("acme/example")
    assert repo.get_branch("release").commit.sha == seed.release_sha
    assert repo.get_git_ref("tags/v1.1.0") is not None


def test_example_config_forms(sandbox: SandboxServer, tmp_path: Path) -> None:
    seed = _seed(sandbox, tmp_path)
    info = sandbox.info()
    api_form = write_example_config(
        tmp_path / "work",
        seed,
        {"api_url": info["api_url"], "git_url": info["git_url"], "token_env": "SANDBOX_TOKEN"},
    )
    config = load_config(api_form)
    assert config.project.repo == "acme/example"
    assert config.project.release_branch is None
    assert config.forge.token_env == "SANDBOX_TOKEN"
    assert [f.path for f in config.version_files] == ["example/__init__.py", "pyproject.toml"]
    assert config.changelog.path == "CHANGELOG.md"
    assert config.build.workflows[0].file == "build.yml"
    assert config.publish.github.assets_from == "artifacts"
    assert info["token"] not in api_form.read_text()

    (tmp_path / "demo" / "forge").mkdir(parents=True)
    demo_form = write_example_config(
        tmp_path / "demo" / "work", seed, {"sandbox": "../forge"}, release_branch="release"
    )
    config = load_config(demo_form)
    assert Path(config.forge.sandbox) == (tmp_path / "demo" / "forge").resolve()
    assert config.project.release_branch == "release"


def test_seeded_history_is_real_git(sandbox: SandboxServer, tmp_path: Path) -> None:
    _seed(sandbox, tmp_path)
    bare = sandbox.root / "repos" / "acme" / "example.git"
    log = subprocess.run(
        ["git", "--git-dir", str(bare), "log", "--format=%an|%s", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert log[0] == "Carol Danvers|Document installation"
    assert log[-1] == "Release Bot|Release 1.1.0"
