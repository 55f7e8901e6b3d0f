"""The sandbox forge's GraphQL schema: a subset of GitHub's, in GitHub's names and shapes.

Objects are plain dicts carrying ``__typename`` (graphql-core resolves interfaces with it),
their scalar fields, and private ``_``-keys the field resolvers below read. Global ids are the
REST ``node_id`` values (``R_1``, ``PR_7``, ``I_7``, ``RE_3``, ``U_1234``,
``REF_owner/name:refs/heads/main``), so ``node(id:)`` finds what REST answered with.
Connections take ``first``/``after`` or ``last``/``before`` (one of ``first``/``last`` is
required, at most 100, as on GitHub); cursors are opaque offsets.

graphql-core is imported inside ``build`` only: nothing imports it until the first GraphQL
request.
"""

from __future__ import annotations

import base64
import subprocess
from typing import TYPE_CHECKING, Any

from releaser.sandbox import gitdata, people, render
from releaser.sandbox.api_pulls import current_shas, merge_tree
from releaser.sandbox.http import ApiError

if TYPE_CHECKING:
    from releaser.sandbox.forge import Forge

SDL = """
scalar URI
scalar GitObjectID
scalar DateTime

interface Node { id: ID! }
interface Actor { avatarUrl(size: Int): URI! login: String! resourcePath: URI! url: URI! }
interface GitObject {
  id: ID!
  oid: GitObjectID!
  abbreviatedOid: String!
  commitUrl: URI!
  repository: Repository!
}

enum OrderDirection { ASC DESC }
enum PullRequestState { OPEN CLOSED MERGED }
enum IssueState { OPEN CLOSED }
enum MergeableState { MERGEABLE CONFLICTING UNKNOWN }
enum PullRequestMergeMethod { MERGE SQUASH REBASE }
enum IssueOrderField { CREATED_AT UPDATED_AT COMMENTS }
enum ReleaseOrderField { CREATED_AT NAME }
enum RefOrderField { TAG_COMMIT_DATE ALPHABETICAL }
input IssueOrder { field: IssueOrderField! direction: OrderDirection! }
input ReleaseOrder { field: ReleaseOrderField! direction: OrderDirection! }
input RefOrder { field: RefOrderField! direction: OrderDirection! }

type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

type User implements Node & Actor {
  id: ID!
  avatarUrl(size: Int): URI!
  login: String!
  name: String
  resourcePath: URI!
  url: URI!
}

type Repository implements Node {
  id: ID!
  name: String!
  nameWithOwner: String!
  url: URI!
  isPrivate: Boolean!
  autoMergeAllowed: Boolean!
  defaultBranchRef: Ref
  ref(qualifiedName: String!): Ref
  refs(refPrefix: String!, first: Int, after: String, last: Int, before: String,
       direction: OrderDirection, orderBy: RefOrder, query: String): RefConnection
  pullRequest(number: Int!): PullRequest
  pullRequests(headRefName: String, baseRefName: String, states: [PullRequestState!],
               labels: [String!], first: Int, after: String, last: Int, before: String,
               orderBy: IssueOrder): PullRequestConnection!
  release(tagName: String!): Release
  releases(first: Int, after: String, last: Int, before: String,
           orderBy: ReleaseOrder): ReleaseConnection!
  issue(number: Int!): Issue
  issues(first: Int, after: String, last: Int, before: String, states: [IssueState!],
         labels: [String!], orderBy: IssueOrder): IssueConnection!
}

type Ref implements Node {
  id: ID!
  name: String!
  prefix: String!
  target: GitObject
  repository: Repository!
}
type RefEdge { cursor: String! node: Ref }
type RefConnection { nodes: [Ref] edges: [RefEdge] pageInfo: PageInfo! totalCount: Int! }

type Commit implements Node & GitObject {
  id: ID!
  oid: GitObjectID!
  abbreviatedOid: String!
  commitUrl: URI!
  url: URI!
  message: String!
  committedDate: DateTime!
  repository: Repository!
  tree: Tree!
  file(path: String!): TreeEntry
}
type Tree implements Node & GitObject {
  id: ID!
  oid: GitObjectID!
  abbreviatedOid: String!
  commitUrl: URI!
  repository: Repository!
}
type Blob implements Node & GitObject {
  id: ID!
  oid: GitObjectID!
  abbreviatedOid: String!
  commitUrl: URI!
  repository: Repository!
  byteSize: Int!
  isBinary: Boolean
  isTruncated: Boolean!
  text: String
}
type TreeEntry {
  name: String!
  path: String
  oid: GitObjectID!
  mode: Int!
  type: String!
  object: GitObject
}
type Tag implements Node & GitObject {
  id: ID!
  oid: GitObjectID!
  abbreviatedOid: String!
  commitUrl: URI!
  name: String!
  message: String
  target: GitObject!
  repository: Repository!
}

type Label { name: String! }
type LabelConnection { nodes: [Label] totalCount: Int! }

type AutoMergeRequest {
  enabledAt: DateTime
  enabledBy: Actor
  mergeMethod: PullRequestMergeMethod!
  commitHeadline: String
  commitBody: String
}

type PullRequest implements Node {
  id: ID!
  number: Int!
  title: String!
  body: String!
  state: PullRequestState!
  isDraft: Boolean!
  merged: Boolean!
  mergedAt: DateTime
  mergeable: MergeableState!
  url: URI!
  headRefName: String!
  baseRefName: String!
  headRefOid: GitObjectID!
  baseRefOid: GitObjectID!
  mergeCommit: Commit
  autoMergeRequest: AutoMergeRequest
  author: Actor
  createdAt: DateTime!
  repository: Repository!
  labels(first: Int): LabelConnection
}
type PullRequestEdge { cursor: String! node: PullRequest }
type PullRequestConnection {
  nodes: [PullRequest] edges: [PullRequestEdge] pageInfo: PageInfo! totalCount: Int!
}

type Release implements Node {
  id: ID!
  tagName: String!
  name: String
  isDraft: Boolean!
  isPrerelease: Boolean!
  url: URI!
  description: String
  createdAt: DateTime!
  publishedAt: DateTime
  tagCommit: Commit
  repository: Repository!
}
type ReleaseEdge { cursor: String! node: Release }
type ReleaseConnection {
  nodes: [Release] edges: [ReleaseEdge] pageInfo: PageInfo! totalCount: Int!
}

type Issue implements Node {
  id: ID!
  number: Int!
  title: String!
  body: String!
  state: IssueState!
  url: URI!
  author: Actor
  createdAt: DateTime!
  repository: Repository!
  labels(first: Int): LabelConnection
}
type IssueEdge { cursor: String! node: Issue }
type IssueConnection { nodes: [Issue] edges: [IssueEdge] pageInfo: PageInfo! totalCount: Int! }

input MarkPullRequestReadyForReviewInput { pullRequestId: ID! clientMutationId: String }
type MarkPullRequestReadyForReviewPayload { clientMutationId: String pullRequest: PullRequest }
input EnablePullRequestAutoMergeInput {
  pullRequestId: ID!
  mergeMethod: PullRequestMergeMethod = MERGE
  commitHeadline: String
  commitBody: String
  authorEmail: String
  expectedHeadOid: GitObjectID
  clientMutationId: String
}
type EnablePullRequestAutoMergePayload {
  clientMutationId: String
  actor: Actor
  pullRequest: PullRequest
}

type Query {
  viewer: User!
  node(id: ID!): Node
  nodes(ids: [ID!]!): [Node]!
  repository(owner: String!, name: String!, followRenames: Boolean = true): Repository
}

type Mutation {
  markPullRequestReadyForReview(
    input: MarkPullRequestReadyForReviewInput!
  ): MarkPullRequestReadyForReviewPayload
  enablePullRequestAutoMerge(
    input: EnablePullRequestAutoMergeInput!
  ): EnablePullRequestAutoMergePayload
}
"""

