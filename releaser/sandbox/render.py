"""Shared JSON renderers: documents and git objects in GitHub's v3 shapes.

Documents store data only; every URL is rendered here from the forge's current base URL, so
a forge restarted on another port answers with URLs that work.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from releaser.sandbox import people, shacache
from releaser.sandbox.http import not_found

if TYPE_CHECKING:
    from releaser.sandbox.forge import Forge

ZERO = "0" * 40
_SEP = "\x1f"  # between fields of a `git show --format`
_NOREPLY = re.compile(r"^(?:\d+\+)?(?P<login>[A-Za-z0-9-]+)@users\.noreply\.")


def node_id(prefix: str, value: int | str) -> str:
    return f"{prefix}_{value}"


def owner_json(forge: Forge, login: str, kind: str = "User") -> dict[str, Any]:
    user = forge.user_json(login)
    user["type"] = kind
    return user


def repo_json(forge: Forge, doc: dict[str, Any], viewer: str | None = None) -> dict[str, Any]:
    """A ``full-repository`` object for a repository document (also fits ``repository``);
    ``permissions`` are ``viewer``'s (default: the forge's default user's)."""
    full = str(doc["full_name"])
    owner, name = full.split("/", 1)
    api = forge.repo_api(full)
    html = forge.repo_html(full)
    clone = f"{forge.git_url}/{full}.git"
    created = doc.get("created_at") or "1970-01-01T00:00:00Z"
    open_issues = int(doc.get("open_issues_count", 0))
    body: dict[str, Any] = {
        "id": doc["id"],
        "node_id": node_id("R", doc["id"]),
        "name": name,
        "full_name": full,
        "owner": owner_json(forge, owner, str(doc.get("owner_type", "User"))),
        "private": bool(doc.get("private", False)),
        "visibility": "private" if doc.get("private") else "public",
        "html_url": html,
        "description": doc.get("description"),
        "fork": False,
        "url": api,
        "archive_url": f"{api}/{{archive_format}}{{/ref}}",
        "assignees_url": f"{api}/assignees{{/user}}",
        "blobs_url": f"{api}/git/blobs{{/sha}}",
        "branches_url": f"{api}/branches{{/branch}}",
        "collaborators_url": f"{api}/collaborators{{/collaborator}}",
        "comments_url": f"{api}/comments{{/number}}",
        "commits_url": f"{api}/commits{{/sha}}",
        "compare_url": f"{api}/compare/{{base}}...{{head}}",
        "contents_url": f"{api}/contents/{{+path}}",
        "contributors_url": f"{api}/contributors",
        "deployments_url": f"{api}/deployments",
        "downloads_url": f"{api}/downloads",
        "events_url": f"{api}/events",
        "forks_url": f"{api}/forks",
        "git_commits_url": f"{api}/git/commits{{/sha}}",
        "git_refs_url": f"{api}/git/refs{{/sha}}",
        "git_tags_url": f"{api}/git/tags{{/sha}}",
        "git_url": clone,
        "issue_comment_url": f"{api}/issues/comments{{/number}}",
        "issue_events_url": f"{api}/issues/events{{/number}}",
        "issues_url": f"{api}/issues{{/number}}",
        "keys_url": f"{api}/keys{{/key_id}}",
        "labels_url": f"{api}/labels{{/name}}",
        "languages_url": f"{api}/languages",
        "merges_url": f"{api}/merges",
        "milestones_url": f"{api}/milestones{{/number}}",
        "notifications_url": f"{api}/notifications{{?since,all,participating}}",
        "pulls_url": f"{api}/pulls{{/number}}",
        "releases_url": f"{api}/releases{{/id}}",
        "ssh_url": clone,
        "stargazers_url": f"{api}/stargazers",
        "statuses_url": f"{api}/statuses/{{sha}}",
        "subscribers_url": f"{api}/subscribers",
        "subscription_url": f"{api}/subscription",
        "tags_url": f"{api}/tags",
        "teams_url": f"{api}/teams",
        "trees_url": f"{api}/git/trees{{/sha}}",
        "clone_url": clone,
        "mirror_url": None,
        "hooks_url": f"{api}/hooks",
        "svn_url": html,
        "homepage": doc.get("homepage"),
        "language": doc.get("language"),
        "forks_count": 0,
        "forks": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "watchers": 0,
        "size": int(doc.get("size", 0)),
        "default_branch": doc.get("default_branch", "main"),
        "open_issues_count": open_issues,
        "open_issues": open_issues,
        "is_template": False,
        "topics": list(doc.get("topics", [])),
        "has_issues": bool(doc.get("has_issues", True)),
        "has_projects": bool(doc.get("has_projects", True)),
        "has_wiki": bool(doc.get("has_wiki", True)),
        "has_pages": False,
        "has_downloads": True,
        "has_discussions": bool(doc.get("has_discussions", False)),
        "archived": bool(doc.get("archived", False)),
        "disabled": False,
        "pushed_at": doc.get("pushed_at") or created,
        "created_at": created,
        "updated_at": doc.get("updated_at") or created,
        "permissions": people.permissions_object(people.role(forge, viewer or forge.login, doc)),
        "allow_rebase_merge": bool(doc.get("allow_rebase_merge", True)),
        "allow_squash_merge": bool(doc.get("allow_squash_merge", True)),
        "allow_merge_commit": bool(doc.get("allow_merge_commit", True)),
        "allow_auto_merge": bool(doc.get("allow_auto_merge", False)),
        "delete_branch_on_merge": bool(doc.get("delete_branch_on_merge", False)),
        "allow_forking": True,
        "web_commit_signoff_required": False,
        "license": None,
        "network_count": 0,
        "subscribers_count": 0,
    }
    if doc.get("owner_type") == "Organization":
        body["organization"] = owner_json(forge, owner, "Organization")
    return body


