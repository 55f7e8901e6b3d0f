"""Pull requests of the sandbox forge: create, list, get, update, merge, reviewers.

A pull request is an ``issue`` document (see :mod:`releaser.sandbox.api_issues`) whose
``pull`` mapping holds: head_ref, base_ref, draft, merged, merged_at, merged_by,
merge_commit_sha, requested_reviewers, maintainer_can_modify, and — frozen once merged or
closed with the head branch gone — head_sha, base_sha and the diff statistics.

Merges are real git: ``git merge-tree --write-tree`` computes the merged tree,
``git commit-tree`` writes the commit(s) and ``git update-ref REF NEW OLD`` moves the base
branch under ``forge.lock``; then the push hooks run as for a push.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

from releaser.sandbox import protection, render, shacache
from releaser.sandbox.api_issues import edit_issue, get_issue_doc, issue_json, labels_of, new_issue
from releaser.sandbox.forge import Forge, git_env
from releaser.sandbox.http import (
    ROUTER,
    ApiError,
    Request,
    Response,
    body_dict,
    full_name,
    not_found,
    paginate,
    require_str,
    validation_failed,
)

ZERO = "0" * 40


def run_git(
    forge: Forge, full: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run git in the bare repository without raising; the caller reads ``returncode``."""
    return subprocess.run(
        ["git", "--git-dir", str(forge.repo_path(full)), *args],
        capture_output=True,
        text=True,
        env={**git_env(), **(env or {})},
    )


def custom_error(message: str) -> ApiError:
    return ApiError(
        422,
        "Validation Failed",
        [{"resource": "PullRequest", "code": "custom", "message": message}],
    )


# ---- git facts ----------------------------------------------------------------------------


def merge_tree(forge: Forge, full: str, ours: str, theirs: str) -> str | None:
    """The tree of merging ``theirs`` into ``ours``, or None on conflicts."""

    def merge() -> str | None:
        proc = run_git(forge, full, "merge-tree", "--write-tree", ours, theirs)
        if proc.returncode != 0:
            return None
        return proc.stdout.split("\n", 1)[0].strip()

    key = (str(forge.repo_path(full)), "merge", ours, theirs)
    return shacache.kept(key, (ours, theirs), merge)


def diff_stats(forge: Forge, full: str, base: str, head: str) -> dict[str, int]:
    key = (str(forge.repo_path(full)), "diff", base, head)
    stats = shacache.kept(
        key,
        (base, head),
        lambda: _diff_stats(forge, full, base, head),
        keep=lambda s: bool(s["ok"]),
    )
    return {k: v for k, v in stats.items() if k != "ok"}  # a failed git (missing commit): not kept


def _diff_stats(forge: Forge, full: str, base: str, head: str) -> dict[str, int]:
    commits = run_git(forge, full, "rev-list", "--count", f"{base}..{head}")
    numstat = run_git(forge, full, "diff", "--numstat", f"{base}...{head}")
    additions = deletions = files = 0
    for line in numstat.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        files += 1
        additions += int(parts[0]) if parts[0].isdigit() else 0
        deletions += int(parts[1]) if parts[1].isdigit() else 0
    return {
        "commits": int(commits.stdout.strip() or 0) if commits.returncode == 0 else 0,
        "additions": additions,
        "deletions": deletions,
        "changed_files": files,
        "ok": int(commits.returncode == 0 and numstat.returncode == 0),
    }


def current_shas(forge: Forge, full: str, pull: dict[str, Any]) -> tuple[str, str]:
    """(head sha, base sha): live from the branches while open, else as frozen."""
    if pull.get("merged") or pull.get("frozen"):
        return str(pull.get("head_sha") or ZERO), str(pull.get("base_sha") or ZERO)
    head = forge.resolve(full, pull["head_ref"]) or str(pull.get("head_sha") or ZERO)
    base = forge.resolve(full, pull["base_ref"]) or str(pull.get("base_sha") or ZERO)
    return head, base


# ---- rendering ----------------------------------------------------------------------------


def branch_json(forge: Forge, full: str, ref: str, sha: str) -> dict[str, Any]:
    owner = full.split("/")[0]
    repo = forge.repo(*full.split("/", 1))
    return {
        "label": f"{owner}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": forge.user_json(owner),
        "repo": render.repo_json(forge, repo),
    }


