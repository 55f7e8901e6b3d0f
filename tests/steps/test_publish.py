"""The publish stage (GitHub part): release, assets from artifacts or a directory, checksums."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import httpx
import pytest

from releaser.errors import ReleaserError
from releaser.step import Status
from tests.steps.release_helpers import (
    gpg_env,
    make_gpg_key,
    make_version_branch,
)

RC = "v1.2.0-rc1"
FAST = "\n[engine]\npoll_interval = 1\nwait_timeout = 60\n"
ARTIFACTS = {
    "example-1.2.0-rc1.tar.gz": b"example 1.2.0-rc1 source",
    "example-1.2.0-rc1-py3-none-any.whl": b"example 1.2.0-rc1 wheel",
}


def by_name(results):
    return {r.step: r for r in results}


def built(project) -> None:
    make_version_branch(project)
    project.run_stage(RC, "tag")
    project.run_stage(RC, "build")


def assets(project, tag: str = RC) -> dict[str, bytes]:
    release = project.repo.get_release(tag)
    out = {}
    for asset in release.get_assets():
        out[asset.name] = httpx.get(asset.browser_download_url, timeout=30).content
    return out


def test_release_assets_and_checksums_then_rerun_writes_nothing(make_project) -> None:
    project = make_project(extra=FAST)
    built(project)
    results = by_name(project.run_stage(RC, "publish"))
    assert all(
        results[n].status is Status.DONE for n in ("github-release", "release-assets", "checksums")
    )
    release = project.repo.get_release(RC)
    assert release.prerelease and not release.draft and release.name == RC
    files = assets(project)
    names = sorted(files)
    assert "SHA256SUMS" in names and len(names) == 3
    expected = "".join(
        f"{hashlib.sha256(files[n]).hexdigest()}  {n}\n"
        for n in sorted(set(names) - {"SHA256SUMS"})
    )
    assert files["SHA256SUMS"].decode() == expected
    mark = len(project.requests())
    again = by_name(project.run_stage(RC, "publish"))
    assert all(not r.acted for r in again.values())
    assert project.writes_since(mark) == []
    assert len(project.repo.get_releases().get_page(0)) == 2  # v1.1.0 and this one, once


def test_release_body_has_changelog_and_issue_link(make_project) -> None:
    project = make_project(extra=FAST)
    project.run_stage(RC, "start")
    project.run_stage(RC, "prepare")
    project.run_stage(RC, "tag")
    project.run_stage(RC, "build")
    project.run_stage(RC, "publish")
    body = project.repo.get_release(RC).body
    issue = next(
        i
        for i in project.repo.get_issues(state="all")
        if i.title == f"Release {RC}" and i.pull_request is None
    )
    assert f"Tracking issue: #{issue.number}" in body  # the same text on any host or port
    assert "Add retry with timeouts" in body
    assert not body.startswith("## v1.2.0-rc1")


def test_dry_run_writes_nothing_and_prints_the_writes(make_project) -> None:
    project = make_project(extra=FAST)
    built(project)
    mark = len(project.requests())
    results = by_name(project.run_stage(RC, "publish", dry_run=True))
    assert results["github-release"].status == "planned"
    assert project.writes_since(mark) == []
    out = project.output()
    assert "create GitHub pre-release v1.2.0-rc1" in out


def test_existing_release_is_updated_not_duplicated(make_project) -> None:
    project = make_project(extra=FAST)
    built(project)
    project.repo.create_git_release(RC, name="draft by hand", message="", draft=True)
    project.run_stage(RC, "publish")
    releases = [r for r in project.repo.get_releases() if r.tag_name == RC]
    assert len(releases) == 1 and not releases[0].draft and releases[0].name == RC


def test_different_asset_content_fails_unless_replace_assets(make_project) -> None:
    project = make_project(extra=FAST)
    built(project)
    release = project.repo.create_git_release(RC, name=RC, message="", prerelease=True)
    release.upload_asset_from_memory(
        __import__("io").BytesIO(b"tampered"), 8, "example-1.2.0-rc1.tar.gz"
    )
    with pytest.raises(ReleaserError) as err:
        project.run_stage(RC, "publish")
    assert (
        "example-1.2.0-rc1.tar.gz" in err.value.message and "--replace-assets" in err.value.message
    )
    project.run_stage(RC, "publish", replace_assets=True)
    files = assets(project)
    assert files["example-1.2.0-rc1.tar.gz"] == ARTIFACTS["example-1.2.0-rc1.tar.gz"]


def test_same_content_is_kept(make_project) -> None:
    project = make_project(extra=FAST)
    built(project)
    release = project.repo.create_git_release(RC, name=RC, message="", prerelease=True)
    data = ARTIFACTS["example-1.2.0-rc1.tar.gz"]
    asset = release.upload_asset_from_memory(
        __import__("io").BytesIO(data), len(data), "example-1.2.0-rc1.tar.gz"
    )
    project.run_stage(RC, "publish")
    kept = [a for a in project.repo.get_release(RC).get_assets() if a.name == asset.name]
    assert len(kept) == 1 and kept[0].id == asset.id


def test_assets_from_dir(make_project) -> None:
    project = make_project(extra=FAST)
    text = project.config_path.read_text().replace(
        'assets_from = "artifacts"',
        'assets_from = "dir"\nassets_dir = "dist"\nexpect_assets = ["*.tar.gz"]',
    )
    project.config_path.write_text(text)
    dist = project.config_path.parent / "dist"
    dist.mkdir()
    (dist / "example-1.2.0-rc1.tar.gz").write_bytes(b"local build")
    built(project)
    project.run_stage(RC, "publish")
    assert assets(project)["example-1.2.0-rc1.tar.gz"] == b"local build"


def test_signed_checksums_verify_with_gpg(make_project, tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "gnupg"
    fpr = make_gpg_key(home)
    monkeypatch.setenv("RELEASER_TEST_GNUPGHOME", str(home))
    project = make_project(
        extra=f'\n[signing]\ngpg_key = "{fpr}"\ngpg_home_env = "RELEASER_TEST_GNUPGHOME"\n' + FAST
    )
    built(project)
    project.run_stage(RC, "publish")
    files = assets(project)
    assert "SHA256SUMS.asc" in files
    out = tmp_path / "downloaded"
    out.mkdir()
    for name, data in files.items():
        (out / name).write_bytes(data)
    proc = subprocess.run(
        ["gpg", "--verify", "SHA256SUMS.asc", "SHA256SUMS"],
        cwd=out,
        env=gpg_env(home),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Good signature" in proc.stderr
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True)
    assert check.returncode == 0
    mark = len(project.requests())
    project.run_stage(RC, "publish")
    assert project.writes_since(mark) == []
