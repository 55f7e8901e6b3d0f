"""The `releaser` command lines in README.md and the docs newcomers read use only commands
and options that exist (each is parsed by the real command line), and the docs stand alone.

Running them is the job of the walkthrough tests (tests/releaser/test_init_release.py runs
init, plan, doctor and a dry run on a sandbox project)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from releaser.cli import app

ROOT = Path(__file__).resolve().parents[1]
# The docs a newcomer follows (runbook.md is generated; writing-a-step.md and architecture.md
# are for contributors).
DOCS = ["README.md", "docs/getting-started.md", "docs/handover.md", "docs/report.md"]


def command_lines(path: Path) -> list[str]:
    """Every `releaser ...` command in the file's sh blocks, without comments or pipes."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", path.read_text(), re.S):
        for line in block.splitlines():
            for part in re.split(r"\s(?:\||&&|;)\s", line):
                part = part.strip()
                if part.startswith("releaser "):
                    lines.append(part)
    return lines


def parse(line: str) -> str | None:
    """Parse ``line`` with the real command line, nothing run (``--help`` appended: it acts
    only once every argument parsed); the usage error, or None."""
    args = shlex.split(line, comments=True)[1:]
    result = CliRunner().invoke(app, [*args, "--help"])
    if result.exit_code == 0 and ("Usage:" in result.output or args == ["--version"]):
        return None
    return result.output.strip().splitlines()[-1] if result.output.strip() else "no output"


@pytest.mark.parametrize("doc", DOCS)
def test_every_command_line_parses(doc: str) -> None:
    lines = command_lines(ROOT / doc)
    assert lines, f"no releaser command in {doc}"
    for line in lines:
        error = parse(line)
        assert error is None, f"{doc}: `{line}`: {error}"


def test_the_parser_catches_what_newcomers_hit() -> None:
    for bad in (
        "releaser docs --check",
        "releaser tag v1.2.0 --replace-assets",
        "releaser prepare v1.2.0 --dry",
        "releaser runbook --out x.md",
    ):
        assert parse(bad) is not None, bad
    assert parse("releaser prepare v1.3.0-rc1 -n -y") is None
    assert parse("releaser -n --yes publish v1.2.0 --replace-assets") is None


def test_docs_cite_only_files_in_this_repository() -> None:
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*"))]
    for path in texts:
        if path.is_file() and path.suffix in (".md", ".toml", ".yml"):
            text = path.read_text()
            assert "/work/shared" not in text and "../shared" not in text, path
