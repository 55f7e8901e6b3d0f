"""Releases and release assets of the sandbox forge: PyGithub, raw HTTP, restarts.

Every JSON body is validated against GitHub's published response schemas.
"""

from __future__ import annotations

import base64
import hashlib
import socket
from pathlib import Path

import httpx
import pytest
from github import Github, GithubException

from releaser.sandbox.server import SandboxServer
from tests.sandbox.helpers import api, make_repo, sandbox_github
from tests.sandbox.schemas import validate

REPO = "release-bot/lib"


def github(sandbox: SandboxServer) -> Github:
    return sandbox_github(sandbox, seconds_between_requests=None, seconds_between_writes=None)


@pytest.fixture
def repo(sandbox: SandboxServer) -> str:
    return make_repo(sandbox, REPO, {"README.md": "# lib\n"})


def test_release_lifecycle_with_pygithub(sandbox: SandboxServer, repo: str, tmp_path: Path) -> None:
    gh_repo = github(sandbox).get_repo(repo)
    release = gh_repo.create_git_release("v1.0.0", name="1.0.0", message="First", prerelease=False)
    assert release.tag_name == "v1.0.0"
    assert release.draft is False and release.prerelease is False
    assert release.body == "First"
    assert release.html_url == f"{sandbox.url}/{repo}/releases/tag/v1.0.0"
    assert release.upload_url.startswith(f"{sandbox.url}/api/uploads/repos/{repo}/releases/")
    # the tag was created at the default branch
    main = gh_repo.get_branch("main").commit.sha
    assert gh_repo.get_git_ref("tags/v1.0.0").object.sha == main

    artifact = tmp_path / "lib-1.0.0.tar.gz"
    artifact.write_bytes(b"\x1f\x8b fake tarball bytes")
    asset = release.upload_asset(str(artifact), content_type="application/gzip")
    assert asset.name == "lib-1.0.0.tar.gz"
    assert asset.size == artifact.stat().st_size
    assert asset.content_type == "application/gzip"
    assert asset.state == "uploaded"
    assert asset.digest == "sha256:" + hashlib.sha256(artifact.read_bytes()).hexdigest()
    assert asset.browser_download_url == (
        f"{sandbox.url}/{repo}/releases/download/v1.0.0/lib-1.0.0.tar.gz"
    )
    assert [a.name for a in gh_repo.get_release(release.id).get_assets()] == ["lib-1.0.0.tar.gz"]
    # download through the API (Accept: application/octet-stream) and the browser URL
    target = tmp_path / "downloaded"
    gh_repo.get_release_asset(asset.id).download_asset(str(target))
    assert target.read_bytes() == artifact.read_bytes()
    assert httpx.get(asset.browser_download_url).content == artifact.read_bytes()
    assert gh_repo.get_release_asset(asset.id).download_count == 2
    with pytest.raises(GithubException) as dup:
        release.upload_asset(str(artifact))
    assert dup.value.status == 422

    assert gh_repo.get_release("v1.0.0").id == release.id
    assert gh_repo.get_latest_release().tag_name == "v1.0.0"
    updated = release.update_release(name="1.0.0 final", message="Notes", prerelease=False)
    assert updated.name == "1.0.0 final"
    assert updated.body == "Notes"
    renamed = asset.update_asset("lib.tar.gz", label="Source")
    assert renamed.name == "lib.tar.gz" and renamed.label == "Source"
    assert renamed.delete_asset() is True
    assert list(gh_repo.get_release(release.id).get_assets()) == []
    release.delete_release()
    with pytest.raises(GithubException) as gone:
        gh_repo.get_release(release.id)
    assert gone.value.status == 404


