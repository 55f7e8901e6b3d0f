"""The `prepare` stage against a real sandbox forge (HTTP and git), no mocks."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any

import pytest

from releaser.errors import ReleaserError, StepFailed
from releaser.step import Status, StepResult
from tests.steps.conftest import Project, crash_points, scratch_project

RC1 = "v1.2.0-rc1"
BRANCH = "release-v1.2"
STEPS = ["version-branch", "version-bump", "changelog", "release-pr", "next-dev-bump"]


def by_step(results: list[StepResult]) -> dict[str, StepResult]:
    return {r.step: r for r in results}


def pulls(project: Project) -> list[tuple[str, str, str, bool]]:
    """(head, base, state, draft) of every PR releaser opened (the seed's are #1-#3)."""
    found = [p for p in project.repo.get_pulls(state="all") if p.number not in project.seed.pulls]
    return sorted((p.head.ref, p.base.ref, p.state, p.draft) for p in found)


def edit_config(project: Project, old: str, new: str) -> None:
    text = project.config_path.read_text()
    assert old in text, old
    project.config_path.write_text(text.replace(old, new, 1))


def version_in(project: Project, ref: str) -> str:
    text = project.file("example/__init__.py", ref) or ""
    match = re.search(r'__version__ = "([^"]+)"', text)
    assert match, text
    return match.group(1)


def state(project: Project) -> dict[str, Any]:
    """What prepare leaves on the forge, for comparing runs."""
    branches = sorted(b.name for b in project.repo.get_branches())
    changelog = project.file("CHANGELOG.md", BRANCH) or ""
    ahead = project.repo.compare("main", BRANCH).ahead_by if BRANCH in branches else None
    return {
        "branches": branches,
        "pulls": pulls(project),
        "sections": changelog.count("## v1.2.0-rc1\n"),
        "version": version_in(project, BRANCH) if BRANCH in branches else None,
        "pyproject": project.file("pyproject.toml", BRANCH),
        "ahead": ahead,
        "next_dev": version_in(project, "bump-v1.3.0-dev")
        if "bump-v1.3.0-dev" in branches
        else None,
    }


# -- from scratch -----------------------------------------------------------------------------


def test_prepare_from_scratch(project: Project) -> None:
    project.run_stage(RC1, "start")
    results = by_step(project.run_stage(RC1, "prepare"))
    assert list(results) == STEPS
    assert all(r.status == Status.DONE and r.acted for r in results.values())

    main_head = project.repo.get_branch("main").commit.sha
    log = project.git("log", "--format=%s", f"main..{BRANCH}").splitlines()
    assert log == ["Add the changelog of v1.2.0-rc1", "Set version to 1.2.0-rc1"]
    assert project.git("merge-base", "main", BRANCH).strip() == main_head
    assert version_in(project, BRANCH) == "1.2.0-rc1"
    assert 'version = "1.2.0-rc1"' in (project.file("pyproject.toml", BRANCH) or "")
    assert version_in(project, "main") == "1.2.0-dev"

    changelog = project.file("CHANGELOG.md", BRANCH) or ""
    assert changelog.startswith("# Changelog\n")
    assert changelog.index("## v1.2.0-rc1") < changelog.index("## v1.1.0")
    assert "Changes since v1.1.0." in changelog
    assert "- Add retry with timeouts (#1) by @alice" in changelog
    assert "- Support JSON output (#2) by @bob" in changelog
    assert "- Handle empty input (#3) by @alice" in changelog
    assert re.search(r"- Document installation \([0-9a-f]{7}\) by @carol", changelog)
    contributors = changelog.split("### Contributors", 1)[1].split("## v1.1.0")[0]
    assert {"@alice", "@bob", "@carol"} <= set(re.findall(r"@[\w-]+", contributors))
    assert "Set version" not in changelog, "releaser's own commits are left out"

    assert pulls(project) == [
        ("bump-v1.3.0-dev", "main", "open", False),
        (BRANCH, "main", "open", True),
    ]
    evidence = results["release-pr"].evidence or ""
    release_pr = project.repo.get_pull(int(evidence.rsplit("/", 1)[1]))
    assert release_pr.title == "Release v1.2.0-rc1"
    issue = next(iter(project.repo.get_issues(state="all", labels=["release"])))
    assert f"#{issue.number}" in release_pr.body
    assert "`releaser tag v1.2.0-rc1`" in release_pr.body
    assert version_in(project, "bump-v1.3.0-dev") == "1.3.0-dev"
    assert 'version = "1.3.0-dev"' in (project.file("pyproject.toml", "bump-v1.3.0-dev") or "")


def test_second_run_makes_no_writes_and_few_reads(project: Project) -> None:
    project.run_stage(RC1, "prepare")
    mark = len(project.requests())
    results = project.run_stage(RC1, "prepare")
    assert all(r.status == Status.DONE and not r.acted for r in results)
    assert project.writes_since(mark) == []
    # the branch, files, PRs and the tag lookup (one git ls-remote): about a dozen reads
    assert len(project.requests()) - mark <= 12


def test_dry_run_writes_nothing_and_names_every_write(project: Project) -> None:
    mark = len(project.requests())
    results = by_step(project.run_stage(RC1, "prepare", dry_run=True))
    assert project.writes_since(mark) == []
    assert all(r.status == "planned" for r in results.values())
    out = project.output()
    for line in [
        "would create branch release-v1.2 at",
        "would commit on release-v1.2 (to be created at main head): set 1.2.0-rc1 in "
        "example/__init__.py, 1.2.0-rc1 in pyproject.toml",
        '+ __version__ = "1.2.0-rc1"',
        'add "## v1.2.0-rc1" to CHANGELOG.md',
        "- Support JSON output (#2) by @bob",
        'would create pull request release-v1.2 -> main: "Release v1.2.0-rc1" (draft)',
        "would create branch bump-v1.3.0-dev at",
        "set 1.3.0-dev in example/__init__.py, 1.3.0-dev in pyproject.toml",
        'would create pull request bump-v1.3.0-dev -> main: "Start v1.3.0-dev development"',
    ]:
        assert line in out, line
    # the plan is what a real run then does
    planned = {step: [str(a) for a in r.actions] for step, r in results.items()}
    assert len(planned["next-dev-bump"]) == 3
    real = by_step(project.run_stage(RC1, "prepare"))
    assert all(r.acted for r in real.values())


# -- partial work -----------------------------------------------------------------------------


def test_branch_without_bump_is_recognised(project: Project) -> None:
    first = by_step(project.run_stage(RC1, "prepare", only=("version-branch",)))
    assert first["version-branch"].acted
    assert first["version-bump"].status == "skipped"
    ctx = project.context(RC1)
    from steps.prepare import VersionBump

    outcome = VersionBump().check(ctx)
    assert outcome.status == Status.TODO and "1.2.0-dev -> 1.2.0-rc1" in outcome.detail
    results = by_step(project.run_stage(RC1, "prepare"))
    assert not results["version-branch"].acted
    assert all(results[s].acted for s in STEPS[1:])


def test_bump_without_pr_is_recognised(project: Project) -> None:
    project.run_stage(RC1, "prepare", skip=("release-pr", "next-dev-bump"))
    assert pulls(project) == []
    results = by_step(project.run_stage(RC1, "prepare"))
    assert [s for s in STEPS if results[s].acted] == ["release-pr", "next-dev-bump"]
    assert state(project)["sections"] == 1
    assert project.repo.compare("main", BRANCH).ahead_by == 2


def test_next_dev_branch_without_pr_is_recognised(project: Project) -> None:
    main = project.repo.get_branch("main").commit.sha
    project.repo.create_git_ref("refs/heads/bump-v1.3.0-dev", main)
    project.run_stage(RC1, "prepare")
    assert ("bump-v1.3.0-dev", "main", "open", False) in pulls(project)
    assert version_in(project, "bump-v1.3.0-dev") == "1.3.0-dev"


def test_pattern_matching_nothing_fails_naming_file_and_pattern(project: Project) -> None:
    edit_config(project, '"__version__ = ', '"VERSION = ')
    with pytest.raises(StepFailed) as raised:
        project.run_stage(RC1, "prepare")
    message = raised.value.message
    assert message.startswith("version-bump: example/__init__.py: pattern VERSION = ")
    assert "matches nothing" in message
    assert [b.name for b in project.repo.get_branches()].count(BRANCH) == 1
    assert version_in(project, BRANCH) == "1.2.0-dev", "nothing was committed"


def test_changelog_command_output_is_the_section(project: Project) -> None:
    edit_config(
        project,
        '[changelog]\npath = "CHANGELOG.md"\n',
        '[changelog]\npath = "CHANGELOG.md"\n'
        "command = \"echo '- from the command, after' $RELEASER_PREVIOUS_TAG; ls example\"\n",
    )
    project.run_stage(RC1, "prepare")
    changelog = project.file("CHANGELOG.md", BRANCH) or ""
    section = changelog.split("## v1.2.0-rc1\n", 1)[1].split("## v1.1.0")[0]
    assert "- from the command, after v1.1.0" in section
    assert "output.py" in section, "the command runs in a checkout of the version branch"
    assert "### Pull requests" not in section


def test_changelog_section_is_read_back(project: Project) -> None:
    project.run_stage(RC1, "prepare")
    from steps._changelog import CHANGELOG_SECTION

    section = project.context(RC1).need(CHANGELOG_SECTION)
    assert section.startswith("## v1.2.0-rc1\n\nChanges since v1.1.0.")
    assert "## v1.1.0" not in section and "### Contributors" in section


# -- later releases ---------------------------------------------------------------------------


def test_next_dev_bump_only_once_per_line(project: Project) -> None:
    project.run_stage(RC1, "prepare")
    rc2 = by_step(project.run_stage("v1.2.0-rc2", "prepare"))
    assert rc2["next-dev-bump"].status == Status.DONE and not rc2["next-dev-bump"].acted
    assert rc2["release-pr"].status == Status.DONE and not rc2["release-pr"].acted
    assert rc2["version-bump"].acted and rc2["changelog"].acted
    assert version_in(project, BRANCH) == "1.2.0-rc2"
    assert len(pulls(project)) == 2

    # once the bump PR is merged, main itself says it is done
    bump = next(p for p in project.repo.get_pulls(state="open") if p.head.ref.startswith("bump"))
    bump.merge(merge_method="merge")
    final = by_step(project.run_stage("v1.2.0", "prepare"))
    assert final["next-dev-bump"].status == Status.DONE and not final["next-dev-bump"].acted
    assert "#" in final["next-dev-bump"].detail
    changelog = project.file("CHANGELOG.md", BRANCH) or ""
    assert changelog.index("## v1.2.0\n") < changelog.index("## v1.2.0-rc2")
    assert changelog.index("## v1.2.0-rc2") < changelog.index("## v1.2.0-rc1")


def test_patch_starts_from_the_previous_tag(project: Project) -> None:
    results = by_step(project.run_stage("v1.1.1", "prepare"))
    assert "next-dev-bump" not in [r.step for r in results.values() if r.status != "skipped"]
    assert results["next-dev-bump"].status == "skipped"
    assert project.git("rev-parse", "release-v1.1~2").strip() == project.seed.release_sha
    assert version_in(project, "release-v1.1") == "1.1.1"
    changelog = project.file("CHANGELOG.md", "release-v1.1") or ""
    assert "## v1.1.1\n\nChanges since v1.1.0.\n\nNo changes." in changelog
    assert ("release-v1.1", "main", "open", False) in pulls(project)


def test_patch_starts_from_the_previous_version_branch(project: Project) -> None:
    edit_config(
        project, 'version_branch = "release-v{major}.{minor}"', 'version_branch = "rel-{base}"'
    )
    project.run_stage("v1.2.0", "prepare")
    prepared = project.repo.get_branch("rel-1.2.0").commit.sha
    project.run_stage("v1.2.1", "prepare")
    assert project.git("rev-parse", "rel-1.2.1~2").strip() == prepared


def test_patch_without_previous_release_fails(project: Project) -> None:
    with pytest.raises(StepFailed) as raised:
        project.run_stage("v1.5.1", "prepare")
    assert "no previous release to start the patch from" in raised.value.message
    assert "tag v1.5.0" in raised.value.message


def test_release_branch_variant(make_project: Callable[..., Project]) -> None:
    project = make_project(release_branch="release")
    results = by_step(project.run_stage(RC1, "prepare"))
    assert all(r.status == Status.DONE for r in results.values())
    assert (BRANCH, "release", "open", True) in pulls(project)
    assert (
        project.git("merge-base", "main", BRANCH).strip()
        == project.repo.get_branch("main").commit.sha
    )
    # a patch starts from the release branch
    project.run_stage("v1.1.1", "prepare")
    assert project.git("rev-parse", "release-v1.1~2").strip() == project.seed.release_sha
    assert ("release-v1.1", "release", "open", False) in pulls(project)


def test_missing_release_branch_fails_the_pr(project: Project) -> None:
    edit_config(project, 'tag = "v{version}"', 'release_branch = "stable"\ntag = "v{version}"')
    with pytest.raises(StepFailed) as raised:
        project.run_stage(RC1, "prepare")
    assert "release-pr: the PR's base branch stable does not exist" in raised.value.message


# -- crash safety -----------------------------------------------------------------------------

_CLEAN: dict[str, Any] = {}


def _clean_run() -> dict[str, Any]:
    """One uninterrupted run on a fresh forge: its mutating requests and end state."""
    if not _CLEAN:
        with scratch_project("prepare-clean-") as project:
            mark = len(project.requests())
            project.run_stage(RC1, "prepare")
            writes = project.writes_since(mark)
            _CLEAN["state"] = state(project)
        _CLEAN["points"] = crash_points(writes)
    return _CLEAN


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "crash_point" in metafunc.fixturenames:
        points = _clean_run()["points"]
        params = [(action, *p) for p in points for action in ("error", "error_after")]
        ids = [
            f"{a}-{m}-{p.rsplit('/', 2)[-2]}-{p.rsplit('/', 1)[-1]}-{n}" for a, m, p, n in params
        ]
        metafunc.parametrize("crash_point", params, ids=ids)


@pytest.mark.slow
def test_crash_at_every_write_converges(project: Project, crash_point: tuple) -> None:
    action, method, path, nth = crash_point
    project.faults(
        {"method": method, "path": "^" + re.escape(path) + "$", "nth": nth, "action": action}
    )
    with contextlib.suppress(ReleaserError):
        project.run_stage(RC1, "prepare")
    project.clear_faults()
    results = project.run_stage(RC1, "prepare")
    assert all(r.status == Status.DONE for r in results)
    assert state(project) == _clean_run()["state"]