MAX_PAGE = 100


class Problem(Exception):
    """A resolver error in GitHub's shape: ``type`` is NOT_FOUND, FORBIDDEN, UNPROCESSABLE..."""

    def __init__(self, type_: str, message: str) -> None:
        super().__init__(message)
        self.type = type_


# ---- objects ------------------------------------------------------------------------------


def user_obj(forge: Forge, login: str) -> dict[str, Any]:
    rest = forge.user_json(login)
    doc = people.user_doc(forge, login) or {}
    return {
        "__typename": "User",
        "id": rest["node_id"],
        "login": login,
        "name": doc.get("name"),
        "url": rest["html_url"],
        "avatarUrl": rest["avatar_url"],
        "resourcePath": f"/{login}",
    }


def repo_obj(forge: Forge, doc: dict[str, Any]) -> dict[str, Any]:
    full = str(doc["full_name"])
    return {
        "__typename": "Repository",
        "id": f"R_{doc['id']}",
        "name": full.split("/", 1)[1],
        "nameWithOwner": full,
        "url": forge.repo_html(full),
        "isPrivate": bool(doc.get("private")),
        "autoMergeAllowed": bool(doc.get("allow_auto_merge")),
        "_doc": doc,
        "_full": full,
    }


def object_obj(forge: Forge, full: str, sha: str) -> dict[str, Any] | None:
    """A Commit or (annotated) Tag object, or None for a missing object."""
    kind = gitdata.object_type(forge, full, sha)
    base = {
        "id": f"C_{sha}",
        "oid": sha,
        "abbreviatedOid": sha[:7],
        "commitUrl": f"{forge.repo_html(full)}/commit/{sha}",
        "_full": full,
    }
    if kind == "tag":
        raw = gitdata.read_object(forge, full, sha, "tag").decode("utf-8", "replace")
        head, _, message = raw.partition("\n\n")
        fields = dict(line.split(" ", 1) for line in head.splitlines() if " " in line)
        return {
            **base,
            "__typename": "Tag",
            "id": f"TAG_{sha}",
            "name": fields.get("tag", ""),
            "message": message.rstrip("\n"),
            "_target": fields.get("object", ""),
        }
    if kind == "commit":
        info = render.read_commit(forge, full, sha)
        return {
            **base,
            "__typename": "Commit",
            "url": base["commitUrl"],
            "message": info["message"],
            "committedDate": info["committer"]["date"],
            "_tree": info["tree"],
        }
    return None


