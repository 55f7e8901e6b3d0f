"""`releaser env`: the .env template names every credential, with purposes and scopes, and
never a value; an existing file is never overwritten without --force."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from releaser.commands.env import ensure_gitignored, env_vars, write_env_template
from releaser.config import load_config
from releaser.errors import UsageError
from releaser.ui import UI

CONFIG = """\
[project]
name = "Example"
repo = "acme/example"

[forge]
token_env = "ACME_GH_TOKEN"

[signing]
gpg_key = "0123456789ABCDEF0123456789ABCDEF01234567"
gpg_home_env = "GNUPGHOME"

[publish.npm]
package = "example"
token_env = "NPM_TOKEN"

[publish.pypi]
project = "example"
token_env = "PYPI_TOKEN"

[[promote.matrix]]
homeserver = "https://matrix.org"
room = "#example:matrix.org"
token_env = "MATRIX_TOKEN"

[[promote.matrix]]
homeserver = "https://matrix.org"
room = "#example-dev:matrix.org"
token_env = "MATRIX_TOKEN"

[promote.discord]
webhook_env = "DISCORD_WEBHOOK"
"""

NAMES = ["ACME_GH_TOKEN", "GNUPGHOME", "NPM_TOKEN", "PYPI_TOKEN", "MATRIX_TOKEN", "DISCORD_WEBHOOK"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "releaser.toml").write_text(CONFIG)
    return tmp_path


def _ui() -> tuple[UI, io.StringIO]:
    out = io.StringIO()
    return UI(out=out, err=out), out


def _assignments(text: str) -> dict[str, str]:
    rows = [line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")]
    return {k: v for k, v in rows}


def test_template_names_every_credential_with_purpose_and_scopes(repo: Path) -> None:
    config = load_config(repo / "releaser.toml")
    assert [v.name for v in env_vars(config)] == NAMES
    ui, out = _ui()
    write_env_template(config, repo / ".env", force=False, ui=ui)
    text = (repo / ".env").read_text()
    assert _assignments(text) == dict.fromkeys(NAMES, "")  # every value empty, each once
    assert "GitHub token (scopes: repo, workflow)" in text
    assert "Contents, Pull requests, Issues, Actions" in text  # fine-grained permissions
    assert "npm automation token (set the dist-tags of example)" in text
    assert "PyPI API token (upload example)" in text
    assert "post to #example:matrix.org" in text and "post to #example-dev:matrix.org" in text
    assert "named by: promote.matrix[0].token_env, promote.matrix[1].token_env" in text
    assert "Discord webhook URL" in text
    assert (repo / ".env").stat().st_mode & 0o777 == 0o600
    assert "ACME_GH_TOKEN" in out.getvalue()


def test_refuses_to_overwrite_and_lists_what_is_missing(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYPI_TOKEN", "pypi-secret-value-from-env")
    existing = "ACME_GH_TOKEN=ghp_supersecretvalue0123456789\nNPM_TOKEN=\n"
    (repo / ".env").write_text(existing)
    config = load_config(repo / "releaser.toml")
    ui, out = _ui()
    with pytest.raises(UsageError) as raised:
        write_env_template(config, repo / ".env", force=False, ui=ui)
    assert raised.value.exit_code == 2
    assert "--force" in (raised.value.hint or "")
    assert (repo / ".env").read_text() == existing  # untouched
    printed = out.getvalue()
    assert "leaves empty: NPM_TOKEN" in printed
    for name in ("GNUPGHOME", "PYPI_TOKEN", "MATRIX_TOKEN", "DISCORD_WEBHOOK"):
        assert f"{name}=" in printed
    assert "ACME_GH_TOKEN=" not in printed
    assert "PYPI_TOKEN=  # PyPI API token (upload example) (set in the environment)" in printed
    assert "supersecret" not in printed and "pypi-secret" not in printed

    write_env_template(config, repo / ".env", force=True, ui=ui)
    assert _assignments((repo / ".env").read_text()) == dict.fromkeys(NAMES, "")


def test_complete_file_is_still_not_overwritten(repo: Path) -> None:
    (repo / ".env").write_text("".join(f"{n}=x{i}xxxx\n" for i, n in enumerate(NAMES)))
    ui, out = _ui()
    with pytest.raises(UsageError):
        write_env_template(load_config(repo / "releaser.toml"), repo / ".env", False, ui)
    assert "names every variable the config needs (6)" in out.getvalue()


def test_gitignore_gets_the_file_once(repo: Path) -> None:
    (repo / ".gitignore").write_text("build/")  # no trailing newline
    config = load_config(repo / "releaser.toml")
    ui, _ = _ui()
    write_env_template(config, repo / ".env", force=False, ui=ui)
    write_env_template(config, repo / ".env", force=True, ui=ui)
    assert (repo / ".gitignore").read_text() == "build/\n.env\n"
    assert ensure_gitignored(repo / ".env", repo) is None
    assert ensure_gitignored(repo / "secrets" / "ci.env", repo) == "/secrets/ci.env"
    assert ensure_gitignored(repo.parent / "elsewhere.env", repo) is None


def test_already_ignored_by_a_pattern_is_left_alone(repo: Path) -> None:
    (repo / ".gitignore").write_text("*.env\n.env*\n")
    ui, _ = _ui()
    write_env_template(load_config(repo / "releaser.toml"), repo / ".env", False, ui)
    assert (repo / ".gitignore").read_text() == "*.env\n.env*\n"


def test_sandbox_config_needs_no_token(tmp_path: Path) -> None:
    (tmp_path / "forge").mkdir()
    (tmp_path / "releaser.toml").write_text(
        '[project]\nname = "X"\nrepo = "a/b"\n[forge]\nsandbox = "forge"\n'
    )
    ui, out = _ui()
    assert (
        write_env_template(load_config(tmp_path / "releaser.toml"), tmp_path / ".env", False, ui)
        is None
    )
    assert not (tmp_path / ".env").exists()
    assert "names no credentials" in out.getvalue()


def test_cli_env_exit_codes(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from releaser.cli import app

    monkeypatch.chdir(repo)
    runner = CliRunner()
    first = runner.invoke(app, ["env"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, ["env"])
    assert second.exit_code == 2
    assert "not overwritten" in second.output
    assert runner.invoke(app, ["env", "--force"]).exit_code == 0
