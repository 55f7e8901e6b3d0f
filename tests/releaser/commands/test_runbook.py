"""`releaser runbook`: the runbook of the user's own release, from their releaser.toml, offline;
it never overwrites a file it did not write (unless --force)."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from releaser.cli import app
from releaser.commands.runbook import MARKER, SAMPLES
from releaser.sandbox.seed import SeedInfo, write_example_config
from releaser.step import Step
from steps import PLANS

EXTRA = """
[[promote.matrix]]
homeserver = "https://matrix.example.org"
room = "#releases:example.org"
only = ["final"]

[promote.tracking_issue]
early_testers = ["@alice"]
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The sandbox example project's releaser.toml, pointing at a forge that isn't there:
    the runbook must not need one."""
    seed = SeedInfo("acme/example", "http://127.0.0.1:9/api/v3", "http://127.0.0.1:9/git", "")
    forge = {"api_url": seed.api_url, "git_url": seed.git_url, "token_env": "NO_SUCH_TOKEN"}
    write_example_config(tmp_path / "work", seed, forge, extra=EXTRA)
    return tmp_path / "work"


def run(where: Path, *args: str) -> Result:
    with contextlib.chdir(where):
        return CliRunner().invoke(app, ["runbook", *args], env={"NO_SUCH_TOKEN": ""})


def table_row(text: str, step: str) -> list[str]:
    line = next(x for x in text.splitlines() if x.startswith("|") and f"`{step}`" in x)
    return [cell.strip() for cell in line.strip("|").split("|")][2:]


def test_prints_the_projects_runbook(project: Path) -> None:
    result = run(project)
    assert result.exit_code == 0, result.output
    text = result.output
    assert text.startswith(MARKER)
    assert "# Release runbook: example" in text
    # filled in with the project's names, per release kind
    for needle in (
        "`acme/example` on http://127.0.0.1:9/git",
        "releases start from `main`",
        "**Version branch:** `release-v1.2`",
        "`v1.2.0-rc1` (rc), `v1.2.0` (final), `v1.2.1` (patch)",
        "**Version file** `example/__init__.py`: `1.2.0-rc1` (rc), `1.2.0` (final)",
        "after the first rc the default branch gets `1.3.0-dev`",
        "**Changelog:** `CHANGELOG.md`, section `## v1.2.0-rc1` (rc), `## v1.2.0` (final)",
        "**Workflow** `build.yml`: started by the tag push, waited for by `releaser build`",
        "**GitHub release:** assets from the build workflows' artifacts, with `SHA256SUMS`",
        "**Matrix:** `#releases:example.org` (final and patch releases only)",
        "rcs ping @alice",
        "`Release v1.2.0-rc1` (rc), `Release v1.2.0` (final), `Release v1.2.1` (patch)"
        " with labels release",
    ):
        assert needle in text, needle
    # which steps apply to which kind
    assert table_row(text, "tracking-issue") == ["yes", "yes", "yes"]
    assert table_row(text, "merge-back") == ["", "yes", "yes"]
    assert table_row(text, "next-dev-bump")[0] == "yes"
    assert "### `merge-back` (final, patch" in text
    assert "### `push-tag` (dangerous)" in text
    # every applicable step, with its docstring's sections
    for stage in PLANS:
        assert f"## `releaser {stage} VERSION`" in text
    assert text.count("**Why:**") == text.count("\n### `")
    assert "**By hand:**" in text
    assert "NO_SUCH_TOKEN" not in text


def test_steps_out_of_the_project_are_named_not_described(project: Path) -> None:
    config = project / "releaser.toml"
    config.write_text(config.read_text() + "\n[steps.changelog]\nenabled = false\n")
    text = run(project).output
    assert "### `changelog`" not in text
    assert "`changelog` (disabled by [steps.changelog])" in text
    assert "`publish-workflows` (not configured for this project)" in text


class TagByHand(Step):
    """Tag the release (a test step whose by-hand text has placeholders).

    Why: to see placeholders filled per release kind.
    By hand: `git tag -s {tag} -m 'Release {version}'` on release-v{major}.{minor}
    """

    name = "tag-by-hand"


class BracesByHand(Step):
    """A step whose by-hand text has braces that are no placeholder.

    Why: shell and workflow syntax must survive.
    By hand: `gh run list --json status --jq '.[] | {status}'` then ${{ github.ref }}
    """

    name = "braces-by-hand"


def test_by_hand_placeholders_are_filled_per_kind(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Test steps stand in for the real ones here (whose texts the lead may change)."""
    monkeypatch.setitem(PLANS, "start", [TagByHand(), BracesByHand()])
    text = run(project).output
    for kind, version in SAMPLES:
        block = f"**By hand, {kind} (`v{version}`):**"
        assert block in text, text
        base = version.split("-")[0].rsplit(".", 1)[0]
        assert f"git tag -s v{version} -m 'Release {version}'` on release-v{base}" in text
    assert "{tag}" not in text.split("### `braces-by-hand`")[0]
    braces = text.split("### `braces-by-hand`")[1].split("\n## ")[0]
    assert braces.count("**By hand") == 1  # the same for every kind: once
    assert "--jq '.[] | {status}'` then ${{ github.ref }}" in braces


