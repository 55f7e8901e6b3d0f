"""The ledger on the forge: ``ledger.json`` in commits on ``refs/<ref>``, moved without force.

Requests, and nothing more (raw REST calls: PyGithub's objects would add lazy GETs):

- read: the first, one GraphQL query (the ref's tip and ``ledger.json`` in that very commit);
  after that ``GET git/ref/<ref>`` (the tip, conditional: 304 while unmoved; 404: no ledger
  yet), and only when it moved ``GET contents/ledger.json?ref=<tip>`` (the document at
  exactly that commit);
- write: ``POST git/trees`` (the file inline), ``POST git/commits`` (parent: the tip read;
  no GET of it), then ``PATCH git/refs/<ref>`` with ``force: false`` (or ``POST git/refs``
  for the first entry). The forge refuses a non-fast-forward update (422) or a ref that
  already exists (422), and a concurrent move (409): someone appended first, the caller
  re-reads and retries.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from releaser.errors import HTTPError, RemoteError, Unreachable

if TYPE_CHECKING:
    from releaser.clients.github import GitHubAPI

FILE = "ledger.json"
# The tip and the document at it, in one round trip (a command's first read of the ledger).
FIRST_READ = """query($owner: String!, $name: String!, $ref: String!) {
  repository(owner: $owner, name: $name) {
    ref(qualifiedName: $ref) {
      target { oid ... on Commit {
        file(path: "ledger.json") { object { ... on Blob { text isTruncated } } }
      } }
    }
  }
}"""  # ledger.json: FILE
# What a forge says when a compare-and-swap lost (GitHub and the sandbox alike).
CONFLICTS = ("fast forward", "fast-forward", "already exists", "moved")


class ForgeRefStore:
    def __init__(
        self, api: GitHubAPI, repo: str, ref: str, author: dict[str, str] | None = None
    ) -> None:
        self.api = api
        self.ref = ref  # e.g. "releaser/v1.2.0" (full ref: refs/releaser/v1.2.0)
        self.author = author
        self._repo = f"/repos/{repo}"
        self._read: tuple[str, str] | None = None  # (tip, ledger.json) of the last read

    def _call(
        self, method: str, path: str, params: dict[str, str] | None = None, body: Any = None
    ) -> tuple[int, Any]:
        """(status, decoded body); a refused token or scope raises CredentialError (exit 2)
        in the client; other errors come back as a status for the caller to judge."""
        try:
            response = self.api.request(
                method,
                self._repo + path,
                params=params,
                json_body=body,
                ok=(404, 409, 422),
                fenced=False,  # the ledger's own writes are how a claim is checked
            )
        except HTTPError as exc:
            return exc.status, exc.body
        return response.status_code, response.json() if response.content else None

    def _fail(self, what: str, status: int, data: Any) -> RemoteError:
        message = data.get("message") if isinstance(data, dict) else data
        return RemoteError(
            f"{what} of the ledger refs/{self.ref} failed: the forge answered {status}: {message}",
            "re-run the command (it is safe); check the token can write refs to the repository",
        )

    def tip(self) -> str | None:
        status, data = self._call("GET", f"/git/ref/{quote(self.ref)}")
        if status == 404:
            return None
        if status != 200 or not isinstance(data, dict) or "object" not in data:
            raise self._fail("reading the tip", status, data)
        return str(data["object"]["sha"])

    def read(self) -> tuple[str | None, dict[str, Any]]:
        if self._read is None:
            first = self._first_read()
            if first is not None:
                return first
        sha = self.tip()
        if sha is None:
            return None, {"entries": []}
        if self._read is not None and self._read[0] == sha:
            # the document at a commit never changes: re-reading the same tip (every stage
            # of a command does) costs the ref's read only
            return sha, json.loads(self._read[1])
        found, doc = self._read_at(sha)
        self._read = (sha, json.dumps(doc))
        return found, doc

    def _first_read(self) -> tuple[str | None, dict[str, Any]] | None:
        """The tip and the document in one GraphQL query; None when that query can't say
        (refused, an unexpected shape, a document too large to come inline): the REST reads
        decide then."""
        owner, name = self._repo.removeprefix("/repos/").split("/", 1)
        variables = {"owner": owner, "name": name, "ref": f"refs/{self.ref}"}
        try:
            data = self.api.graphql(FIRST_READ, variables) or {}
        except Unreachable:
            raise
        except RemoteError:  # e.g. the repository is invisible: the REST reads say how
            return None
        repository = data.get("repository") if isinstance(data, dict) else None
        if not isinstance(repository, dict):
            return None
        ref = repository.get("ref")
        if ref is None:
            return None, {"entries": []}
        target = ref.get("target") or {}
        blob = (target.get("file") or {}).get("object") or {}
        text = blob.get("text")
        sha = target.get("oid")
        if not isinstance(sha, str) or not isinstance(text, str) or blob.get("isTruncated"):
            return None
        doc = self._parse(sha, text.encode())
        self._read = (sha, json.dumps(doc))
        return sha, doc

    def _read_at(self, sha: str) -> tuple[str, dict[str, Any]]:
        status, data = self._call("GET", f"/contents/{FILE}", params={"ref": sha})
        if status != 200 or not isinstance(data, dict):
            raise self._fail("reading", status, data)
        if data.get("encoding") == "base64" and data.get("content") is not None:
            raw = base64.b64decode(data["content"])
        else:  # over 1 MB the contents API leaves the content out: read the blob
            status, blob = self._call("GET", f"/git/blobs/{data['sha']}")
            if status != 200 or not isinstance(blob, dict):
                raise self._fail("reading", status, blob)
            raw = base64.b64decode(blob["content"])
        return sha, self._parse(sha, raw)

    def _parse(self, sha: str, raw: bytes) -> dict[str, Any]:
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            raise RemoteError(
                f"the ledger refs/{self.ref} at {sha[:12]} is not valid JSON",
                "someone edited it by hand: fix or revert that commit",
            ) from exc
        return doc if isinstance(doc, dict) else {"entries": []}

    def write(self, base: str | None, doc: dict[str, Any], message: str) -> str | None:
        text = json.dumps(doc, indent=1, sort_keys=True) + "\n"
        entry = {"path": FILE, "mode": "100644", "type": "blob", "content": text}
        status, tree = self._call("POST", "/git/trees", body={"tree": [entry]})
        if status != 201:
            raise self._fail("writing (tree)", status, tree)
        commit_input: dict[str, Any] = {
            "message": message,
            "tree": tree["sha"],
            "parents": [base] if base else [],
        }
        if self.author:
            commit_input["author"] = dict(self.author)
        status, commit = self._call("POST", "/git/commits", body=commit_input)
        if status != 201:
            raise self._fail("writing (commit)", status, commit)
        if base is None:
            status, data = self._call(
                "POST", "/git/refs", body={"ref": f"refs/{self.ref}", "sha": commit["sha"]}
            )
            ok = status == 201
        else:
            status, data = self._call(
                "PATCH",
                f"/git/refs/{quote(self.ref)}",
                body={"sha": commit["sha"], "force": False},
            )
            ok = status == 200
        if ok:
            self._read = (str(commit["sha"]), json.dumps(doc))  # what that commit holds
            return str(commit["sha"])
        message_text = str(data.get("message", "")) if isinstance(data, dict) else str(data)
        if status == 409 or (status == 422 and any(c in message_text.lower() for c in CONFLICTS)):
            return None  # someone appended first: re-read and retry
        raise self._fail("moving the tip", status, data)
