"""`releaser --help` and `releaser plan` must not import the heavy clients
(docs/architecture.md: fast where users wait). Checked in a fresh interpreter through
sys.modules."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ("github", "dulwich", "nio", "praw", "questionary")

PROBE = """
import json, sys
from typer.testing import CliRunner
from releaser.cli import app
result = CliRunner().invoke(app, sys.argv[1:])
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))
print(json.dumps({"code": result.exit_code, "heavy": heavy, "out": result.output}))
"""


def probe(*args: str, cwd: Path | None = None) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{PROBE}", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_help_imports_no_heavy_client() -> None:
    data = probe("--help")
    assert data["code"] == 0
    assert "prepare" in str(data["out"])
    assert data["heavy"] == []


def test_plan_imports_no_heavy_client(tmp_path: Path) -> None:
    (tmp_path / "releaser.toml").write_text('[project]\nname = "Example"\nrepo = "acme/example"\n')
    data = probe("plan", "v1.2.0-rc1", cwd=tmp_path)
    assert data["code"] == 0, data["out"]
    assert data["heavy"] == []


LAZY = """
import sys
from typer.testing import CliRunner
from releaser.cli import app
from releaser.cli_lazy import LazyCommand, build_commands_lazily
import typer.main
eager = CliRunner().invoke(app, sys.argv[1:]).output
build_commands_lazily()
group = typer.main.get_command(app)
assert all(isinstance(c, LazyCommand) for c in group.commands.values() if c.name != "sandbox")
lazy = CliRunner().invoke(app, sys.argv[1:]).output
print("same" if lazy == eager else "differs:\\n" + eager + "\\n---\\n" + lazy)
"""


def test_commands_built_lazily_read_and_run_as_the_eager_ones() -> None:
    """`releaser` (main) builds each command only when used: the listing, a command's own
    help and its argument errors are exactly what the eager commands give."""
    for args in (["--help"], ["prepare", "--help"], ["prepare"], ["sandbox", "--help"]):
        proc = subprocess.run(
            [sys.executable, "-c", LAZY, *args], capture_output=True, text=True, check=True
        )
        assert proc.stdout.strip() == "same", (args, proc.stdout)


def test_the_installed_command_lists_every_command() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "releaser", "--help"], capture_output=True, text=True, check=True
    )
    for name in ("init", "prepare", "promote", "downstream", "report", "demo", "sandbox"):
        assert f"  {name} " in proc.stdout
