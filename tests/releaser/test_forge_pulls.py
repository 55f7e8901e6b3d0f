"""``Forge`` and pull requests: one opened meanwhile by another driver is the answer."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from releaser.clients.github import GitHubAPI
from releaser.errors import HTTPError
from releaser.forge import Forge
from releaser.memo import Memo
from releaser.sandbox.server import SandboxServer
from releaser.ui import UI
from tests.sandbox.helpers import api, make_repo


def test_a_pull_request_opened_meanwhile_is_the_answer_not_a_second_one(tmp_path: Path) -> None:
    """A take-over's racing write: alice's PR from the same branch landed just before
    bob's: his create returns hers, and the forge holds one."""
    server = SandboxServer(tmp_path / "forge").start()
    try:
        info = server.info()
        make_repo(server, "acme/lib", {"a.txt": "A\n"})
        with api(server) as client:
            main = client.get("repos/acme/lib/branches/main").json()["commit"]["sha"]
            client.post("repos/acme/lib/git/refs", json={"ref": "refs/heads/merge", "sha": main})
            tree = client.post(
                "repos/acme/lib/git/trees",
                json={
                    "tree": [{"path": "b.txt", "mode": "100644", "type": "blob", "content": "B"}]
                },
            ).json()["sha"]
            commit = client.post(
                "repos/acme/lib/git/commits",
                json={"message": "b", "tree": tree, "parents": [main]},
            ).json()["sha"]
            client.patch("repos/acme/lib/git/refs/heads/merge", json={"sha": commit})
            alices = client.post(
                "repos/acme/lib/pulls", json={"head": "merge", "base": "main", "title": "alice's"}
            ).json()
        github = GitHubAPI(info["api_url"], info["token"], UI(), local=True)
        forge = Forge(github, Memo(), "acme/lib")
        pull = forge.create_pull("merge", "main", "bob's", "")
        assert pull.number == alices["number"] and pull.title == "alice's"
        listed = httpx.get(
            info["api_url"] + "/repos/acme/lib/pulls",
            params={"state": "all"},
            headers={"Authorization": f"token {info['token']}"},
            timeout=30,
        ).json()
        assert len(listed) == 1
        with pytest.raises(HTTPError):  # any other refusal is still an error
            forge.create_pull("nope", "main", "no such branch", "")
        github.close()
    finally:
        server.stop()
