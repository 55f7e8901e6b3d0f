"""The `next` stage's forge work for the next release: its tracking issue (with its
checklist) and its changelog file linked from the index, each once."""

from __future__ import annotations

import pytest

from releaser.errors import ReleaserError
from releaser.step import Status
from steps.finish import insert_link

FINAL = "v1.2.0"
NEXT_ISSUE = "\n[next.tracking_issue]\n"
CHANGELOG = """
[next.changelog]
path = "docs/changelogs/v{major}.{next_minor}.md"
index = "docs/CHANGELOGS.md"
"""
INDEX = "# Changelogs\n\nOne file per release line.\n\n- [v1.2](changelogs/v1.2.md)\n"


def tagged(project, version: str = FINAL) -> None:
    for stage in ("start", "prepare", "tag"):
        project.run_stage(version, stage)


def issues(project, title: str) -> list:
    return [
        i for i in project.repo.get_issues(state="all") if i.title == title and not i.pull_request
    ]


def test_next_tracking_issue_is_what_start_would_open_and_start_finds_it(make_project) -> None:
    project = make_project(extra=NEXT_ISSUE)
    with pytest.raises(ReleaserError) as err:  # not before the release is tagged
        project.run_stage(FINAL, "next", only=("next-tracking-issue",))
    assert "v1.2.0 doesn't exist yet" in err.value.message
    tagged(project)
    mark = len(project.requests())
    project.run_stage(FINAL, "next", only=("next-tracking-issue",), dry_run=True)
    assert project.writes_since(mark) == []
    assert 'would create issue "Release v1.3.0-rc1" with labels release' in project.output()

    [result] = [
        r for r in project.run_stage(FINAL, "next", only=("next-tracking-issue",)) if r.acted
    ]
    assert result.status is Status.DONE
    [issue] = issues(project, "Release v1.3.0-rc1")
    assert [label.name for label in issue.labels] == ["release"]
    assert "**example v1.3.0-rc1** (rc release)" in issue.body
    assert "- [ ] push-tag:" in issue.body and "- [ ] merge-back" not in issue.body  # rc steps

    mark = len(project.requests())
    project.run_stage(FINAL, "next", only=("next-tracking-issue",))
    assert project.writes_since(mark) == [], "a re-run finds it"
    results = {r.step: r for r in project.run_stage("v1.3.0-rc1", "start")}
    assert results["tracking-issue"].status is Status.DONE
    assert f"#{issue.number}" in results["tracking-issue"].detail
    writes = project.release_writes_since(mark)
    assert writes == [("PATCH", f"/api/v3/repos/acme/example/issues/{issue.number}")], (
        "the next release's start finds it: it only ticks its item (under its claim)"
    )
    assert len(issues(project, "Release v1.3.0-rc1")) == 1


def test_not_for_rcs_nor_patches(make_project) -> None:
    project = make_project(extra=NEXT_ISSUE + CHANGELOG)
    for version in ("v1.2.0-rc1", "v1.2.1"):
        only = ("next-tracking-issue", "next-changelog")
        results = {r.step: r for r in project.run_stage(version, "next", only=only, dry_run=True)}
        assert results["next-tracking-issue"].status == "skipped"
        assert results["next-changelog"].status == "skipped"


def test_a_next_version_that_is_not_after_this_one_is_refused(make_project) -> None:
    project = make_project(extra='\n[next.tracking_issue]\nversion = "{major}.{minor}.0-rc1"\n')
    tagged(project)
    with pytest.raises(ReleaserError) as err:
        project.run_stage(FINAL, "next", only=("next-tracking-issue",))
    assert "1.2.0-rc1, which is not after 1.2.0" in err.value.message


def test_next_changelog_file_and_index_link_by_one_pull_request(make_project) -> None:
    project = make_project(extra=CHANGELOG)
    project.repo.create_file("docs/CHANGELOGS.md", "Changelog index", INDEX, branch="main")
    tagged(project)
    mark = len(project.requests())
    project.run_stage(FINAL, "next", only=("next-changelog",), dry_run=True)
    assert project.writes_since(mark) == []
    out = project.output()
    assert "would create branch changelog-v1.3" in out
    assert "docs/changelogs/v1.3.md" in out and "- [v1.3](changelogs/v1.3.md)" in out

    project.faults(  # the pull request's answer is lost: the re-check finds it (or opens it)
        {
            "method": "POST",
            "path": r"/repos/acme/example/pulls$",
            "action": "drop_after",
            "times": 1,
        }
    )
    try:
        results = {r.step: r for r in project.run_stage(FINAL, "next", only=("next-changelog",))}
    finally:
        project.clear_faults()
    assert results["next-changelog"].status is Status.DONE
    pulls = [p for p in project.repo.get_pulls(state="all") if p.head.ref == "changelog-v1.3"]
    assert len(pulls) == 1 and pulls[0].base.ref == "main"
    assert project.file("docs/changelogs/v1.3.md", "changelog-v1.3") == (
        "# example v1.3 Changelog\n"
    )
    index = project.file("docs/CHANGELOGS.md", "changelog-v1.3") or ""
    assert index.index("- [v1.3](changelogs/v1.3.md)") < index.index("- [v1.2]")
    mark = len(project.requests())
    project.run_stage(FINAL, "next", only=("next-changelog",))
    assert project.writes_since(mark) == []
    # merged: done from the default branch itself
    pulls[0].merge(merge_method="merge")
    results = {r.step: r for r in project.run_stage(FINAL, "next", only=("next-changelog",))}
    result = results["next-changelog"]
    assert "main has docs/changelogs/v1.3.md, linked from the index" in result.detail


def test_insert_link_goes_above_the_first_link_else_at_the_end() -> None:
    line = "- [v1.3](v1.3.md)"
    assert (
        insert_link("# C\n\n- [v1.2](v1.2.md)\n", line)
        == "# C\n\n- [v1.3](v1.3.md)\n- [v1.2](v1.2.md)\n"
    )
    assert insert_link("# C\n\n- a note\n", line) == "# C\n\n- a note\n\n- [v1.3](v1.3.md)\n"
    assert insert_link("", line) == "- [v1.3](v1.3.md)\n"