def test_output_writes_a_marked_file_and_rewrites_only_its_own(project: Path) -> None:
    docs = project / "docs"
    docs.mkdir()
    theirs = docs / "configuration.md"
    theirs.write_text("# our own configuration notes\n")
    out = docs / "RELEASING.md"
    first = run(project, "--output", "docs/RELEASING.md")
    assert first.exit_code == 0, first.output
    assert "wrote docs/RELEASING.md" in first.output
    assert out.read_text().splitlines()[0].startswith(MARKER)
    assert theirs.read_text() == "# our own configuration notes\n"  # never touched
    assert sorted(p.name for p in docs.iterdir()) == ["RELEASING.md", "configuration.md"]
    again = run(project, "-o", "docs/RELEASING.md")
    assert again.exit_code == 0 and "is up to date" in again.output
    config = project / "releaser.toml"
    config.write_text(config.read_text().replace('name = "example"', 'name = "Renamed"'))
    changed = run(project, "-o", "docs/RELEASING.md")
    assert changed.exit_code == 0 and "wrote" in changed.output  # its own file: rewritten
    assert "# Release runbook: Renamed" in out.read_text()


@pytest.mark.parametrize("existing", ["# Releasing\n\nOur notes.\n", ""])
def test_refuses_to_overwrite_a_file_it_did_not_write(project: Path, existing: str) -> None:
    target = project / "RELEASING.md"
    target.write_text(existing)
    refused = run(project, "--output", "RELEASING.md")
    assert refused.exit_code == 2
    assert "was not written by `releaser runbook`" in refused.output
    assert "--force" in refused.output
    assert "Traceback" not in refused.output
    assert target.read_text() == existing
    forced = run(project, "--output", "RELEASING.md", "--force")
    assert forced.exit_code == 0, forced.output
    assert target.read_text().startswith(MARKER)


def test_a_directory_is_no_output_file(project: Path) -> None:
    (project / "docs").mkdir()
    result = run(project, "--output", "docs", "--force")
    assert result.exit_code == 2
    assert "is a directory" in result.output


def test_bad_config_exits_2(project: Path) -> None:
    (project / "releaser.toml").write_text(
        '[project]\nname = "x"\nrepo = "o/n"\n[publish.github]\n'
    )
    result = run(project)
    assert result.exit_code == 2
    assert "publish.github.assets_from" in result.output


def test_the_docs_command_is_gone(project: Path) -> None:
    result = run(project.parent, "--help")
    assert result.exit_code == 0
    with contextlib.chdir(project):
        gone = CliRunner().invoke(app, ["docs"])
    assert gone.exit_code == 2 and "No such command" in gone.output
    assert not (project / "docs").exists()
    listed = CliRunner().invoke(app, ["--help"]).output
    assert re.search(r"^\s+runbook\s", listed, re.MULTILINE)
