"""The forge facade: every forge operation a step makes, typed, memoised, errors mapped once.

Steps see ``ctx.forge``, a :class:`Forge` bound to the project's repository
(``ctx.forge.other("owner/name")`` for another one). Reads are memoised in the command's one
:class:`~releaser.memo.Memo` (the engine forgets them after each write); they return the
plain dataclasses of :mod:`releaser.models` or None when a thing does not exist. Writes
return what the forge answered. Errors are the project's own (:mod:`releaser.errors`):
:class:`AlreadyExists` for a create that lost a race or repeats an applied write, and the HTTP
client's mapping for the rest.

One rule per lookup, here and nowhere else: e.g. :meth:`Forge.find_pull` is the only way a
pull request is found from its branches.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from releaser.errors import HTTPError, RemoteError
from releaser.models import (
    Artifact,
    Asset,
    Branch,
    Check,
    Comment,
    Commit,
    File,
    Issue,
    Job,
    PullRequest,
    Ref,
    Release,
    Repository,
    Review,
    Viewer,
    Workflow,
    WorkflowRun,
)

if TYPE_CHECKING:
    from releaser.clients.github import GitHubAPI
    from releaser.memo import Memo


class AlreadyExists(RemoteError):
    """The forge refused a create because the object exists (422 ``already_exists``)."""


@dataclass(frozen=True)
class Comparison:
    """``base...head``: the commits of head not in base (oldest first) and the merge base."""

    commits: list[Commit]
    merge_base: Commit
    status: str = ""  # ahead, behind, identical or diverged (head relative to base)


# Repository roles, weakest first (GitHub's names; its older pull/push mean read/write).
ROLES = ("read", "triage", "write", "maintain", "admin")
_ROLE_ALIASES = {"pull": "read", "push": "write"}


def role_name(value: str | None) -> str | None:
    """A role in GitHub's current names (``push`` -> ``write``); None for none or unknown."""
    name = _ROLE_ALIASES.get(str(value), str(value)) if value else None
    return name if name in ROLES else None


UNKNOWN_ROLE = "unknown"  # the forge doesn't say (an app's installation token)


def at_least(role: str | None, needed: str) -> bool:
    """Whether ``role`` includes ``needed`` (``maintain`` includes ``write``)."""
    return role in ROLES and ROLES.index(str(role)) >= ROLES.index(needed)


def lacks(role: str | None, needed: str) -> bool:
    """Whether ``role`` is known not to include ``needed`` (an unknown role isn't)."""
    return role != UNKNOWN_ROLE and not at_least(role, needed)


_PERMISSION_KEY = {
    "read": "pull",
    "triage": "triage",
    "write": "push",
    "maintain": "maintain",
    "admin": "admin",
}


@dataclass(frozen=True)
class Tip:
    """A branch's head commit and its message."""

    branch: Branch
    message: str


@dataclass(frozen=True)
class Snapshot:
    """A branch's head and some of its files, read together (the files are exactly those of
    that commit; None: not there), and the heads of other branches (None: no such branch)."""

    branch: Branch
    files: dict[str, File | None]
    message: str = ""  # the head commit's message
    others: dict[str, Tip | None] = field(default_factory=dict)


def _tip(ref: Any) -> Tip | None:
    """A Tip from a GraphQL ``Ref`` with its commit target (None: no such branch)."""
    target = (ref or {}).get("target") or {}
    if not target.get("oid"):
        return None
    branch = Branch(str(ref["name"]), str(target["oid"]), str(target["tree"]["oid"]))
    return Tip(branch, str(target.get("message") or ""))


def _already_exists(exc: HTTPError) -> bool:
    return exc.status == 422 and "already" in str(exc.body).lower()


