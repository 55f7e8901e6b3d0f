"""Stage commands: every option declared once, with help, reaching the context typed.

The effects of each option are tested where they act (tests/steps, tests/releaser/test_engine);
here: that the command line offers them (help, short forms) and hands them over intact."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from releaser.cli import ASSET_COMMANDS, app
from releaser.stages import STAGES
from tests.steps.conftest import Project

STAGE_COMMANDS = [*STAGES, "release"]
# option -> (short form, a piece of its help text)
OPTIONS = {
    "--only": (None, "Run only this step"),
    "--skip": (None, "Skip this step"),
    "--no-wait": (None, "Exit 4 instead of waiting"),
    "--take-over": (None, "Take the claim"),
    "--dry-run": ("-n", "Check and show every write"),
    "--yes": ("-y", "Confirm dangerous steps"),
}


def _help(command: str) -> str:
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


@pytest.mark.parametrize("command", STAGE_COMMANDS)
def test_stage_help_shows_every_option_with_its_help(command: str) -> None:
    out = _help(command)
    for option, (short, help_text) in OPTIONS.items():
        form = f"{short}, {option}" if short else option
        assert re.search(rf"{re.escape(form)}\b[^-]*?{re.escape(help_text)}", out), (option, out)
    assert "--no-no-wait" not in out and "--no-dry-run" not in out
    assert "<list[str]>" not in out  # the symptom of annotations typer could not read
    has_replace = "--replace-assets" in out
    assert has_replace == (command in ("publish", "release"))
    if has_replace:
        assert "Replace release assets" in out


def test_replace_assets_is_refused_where_nothing_is_published() -> None:
    result = CliRunner().invoke(app, ["tag", "v1.2.0", "--replace-assets"])
    assert result.exit_code == 2
    assert "No such option: --replace-assets" in result.output
    assert set(ASSET_COMMANDS) == {"publish", "release"}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CI", raising=False)
    made = Project(tmp_path)
    try:
        yield made
    finally:
        made.stop()


def test_short_dry_run_after_the_version_writes_nothing(project: Project) -> None:
    mark = len(project.requests())
    result = project.cli("prepare", "v1.2.0-rc1", "-n")
    assert result.exit_code == 0, result.output
    assert "dry run: nothing was written" in result.output
    assert "create branch release-v1.2" in result.output
    assert project.writes_since(mark) == []


def test_short_yes_after_the_version_confirms_the_dangerous_step(project: Project) -> None:
    project.run_stage("v1.2.0-rc1", "start")
    project.run_stage("v1.2.0-rc1", "prepare")
    asked = project.cli("--non-interactive", "tag", "v1.2.0-rc1")
    assert asked.exit_code == 3, asked.output
    assert "--yes" in asked.output
    assert "v1.2.0-rc1" not in project.git("tag")
    done = project.cli("--non-interactive", "tag", "v1.2.0-rc1", "-y")
    assert done.exit_code == 0, done.output
    assert "v1.2.0-rc1" in project.git("tag").split()


@pytest.mark.parametrize("command", ["prepare", "publish", "release"])
def test_each_option_reaches_the_context(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spy in place of the engine (run_stages): only the hand-over is under test here."""
    import releaser.commands.stage as stage_module

    seen: list[Any] = []

    def spy(ctx: Any, stages: list[str]) -> list[Any]:
        seen.append((ctx.options, stages))
        return []

    monkeypatch.setattr(stage_module, "run_stages", spy)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "releaser.toml").write_text('[project]\nname = "x"\nrepo = "acme/x"\n')
    args = [
        command,
        "v1.2.0",
        "--only",
        "changelog",
        "--only",
        "release-pr",
        "--skip",
        "push-tag",
        "--no-wait",
    ]
    args += ["--take-over", "-n", "-y"]
    if command in ASSET_COMMANDS:
        args.append("--replace-assets")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    [(options, stages)] = seen
    assert stages == (list(STAGES) if command == "release" else [command])
    assert options.only == ("changelog", "release-pr") and options.skip == ("push-tag",)
    assert options.no_wait and options.take_over and options.dry_run and options.yes
    assert options.replace_assets == (command in ASSET_COMMANDS)
    seen.clear()
    plain: Callable[..., Any] = CliRunner().invoke
    assert plain(app, [command, "v1.2.0"]).exit_code == 0
    [(options, _)] = seen
    assert (options.only, options.skip, options.dry_run, options.yes) == ((), (), False, False)