def tree_obj(forge: Forge, full: str, commit: str, sha: str) -> dict[str, Any]:
    return {
        "__typename": "Tree",
        "id": f"T_{sha}",
        "oid": sha,
        "abbreviatedOid": sha[:7],
        "commitUrl": f"{forge.repo_html(full)}/commit/{commit}",
        "_full": full,
    }


class BlobReader:
    """``git cat-file --batch`` for one request: every blob it reads, through one process."""

    def __init__(self, forge: Forge, full: str) -> None:
        self.proc = subprocess.Popen(
            ["git", "--git-dir", str(forge.repo_path(full)), "cat-file", "--batch"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=gitdata.git_env(),
        )

    def read(self, sha: str) -> bytes:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{sha}\n".encode())
        self.proc.stdin.flush()
        header = self.proc.stdout.readline().split()
        if len(header) != 3 or header[1] != b"blob":
            raise ApiError(404, "Not Found")
        data = self.proc.stdout.read(int(header[2]))
        self.proc.stdout.read(1)  # the newline after the object
        return data

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def blob_obj(
    forge: Forge, full: str, commit: str, sha: str, readers: dict[str, BlobReader]
) -> dict[str, Any]:
    """A Blob with its text (None when binary: a NUL byte or not UTF-8, as GitHub says).
    ``readers``: the request's ``cat-file --batch`` processes, by repository."""
    reader = readers.get(full)
    if reader is None:
        reader = readers[full] = BlobReader(forge, full)
    data = reader.read(sha)
    try:
        text: str | None = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    binary = text is None or "\0" in text
    return {
        "__typename": "Blob",
        "id": f"B_{sha}",
        "oid": sha,
        "abbreviatedOid": sha[:7],
        "commitUrl": f"{forge.repo_html(full)}/commit/{commit}",
        "byteSize": len(data),
        "isBinary": binary,
        "isTruncated": False,
        "text": None if binary else text,
        "_full": full,
    }


def tree_entry_obj(
    forge: Forge, full: str, commit: str, path: str, listings: dict[str, Any]
) -> dict[str, Any] | None:
    """``Commit.file(path:)``: the entry at ``path`` in that commit's tree, or None. The
    commit's tree is listed once per request (``listings``: the request's cache)."""
    key = f"{full}@{commit}"
    if key not in listings:
        out = gitdata.run(forge, full, "ls-tree", "-r", "-t", "-z", commit, check=False)
        entries = {}
        for item in out.split("\0"):
            if "\t" in item:
                meta, name = item.split("\t", 1)
                entries[name] = meta.split()
        listings[key] = entries
    path = path.strip("/")
    found = listings[key].get(path)
    if found is None:
        return None
    mode, kind, sha = found
    return {
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "oid": sha,
        "mode": int(mode, 8),
        "type": kind,
        "_commit": commit,
        "_full": full,
    }


def ref_obj(forge: Forge, full: str, ref: gitdata.Ref) -> dict[str, Any]:
    parts = ref.name.split("/")
    prefix = "/".join(parts[:2]) + "/"
    return {
        "__typename": "Ref",
        "id": f"REF_{full}:{ref.name}",
        "name": ref.name[len(prefix) :],
        "prefix": prefix,
        "_sha": ref.sha,
        "_full": full,
    }


def pull_obj(forge: Forge, full: str, doc: dict[str, Any]) -> dict[str, Any]:
    pull = doc["pull"]
    head, base = current_shas(forge, full, pull)
    merged = bool(pull.get("merged"))
    if merged or doc["state"] != "open":
        mergeable = "UNKNOWN"
    else:
        mergeable = "MERGEABLE" if merge_tree(forge, full, base, head) else "CONFLICTING"
    auto = pull.get("auto_merge")
    return {
        "__typename": "PullRequest",
        "id": f"PR_{doc['id']}",
        "number": doc["number"],
        "title": doc["title"],
        "body": doc.get("body") or "",
        "state": "MERGED" if merged else str(doc["state"]).upper(),
        "isDraft": bool(pull.get("draft")),
        "merged": merged,
        "mergedAt": pull.get("merged_at"),
        "mergeable": mergeable,
        "url": f"{forge.repo_html(full)}/pull/{doc['number']}",
        "headRefName": pull["head_ref"],
        "baseRefName": pull["base_ref"],
        "headRefOid": head,
        "baseRefOid": base,
        "autoMergeRequest": None
        if not auto
        else {
            "enabledAt": auto.get("enabled_at"),
            "enabledBy": user_obj(forge, auto["enabled_by"]),
            "mergeMethod": str(auto["merge_method"]).upper(),
            "commitHeadline": auto.get("commit_title"),
            "commitBody": auto.get("commit_message"),
        },
        "author": user_obj(forge, str(doc.get("user") or forge.login)),
        "createdAt": doc["created_at"],
        "_merge_sha": pull.get("merge_commit_sha"),
        "_labels": list(doc.get("labels", [])),
        "_full": full,
    }


def issue_obj(forge: Forge, full: str, doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "__typename": "Issue",
        "id": f"I_{doc['id']}",
        "number": doc["number"],
        "title": doc["title"],
        "body": doc.get("body") or "",
        "state": str(doc["state"]).upper(),
        "url": f"{forge.repo_html(full)}/issues/{doc['number']}",
        "author": user_obj(forge, str(doc.get("user") or forge.login)),
        "createdAt": doc["created_at"],
        "_labels": list(doc.get("labels", [])),
        "_full": full,
    }


def release_obj(forge: Forge, full: str, doc: dict[str, Any]) -> dict[str, Any]:
    from urllib.parse import quote

    tag = str(doc["tag_name"])
    html_tag = tag if not doc["draft"] else f"untagged-{doc['id']}"
    return {
        "__typename": "Release",
        "id": f"RE_{doc['id']}",
        "tagName": tag,
        "name": doc.get("name"),
        "isDraft": bool(doc["draft"]),
        "isPrerelease": bool(doc["prerelease"]),
        "url": f"{forge.repo_html(full)}/releases/tag/{quote(html_tag)}",
        "description": doc.get("body"),
        "createdAt": doc["created_at"],
        "publishedAt": doc.get("published_at"),
        "_full": full,
    }


# ---- connections --------------------------------------------------------------------------


def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:{index}".encode()).decode()


def _offset(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        return int(base64.b64decode(cursor).decode().split(":", 1)[1])
    except (ValueError, IndexError):
        message = f"`{cursor}` does not appear to be a valid cursor."
        raise Problem("INVALID_CURSOR_ARGUMENTS", message) from None


def connection(items: list[dict[str, Any]], name: str, args: dict[str, Any]) -> dict[str, Any]:
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise Problem(
            "MISSING_PAGINATION_BOUNDARIES",
            f"You must provide a `first` or `last` value to properly paginate the `{name}` "
            "connection.",
        )
    for key, value in (("first", first), ("last", last)):
        if value is not None and not 0 <= value <= MAX_PAGE:
            raise Problem(
                "EXCESSIVE_PAGINATION",
                f"Requesting {value} records on the `{name}` connection exceeds the `{key}` "
                f"limit of {MAX_PAGE} records.",
            )
    start, end = 0, len(items)
    after, before = _offset(args.get("after")), _offset(args.get("before"))
    if after is not None:
        start = after + 1
    if before is not None:
        end = min(end, before)
    if first is not None:
        end = min(end, start + first)
    if last is not None:
        start = max(start, end - last)
    window = list(enumerate(items))[start:end]
    return {
        "nodes": [item for _, item in window],
        "edges": [{"cursor": _cursor(i), "node": item} for i, item in window],
        "pageInfo": {
            "hasNextPage": end < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": _cursor(window[0][0]) if window else None,
            "endCursor": _cursor(window[-1][0]) if window else None,
        },
        "totalCount": len(items),
    }


def ordered(
    docs: list[dict[str, Any]], order: dict[str, Any] | None, keys: dict[str, str]
) -> list[dict[str, Any]]:
    """Documents sorted by an ``IssueOrder``/``ReleaseOrder`` (default: oldest first)."""
    field = (order or {}).get("field", "CREATED_AT")
    key = keys.get(field, "created_at")
    docs = sorted(docs, key=lambda d: (str(d.get(key) or ""), int(d["id"])))
    if (order or {}).get("direction") == "DESC":
        docs.reverse()
    return docs
