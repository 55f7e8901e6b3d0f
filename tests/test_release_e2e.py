"""End to end: `releaser release v1.2.0-rc1` then `releaser release v1.2.0` on the sandbox,
through the CLI, non-interactive; every object exists exactly once, and a re-run writes
nothing."""

from __future__ import annotations

from collections import Counter

from tests.steps.conftest import make_project  # noqa: F401  (the fixture)

FAST = "\n[engine]\npoll_interval = 1\nwait_timeout = 120\n"


def test_rc_then_final_complete_with_every_object_once(make_project) -> None:  # noqa: F811
    project = make_project(extra=FAST)
    for version in ("v1.2.0-rc1", "v1.2.0"):
        result = project.cli("--non-interactive", "--yes", "release", version)
        assert result.exit_code == 0, result.output[-3000:]
    repo = project.repo
    tags = project.git("tag", "--list").split()
    assert tags == ["v1.1.0", "v1.2.0", "v1.2.0-rc1"]
    releases = Counter(r.tag_name for r in repo.get_releases())
    assert releases == {"v1.1.0": 1, "v1.2.0-rc1": 1, "v1.2.0": 1}
    assert repo.get_release("v1.2.0-rc1").prerelease and not repo.get_release("v1.2.0").prerelease
    for tag in ("v1.2.0-rc1", "v1.2.0"):
        names = Counter(a.name for a in repo.get_release(tag).get_assets())
        assert set(names.values()) == {1} and "SHA256SUMS" in names and len(names) == 3
    issues = Counter(i.title for i in repo.get_issues(state="all") if i.pull_request is None)
    assert issues["Release v1.2.0-rc1"] == 1 and issues["Release v1.2.0"] == 1
    pulls = Counter((p.head.ref, p.base.ref) for p in repo.get_pulls(state="all"))
    assert all(count == 1 for count in pulls.values()), pulls
    assert ("merge-release-v1.2.0", "main") in pulls
    tag_commit = project.git("rev-parse", "v1.2.0^{commit}").strip()
    project.git("merge-base", "--is-ancestor", tag_commit, "main")
    mark = len(project.requests())
    result = project.cli("--non-interactive", "--yes", "release", "v1.2.0")
    assert result.exit_code == 0, result.output[-3000:]
    assert project.writes_since(mark) == []