def pull_json(forge: Forge, full: str, doc: dict[str, Any], detail: bool = True) -> dict[str, Any]:
    """A ``pull-request`` object (``detail``) or the ``pull-request-simple`` list shape."""
    issue = issue_json(forge, full, doc)
    pull = doc["pull"]
    number = int(doc["number"])
    url = f"{forge.repo_api(full)}/pulls/{number}"
    html = issue["html_url"]
    head_sha, base_sha = current_shas(forge, full, pull)
    out: dict[str, Any] = {
        "url": url,
        "id": doc["id"],
        "node_id": f"PR_{doc['id']}",
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": issue["url"],
        "commits_url": f"{url}/commits",
        "review_comments_url": f"{url}/comments",
        "review_comment_url": f"{forge.repo_api(full)}/pulls/comments{{/number}}",
        "comments_url": issue["comments_url"],
        "statuses_url": f"{forge.repo_api(full)}/statuses/{head_sha}",
        "number": number,
        "state": doc["state"],
        "locked": issue["locked"],
        "title": doc["title"],
        "user": issue["user"],
        "body": doc.get("body"),
        "labels": labels_of(forge, full, doc),
        "milestone": None,
        "active_lock_reason": None,
        "created_at": doc["created_at"],
        "updated_at": doc["updated_at"],
        "closed_at": doc.get("closed_at"),
        "merged_at": pull.get("merged_at"),
        "merge_commit_sha": pull.get("merge_commit_sha"),
        "assignee": issue["assignee"],
        "assignees": issue["assignees"],
        "requested_reviewers": [forge.user_json(r) for r in pull.get("requested_reviewers", [])],
        "requested_teams": [],
        "head": branch_json(forge, full, pull["head_ref"], head_sha),
        "base": branch_json(forge, full, pull["base_ref"], base_sha),
        "_links": {
            "self": {"href": url},
            "html": {"href": html},
            "issue": {"href": issue["url"]},
            "comments": {"href": issue["comments_url"]},
            "review_comments": {"href": f"{url}/comments"},
            "review_comment": {"href": f"{forge.repo_api(full)}/pulls/comments{{/number}}"},
            "commits": {"href": f"{url}/commits"},
            "statuses": {"href": f"{forge.repo_api(full)}/statuses/{head_sha}"},
        },
        "author_association": issue["author_association"],
        "auto_merge": auto_merge_json(forge, pull.get("auto_merge")),
        "draft": bool(pull.get("draft", False)),
    }
    if not detail:
        return out
    merged = bool(pull.get("merged"))
    if merged or doc["state"] == "closed":
        stats = pull.get("stats") or diff_stats(forge, full, base_sha, head_sha)
        mergeable: bool | None = None
        state = "unknown"
    else:
        stats = diff_stats(forge, full, base_sha, head_sha)
        mergeable = merge_tree(forge, full, base_sha, head_sha) is not None
        state = "clean" if mergeable else "dirty"
        if mergeable and pull.get("draft"):
            state = "draft"
        elif mergeable and protection.merge_blocker(
            forge, full, doc, head_sha, base_sha, None, bypass=False
        ):
            state = "blocked"
    merged_by = pull.get("merged_by")
    out.update(
        {
            "merged": merged,
            "mergeable": mergeable,
            "rebaseable": mergeable,
            "mergeable_state": state,
            "merged_by": forge.user_json(merged_by) if merged_by else None,
            "comments": issue["comments"],
            "review_comments": 0,
            "maintainer_can_modify": bool(pull.get("maintainer_can_modify", False)),
            **stats,
        }
    )
    return out


def auto_merge_json(forge: Forge, settings: dict[str, Any] | None) -> dict[str, Any] | None:
    if not settings:
        return None
    return {
        "enabled_by": forge.user_json(settings["enabled_by"]),
        "merge_method": settings["merge_method"],
        "commit_title": settings.get("commit_title") or "",
        "commit_message": settings.get("commit_message") or "",
    }


def get_pull_doc(forge: Forge, full: str, number: str) -> dict[str, Any]:
    doc = get_issue_doc(forge, full, number)
    if not doc.get("pull"):
        raise not_found()
    return doc


def branch_name(full: str, spec: str) -> str:
    """``owner:branch`` or ``branch`` -> ``branch`` (only same-repository heads exist here)."""
    owner, sep, branch = spec.partition(":")
    if not sep:
        return spec
    if owner.lower() != full.split("/")[0].lower():
        raise validation_failed("PullRequest", "invalid", "head")
    return branch


