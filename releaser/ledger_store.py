"""The ledger on the forge: ``ledger.json`` in commits on ``refs/<ref>``, moved without force.

Read: the ref (1 GET) and the file at that commit (1 GET). Write: a tree and a commit whose
parent is the tip read, then a ref update with ``force=false``; the forge refuses it (422)
when someone else appended first, and the caller re-reads and retries.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from github import GithubException, InputGitTreeElement

if TYPE_CHECKING:
    from releaser.clients.github import GitHub

FILE = "ledger.json"


class ForgeRefStore:
    def __init__(self, github: GitHub, ref: str) -> None:
        self.github = github
        self.ref = ref  # e.g. "releaser/v1.2.0" (full ref: refs/releaser/v1.2.0)

    def read(self) -> tuple[str | None, dict[str, Any]]:
        repo = self.github.repo
        try:
            sha = repo.get_git_ref(self.ref).object.sha
        except GithubException as exc:
            if exc.status == 404:
                return None, {"entries": []}
            raise
        content = repo.get_contents(FILE, ref=sha)
        assert not isinstance(content, list)
        return sha, json.loads(base64.b64decode(content.content))

    def write(self, base: str | None, doc: dict[str, Any], message: str) -> bool:
        repo = self.github.repo
        text = json.dumps(doc, indent=1, sort_keys=True) + "\n"
        tree = repo.create_git_tree(
            [InputGitTreeElement(FILE, "100644", "blob", content=text)]
        )
        parents = [repo.get_git_commit(base)] if base else []
        commit = repo.create_git_commit(message, tree, parents)
        try:
            if base is None:
                repo.create_git_ref(f"refs/{self.ref}", commit.sha)
            else:
                repo.get_git_ref(self.ref).edit(commit.sha, force=False)
        except GithubException as exc:
            if exc.status in (409, 422):
                return False  # someone appended first: re-read and retry
            raise
        return True
