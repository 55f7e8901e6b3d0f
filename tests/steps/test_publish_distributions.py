"""distributions-pr against the sandbox forge: a distributions repository, its site.

The site is the forge's raw file URL of the repository's main branch: it answers 200 for the
version's page once the PR is merged, as dist.ipfs.tech does once ipfs/distributions is.
"""

from __future__ import annotations

import pytest

from releaser.errors import ReleaserError, StillRunning
from releaser.sandbox.admin_client import SandboxAdmin
from releaser.step import Status
from tests.sandbox.helpers import make_repo

RC = "v1.2.0-rc1"
DIST_SH = """\
#!/bin/sh
# dist.sh add-version NAME VERSION: what ipfs/distributions' script does, in small
set -e
[ "$1" = add-version ] || { echo "usage: dist.sh add-version NAME VERSION" >&2; exit 2; }
mkdir -p "$2/$3"
echo "$2 $3" > "$2/$3/index.txt"
echo "$3" >> "$2/versions"
echo "$3" > "$2/current"
env > "$2/$3/build-env.txt"
"""


def setup(make_project, merge: bool = True, page: str = "index.txt", **extra: str):
    project = make_project(extra="\n[engine]\npoll_interval = 0.2\nwait_timeout = 60\n")
    make_repo(
        project.server,
        "acme/dists",
        {"dist.sh": DIST_SH, "example/versions": "v1.1.0\n", "example/current": "v1.1.0\n"},
    )
    site = project.info["api_url"].removesuffix("/api/v3")
    lines = [
        "[publish.distributions]",
        'repo = "acme/dists"',
        'command = "sh ./dist.sh add-version example v{version}"',
        'branch = "publish-example-v{version}"',
        f'verify_url = "{site}/acme/dists/raw/main/example/v{{version}}/{page}"',
        f"merge = {'true' if merge else 'false'}",
        *(f"{key} = {value}" for key, value in extra.items()),
    ]
    project.config_path.write_text(project.config_path.read_text() + "\n" + "\n".join(lines))
    return project


def run(project, version: str = RC, **options):
    results = project.run_stage(version, "publish", only=("distributions-pr",), **options)
    return {r.step: r for r in results}["distributions-pr"]


def pulls(project) -> list:
    return list(project.gh.get_repo("acme/dists").get_pulls(state="all"))


def test_one_commit_one_pr_merged_then_the_site_serves_it(make_project, monkeypatch) -> None:
    project = setup(make_project)
    monkeypatch.setenv("GITHUB_TOKEN", project.token)  # in releaser's environment only

    mark = len(project.requests())
    assert run(project, dry_run=True).status == "planned"
    out = project.output()
    assert "would commit what `sh ./dist.sh add-version example v1.2.0-rc1` changes" in out
    assert (
        'would open PR "Publish example v1.2.0-rc1" in acme/dists: '
        "publish-example-v1.2.0-rc1 -> main" in out
    )
    assert "would merge the PR" in out
    assert project.writes_since(mark) == []

    result = run(project)
    assert result.status is Status.DONE and result.acted
    assert result.evidence and result.evidence.endswith("/example/v1.2.0-rc1/index.txt")
    [pr] = pulls(project)
    assert pr.merged and pr.title == "Publish example v1.2.0-rc1"
    assert pr.head.ref == "publish-example-v1.2.0-rc1"
    [commit] = list(pr.get_commits())  # the command's changes, as ONE commit
    changed = sorted(f.filename for f in commit.files)
    assert changed == [
        "example/current",
        "example/v1.2.0-rc1/build-env.txt",
        "example/v1.2.0-rc1/index.txt",
        "example/versions",
    ]
    dists = project.gh.get_repo("acme/dists")
    versions = dists.get_contents("example/versions", ref="main").decoded_content.decode()
    assert versions == "v1.1.0\nv1.2.0-rc1\n"
    env = dists.get_contents(
        "example/v1.2.0-rc1/build-env.txt", ref="main"
    ).decoded_content.decode()
    assert project.token not in env and "GITHUB_TOKEN" not in env  # no credentials

    mark = len(project.requests())
    again = run(project)
    assert again.status is Status.DONE and not again.acted
    assert project.writes_since(mark) == []


def test_without_merge_it_waits_for_reviewers_and_updates_the_one_pr(make_project) -> None:
    project = setup(make_project, merge=False)
    with pytest.raises(StillRunning) as err:
        run(project, no_wait=True)
    assert err.value.exit_code == 4
    [pr] = pulls(project)
    assert f"waiting for acme/dists#{pr.number} to be merged by its reviewers" in (
        err.value.message
    )

    # a re-run after the title changed updates that PR: no second one
    text = project.config_path.read_text().replace(
        "merge = false", 'merge = false\npr_title = "Add example v{version}"'
    )
    project.config_path.write_text(text)
    with pytest.raises(StillRunning):
        run(project, no_wait=True)
    [pr] = pulls(project)
    assert pr.title == "Add example v1.2.0-rc1" and pr.state == "open"

    pr.merge(merge_method="merge")  # the reviewers merge it
    result = run(project)
    assert result.status is Status.DONE and "answers 200" in result.detail
    assert len(pulls(project)) == 1


def test_a_pr_closed_without_merging_is_reported(make_project) -> None:
    project = setup(make_project, merge=False)
    with pytest.raises(StillRunning):
        run(project, no_wait=True)
    [pr] = pulls(project)
    pr.edit(state="closed")
    mark = len(project.requests())
    with pytest.raises(ReleaserError) as err:
        run(project)
    assert f"acme/dists#{pr.number} was closed without merging" in err.value.message
    assert project.writes_since(mark) == []  # not reopened, no second PR
    assert len(pulls(project)) == 1


def test_a_site_that_never_serves_it_times_out_by_the_forges_clock(make_project) -> None:
    project = setup(make_project, page="missing.html", timeout="600")
    with SandboxAdmin(project.info["admin_url"]) as admin:
        admin.freeze()
        try:
            with pytest.raises(StillRunning) as err:
                run(project, no_wait=True)  # merged at once, then the site is waited for
            assert "merged 0s ago; waiting for" in err.value.message
            assert "missing.html to answer 200 (it answers 404)" in err.value.message
            admin.advance(601)
            with pytest.raises(ReleaserError) as err:
                run(project)
        finally:
            admin.unfreeze()
    message = err.value.message
    assert "still answers 404 601s after acme/dists#" in message
    assert "(timeout 600s): check the site's deployment" in message


def test_a_failing_command_writes_nothing(make_project) -> None:
    project = setup(make_project)
    text = project.config_path.read_text().replace("add-version example", "add-verzion example")
    project.config_path.write_text(text)
    mark = len(project.requests())
    with pytest.raises(ReleaserError) as err:
        run(project)
    assert "failed in acme/dists (exit 2): usage: dist.sh add-version NAME VERSION" in (
        err.value.message
    )
    dists_writes = [w for w in project.writes_since(mark) if "/acme/dists/" in w["path"]]
    assert dists_writes == [] and pulls(project) == []  # (the ledger recorded the claim)