def test_shapes_duplicates_drafts_and_latest(sandbox: SandboxServer, repo: str) -> None:
    with api(sandbox) as client:
        created = client.post(
            f"repos/{repo}/releases", json={"tag_name": "v1.0.0", "name": "1.0.0", "body": "x"}
        )
        assert created.status_code == 201
        validate("repos/create-release", 201, created.json())
        rid = created.json()["id"]
        dup = client.post(f"repos/{repo}/releases", json={"tag_name": "v1.0.0"})
        assert dup.status_code == 422
        assert dup.json()["errors"] == [
            {"resource": "Release", "code": "already_exists", "field": "tag_name"}
        ]
        validate("repos/get-release", 200, client.get(f"repos/{repo}/releases/{rid}").json())
        validate(
            "repos/get-release-by-tag", 200, client.get(f"repos/{repo}/releases/tags/v1.0.0").json()
        )
        upload_url = created.json()["upload_url"].split("{")[0]
        uploaded = client.post(
            upload_url,
            params={"name": "notes.txt", "label": "Notes"},
            content=b"hello",
            headers={"Content-Type": "text/plain"},
        )
        assert uploaded.status_code == 201
        validate("repos/upload-release-asset", 201, uploaded.json())
        again = client.post(upload_url, params={"name": "notes.txt"}, content=b"x")
        assert again.status_code == 422
        assert again.json()["errors"][0]["code"] == "already_exists"
        aid = uploaded.json()["id"]
        validate(
            "repos/get-release-asset", 200, client.get(f"repos/{repo}/releases/assets/{aid}").json()
        )
        raw = client.get(
            f"repos/{repo}/releases/assets/{aid}", headers={"Accept": "application/octet-stream"}
        )
        assert raw.status_code == 200
        assert raw.content == b"hello"
        assets = client.get(f"repos/{repo}/releases/{rid}/assets")
        validate("repos/list-release-assets", 200, assets.json())
        patched = client.patch(f"repos/{repo}/releases/assets/{aid}", json={"label": "N"})
        validate("repos/update-release-asset", 200, patched.json())

        draft = client.post(
            f"repos/{repo}/releases", json={"tag_name": "v2.0.0", "draft": True}
        ).json()
        assert draft["published_at"] is None
        assert client.get(f"repos/{repo}/releases/tags/v2.0.0").status_code == 404
        assert client.get(f"repos/{repo}/git/ref/tags/v2.0.0").status_code == 404
        pre = client.post(
            f"repos/{repo}/releases", json={"tag_name": "v3.0.0-rc1", "prerelease": True}
        ).json()
        latest = client.get(f"repos/{repo}/releases/latest")
        validate("repos/get-latest-release", 200, latest.json())
        assert latest.json()["tag_name"] == "v1.0.0"
        published = client.patch(f"repos/{repo}/releases/{draft['id']}", json={"draft": False})
        validate("repos/update-release", 200, published.json())
        assert published.json()["published_at"] is not None
        assert client.get(f"repos/{repo}/git/ref/tags/v2.0.0").status_code == 200
        assert client.get(f"repos/{repo}/releases/latest").json()["tag_name"] == "v2.0.0"
        client.patch(f"repos/{repo}/releases/{rid}", json={"make_latest": "true"})
        assert client.get(f"repos/{repo}/releases/latest").json()["tag_name"] == "v1.0.0"
        clash = client.patch(f"repos/{repo}/releases/{pre['id']}", json={"tag_name": "v1.0.0"})
        assert clash.status_code == 422

        page = client.get(f"repos/{repo}/releases", params={"per_page": 2})
        validate("repos/list-releases", 200, page.json())
        assert [r["tag_name"] for r in page.json()] == ["v3.0.0-rc1", "v2.0.0"]
        assert 'rel="next"' in page.headers["link"]
        assert client.delete(f"repos/{repo}/releases/{pre['id']}").status_code == 204
        assert client.delete(f"repos/{repo}/releases/assets/{aid}").status_code == 204
        assert client.get(f"repos/{repo}/releases/assets/{aid}").status_code == 404


