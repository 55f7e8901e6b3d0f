"""Secrets never appear in argv, output, logs, the ledger, issues or exception messages, even
with -v. The token of a real (sandbox) forge is grepped for everywhere a release writes."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from releaser.cli import app
from tests.steps.conftest import Project

SECRET_WORDS = ("token", "password", "secret", "passphrase", "api-key", "apikey")


def test_no_command_takes_a_secret_in_argv() -> None:
    import typer.main

    root = typer.main.get_command(app)

    def walk(command: Any) -> list[str]:
        names = [opt for p in command.params for opt in getattr(p, "opts", [])]
        for sub in getattr(command, "commands", {}).values():
            names += walk(sub)
        return names

    options = walk(root)
    assert options  # the walk found the options
    leaking = [o for o in options if any(w in o.lower() for w in SECRET_WORDS)]
    assert leaking == []


def _everything_written(project: Project, tag: str) -> str:
    """Every text the release wrote on the forge: issues, comments, PRs, releases, ledger."""
    repo = project.repo
    parts: list[str] = []
    for issue in repo.get_issues(state="all"):
        parts += [issue.title, issue.body or ""]
        parts += [c.body for c in issue.get_comments()]
    for release in repo.get_releases():
        parts += [release.name or "", release.body or ""]
    ref = repo.get_git_ref(f"releaser/{tag}")
    ledger = repo.get_contents("ledger.json", ref=ref.object.sha)
    assert not isinstance(ledger, list)
    parts.append(base64.b64decode(ledger.content).decode())
    return "\n".join(parts)


def test_verbose_release_never_shows_the_token(project: Project) -> None:
    result = project.cli("-v", "--non-interactive", "release", "v1.2.0-rc1", "--yes")
    assert result.exit_code == 0, result.output
    assert "GET " in result.output  # -v really narrated the requests
    assert project.token not in result.output
    written = _everything_written(project, "v1.2.0-rc1")
    assert "release-v1.2" in written  # the grep looked at real content
    assert project.token not in written
    status = project.cli("-v", "status", "v1.2.0-rc1", "--json")
    assert status.exit_code == 0
    assert project.token not in status.output
    json.loads(status.output[status.output.index("{") :])


def test_a_refused_token_is_exit_2_and_never_echoed(project: Project) -> None:
    import contextlib

    from typer.testing import CliRunner

    wrong = "ghp_wrongwrongwrongwrongwrongwrong1234"
    with contextlib.chdir(project.work):
        result = CliRunner().invoke(
            app, ["--non-interactive", "prepare", "v1.2.0-rc1"], env={"SANDBOX_TOKEN": wrong}
        )
    assert result.exit_code == 2, result.output
    assert "401" in result.output
    assert wrong not in result.output
    assert "Traceback" not in result.output  # (-v would show one, by design)


def test_token_from_dotenv_is_redacted(project: Project, tmp_path: Path) -> None:
    import contextlib

    from typer.testing import CliRunner

    (project.work / ".env").write_text(f"SANDBOX_TOKEN={project.token}\n")
    with contextlib.chdir(project.work):
        result = CliRunner().invoke(app, ["-v", "status", "v1.2.0-rc1"], env={"SANDBOX_TOKEN": ""})
    assert result.exit_code == 0, result.output
    assert "tracking-issue" in result.output
    assert project.token not in result.output