# ---- git objects ---------------------------------------------------------------------------


def git_date(iso: str) -> str:
    """A git ISO-8601 strict date (``2024-01-02T03:04:05+01:00``) as GitHub's UTC ``...Z``."""
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def git_user(name: str, email: str, date: str) -> dict[str, str]:
    return {"name": name, "email": email, "date": git_date(date)}


def login_for_email(forge: Forge, email: str) -> str | None:
    """The forge login a commit email belongs to (GitHub links noreply addresses), or None."""
    if email in ("forge@sandbox.invalid", f"{forge.login}@sandbox.invalid"):
        return forge.login
    m = _NOREPLY.match(email)
    return m.group("login") if m else None


def read_commit(forge: Forge, full_name: str, sha: str) -> dict[str, Any]:
    """The fields of a commit object: sha, tree, parents, author/committer, message; or 404."""
    key = (str(forge.repo_path(full_name)), "commit", sha)
    found = shacache.kept(key, (sha,), lambda: _read_commit(forge, full_name, sha))
    return dict(found)


def _read_commit(forge: Forge, full_name: str, sha: str) -> dict[str, Any]:
    fmt = _SEP.join(["%H", "%T", "%P", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%B"])
    try:
        out = forge.git(full_name, "show", "-s", f"--format={fmt}", f"{sha}^{{commit}}", "--")
    except Exception:
        raise not_found() from None
    parts = out.split(_SEP, 9)
    if len(parts) < 10:
        raise not_found()
    message = parts[9]
    if message.endswith("\n"):
        message = message[:-1]
    return {
        "sha": parts[0],
        "tree": parts[1],
        "parents": parts[2].split(),
        "author": git_user(parts[3], parts[4], parts[5]),
        "committer": git_user(parts[6], parts[7], parts[8]),
        "message": message,
    }


def verification_json() -> dict[str, Any]:
    return {
        "verified": False,
        "reason": "unsigned",
        "signature": None,
        "payload": None,
        "verified_at": None,
    }


def git_commit_json(forge: Forge, full_name: str, info: dict[str, Any]) -> dict[str, Any]:
    """A ``git-commit`` object (``GET /git/commits/{sha}``) from ``read_commit`` fields."""
    api = forge.repo_api(full_name)
    html = forge.repo_html(full_name)
    sha = info["sha"]
    return {
        "sha": sha,
        "node_id": node_id("C", sha),
        "url": f"{api}/git/commits/{sha}",
        "html_url": f"{html}/commit/{sha}",
        "author": info["author"],
        "committer": info["committer"],
        "message": info["message"],
        "tree": {"sha": info["tree"], "url": f"{api}/git/trees/{info['tree']}"},
        "parents": [
            {"sha": p, "url": f"{api}/git/commits/{p}", "html_url": f"{html}/commit/{p}"}
            for p in info["parents"]
        ],
        "verification": verification_json(),
    }


def commit_json(forge: Forge, full_name: str, sha: str, *, files: bool = False) -> dict[str, Any]:
    """A ``commit`` object (``GET /repos/{o}/{r}/commits/{ref}``, list entries, compare).

    With ``files`` the ``stats`` and ``files`` of the commit against its first parent are
    included, as the single-commit endpoint answers.
    """
    info = read_commit(forge, full_name, sha)
    sha = info["sha"]
    api = forge.repo_api(full_name)
    html = forge.repo_html(full_name)
    author_login = login_for_email(forge, info["author"]["email"])
    committer_login = login_for_email(forge, info["committer"]["email"])
    body: dict[str, Any] = {
        "url": f"{api}/commits/{sha}",
        "sha": sha,
        "node_id": node_id("C", sha),
        "html_url": f"{html}/commit/{sha}",
        "comments_url": f"{api}/commits/{sha}/comments",
        "commit": {
            "url": f"{api}/git/commits/{sha}",
            "author": info["author"],
            "committer": info["committer"],
            "message": info["message"],
            "comment_count": 0,
            "tree": {"sha": info["tree"], "url": f"{api}/git/trees/{info['tree']}"},
            "verification": verification_json(),
        },
        "author": forge.user_json(author_login) if author_login else None,
        "committer": forge.user_json(committer_login) if committer_login else None,
        "parents": [
            {"sha": p, "url": f"{api}/commits/{p}", "html_url": f"{html}/commit/{p}"}
            for p in info["parents"]
        ],
    }
    if files:
        base = info["parents"][0] if info["parents"] else None
        changed = diff_files(forge, full_name, base, sha)
        additions = sum(f["additions"] for f in changed)
        deletions = sum(f["deletions"] for f in changed)
        body["stats"] = {
            "total": additions + deletions,
            "additions": additions,
            "deletions": deletions,
        }
        body["files"] = changed
    return body


EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

_STATUS = {"A": "added", "D": "removed", "M": "modified", "R": "renamed", "C": "copied"}


def diff_files(forge: Forge, full_name: str, base: str | None, head: str) -> list[dict[str, Any]]:
    """``diff-entry`` objects for the changes from ``base`` (None: the empty tree) to ``head``."""
    old = base or EMPTY_TREE
    api = forge.repo_api(full_name)
    html = forge.repo_html(full_name)
    raw = forge.git(full_name, "diff", "--raw", "-z", "-M", "--no-abbrev", old, head, "--")
    numstat = forge.git(full_name, "diff", "--numstat", "-z", "-M", old, head, "--")
    counts = _parse_numstat(numstat)
    entries: list[dict[str, Any]] = []
    fields = raw.split("\0")
    i = 0
    while i < len(fields) - 1:
        meta = fields[i]
        if not meta.startswith(":"):
            i += 1
            continue
        _, _, _, new_sha, status = meta[1:].split(" ", 4)
        letter = status[0]
        if letter in "RC":
            previous, path = fields[i + 1], fields[i + 2]
            i += 3
        else:
            previous, path = None, fields[i + 1]
            i += 2
        add, dele = counts.get(path, (0, 0))
        sha = new_sha if letter != "D" else meta[1:].split(" ")[2]
        ref = head if letter != "D" else old
        entry: dict[str, Any] = {
            "sha": sha,
            "filename": path,
            "status": _STATUS.get(letter, "changed"),
            "additions": add,
            "deletions": dele,
            "changes": add + dele,
            "blob_url": f"{html}/blob/{ref}/{path}",
            "raw_url": f"{html}/raw/{ref}/{path}",
            "contents_url": f"{api}/contents/{path}?ref={ref}",
        }
        if previous is not None:
            entry["previous_filename"] = previous
        patch = _patch(forge, full_name, old, head, path, previous)
        if patch is not None:
            entry["patch"] = patch
        entries.append(entry)
    return entries


def _parse_numstat(out: str) -> dict[str, tuple[int, int]]:
    counts: dict[str, tuple[int, int]] = {}
    fields = out.split("\0")
    i = 0
    while i < len(fields):
        item = fields[i]
        if not item:
            i += 1
            continue
        add, dele, path = item.split("\t", 2)
        if path == "":  # rename: the two paths follow
            path = fields[i + 2]
            i += 3
        else:
            i += 1
        counts[path] = (int(add) if add != "-" else 0, int(dele) if dele != "-" else 0)
    return counts


def _patch(
    forge: Forge, full_name: str, old: str, head: str, path: str, previous: str | None
) -> str | None:
    paths = [path] if previous is None else [previous, path]
    out = forge.git(full_name, "diff", "-M", old, head, "--", *paths)
    if "Binary files" in out and "@@" not in out:
        return None
    start = out.find("\n@@")
    return out[start + 1 :].rstrip("\n") if start >= 0 else None
