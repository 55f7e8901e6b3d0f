"""verify-artifacts and release-verified: the release's assets as a user downloads them.

Downloads go through the asset's browser URL with no token (a private repository's assets
are refused), are hashed against SHA256SUMS, the signature is checked with the release key
alone, and smoke commands run in a clean directory; a failure stops publish and promote.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from releaser.errors import ReleaserError
from releaser.step import Status
from tests.steps.release_helpers import gpg_env, make_gpg_key
from tests.steps.test_publish import FAST, RC, built

SMOKE = """
[[publish.smoke]]
assets = "example-*"
command = "cat {file}; echo; test -f {file} && ls | wc -l"
"""
PROMOTE = """
[promote.tracking_issue]
early_testers = ["@alice"]
"""


def by_name(results):
    return {r.step: r for r in results}


def asset_file(project, name: str, tag: str = RC) -> Path:
    """Where the sandbox keeps an asset's bytes (what a tamperer on the forge would edit)."""
    [asset] = [a for a in project.repo.get_release(tag).get_assets() if a.name == name]
    return project.root / "forge" / "assets" / str(asset.id)


def smoke_records(project, tag: str = RC) -> list[dict]:
    """The ledger's records of verify-artifacts' smoke tests' results."""
    from tests.machines import ledger_entries

    return [
        e
        for e in ledger_entries(project, tag)
        if e.get("step") == "verify-artifacts" and str(e.get("key")).startswith("smoke ")
    ]


def replace_asset(project, name: str, data: bytes, tag: str = RC) -> None:
    """Replace an asset through the forge's API, as someone with write access (or a broken
    re-upload) would: the forge gives it a new id."""
    release = project.repo.get_release(tag)
    [asset] = [a for a in release.get_assets() if a.name == name]
    asset.delete_asset()
    path = project.root / "replacement" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    release.upload_asset(str(path), name=name)


def test_assets_verified_then_smoke_tested_once(make_project) -> None:
    project = make_project(extra=FAST + SMOKE)
    built(project)
    mark = len(project.requests())
    results = by_name(project.run_stage(RC, "publish", dry_run=True))
    assert results["verify-artifacts"].status == "planned"
    assert project.writes_since(mark) == []

    results = by_name(project.run_stage(RC, "publish"))
    verified = results["verify-artifacts"]
    assert verified.status is Status.DONE and verified.acted
    assert "2 asset(s) match SHA256SUMS" in verified.detail
    assert "example-1.2.0-rc1.tar.gz printed 1.2.0-rc1" in verified.detail
    assert "example-1.2.0-rc1-py3-none-any.whl printed 1.2.0-rc1" in verified.detail
    downloads = [e for e in project.requests() if "/releases/download/" in e["path"]]
    assert {e["path"].rsplit("/", 1)[-1] for e in downloads} >= {
        "SHA256SUMS",
        "example-1.2.0-rc1.tar.gz",
        "example-1.2.0-rc1-py3-none-any.whl",
    }
    smoke = smoke_records(project)
    assert len(smoke) == 1 and smoke[0]["type"] == "result"

    # a re-run trusts the ledger's record of these very assets (ids, sizes, digests) and
    # settings: it downloads nothing, runs no smoke test and writes nothing
    mark = len(project.requests())
    again = by_name(project.run_stage(RC, "publish"))
    assert again["verify-artifacts"].status is Status.DONE and not again["verify-artifacts"].acted
    assert again["verify-artifacts"].detail == verified.detail
    assert project.writes_since(mark) == []
    assert not any("/releases/download/" in e["path"] for e in project.requests()[mark:])


def test_a_tampered_asset_fails_naming_it_and_both_hashes(make_project) -> None:
    project = make_project(extra=FAST + SMOKE + PROMOTE)
    project.run_stage(RC, "start")
    built(project)
    project.run_stage(RC, "publish")
    original = asset_file(project, "example-1.2.0-rc1.tar.gz").read_bytes()
    tampered = bytes([original[0] ^ 0x01]) + original[1:]  # one byte changed, same size
    replace_asset(project, "example-1.2.0-rc1.tar.gz", tampered)
    listed = hashlib.sha256(original).hexdigest()
    actual = hashlib.sha256(tampered).hexdigest()

    mark = len(project.requests())
    with pytest.raises(ReleaserError) as err:  # release-assets sees it differs from the build
        project.run_stage(RC, "publish")
    assert err.value.message.startswith("release-assets: ")
    with pytest.raises(ReleaserError) as err:  # and users would download other bytes
        project.run_stage(RC, "publish", only=("verify-artifacts",))
    message = err.value.message
    assert message.startswith("verify-artifacts: ")
    assert "example-1.2.0-rc1.tar.gz" in message and actual in message and listed in message
    assert err.value.exit_code == 1
    assert project.writes_since(mark) == []  # nothing was rewritten to hide it

    # promote re-checks the downloads before announcing anything
    with pytest.raises(ReleaserError) as err:
        project.run_stage(RC, "promote")
    assert err.value.message.startswith("release-verified: ")
    assert actual in err.value.message
    issue = next(i for i in project.repo.get_issues(state="all") if i.title == f"Release {RC}")
    assert not [c for c in issue.get_comments() if "releaser:announce" in c.body]


