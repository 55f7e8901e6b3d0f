"""``Forge.snapshot``: a branch's head and several of its files in one request."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from releaser.clients.github import GitHubAPI
from releaser.errors import RemoteError
from releaser.forge import Forge
from releaser.memo import Memo
from releaser.sandbox.server import SandboxServer
from releaser.ui import UI
from tests.sandbox.helpers import api, make_repo


def test_snapshot_reads_a_branch_and_its_files_at_once(tmp_path: Path) -> None:
    server = SandboxServer(tmp_path / "forge").start()
    try:
        info = server.info()
        make_repo(server, "acme/dep", {"a.txt": "A\n", "conf/b.env": "B=1\n", "bin": "\0x"})
        with api(server) as client:
            main = client.get("repos/acme/dep/branches/main").json()["commit"]
            client.post(
                "repos/acme/dep/git/refs", json={"ref": "refs/heads/other", "sha": main["sha"]}
            )
        github = GitHubAPI(info["api_url"], info["token"], UI(), local=True)
        forge = Forge(github, Memo(), "acme/dep")
        before = len(httpx.get(info["admin_url"] + "/requests", timeout=30).json())

        snap = forge.snapshot(None, ["a.txt", "conf/b.env", "missing.txt"])
        assert snap is not None
        assert (snap.branch.name, snap.branch.sha) == ("main", main["sha"])
        assert snap.branch.tree_sha == main["commit"]["tree"]["sha"]
        assert snap.files["a.txt"] is not None and snap.files["a.txt"].text == "A\n"
        assert snap.files["conf/b.env"] is not None and snap.files["conf/b.env"].text == "B=1\n"
        assert snap.files["missing.txt"] is None
        log = httpx.get(info["admin_url"] + "/requests", timeout=30).json()[before:]
        assert [e["path"] for e in log] == ["/api/graphql"]  # one request
        # the files are remembered by commit: reading one again costs nothing
        assert forge.file("a.txt", main["sha"]) == snap.files["a.txt"]
        assert len(httpx.get(info["admin_url"] + "/requests", timeout=30).json()) == before + 1

        other = forge.snapshot("other", [], also=["main", "gone"])
        assert other is not None and other.branch.name == "other" and other.files == {}
        tip = other.others["main"]
        assert tip is not None and tip.branch.sha == main["sha"] and tip.branch.name == "main"
        assert tip.message == "Initial commit"
        assert other.others["gone"] is None
        assert forge.snapshot("nope", ["a.txt"]) is None
        with pytest.raises(RemoteError, match="bin is not a text file"):
            forge.snapshot(None, ["bin"])
        with pytest.raises(RemoteError, match="acme/missing not found"):
            Forge(github, Memo(), "acme/missing").snapshot(None, [])
        github.close()
    finally:
        server.stop()