# ---- endpoints ----------------------------------------------------------------------------


@ROUTER.route("POST", "/repos/{owner}/{repo}/pulls", access="read")
def create_pull(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    data = body_dict(req)
    if data.get("issue") is not None and not data.get("title"):
        issue = get_issue_doc(forge, full, str(data["issue"]))
        data.setdefault("title", issue["title"])
    require_str(data, "title", "PullRequest")
    head_spec = require_str(data, "head", "PullRequest")
    base = require_str(data, "base", "PullRequest")
    head = branch_name(full, head_spec)
    with forge.lock:
        base_sha = forge.resolve(full, f"refs/heads/{base}")
        if base_sha is None:
            raise validation_failed("PullRequest", "invalid", "base")
        head_sha = forge.resolve(full, f"refs/heads/{head}")
        if head_sha is None:
            raise validation_failed("PullRequest", "invalid", "head")
        for other in forge.find("issue", full, state="open"):
            pull = other.get("pull")
            if pull and pull["head_ref"] == head and pull["base_ref"] == base:
                owner = full.split("/")[0]
                raise custom_error(f"A pull request already exists for {owner}:{head}.")
        if diff_stats(forge, full, base_sha, head_sha)["commits"] == 0:
            raise custom_error(f"No commits between {base} and {head}")
        pull = {
            "head_ref": head,
            "base_ref": base,
            "head_sha": head_sha,
            "base_sha": base_sha,
            "draft": bool(data.get("draft", False)),
            "merged": False,
            "merged_at": None,
            "merged_by": None,
            "merge_commit_sha": None,
            "requested_reviewers": [],
            "maintainer_can_modify": bool(data.get("maintainer_can_modify", False)),
        }
        doc = new_issue(
            forge, full, {"title": data["title"], "body": data.get("body"), "pull": pull}, req.user
        )
    out = pull_json(forge, full, doc)
    return Response(201, out, {"Location": out["url"]})


@ROUTER.route("GET", "/repos/{owner}/{repo}/pulls")
def list_pulls(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    docs = [d for d in forge.find("issue", full) if d.get("pull")]
    state = req.query.get("state", "open")
    if state != "all":
        docs = [d for d in docs if d["state"] == state]
    if req.query.get("head"):
        head = req.query["head"]
        owner, sep, branch = head.partition(":")
        if sep and owner.lower() != full.split("/")[0].lower():
            docs = []
        docs = [d for d in docs if d["pull"]["head_ref"] == (branch if sep else head)]
    if req.query.get("base"):
        docs = [d for d in docs if d["pull"]["base_ref"] == req.query["base"]]
    sort = req.query.get("sort", "created")
    reverse = req.query.get("direction", "asc" if sort == "long-running" else "desc") == "desc"
    if sort == "updated":
        docs.sort(key=lambda d: (d["updated_at"], d["number"]), reverse=reverse)
    else:
        docs.sort(key=lambda d: d["number"], reverse=reverse)
    return paginate(forge, req, [pull_json(forge, full, d, detail=False) for d in docs])


@ROUTER.route("GET", "/repos/{owner}/{repo}/pulls/{number}")
def get_pull(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    return pull_json(forge, full, get_pull_doc(forge, full, req.params["number"]))


@ROUTER.route("PATCH", "/repos/{owner}/{repo}/pulls/{number}", access="read")
def update_pull(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    data = body_dict(req)
    with forge.lock:
        doc = get_pull_doc(forge, full, req.params["number"])
        pull = dict(doc["pull"])
        if pull.get("merged") and data.get("state") == "open":
            raise custom_error("Cannot reopen a merged pull request")
        if data.get("base"):
            if forge.resolve(full, f"refs/heads/{data['base']}") is None:
                raise validation_failed("PullRequest", "invalid", "base")
            pull["base_ref"] = data["base"]
        if "draft" in data:
            pull["draft"] = bool(data["draft"])
        if "maintainer_can_modify" in data:
            pull["maintainer_can_modify"] = bool(data["maintainer_can_modify"])
        if data.get("state") == "closed" and doc["state"] == "open":
            head, base = current_shas(forge, full, pull)
            pull.update(head_sha=head, base_sha=base)
        issue_fields: dict[str, Any] = {k: data[k] for k in ("title", "body", "state") if k in data}
        doc = edit_issue(forge, full, doc, issue_fields, req.user)
        doc = forge.update("issue", int(doc["id"]), {"pull": pull})
    return pull_json(forge, full, doc)


@ROUTER.route("GET", "/repos/{owner}/{repo}/pulls/{number}/merge")
def check_merged(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    doc = get_pull_doc(forge, full, req.params["number"])
    if not doc["pull"].get("merged"):
        raise not_found()
    return Response(204)


@ROUTER.route("GET", "/repos/{owner}/{repo}/pulls/{number}/commits")
def list_pull_commits(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    doc = get_pull_doc(forge, full, req.params["number"])
    head, base = current_shas(forge, full, doc["pull"])
    proc = run_git(forge, full, "rev-list", "--reverse", f"{base}..{head}")
    shas = proc.stdout.split() if proc.returncode == 0 else []
    return paginate(forge, req, [render.commit_json(forge, full, s) for s in shas])


@ROUTER.route("GET", "/repos/{owner}/{repo}/pulls/{number}/requested_reviewers")
def get_requested_reviewers(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    doc = get_pull_doc(forge, full, req.params["number"])
    users = [forge.user_json(r) for r in doc["pull"].get("requested_reviewers", [])]
    return {"users": users, "teams": []}


@ROUTER.route("POST", "/repos/{owner}/{repo}/pulls/{number}/requested_reviewers", access="triage")
def request_reviewers(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    data = body_dict(req)
    reviewers = [str(r) for r in data.get("reviewers") or []]
    with forge.lock:
        doc = get_pull_doc(forge, full, req.params["number"])
        pull = dict(doc["pull"])
        current = list(pull.get("requested_reviewers", []))
        current += [r for r in reviewers if r not in current]
        pull["requested_reviewers"] = current
        doc = forge.update("issue", int(doc["id"]), {"pull": pull, "updated_at": forge.now_iso()})
    return Response(201, pull_json(forge, full, doc, detail=False))


# ---- merging ------------------------------------------------------------------------------


def commit_tree(
    forge: Forge, full: str, tree: str, parents: list[str], message: str, author_of: str = ""
) -> str:
    """Write a commit; with ``author_of`` the author is copied from that commit (rebase)."""
    now = forge.clock.git_date()
    env: dict[str, str] = {"GIT_AUTHOR_DATE": now, "GIT_COMMITTER_DATE": now}
    if author_of:
        fmt = run_git(forge, full, "show", "-s", "--format=%an%x00%ae%x00%aI", author_of)
        name, email, date = fmt.stdout.strip().split("\x00")
        env.update(GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email, GIT_AUTHOR_DATE=date)
    args = ["commit-tree", tree]
    for parent in parents:
        args += ["-p", parent]
    proc = subprocess.run(
        ["git", "--git-dir", str(forge.repo_path(full)), *args],
        input=message,
        capture_output=True,
        text=True,
        env={**git_env(), **env, "TZ": os.environ.get("TZ", "UTC")},
    )
    if proc.returncode != 0:
        raise ApiError(500, f"git commit-tree failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def replay(forge: Forge, full: str, onto: str, commit: str) -> str | None:
    """Cherry-pick ``commit`` onto ``onto`` as a new commit, or None on conflicts.

    git 2.39's merge-tree has no ``--merge-base``, so the three-way merge of (commit's
    parent, onto, commit) is done on two scratch commits sharing the parent's tree as root.
    """
    parent = run_git(forge, full, "rev-parse", "--verify", "--quiet", f"{commit}^^{{tree}}")
    if parent.returncode == 0:
        parent_tree = parent.stdout.strip()
    else:  # a root commit: replay against the empty tree
        parent_tree = run_git(forge, full, "hash-object", "-t", "tree", "/dev/null").stdout.strip()
    root = commit_tree(forge, full, parent_tree, [], "scratch base")
    ours = commit_tree(forge, full, f"{onto}^{{tree}}", [root], "scratch ours")
    theirs = commit_tree(forge, full, f"{commit}^{{tree}}", [root], "scratch theirs")
    tree = merge_tree(forge, full, ours, theirs)
    if tree is None:
        return None
    message = run_git(forge, full, "show", "-s", "--format=%B", commit).stdout.rstrip() + "\n"
    return commit_tree(forge, full, tree, [onto], message, author_of=commit)


def do_merge(
    forge: Forge, full: str, doc: dict[str, Any], data: dict[str, Any], user: str | None
) -> tuple[str, str, str]:
    """Merge the pull request as ``user``; returns (new base sha, old base sha, message).
    Holds the lock. 405 when the base branch's protection forbids it (GitHub's message)."""
    pull = doc["pull"]
    number = doc["number"]
    method = data.get("merge_method") or "merge"
    if method not in ("merge", "squash", "rebase"):
        raise validation_failed("PullRequest", "invalid", "merge_method")
    if pull.get("merged") or doc["state"] != "open":
        raise ApiError(405, "Pull Request is not mergeable")
    if pull.get("draft"):
        raise ApiError(405, "Pull Request is still a draft")
    head, base = current_shas(forge, full, pull)
    if data.get("sha") and data["sha"] != head:
        raise ApiError(409, "Head branch was modified. Review and try the merge again.")
    tree = merge_tree(forge, full, base, head)
    if tree is None:
        raise ApiError(405, "Pull Request is not mergeable")
    blocked = protection.merge_blocker(forge, full, doc, head, base, user)
    if blocked is not None:
        raise ApiError(405, blocked)
    title = data.get("commit_title")
    extra = data.get("commit_message")
    owner = full.split("/")[0]
    if method == "merge":
        title = title or f"Merge pull request #{number} from {owner}/{pull['head_ref']}"
        body = doc["title"] if extra is None else extra
        new = commit_tree(forge, full, tree, [base, head], f"{title}\n\n{body}\n".rstrip() + "\n")
        message = "Pull Request successfully merged"
    elif method == "squash":
        title = title or f"{doc['title']} (#{number})"
        if extra is None:
            log = run_git(forge, full, "log", "--reverse", "--format=* %s", f"{base}..{head}")
            extra = log.stdout.strip()
        new = commit_tree(forge, full, tree, [base], f"{title}\n\n{extra}\n".rstrip() + "\n")
        message = "Pull Request successfully squashed and merged"
    else:
        commits = run_git(forge, full, "rev-list", "--reverse", "--no-merges", f"{base}..{head}")
        new = base
        for commit in commits.stdout.split():
            replayed = replay(forge, full, new, commit)
            if replayed is None:
                raise ApiError(405, "Pull Request is not mergeable")
            new = replayed
        message = "Pull Request successfully rebased and merged"
    ref = f"refs/heads/{pull['base_ref']}"
    moved = run_git(forge, full, "update-ref", ref, new, base)
    if moved.returncode != 0:
        raise ApiError(409, "Base branch was modified. Review and try the merge again.")
    stamp = forge.now_iso()
    stats = diff_stats(forge, full, base, head)
    merged_pull = {
        **pull,
        "merged": True,
        "merged_at": stamp,
        "merged_by": user or forge.login,
        "merge_commit_sha": new,
        "head_sha": head,
        "base_sha": base,
        "method": method,
        "stats": stats,
    }
    forge.update(
        "issue",
        int(doc["id"]),
        {
            "pull": merged_pull,
            "state": "closed",
            "closed_at": stamp,
            "closed_by": user or forge.login,
            "state_reason": None,
            "updated_at": stamp,
        },
    )
    return new, base, message


@ROUTER.route("PUT", "/repos/{owner}/{repo}/pulls/{number}/merge")
def merge_pull(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    data = body_dict(req)
    with forge.lock:
        doc = get_pull_doc(forge, full, req.params["number"])
        new, old, message = do_merge(forge, full, doc, data, req.user)
    forge.notify_push(full, [(f"refs/heads/{doc['pull']['base_ref']}", old, new)])
    return {"sha": new, "merged": True, "message": message}


def merged_pulls_between(
    forge: Forge, full: str, since: str | None, until: str
) -> list[dict[str, Any]]:
    """Merged pull requests whose merge commit is in ``since..until`` (all history if None)."""
    spec = [f"{since}..{until}"] if since else [until]
    proc = run_git(forge, full, "rev-list", *spec)
    shas = set(proc.stdout.split()) if proc.returncode == 0 else set()
    out = []
    for doc in forge.find("issue", full):
        pull = doc.get("pull")
        if pull and pull.get("merged") and pull.get("merge_commit_sha") in shas:
            out.append(doc)
    return out