def test_a_failing_smoke_test_stops_publish_and_is_not_recorded(make_project) -> None:
    bad = FAST + SMOKE.replace(
        "cat {file}; echo; test -f {file} && ls | wc -l", "echo example 9.9.9; exit 3"
    )
    project = make_project(extra=bad)
    built(project)
    with pytest.raises(ReleaserError) as err:
        project.run_stage(RC, "publish")
    message = err.value.message
    assert "smoke test of example-1.2.0-rc1-py3-none-any.whl failed" in message
    assert "exited with 3" in message
    assert smoke_records(project) == []

    # exits 0, but prints another version: not this release's build
    text = project.config_path.read_text().replace("exit 3", "true")
    project.config_path.write_text(text)
    with pytest.raises(ReleaserError) as err:
        project.run_stage(RC, "publish")
    assert "printed 'example 9.9.9', not the release version 1.2.0-rc1" in err.value.message

    project.config_path.write_text(text.replace("9.9.9", "{version}"))
    results = by_name(project.run_stage(RC, "publish"))
    assert results["verify-artifacts"].status is Status.DONE


def test_smoke_commands_get_no_credentials_and_a_clean_directory(make_project, monkeypatch) -> None:
    monkeypatch.setenv("SOME_API_TOKEN", "tok-not-for-smoke-tests")
    # fails unless the directory holds the asset alone and no *TOKEN* variable is set
    smoke = """
[[publish.smoke]]
assets = "example-*.whl"
command = 'test "$(ls)" = "$(basename {file})" && ! env | grep TOKEN && echo {version}'
"""
    project = make_project(extra=FAST + smoke)
    built(project)
    results = by_name(project.run_stage(RC, "publish"))
    assert results["verify-artifacts"].status is Status.DONE
    assert "printed 1.2.0-rc1" in results["verify-artifacts"].detail


def test_signature_checked_with_the_release_key_alone(
    make_project, tmp_path: Path, monkeypatch
) -> None:
    home = tmp_path / "gnupg"
    fpr = make_gpg_key(home)
    monkeypatch.setenv("RELEASER_TEST_GNUPGHOME", str(home))
    signing = f'\n[signing]\ngpg_key = "{fpr}"\ngpg_home_env = "RELEASER_TEST_GNUPGHOME"\n'
    project = make_project(extra=signing + FAST)
    text = project.config_path.read_text().replace(
        'assets_from = "artifacts"', 'assets_from = "artifacts"\nkey_asset = "release-key.asc"'
    )
    project.config_path.write_text(text)
    built(project)
    results = by_name(project.run_stage(RC, "publish"))
    verified = results["verify-artifacts"]
    assert verified.status is Status.DONE
    assert f"SHA256SUMS.asc: good signature by {fpr}" in verified.detail
    release = project.repo.get_release(RC)
    key = next(a for a in release.get_assets() if a.name == "release-key.asc")
    published = httpx.get(key.browser_download_url, timeout=30).content
    assert b"BEGIN PGP PUBLIC KEY BLOCK" in published

    # a signature by another key (of a valid signature) is refused: only the release key counts
    other = tmp_path / "other-gnupg"
    make_gpg_key(other)
    sums = asset_file(project, "SHA256SUMS").read_bytes()
    import subprocess

    forged = subprocess.run(
        ["gpg", "--batch", "--armor", "--detach-sign"],
        input=sums,
        env=gpg_env(other),
        capture_output=True,
        check=True,
    ).stdout
    asset_file(project, "SHA256SUMS.asc").write_bytes(forged)
    with pytest.raises(ReleaserError) as err:
        project.run_stage(RC, "publish", only=("verify-artifacts",))
    assert "SHA256SUMS.asc is not a good signature of the checksums by the release key" in (
        err.value.message
    )


def test_assets_users_cannot_download_fail_verification(make_project) -> None:
    project = make_project(extra=FAST)
    built(project)
    project.repo.edit(private=True)  # the forge API still serves the driver's token
    with pytest.raises(ReleaserError) as err:
        project.run_stage(RC, "publish")
    message = err.value.message
    assert message.startswith("verify-artifacts: ")
    assert "can't be downloaded anonymously" in message
    assert project.repo.get_release(RC).get_assets().totalCount == 3  # the rest was published


def test_without_checksums_or_smoke_tests_only_the_download_is_started(make_project) -> None:
    project = make_project(extra='checksums = ""\n' + FAST)  # into [publish.github]
    built(project)
    results = by_name(project.run_stage(RC, "publish"))
    verified = results["verify-artifacts"]
    assert verified.status is Status.DONE
    assert verified.detail == "2 asset(s) downloadable anonymously"
    downloads = [e for e in project.requests() if "/releases/download/" in e["path"]]
    assert len(downloads) == 2 and all(e["status"] == 200 for e in downloads)

    project.repo.edit(private=True)
    with pytest.raises(ReleaserError, match="can't be downloaded anonymously"):
        project.run_stage(RC, "publish")
