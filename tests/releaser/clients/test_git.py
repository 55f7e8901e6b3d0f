"""The git client (dulwich over smart HTTP) against the real sandbox forge and real git."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from releaser.clients.git import Git
from releaser.context import ForgeEndpoint
from releaser.errors import RemoteError
from releaser.memo import Memo
from releaser.sandbox.server import SandboxServer
from releaser.ui import UI
from tests.sandbox.helpers import git_env, make_repo
from tests.steps.release_helpers import gpg_env, make_gpg_key

TAGGER = "Release Bot <bot@example.invalid>"


@pytest.fixture
def forge(tmp_path: Path):
    server = SandboxServer(tmp_path / "forge").start()
    try:
        make_repo(server, "release-bot/lib", {"README.md": "# lib\n"})
        yield server
    finally:
        server.stop()


def client(server: SandboxServer, tmp_path: Path, name: str = "cache") -> tuple[Git, io.StringIO]:
    info = server.info()
    out = io.StringIO()
    ui = UI(verbose=True, out=out, err=out)
    endpoint = ForgeEndpoint(info["api_url"], info["git_url"], info["token"])
    return Git(endpoint, "release-bot/lib", ui, tmp_path / name, Memo()), out


def clone(server: SandboxServer, tmp_path: Path) -> Path:
    target = tmp_path / "clone"
    url = f"{server.info()['git_url']}/release-bot/lib.git"
    subprocess.run(["git", "clone", "-q", url, str(target)], env=git_env(tmp_path), check=True)
    return target


def test_ls_remote_resolve_and_missing_refs(forge: SandboxServer, tmp_path: Path) -> None:
    git, _ = client(forge, tmp_path)
    head = git.resolve("main")
    assert head is not None and len(head) == 40
    assert git.resolve("refs/heads/main") == head
    assert git.resolve("nope") is None
    assert git.tag_object("v1.0.0") is None


def test_annotated_tag_pushed_alone_and_found_peeled(forge: SandboxServer, tmp_path: Path) -> None:
    git, out = client(forge, tmp_path)
    head = git.resolve("main")
    assert head
    stray = git.create_tag("stray", head, "not for pushing", TAGGER)
    git.repo.refs[b"refs/tags/stray"] = stray.encode()  # a local tag that must stay local
    sha = git.create_tag("v1.0.0", head, "Release 1.0.0", TAGGER)
    git.push_ref("refs/tags/v1.0.0", sha)
    remote = git.tag_object("v1.0.0")
    assert remote is not None and remote.sha == sha and remote.commit == head and remote.annotated
    assert git.tag_object("stray") is None, "only the one ref is pushed"
    # a fresh mirror reads the tag object back
    other, _ = client(forge, tmp_path, "cache2")
    info = other.read_tag("v1.0.0")
    assert info is not None and info.target == head and info.message == "Release 1.0.0\n"
    assert not info.signed
    text = out.getvalue()
    assert f"git push {forge.info()['git_url']}/release-bot/lib.git" in text
    assert forge.info()["token"] not in text


def test_moving_a_tag_is_refused_with_the_forges_reason(
    forge: SandboxServer, tmp_path: Path
) -> None:
    git, _ = client(forge, tmp_path)
    head = git.resolve("main")
    assert head
    git.push_ref("refs/tags/v1.0.0", git.create_tag("v1.0.0", head, "one", TAGGER))
    again = git.create_tag("v1.0.0", head, "two", TAGGER)
    with pytest.raises(RemoteError) as err:
        git.push_ref("refs/tags/v1.0.0", again)
    assert "refused" in err.value.message and "immutable" in err.value.message
    assert forge.info()["token"] not in err.value.message


def test_lightweight_tag_is_not_annotated(forge: SandboxServer, tmp_path: Path) -> None:
    git, _ = client(forge, tmp_path)
    head = git.resolve("main")
    assert head
    git.push_ref("refs/tags/light", head)
    remote = git.tag_object("light")
    assert remote is not None and not remote.annotated and git.read_tag("light") is None


def test_signed_tag_verified_by_real_git(forge: SandboxServer, tmp_path: Path) -> None:
    home = tmp_path / "gnupg"
    fpr = make_gpg_key(home)
    git, _ = client(forge, tmp_path)
    head = git.resolve("main")
    assert head
    sha = git.create_tag("v2.0.0", head, "Release 2.0.0", TAGGER, gpg_key=fpr, gnupghome=home)
    git.push_ref("refs/tags/v2.0.0", sha)
    work = clone(forge, tmp_path)
    env = {**git_env(tmp_path), **{"GNUPGHOME": gpg_env(home)["GNUPGHOME"]}}
    proc = subprocess.run(
        ["git", "verify-tag", "v2.0.0"], cwd=work, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "Good signature" in proc.stderr


def test_a_tag_read_through_the_api_is_the_tag_the_mirror_reads(
    forge: SandboxServer, tmp_path: Path
) -> None:
    """``read_tag`` with a ``tag_reader`` (what a Context wires: one ``git/tags/{sha}`` read)
    says what a fetched mirror says, signed or not, and fetches nothing."""
    import httpx

    home = tmp_path / "gnupg"
    fpr = make_gpg_key(home)
    git, _ = client(forge, tmp_path)
    head = git.resolve("main")
    assert head
    plain = git.create_tag("v3.0.0", head, "Release 3.0.0", TAGGER)
    signed = git.create_tag("v3.0.1", head, "Release 3.0.1", TAGGER, gpg_key=fpr, gnupghome=home)
    git.push_ref("refs/tags/v3.0.0", plain)
    git.push_ref("refs/tags/v3.0.1", signed)
    info = forge.info()
    api = httpx.Client(headers={"Authorization": f"token {info['token']}"}, timeout=30)
    url = f"{info['api_url']}/repos/release-bot/lib/git/tags/"
    through_api, _ = client(forge, tmp_path, "api")
    through_api.tag_reader = lambda sha: api.get(url + sha).raise_for_status().json()
    mirror, _ = client(forge, tmp_path, "mirror")
    for name in ("v3.0.0", "v3.0.1"):
        assert through_api.read_tag(name) == mirror.read_tag(name), name
    assert through_api.read_tag("v3.0.1").signed  # type: ignore[union-attr]
    assert not through_api.read_tag("v3.0.0").signed  # type: ignore[union-attr]
    assert not through_api.has_object(signed)  # no pack was fetched
    api.close()


def test_bad_token_push_is_a_remote_error(forge: SandboxServer, tmp_path: Path) -> None:
    info = forge.info()
    ui = UI(out=io.StringIO(), err=io.StringIO())
    endpoint = ForgeEndpoint(info["api_url"], info["git_url"], "ghp_wrongtoken0000000000")
    git = Git(endpoint, "release-bot/lib", ui, tmp_path / "c3", Memo())
    head = git.resolve("main")
    assert head
    with pytest.raises(RemoteError) as err:
        git.push_ref("refs/tags/v9.9.9", git.create_tag("v9.9.9", head, "x", TAGGER))
    assert "ghp_wrongtoken" not in err.value.message