def commit_file(client: httpx.Client, repo: str, branch: str, path: str, text: str) -> None:
    body = {
        "message": f"Add {path}",
        "content": base64.b64encode(text.encode()).decode(),
        "branch": branch,
    }
    client.put(f"repos/{repo}/contents/{path}", json=body).raise_for_status()


def merge_feature(client: httpx.Client, repo: str, branch: str, title: str) -> None:
    sha = client.get(f"repos/{repo}/git/ref/heads/main").json()["object"]["sha"]
    client.post(f"repos/{repo}/git/refs", json={"ref": f"refs/heads/{branch}", "sha": sha})
    commit_file(client, repo, branch, f"{branch}.txt", f"{branch}\n")
    pull = client.post(f"repos/{repo}/pulls", json={"title": title, "head": branch, "base": "main"})
    number = pull.raise_for_status().json()["number"]
    client.put(f"repos/{repo}/pulls/{number}/merge", json={}).raise_for_status()


def test_generate_notes_lists_merged_pulls_between_tags(sandbox: SandboxServer, repo: str) -> None:
    html = f"{sandbox.url}/{repo}"
    with api(sandbox) as client:
        merge_feature(client, repo, "one", "Add one")
        client.post(f"repos/{repo}/releases", json={"tag_name": "v1.0.0"}).raise_for_status()
        merge_feature(client, repo, "two", "Add two")
        merge_feature(client, repo, "three", "Add three")
        notes = client.post(
            f"repos/{repo}/releases/generate-notes",
            json={"tag_name": "v1.1.0", "previous_tag_name": "v1.0.0"},
        )
        assert notes.status_code == 200
        validate("repos/generate-release-notes", 200, notes.json())
        assert notes.json()["name"] == "v1.1.0"
        assert notes.json()["body"] == (
            "## What's Changed\n"
            f"* Add two by @release-bot in {html}/pull/2\n"
            f"* Add three by @release-bot in {html}/pull/3\n\n\n"
            f"**Full Changelog**: {html}/compare/v1.0.0...v1.1.0"
        )
        # without previous_tag_name: the previous release is found
        implicit = client.post(f"repos/{repo}/releases/generate-notes", json={"tag_name": "v1.1.0"})
        assert implicit.json()["body"] == notes.json()["body"]
        first = client.post(f"repos/{repo}/releases/generate-notes", json={"tag_name": "v1.0.0"})
        assert f"* Add one by @release-bot in {html}/pull/1" in first.json()["body"]
        assert first.json()["body"].endswith(f"**Full Changelog**: {html}/commits/v1.0.0")
    gh_repo = github(sandbox).get_repo(repo)
    created = gh_repo.create_git_release("v1.1.0", generate_release_notes=True)
    assert "Add three" in created.body


def test_restart_keeps_releases_and_renders_new_urls(tmp_path: Path) -> None:
    root = tmp_path / "forge"
    first = SandboxServer(root).start()
    try:
        make_repo(first, REPO)
        with api(first) as client:
            rel = client.post(f"repos/{REPO}/releases", json={"tag_name": "v1.0.0"}).json()
            client.post(
                rel["upload_url"].split("{")[0], params={"name": "a.bin"}, content=b"abc"
            ).raise_for_status()
        old_base = first.url
    finally:
        first.stop()
    second = SandboxServer(root, port=free_port(avoid=old_base)).start()
    try:
        assert second.url != old_base
        with api(second) as client:
            again = client.get(f"repos/{REPO}/releases/tags/v1.0.0").json()
            assert again["id"] == rel["id"]
            assert again["url"].startswith(second.url)
            assert again["upload_url"].startswith(f"{second.url}/api/uploads/")
            asset = again["assets"][0]
            assert asset["browser_download_url"].startswith(second.url)
            assert httpx.get(asset["browser_download_url"]).content == b"abc"
    finally:
        second.stop()


def free_port(avoid: str) -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if not avoid.endswith(f":{port}"):
            return port
