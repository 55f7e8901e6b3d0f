"""The CLI through Typer's CliRunner: exit codes (docs/architecture.md, "The engine") and
what the operator reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from releaser import __version__
from releaser.cli import app

KINDS_TOML = """\
[project]
name = "Example"
repo = "acme/example"

[[version_files]]
path = "version.go"
pattern = 'const CurrentVersionNumber = "(?P<version>[^"]+)"'

[changelog]
path = "CHANGELOG.md"

[[build.workflows]]
file = "build.yml"

[publish.github]

[steps.changelog]
only = ["rc"]

[steps.push-tag]
skip = ["patch"]

[steps.github-release]
only = ["final"]
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "releaser.toml").write_text(KINDS_TOML)
    return tmp_path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_version() -> None:
    code, out = invoke("--version")
    assert code == 0
    assert out.strip() == f"releaser {__version__}"


def test_help_lists_commands_in_release_order() -> None:
    code, out = invoke("--help")
    assert code == 0
    names = ["init", "doctor", "plan", "start", "prepare", "tag", "build", "publish", "merge"]
    positions = [out.index(f"  {name} ") for name in names]
    assert positions == sorted(positions)


def _steps_in_plan(out: str) -> set[str]:
    import re

    return set(re.findall(r"^\s+\d+\. ([a-z0-9-]+):", out, re.MULTILINE))


def test_plan_differs_by_release_kind(workdir: Path) -> None:
    code_rc, rc = invoke("plan", "v0.18.0-rc1")
    code_final, final = invoke("plan", "v0.18.0")
    code_patch, patch = invoke("plan", "v0.18.1")
    assert (code_rc, code_final, code_patch) == (0, 0, 0)
    rc_steps, final_steps, patch_steps = map(_steps_in_plan, (rc, final, patch))
    assert "changelog" in rc_steps and "changelog" not in final_steps
    assert "github-release" in final_steps and "github-release" not in rc_steps
    assert "push-tag" in final_steps and "push-tag" not in patch_steps
    assert len({frozenset(rc_steps), frozenset(final_steps), frozenset(patch_steps)}) == 3
    assert "(rc release of acme/example)" in rc
    assert "(patch release of acme/example)" in patch


@pytest.mark.parametrize("bad", ["v1", "1.2.3.4", "v1.2.3-", "latest", ""])
def test_bad_version_exits_2_with_the_accepted_forms(workdir: Path, bad: str) -> None:
    code, out = invoke("plan", bad)
    assert code == 2
    assert "v1.2.3-rc1" in out
    assert "Traceback" not in out


@pytest.mark.parametrize("command", ["prepare", "tag", "publish", "status", "release"])
def test_bad_version_on_a_stage_command_writes_nothing(workdir: Path, command: str) -> None:
    before = sorted(p.name for p in workdir.iterdir())
    code, out = invoke(command, "latest")
    assert code == 2
    assert "Traceback" not in out
    assert sorted(p.name for p in workdir.iterdir()) == before


def test_bad_config_exits_2_naming_the_key(workdir: Path) -> None:
    (workdir / "releaser.toml").write_text(
        '[project]\nname = "x"\nrepo = "acme/example"\ndefault_brnach = "main"\n'
    )
    code, out = invoke("plan", "v1.0.0")
    assert code == 2
    assert "project.default_brnach" in out
    assert "default_branch" in out  # the suggestion
    assert "Traceback" not in out


def test_missing_config_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out = invoke("plan", "v1.0.0")
    assert code == 2
    assert "releaser init" in out


def test_missing_token_exits_2_naming_the_variable(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    code, out = invoke("--non-interactive", "status", "v1.0.0")
    assert code == 2
    assert "GITHUB_TOKEN" in out
    assert "releaser env" in out


def test_confirm_unknown_step_exits_2(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_notusedbecausethestepisunknown")
    code, out = invoke("confirm", "v1.0.0", "no-such-step", "--evidence", "https://x")
    assert code == 2
    assert "no step named 'no-such-step'" in out
    assert "tracking-issue" in out  # lists the known names


def test_sandbox_command_group_has_serve() -> None:
    code, out = invoke("sandbox", "--help")
    assert code == 0
    assert "serve" in out


def test_plan_shows_commands_with_the_version_as_typed(workdir: Path) -> None:
    code, out = invoke("plan", "v0.1.0-rc1")
    assert code == 0
    assert "releaser start v0.1.0-rc1" in out and "releaser prepare v0.1.0-rc1" in out
    assert "releaser start 0.1.0-rc1" not in out
    code, out = invoke("plan", "0.1.0-rc1")
    assert code == 0
    assert "releaser start 0.1.0-rc1" in out