class Forge:
    """One repository on the forge, through the GitHub API client and the command's memo."""

    def __init__(self, api: GitHubAPI, memo: Memo, repo: str) -> None:
        self.api = api
        self.memo = memo
        self.repo = repo  # owner/name
        self.owner = repo.split("/", 1)[0]
        self._path = f"/repos/{repo}"

    def other(self, repo: str) -> Forge:
        """Another repository (a downstream, a workflow's home), same client and memo."""
        return self if repo == self.repo else Forge(self.api, self.memo, repo)

    def _memo(self, *key: Any, compute: Any) -> Any:
        return self.memo.get(("forge", self.repo, *key), compute)

    # -- the repository --------------------------------------------------------------------

    def repository(self) -> Repository:
        """The repository (404: a clear error naming it and the config key)."""
        found = self.find_repository()
        if found is None:
            raise RemoteError(
                f"repository {self.repo} not found on {self.api.base_url}",
                "check [project] repo in releaser.toml and that the token can read it",
            )
        return found

    def find_repository(self) -> Repository | None:
        """The repository, with the token user's ``permissions``; None when the token can't
        see it."""

        def read() -> Repository | None:
            data = self.api.find_json(self._path)
            return None if data is None else Repository.from_json(data)

        result: Repository | None = self._memo("repository", compute=read)
        return result

    @property
    def html_url(self) -> str:
        return self.repository().html_url

    def login(self) -> str:
        """The token's user ("" for an app's installation token, which is no user)."""
        return self.viewer().login

    def viewer(self) -> Viewer:
        """The token's user and its OAuth scopes (one ``GET /user`` per command: a write
        can't change who the token is, so the engine's forgetting keeps it)."""

        def read() -> Viewer:
            try:
                response = self.api.request("GET", "/user")
            except HTTPError as exc:
                if exc.status != 403:
                    raise
                # an app's installation token (the Actions job token) is no user
                return Viewer("", None)
            header = response.headers.get("x-oauth-scopes")
            scopes = None
            if header is not None:
                scopes = frozenset(s.strip() for s in header.split(",") if s.strip())
            return Viewer(str(response.json()["login"]), scopes)

        result: Viewer = self.memo.lasting(("forge", "viewer"), read)
        return result

    # -- people and permissions ------------------------------------------------------------

    def my_role(self) -> str | None:
        """The token user's role on this repository (None: it can't see it;
        ``UNKNOWN_ROLE`` when the forge doesn't say, as for an app's installation token)."""
        repository = self.find_repository()
        if repository is None:
            return None
        flags = repository.permissions
        if not flags:
            return UNKNOWN_ROLE
        return next((r for r in reversed(ROLES) if flags.get(_PERMISSION_KEY[r])), None)

    def role_of(self, login: str) -> str | None:
        """``login``'s role on this repository (None: none), as the forge reports it."""

        def read() -> str | None:
            data = self.api.find_json(f"{self._path}/collaborators/{quote(login)}/permission")
            if data is None:
                return None
            return role_name(data.get("role_name")) or role_name(data.get("permission"))

        result: str | None = self._memo("role-of", login.lower(), compute=read)
        return result

    def people_with(self, needed: str) -> list[str] | None:
        """Logins with at least ``needed`` on this repository (None: the token may not list
        them: listing collaborators needs push access)."""

        def read() -> list[str] | None:
            try:
                items = list(self.api.paginate(f"{self._path}/collaborators"))
            except HTTPError as exc:
                if exc.status in (403, 404):
                    return None
                raise
            found = []
            for item in items:
                role = role_name(item.get("role_name"))
                if role is None:
                    flags = item.get("permissions") or {}
                    role = next((r for r in reversed(ROLES) if flags.get(_PERMISSION_KEY[r])), None)
                if at_least(role, needed):
                    found.append(str(item["login"]))
            return found

        result: list[str] | None = self._memo("people-with", needed, compute=read)
        return result

    def team_role(self, org: str, slug: str, login: str) -> str | None:
        """``member`` or ``maintainer`` when ``login`` is an active member of ``org/slug``;
        None when not (or when the token can't see the team: only its org's members can)."""

        def read() -> str | None:
            data = self.api.find_json(
                f"/orgs/{quote(org)}/teams/{quote(slug)}/memberships/{quote(login)}"
            )
            if data is None or data.get("state") != "active":
                return None
            return str(data.get("role") or "member")

        key = ("forge", "team-role", org.lower(), slug.lower(), login.lower())
        result: str | None = self.memo.get(key, read)
        return result

    def team_visible(self, org: str, slug: str) -> bool:
        """Whether the token can see the team ``org/slug`` (its org's members can; others
        get 404, as for a team that doesn't exist)."""
        path = f"/orgs/{quote(org)}/teams/{quote(slug)}/members"

        def read() -> bool:
            return self.api.find_json(path, params={"per_page": 1}) is not None

        key = ("forge", "team-visible", org.lower(), slug.lower())
        return bool(self.memo.get(key, read))

    # -- checks ----------------------------------------------------------------------------

    def checks(self, sha: str) -> list[Check]:
        """Every check reported on a commit: the latest commit status of each context (the
        combined status) and the latest check run of each check (``filter=latest``)."""

        def read() -> list[Check]:
            combined = self.api.get_json(
                f"{self._path}/commits/{sha}/status", params={"per_page": 100}
            )
            found = [Check.from_status(s) for s in combined.get("statuses") or []]
            runs = self.api.paginate(f"{self._path}/commits/{sha}/check-runs", {"filter": "latest"})
            found += [Check.from_check_run(r) for r in runs]
            return found

        result: list[Check] = self._memo("checks", sha, compute=read)
        return result

    # -- branches, files, commits ----------------------------------------------------------

    def branch(self, name: str, *, fresh: bool = False) -> Branch | None:
        """A branch (None when absent); ``fresh``: read it again (right before moving it)."""
        if fresh:
            self.memo.drop(("forge", self.repo, "branch", name))

        def read() -> Branch | None:
            data = self.api.find_json(f"{self._path}/branches/{quote(name, safe='')}")
            return None if data is None else Branch.from_json(data)

        result: Branch | None = self._memo("branch", name, compute=read)
        return result

    def file(self, path: str, ref: str) -> File | None:
        """A file's text at a ref (None when absent; a directory is an error)."""

        def read() -> File | None:
            data = self.api.find_json(f"{self._path}/contents/{quote(path)}", params={"ref": ref})
            if data is None:
                return None
            if isinstance(data, list):
                raise RemoteError(f"{path} is a directory, not a file")
            if data.get("content") is None or data.get("encoding") != "base64":
                blob = self.api.get_json(f"{self._path}/git/blobs/{data['sha']}")
                data = {**data, "content": blob["content"]}
            text = base64.b64decode(data["content"]).decode("utf-8")
            return File(path, text, str(data["sha"]))

        result: File | None = self._memo("file", path, ref, compute=read)
        return result

    def snapshot(
        self, branch: str | None, paths: Sequence[str] = (), also: Sequence[str] = ()
    ) -> Snapshot | None:
        """The head of ``branch`` (None: the default branch), its message and the text of
        ``paths`` in that very commit, and the heads of the branches in ``also``, in one
        request (GraphQL); None when ``branch`` does not exist.

        One read instead of one per file, per branch and for the repository: what makes
        reading many repositories at once cheap. A binary file is an error.
        """

        def read() -> Snapshot | None:
            files = " ".join(
                f"f{i}: file(path: $p{i}) {{ object {{ ... on Blob {{ oid text isBinary }} }} }}"
                for i in range(len(paths))
            )
            commit = "target { ... on Commit { oid message tree { oid } %s } }"
            ref = "ref(qualifiedName: $ref)" if branch else "defaultBranchRef"
            others = " ".join(
                f"o{i}: ref(qualifiedName: $o{i}) {{ name {commit % ''} }}"
                for i in range(len(also))
            )
            params = "".join(f", $p{i}: String!" for i in range(len(paths)))
            params += "".join(f", $o{i}: String!" for i in range(len(also)))
            params += ", $ref: String!" if branch else ""
            query = (
                f"query($owner: String!, $name: String!{params}) {{ repository(owner: $owner, "
                f"name: $name) {{ head: {ref} {{ name {commit % files} }} {others} }} }}"
            )
            owner, name = self.repo.split("/", 1)
            variables: dict[str, Any] = {"owner": owner, "name": name}
            variables.update({f"p{i}": path for i, path in enumerate(paths)})
            variables.update({f"o{i}": f"refs/heads/{b}" for i, b in enumerate(also)})
            if branch:
                variables["ref"] = f"refs/heads/{branch}"
            try:
                data = self.api.graphql(query, variables) or {}
            except RemoteError:
                self.repository()  # a missing repository: the clear error naming it
                raise
            repository = data.get("repository")
            if repository is None:
                self.repository()
                return None
            head = _tip(repository.get("head"))
            if head is None:
                return None
            target = repository["head"]["target"]
            found: dict[str, File | None] = {}
            for i, path in enumerate(paths):
                blob = (target.get(f"f{i}") or {}).get("object")
                if blob is None:
                    found[path] = None
                    continue
                if blob.get("isBinary") or blob.get("text") is None:
                    raise RemoteError(f"{self.repo}: {path} is not a text file")
                found[path] = File(path, str(blob["text"]), str(blob["oid"]))
                self.memo.put(("forge", self.repo, "file", path, head.branch.sha), found[path])
            tips = {b: _tip(repository.get(f"o{i}")) for i, b in enumerate(also)}
            return Snapshot(head.branch, found, head.message, tips)

        key = ("snapshot", branch, tuple(paths), tuple(also))
        result: Snapshot | None = self._memo(*key, compute=read)
        return result

    def commit(self, sha: str) -> Commit:
        result: Commit = self._memo(
            "commit",
            sha,
            compute=lambda: Commit.from_json(self.api.get_json(f"{self._path}/commits/{sha}")),
        )
        return result

    def commit_message(self, sha: str) -> str:
        """A commit's message (the Git Data API: no file statistics to compute)."""
        result: str = self._memo(
            "commit-message",
            sha,
            compute=lambda: str(self.api.get_json(f"{self._path}/git/commits/{sha}")["message"]),
        )
        return result

    def commits(self, sha: str, limit: int = 1000) -> list[Commit]:
        """History from ``sha`` (newest first), at most ``limit`` commits."""

        def read() -> list[Commit]:
            out = []
            for item in self.api.paginate(f"{self._path}/commits", {"sha": sha}):
                out.append(Commit.from_json(item))
                if len(out) >= limit:
                    break
            return out

        result: list[Commit] = self._memo("commits", sha, limit, compute=read)
        return result

    def compare(self, base: str, head: str) -> Comparison:
        def read() -> Comparison:
            data = self.api.get_json(f"{self._path}/compare/{quote(base)}...{quote(head)}")
            return Comparison(
                [Commit.from_json(c) for c in data.get("commits") or []],
                Commit.from_json(data["merge_base_commit"]),
                str(data.get("status") or ""),
            )

        result: Comparison = self._memo("compare", base, head, compute=read)
        return result

    def refs(self, prefix: str) -> list[Ref]:
        """Refs under ``prefix`` (``tags/``, ``heads/release-``), one listing."""

        def read() -> list[Ref]:
            items = self.api.paginate(f"{self._path}/git/matching-refs/{prefix}")
            return [Ref(str(r["ref"]), str(r["object"]["sha"])) for r in items]

        result: list[Ref] = self._memo("refs", prefix, compute=read)
        return result

    def tag_object(self, sha: str) -> dict[str, Any] | None:
        """An annotated tag object as the API gives it (``GET git/tags/{sha}``: tag, message,
        tagger, object, verification), None when there is none. ``Git.read_tag`` reads tags
        through it: one request instead of fetching a pack."""

        def read() -> dict[str, Any] | None:
            data = self.api.find_json(f"{self._path}/git/tags/{sha}")
            return data if isinstance(data, dict) else None

        result: dict[str, Any] | None = self._memo("tag-object", sha, compute=read)
        return result

    def create_branch(self, name: str, sha: str) -> None:
        self._create_ref(f"refs/heads/{name}", sha)

    def _create_ref(self, ref: str, sha: str) -> None:
        try:
            self.api.send_json("POST", f"{self._path}/git/refs", {"ref": ref, "sha": sha})
        except HTTPError as exc:
            if _already_exists(exc):
                raise AlreadyExists(f"{ref} already exists") from exc
            raise

    def move_branch(self, name: str, sha: str, *, force: bool = False) -> None:
        """Point a branch at ``sha`` (fast-forward only unless ``force``)."""
        self.api.send_json(
            "PATCH", f"{self._path}/git/refs/heads/{quote(name)}", {"sha": sha, "force": force}
        )

    def make_commit(
        self,
        parent: str,
        parent_tree: str,
        files: Mapping[str, str | bytes | None],
        message: str,
        author: Mapping[str, str] | None = None,
    ) -> tuple[str, str]:
        """A commit on top of ``parent`` writing ``files`` (no ref moves); (sha, tree sha).

        A ``str`` is a text file's content, ``bytes`` a binary file's (sent as a blob first),
        None deletes the file. The blob, tree and commit are not fenced: an object no ref
        points at is invisible, and the ref write that publishes it is fenced."""
        entries: list[dict[str, Any]] = []
        for path, content in files.items():
            entry: dict[str, Any] = {"path": path, "mode": "100644", "type": "blob"}
            if content is None:
                entry["sha"] = None
            elif isinstance(content, bytes):
                blob = self.api.send_json(
                    "POST",
                    f"{self._path}/git/blobs",
                    {"content": base64.b64encode(content).decode(), "encoding": "base64"},
                    fenced=False,
                )
                entry["sha"] = str(blob["sha"])
            else:
                entry["content"] = content
            entries.append(entry)
        tree = self.api.send_json(
            "POST",
            f"{self._path}/git/trees",
            {"base_tree": parent_tree, "tree": entries},
            fenced=False,
        )
        body: dict[str, Any] = {"message": message, "tree": tree["sha"], "parents": [parent]}
        if author:
            body["author"] = dict(author)
            body["committer"] = dict(author)
        commit = self.api.send_json("POST", f"{self._path}/git/commits", body, fenced=False)
        return str(commit["sha"]), str(tree["sha"])

    def commit_files(
        self,
        branch: str,
        base: Branch,
        files: Mapping[str, str | bytes | None],
        message: str,
        author: Mapping[str, str] | None = None,
    ) -> Branch:
        """One commit on ``branch`` (whose head is ``base``) writing ``files``; the new head.

        Tree, commit, then a fast-forward ref update: if the branch moved meanwhile the forge
        refuses and nothing changed (the tree and commit are unreferenced objects).
        """
        sha, tree = self.make_commit(base.sha, base.tree_sha, files, message, author)
        self.move_branch(branch, sha)
        head = replace(base, name=branch, sha=sha, tree_sha=tree)
        self.memo.put(("forge", self.repo, "branch", branch), head)
        return head

    # -- pull requests ---------------------------------------------------------------------

    def pulls(self, head: str, base: str) -> list[PullRequest]:
        """Every pull request (open, merged, closed) from branch ``head`` into ``base``."""

        def read() -> list[PullRequest]:
            label = f"{self.owner}:{head}"
            if ("forge", self.repo, "pulls-from", head) in self.memo:  # read whatever the base
                return [p for p in self.pulls_from(head) if p.base_ref == base]
            every, more = self._first_page("/pulls", {"state": "all", "base": base})
            if not more:  # one page holds every pull request into base: it serves every head
                return [PullRequest.from_json(p) for p in every if _head_label(p) == label]
            params = {"state": "all", "head": label, "base": base}
            return [
                PullRequest.from_json(p) for p in self.api.paginate(self._path + "/pulls", params)
            ]

        result: list[PullRequest] = self._memo("pulls", head, base, compute=read)
        return result

    def pulls_from(self, head: str) -> list[PullRequest]:
        """Every pull request from branch ``head``, whatever its base: a read that needs no
        base, so a caller may make it while it learns the base (``pulls`` then uses it)."""

        def read() -> list[PullRequest]:
            params = {"state": "all", "head": f"{self.owner}:{head}"}
            return [
                PullRequest.from_json(p) for p in self.api.paginate(self._path + "/pulls", params)
            ]

        result: list[PullRequest] = self._memo("pulls-from", head, compute=read)
        return result

    def _first_page(self, path: str, params: Mapping[str, Any]) -> tuple[list[Any], bool]:
        """The first page of a listing of the repository (memoised: one read serves every
        lookup in it) and whether more pages follow."""
        from releaser.clients.github import PER_PAGE

        def read() -> tuple[list[Any], bool]:
            query = {"per_page": PER_PAGE, **params}
            response = self.api.request("GET", self._path + path, params=query)
            body = response.json()
            return (body if isinstance(body, list) else []), "next" in response.links

        key = json.dumps(sorted(params.items()))
        result: tuple[list[Any], bool] = self._memo("first-page", path, key, compute=read)
        return result

    def find_pull(self, head: str, base: str) -> PullRequest | None:
        """THE pull request from ``head`` into ``base``: an open one, else a merged one, else a
        closed one; the newest of its kind. Callers decide what a closed one means."""
        rank = {"open": 3, "draft": 3, "merged": 2, "closed": 1}
        pulls = self.pulls(head, base)
        return max(pulls, key=lambda p: (rank[p.status], p.number)) if pulls else None

    def pull(self, number: int) -> PullRequest:
        result: PullRequest = self._memo(
            "pull",
            number,
            compute=lambda: PullRequest.from_json(
                self.api.get_json(f"{self._path}/pulls/{number}")
            ),
        )
        return result

    def reviews(self, number: int) -> list[Review]:
        """The reviews of a pull request, oldest first."""
        result: list[Review] = self._memo(
            "reviews",
            number,
            compute=lambda: [
                Review.from_json(r)
                for r in self.api.paginate(f"{self._path}/pulls/{number}/reviews")
            ],
        )
        return result

    def closed_pulls(self) -> Iterator[PullRequest]:
        """Closed pull requests, most recently updated first (read page by page)."""
        params = {"state": "closed", "sort": "updated", "direction": "desc"}
        for item in self.api.paginate(self._path + "/pulls", params):
            yield PullRequest.from_json(item)

    def create_pull(
        self, head: str, base: str, title: str, body: str, *, draft: bool = False
    ) -> PullRequest:
        """Open a pull request from ``head`` into ``base``. When the forge says one is open
        already (another driver's write landed first: a take-over's racing write), that one
        is the answer: the same branch into the same base is the same change."""
        try:
            data = self.api.send_json(
                "POST",
                self._path + "/pulls",
                {"head": head, "base": base, "title": title, "body": body, "draft": draft},
            )
        except HTTPError as exc:
            if not _already_exists(exc):
                raise
            params = {"state": "open", "head": f"{self.owner}:{head}", "base": base}
            found = [
                PullRequest.from_json(p) for p in self.api.paginate(self._path + "/pulls", params)
            ]
            if not found:
                raise
            return max(found, key=lambda p: p.number)
        return PullRequest.from_json(data)

    def update_pull(self, number: int, **fields: Any) -> PullRequest:
        """Change a pull request's title, body, state or base."""
        data = self.api.send_json("PATCH", f"{self._path}/pulls/{number}", fields)
        return PullRequest.from_json(data)

    def merge_pull(self, number: int, sha: str | None = None, method: str = "merge") -> str:
        """Merge (``merge`` / ``squash`` / ``rebase``), only if the head is still ``sha``;
        the merge commit's sha."""
        body: dict[str, Any] = {"merge_method": method}
        if sha:
            body["sha"] = sha
        data = self.api.send_json("PUT", f"{self._path}/pulls/{number}/merge", body)
        return str(data.get("sha") or "")

    def mark_ready(self, pull: PullRequest) -> None:
        """A draft pull request marked ready for review (GraphQL; REST cannot)."""
        self.api.graphql(
            "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id})"
            " { pullRequest { isDraft } } }",
            {"id": pull.node_id},
        )

    def enable_auto_merge(self, pull: PullRequest, method: str = "MERGE") -> None:
        self.api.graphql(
            "mutation($id: ID!, $m: PullRequestMergeMethod) { enablePullRequestAutoMerge("
            "input: {pullRequestId: $id, mergeMethod: $m}) { pullRequest { number } } }",
            {"id": pull.node_id, "m": method},
        )

    def request_reviewers(
        self, number: int, users: list[str], teams: list[str] | None = None
    ) -> None:
        self.api.send_json(
            "POST",
            f"{self._path}/pulls/{number}/requested_reviewers",
            {"reviewers": users, "team_reviewers": list(teams or [])},
        )

    def reviewed_by(self, number: int) -> list[str]:
        """Who reviewed a pull request (any state), in review order."""
        result: list[str] = self._memo(
            "reviewed-by",
            number,
            compute=lambda: [
                str((r.get("user") or {}).get("login") or "")
                for r in self.api.paginate(f"{self._path}/pulls/{number}/reviews")
            ],
        )
        return result

    # -- issues and comments ---------------------------------------------------------------

    def issue(self, number: int, *, fresh: bool = False) -> Issue:
        """An issue by number (``fresh``: read it again, e.g. right before editing its body)."""
        if fresh:
            self.memo.drop(("forge", self.repo, "issue", number))
        result: Issue = self._memo(
            "issue",
            number,
            compute=lambda: Issue.from_json(self.api.get_json(f"{self._path}/issues/{number}")),
        )
        return result

    def find_issue(self, title: str, label: str | None = None) -> Issue | None:
        """The newest issue (open or closed, not a pull request) with exactly ``title``.

        With a label, the issues carrying it are listed; without, the search API is asked,
        then the 100 most recent issues are read (search lags behind a new issue).
        """

        def titled(items: Any) -> Issue | None:
            for item in items:
                if item.get("title") == title and "pull_request" not in item:
                    return Issue.from_json(item)
            return None

        def read() -> Issue | None:
            recent = {"state": "all", "sort": "created", "direction": "desc"}
            if label:
                # the first page is shared by every title looked up (this release's issue,
                # the next one's); the rest is read only when it isn't there
                page, more = self._first_page("/issues", {**recent, "labels": label})
                found = titled(page)
                if found is None and more:
                    listing = {**recent, "labels": label}
                    found = titled(self.api.paginate(self._path + "/issues", listing))
                return found
            query = f'repo:{self.repo} is:issue in:title "{title}"'
            found = titled(self.api.get_json("/search/issues", params={"q": query})["items"])
            if found is None:
                found = titled(
                    self.api.get_json(self._path + "/issues", params={**recent, "per_page": 100})
                )
            return found

        result: Issue | None = self._memo("find-issue", title, label, compute=read)
        return result

    def issues_since(self, since: datetime) -> list[Issue]:
        """Issues (not pull requests, open or closed) opened at or after ``since``."""

        def read() -> list[Issue]:
            params = {
                "state": "all",
                "since": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "sort": "created",
                "direction": "desc",
            }
            found = []
            for item in self.api.paginate(self._path + "/issues", params):
                if "pull_request" in item:
                    continue
                issue = Issue.from_json(item)
                if issue.created_at is not None and issue.created_at >= since:
                    found.append(issue)
            return found

        result: list[Issue] = self._memo("issues-since", since.timestamp(), compute=read)
        return result

    def create_issue(self, title: str, body: str, labels: list[str] | None = None) -> Issue:
        data = self.api.send_json(
            "POST", self._path + "/issues", {"title": title, "body": body, "labels": labels or []}
        )
        return Issue.from_json(data)

    def update_issue(self, number: int, **fields: Any) -> Issue:
        """Change an issue's body, title, state (``state_reason``) or labels."""
        data = self.api.send_json("PATCH", f"{self._path}/issues/{number}", fields)
        issue = Issue.from_json(data)
        self.memo.put(("forge", self.repo, "issue", number), issue)
        return issue

    def comments(self, number: int) -> list[Comment]:
        result: list[Comment] = self._memo(
            "comments",
            number,
            compute=lambda: [
                Comment.from_json(c)
                for c in self.api.paginate(f"{self._path}/issues/{number}/comments")
            ],
        )
        return result

    def find_comment(self, number: int, marker: str) -> Comment | None:
        """The first comment on an issue or pull request containing ``marker``."""
        return next((c for c in self.comments(number) if marker in c.body), None)

    def comment(self, number: int, body: str) -> Comment:
        data = self.api.send_json("POST", f"{self._path}/issues/{number}/comments", {"body": body})
        return Comment.from_json(data)

    # -- releases and assets ---------------------------------------------------------------

    def release(self, tag: str) -> Release | None:
        """The release for ``tag``, drafts included (drafts aren't found by tag)."""

        def read() -> Release | None:
            data = self.api.find_json(f"{self._path}/releases/tags/{quote(tag)}")
            if data is not None:
                return Release.from_json(data)
            for item in self.api.paginate(self._path + "/releases"):
                if item.get("tag_name") == tag:
                    return Release.from_json(item)
            return None

        result: Release | None = self._memo("release", tag, compute=read)
        return result

    def releases(self) -> list[Release]:
        result: list[Release] = self._memo(
            "releases",
            compute=lambda: [
                Release.from_json(r) for r in self.api.paginate(self._path + "/releases")
            ],
        )
        return result

    def create_release(self, tag: str, **fields: Any) -> Release:
        try:
            data = self.api.send_json("POST", self._path + "/releases", {"tag_name": tag, **fields})
        except HTTPError as exc:
            if _already_exists(exc):
                raise AlreadyExists(f"a release for {tag} already exists") from exc
            raise
        return Release.from_json(data)

    def update_release(self, release_id: int, **fields: Any) -> Release:
        data = self.api.send_json("PATCH", f"{self._path}/releases/{release_id}", fields)
        return Release.from_json(data)

    def assets(self, release: Release) -> list[Asset]:
        result: list[Asset] = self._memo(
            "assets",
            release.id,
            compute=lambda: [
                Asset.from_json(a)
                for a in self.api.paginate(f"{self._path}/releases/{release.id}/assets")
            ],
        )
        return result

    def upload_asset(
        self, release: Release, name: str, data: bytes, content_type: str
    ) -> Asset | None:
        """Upload one asset; None when one of that name is already there (an earlier,
        interrupted upload: the caller compares contents)."""
        url = release.upload_url or (
            self.api.origin + f"/api/uploads/repos/{self.repo}/releases/{release.id}/assets"
        )
        try:
            answer = self.api.request(
                "POST",
                url,
                params={"name": name},
                content=data,
                headers={"Content-Type": content_type},
            )
        except HTTPError as exc:
            if _already_exists(exc):
                return None
            raise
        return Asset.from_json(answer.json())

    def delete_asset(self, asset_id: int) -> None:
        self.api.request("DELETE", f"{self._path}/releases/assets/{asset_id}", ok=(404,))

    def download(self, url: str, accept: str = "application/octet-stream") -> bytes:
        """Bytes behind an API URL (asset, artifact, log) that may redirect to storage; the
        token goes to the API only, never to the redirect's host."""

        def read() -> bytes:
            response = self.api.request(
                "GET", url, headers={"Accept": accept}, ok=(301, 302, 303, 307, 308)
            )
            hops = 0
            while response.is_redirect and hops < 5:
                import httpx

                location = response.headers["location"]
                self.api.ui.debug(f"GET {location.split('?', 1)[0]} (redirect, no token)")
                response = httpx.get(location, follow_redirects=False, timeout=60)
                hops += 1
            response.raise_for_status()
            return response.content

        result: bytes = self._memo("download", url, accept, compute=read)
        return result

    # -- Actions ---------------------------------------------------------------------------

    def workflow(self, file: str) -> Workflow | None:
        def read() -> Workflow | None:
            data = self.api.find_json(f"{self._path}/actions/workflows/{quote(file)}")
            return None if data is None else Workflow.from_json(data)

        result: Workflow | None = self._memo("workflow", file, compute=read)
        return result

    def runs(
        self,
        file: str,
        *,
        event: str | None = None,
        branch: str | None = None,
        head_sha: str | None = None,
        created: str | None = None,
    ) -> list[WorkflowRun]:
        """Runs of a workflow file, newest first (one page of 100); ``created``: GitHub's
        date-time range syntax, ``2026-01-31T10:00:00Z..2026-01-31T12:00:00Z``."""
        filters = {"event": event, "branch": branch, "head_sha": head_sha, "created": created}
        params = {k: v for k, v in filters.items() if v}

        def read() -> list[WorkflowRun]:
            data = self.api.find_json(
                f"{self._path}/actions/workflows/{quote(file)}/runs",
                params={**params, "per_page": 100},
            )
            return [WorkflowRun.from_json(r) for r in (data or {}).get("workflow_runs", [])]

        result: list[WorkflowRun] = self._memo(
            "runs", file, tuple(sorted(params.items())), compute=read
        )
        return result

    def run(self, run_id: int) -> WorkflowRun:
        result: WorkflowRun = self._memo(
            "run",
            run_id,
            compute=lambda: WorkflowRun.from_json(
                self.api.get_json(f"{self._path}/actions/runs/{run_id}")
            ),
        )
        return result

    def runs_of(
        self, *, branch: str | None = None, head_sha: str | None = None, event: str | None = None
    ) -> list[WorkflowRun]:
        """Runs of every workflow of the repository (e.g. all those a tag push started: the
        tag is their ``branch``), newest first, every page."""
        params = {
            k: v for k, v in {"branch": branch, "head_sha": head_sha, "event": event}.items() if v
        }

        def read() -> list[WorkflowRun]:
            items = self.api.paginate(f"{self._path}/actions/runs", params)
            return [WorkflowRun.from_json(r) for r in items]

        result: list[WorkflowRun] = self._memo(
            "runs-of", tuple(sorted(params.items())), compute=read
        )
        return result

    def jobs(self, run_id: int, *, all_attempts: bool = False) -> list[Job]:
        """The jobs of a run's latest attempt (``all_attempts``: of every attempt, each
        job carrying its ``run_attempt``; one listing either way)."""
        params = {"filter": "all"} if all_attempts else None
        result: list[Job] = self._memo(
            "jobs",
            run_id,
            all_attempts,
            compute=lambda: [
                Job.from_json(j)
                for j in self.api.paginate(f"{self._path}/actions/runs/{run_id}/jobs", params)
            ],
        )
        return result

    def artifacts(self, run_id: int) -> list[Artifact]:
        result: list[Artifact] = self._memo(
            "artifacts",
            run_id,
            compute=lambda: [
                Artifact.from_json(a)
                for a in self.api.paginate(f"{self._path}/actions/runs/{run_id}/artifacts")
            ],
        )
        return result

    def job_log(self, job: Job) -> str:
        url = f"{self._path}/actions/jobs/{job.id}/logs"
        return self.download(url, accept="application/vnd.github+json").decode("utf-8", "replace")

    def dispatch(self, file: str, ref: str, inputs: Mapping[str, str]) -> str | None:
        """Start a ``workflow_dispatch`` run; the run's web URL when the forge says it
        (API version 2026-03-10 answers with run details), else None."""
        response = self.api.request(
            "POST",
            f"{self._path}/actions/workflows/{quote(file)}/dispatches",
            json_body={"ref": ref, "inputs": dict(inputs), "return_run_details": True},
        )
        if response.status_code == 200 and response.content:
            body = response.json()
            url = body.get("html_url") or body.get("run_url")
            return str(url) if url else None
        return None


def _head_label(pull: Any) -> str:
    """``owner:branch`` of a listed pull request's head (what the ``head`` filter matches)."""
    head = pull.get("head") if isinstance(pull, dict) else None
    return str(head.get("label") or "") if isinstance(head, dict) else ""
