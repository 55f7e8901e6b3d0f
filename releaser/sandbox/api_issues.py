"""Issues, issue comments, labels and issue search of the sandbox forge.

Pull requests are issues too (one number sequence, as on GitHub): a pull request is an
``issue`` document carrying a ``pull`` mapping (see :mod:`releaser.sandbox.api_pulls`), so
it shows up in issue lists with a ``pull_request`` key and takes comments and labels through
the issue endpoints.

Documents (data only; every URL is rendered per response):

- ``issue``: number, title, body, state, state_reason, labels (names), assignees (logins),
  user, created_at, updated_at, closed_at, closed_by, locked, pull (None or a mapping)
- ``comment``: issue_number, body, user, created_at, updated_at
- ``label``: name, color, description, default
"""

from __future__ import annotations

import shlex
from typing import Any
from urllib.parse import quote

from releaser.sandbox import people
from releaser.sandbox.forge import Forge
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

REACTION_KEYS = ("+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes")
DEFAULT_LABEL_COLOR = "ededed"


def reactions_json(url: str) -> dict[str, Any]:
    return {"url": url, "total_count": 0, **dict.fromkeys(REACTION_KEYS, 0)}


# ---- labels -------------------------------------------------------------------------------


def label_json(forge: Forge, full: str, doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": doc["id"],
        "node_id": f"LA_{doc['id']}",
        "url": f"{forge.repo_api(full)}/labels/{quote(doc['name'], safe='')}",
        "name": doc["name"],
        "description": doc.get("description"),
        "color": doc.get("color") or DEFAULT_LABEL_COLOR,
        "default": bool(doc.get("default", False)),
    }


def find_label(forge: Forge, full: str, name: str) -> dict[str, Any] | None:
    for doc in forge.find("label", full):
        if str(doc["name"]).lower() == name.lower():
            return doc
    return None


def ensure_label(forge: Forge, full: str, name: str) -> dict[str, Any]:
    """The label named ``name`` (case-insensitive), created when missing (as GitHub does)."""
    with forge.lock:
        doc = find_label(forge, full, name)
        if doc is None:
            doc = forge.insert(
                "label",
                full,
                {"name": name, "color": DEFAULT_LABEL_COLOR, "description": None, "default": False},
            )
        return doc


def labels_of(forge: Forge, full: str, issue: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name in issue.get("labels", []):
        doc = find_label(forge, full, name)
        if doc is not None:
            out.append(label_json(forge, full, doc))
    return out


@ROUTER.route("POST", "/repos/{owner}/{repo}/labels", access="write")
def create_label(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    data = body_dict(req)
    name = require_str(data, "name", "Label")
    with forge.lock:
        if find_label(forge, full, name) is not None:
            raise validation_failed("Label", "already_exists", "name")
        doc = forge.insert(
            "label",
            full,
            {
                "name": name,
                "color": str(data.get("color") or DEFAULT_LABEL_COLOR).lstrip("#"),
                "description": data.get("description"),
                "default": False,
            },
        )
    return Response(201, label_json(forge, full, doc))


@ROUTER.route("GET", "/repos/{owner}/{repo}/labels")
def list_labels(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    return paginate(forge, req, [label_json(forge, full, d) for d in forge.find("label", full)])


@ROUTER.route("GET", "/repos/{owner}/{repo}/labels/{name}")
def get_label(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    doc = find_label(forge, full, req.params["name"])
    if doc is None:
        raise not_found()
    return label_json(forge, full, doc)


# ---- issues -------------------------------------------------------------------------------


def get_issue_doc(forge: Forge, full: str, number: str | int) -> dict[str, Any]:
    try:
        key = int(number)
    except (TypeError, ValueError):
        raise not_found() from None
    doc = forge.find_one("issue", full, number=key)
    if doc is None:
        raise not_found()
    return doc


def issue_api_url(forge: Forge, full: str, number: int) -> str:
    return f"{forge.repo_api(full)}/issues/{number}"


def repo_of(forge: Forge, full: str) -> dict[str, Any]:
    return forge.repo(*full.split("/", 1))


def issue_html_url(forge: Forge, full: str, doc: dict[str, Any]) -> str:
    kind = "pull" if doc.get("pull") else "issues"
    return f"{forge.repo_html(full)}/{kind}/{doc['number']}"


def issue_json(forge: Forge, full: str, doc: dict[str, Any]) -> dict[str, Any]:
    """An ``issue`` object (pull requests carry ``pull_request`` and ``draft``)."""
    number = int(doc["number"])
    url = issue_api_url(forge, full, number)
    assignees = [forge.user_json(a) for a in doc.get("assignees", [])]
    closed_by = doc.get("closed_by")
    out: dict[str, Any] = {
        "url": url,
        "repository_url": forge.repo_api(full),
        "labels_url": f"{url}/labels{{/name}}",
        "comments_url": f"{url}/comments",
        "events_url": f"{url}/events",
        "html_url": issue_html_url(forge, full, doc),
        "id": doc["id"],
        "node_id": f"I_{doc['id']}",
        "number": number,
        "title": doc["title"],
        "user": forge.user_json(doc.get("user")),
        "labels": labels_of(forge, full, doc),
        "state": doc["state"],
        "locked": bool(doc.get("locked", False)),
        "assignee": assignees[0] if assignees else None,
        "assignees": assignees,
        "milestone": None,
        "comments": len(forge.find("comment", full, issue_number=number)),
        "created_at": doc["created_at"],
        "updated_at": doc["updated_at"],
        "closed_at": doc.get("closed_at"),
        "closed_by": forge.user_json(closed_by) if closed_by else None,
        "author_association": people.association(forge, doc.get("user"), repo_of(forge, full)),
        "active_lock_reason": None,
        "body": doc.get("body"),
        "reactions": reactions_json(f"{url}/reactions"),
        "timeline_url": f"{url}/timeline",
        "performed_via_github_app": None,
        "state_reason": doc.get("state_reason"),
    }
    pull = doc.get("pull")
    if pull:
        pull_url = f"{forge.repo_api(full)}/pulls/{number}"
        html = out["html_url"]
        out["draft"] = bool(pull.get("draft", False))
        out["pull_request"] = {
            "url": pull_url,
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "merged_at": pull.get("merged_at"),
        }
    return out


def new_issue(forge: Forge, full: str, data: dict[str, Any], user: str | None) -> dict[str, Any]:
    """Store a new issue document (also used for pull requests) with the next number."""
    stamp = forge.now_iso()
    with forge.lock:
        number = forge.next_number(full)
        labels = [ensure_label(forge, full, str(n))["name"] for n in data.get("labels") or []]
        assignees = [str(a) for a in data.get("assignees") or []]
        if data.get("assignee") and data["assignee"] not in assignees:
            assignees.insert(0, str(data["assignee"]))
        return forge.insert(
            "issue",
            full,
            {
                "number": number,
                "title": data["title"],
                "body": data.get("body"),
                "state": "open",
                "state_reason": None,
                "labels": labels,
                "assignees": assignees,
                "user": user or forge.login,
                "created_at": stamp,
                "updated_at": stamp,
                "closed_at": None,
                "closed_by": None,
                "locked": False,
                "pull": data.get("pull"),
            },
        )


def edit_issue(
    forge: Forge, full: str, doc: dict[str, Any], data: dict[str, Any], user: str | None
) -> dict[str, Any]:
    """Apply an issues/update (or pulls/update) body to an issue document: the author's or
    that of a user with at least ``triage``."""
    people.require_author_or(forge, user, full, doc, "triage")
    changes: dict[str, Any] = {}
    if "title" in data:
        if not isinstance(data["title"], str) or not data["title"].strip():
            raise validation_failed("Issue", "missing_field", "title")
        changes["title"] = data["title"]
    if "body" in data:
        changes["body"] = data["body"]
    if "state" in data:
        state = data["state"]
        if state not in ("open", "closed"):
            raise validation_failed("Issue", "invalid", "state")
        if state != doc["state"]:
            changes["state"] = state
            if state == "closed":
                changes["closed_at"] = forge.now_iso()
                changes["closed_by"] = user or forge.login
                changes["state_reason"] = data.get("state_reason") or "completed"
            else:
                changes["closed_at"] = None
                changes["closed_by"] = None
                changes["state_reason"] = "reopened"
    if (
        "state_reason" in data
        and data["state_reason"] is not None
        and "state_reason" not in changes
    ):
        changes["state_reason"] = data["state_reason"]
    if data.get("labels") is not None:
        names = []
        for item in data["labels"]:
            name = item.get("name") if isinstance(item, dict) else item
            names.append(ensure_label(forge, full, str(name))["name"])
        changes["labels"] = names
    if data.get("assignees") is not None:
        changes["assignees"] = [str(a) for a in data["assignees"]]
    elif "assignee" in data:
        changes["assignees"] = [data["assignee"]] if data["assignee"] else []
    changes["updated_at"] = forge.now_iso()
    return forge.update("issue", int(doc["id"]), changes)


def sort_docs(docs: list[dict[str, Any]], req: Request, forge: Forge, full: str) -> None:
    sort = req.query.get("sort", "created")
    reverse = req.query.get("direction", "desc") != "asc"
    if sort == "updated":
        docs.sort(key=lambda d: (d["updated_at"], d["number"]), reverse=reverse)
    elif sort == "comments":
        counts = {
            d["number"]: len(forge.find("comment", full, issue_number=d["number"])) for d in docs
        }
        docs.sort(key=lambda d: (counts[d["number"]], d["number"]), reverse=reverse)
    else:
        docs.sort(key=lambda d: d["number"], reverse=reverse)


@ROUTER.route("POST", "/repos/{owner}/{repo}/issues", access="read")
def create_issue(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    data = body_dict(req)
    require_str(data, "title", "Issue")
    data["pull"] = None
    doc = new_issue(forge, full, data, req.user)
    body = issue_json(forge, full, doc)
    return Response(201, body, {"Location": body["url"]})


@ROUTER.route("GET", "/repos/{owner}/{repo}/issues")
def list_issues(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    state = req.query.get("state", "open")
    docs = forge.find("issue", full)
    if state != "all":
        docs = [d for d in docs if d["state"] == state]
    if req.query.get("labels"):
        wanted = {n.strip().lower() for n in req.query["labels"].split(",") if n.strip()}
        docs = [d for d in docs if wanted <= {str(n).lower() for n in d.get("labels", [])}]
    if req.query.get("creator"):
        docs = [d for d in docs if d.get("user") == req.query["creator"]]
    assignee = req.query.get("assignee")
    if assignee == "none":
        docs = [d for d in docs if not d.get("assignees")]
    elif assignee == "*":
        docs = [d for d in docs if d.get("assignees")]
    elif assignee:
        docs = [d for d in docs if assignee in d.get("assignees", [])]
    if req.query.get("since"):
        docs = [d for d in docs if d["updated_at"] >= req.query["since"]]
    sort_docs(docs, req, forge, full)
    return paginate(forge, req, [issue_json(forge, full, d) for d in docs])


@ROUTER.route("GET", "/repos/{owner}/{repo}/issues/{number}")
def get_issue(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    return issue_json(forge, full, get_issue_doc(forge, full, req.params["number"]))


@ROUTER.route("PATCH", "/repos/{owner}/{repo}/issues/{number}", access="read")
def update_issue(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    data = body_dict(req)
    with forge.lock:
        doc = get_issue_doc(forge, full, req.params["number"])
        doc = edit_issue(forge, full, doc, data, req.user)
    return issue_json(forge, full, doc)


# ---- issue labels -------------------------------------------------------------------------


def label_names(data: Any) -> list[str]:
    items = data.get("labels", []) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise validation_failed("Label", "invalid", "labels")
    return [str(i.get("name") if isinstance(i, dict) else i) for i in items]


@ROUTER.route("GET", "/repos/{owner}/{repo}/issues/{number}/labels")
def list_issue_labels(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    doc = get_issue_doc(forge, full, req.params["number"])
    return paginate(forge, req, labels_of(forge, full, doc))


@ROUTER.route("POST", "/repos/{owner}/{repo}/issues/{number}/labels", access="triage")
def add_issue_labels(forge: Forge, req: Request) -> list[dict[str, Any]]:
    full = full_name(forge, req)
    names = label_names(req.json())
    with forge.lock:
        doc = get_issue_doc(forge, full, req.params["number"])
        current = list(doc.get("labels", []))
        lowered = {n.lower() for n in current}
        for name in names:
            label = ensure_label(forge, full, name)
            if str(label["name"]).lower() not in lowered:
                current.append(label["name"])
                lowered.add(str(label["name"]).lower())
        doc = forge.update(
            "issue", int(doc["id"]), {"labels": current, "updated_at": forge.now_iso()}
        )
    return labels_of(forge, full, doc)


@ROUTER.route("PUT", "/repos/{owner}/{repo}/issues/{number}/labels", access="triage")
def set_issue_labels(forge: Forge, req: Request) -> list[dict[str, Any]]:
    full = full_name(forge, req)
    names = label_names(req.json())
    with forge.lock:
        doc = get_issue_doc(forge, full, req.params["number"])
        labels = [ensure_label(forge, full, n)["name"] for n in names]
        doc = forge.update(
            "issue", int(doc["id"]), {"labels": labels, "updated_at": forge.now_iso()}
        )
    return labels_of(forge, full, doc)


@ROUTER.route("DELETE", "/repos/{owner}/{repo}/issues/{number}/labels/{name}", access="triage")
def remove_issue_label(forge: Forge, req: Request) -> list[dict[str, Any]]:
    full = full_name(forge, req)
    name = req.params["name"].lower()
    with forge.lock:
        doc = get_issue_doc(forge, full, req.params["number"])
        current = list(doc.get("labels", []))
        if name not in {str(n).lower() for n in current}:
            raise ApiError(404, "Label does not exist")
        current = [n for n in current if str(n).lower() != name]
        doc = forge.update(
            "issue", int(doc["id"]), {"labels": current, "updated_at": forge.now_iso()}
        )
    return labels_of(forge, full, doc)


# ---- comments -----------------------------------------------------------------------------


def comment_json(forge: Forge, full: str, doc: dict[str, Any]) -> dict[str, Any]:
    url = f"{forge.repo_api(full)}/issues/comments/{doc['id']}"
    issue = forge.find_one("issue", full, number=doc["issue_number"])
    kind = "pull" if issue and issue.get("pull") else "issues"
    return {
        "id": doc["id"],
        "node_id": f"IC_{doc['id']}",
        "url": url,
        "html_url": f"{forge.repo_html(full)}/{kind}/{doc['issue_number']}"
        f"#issuecomment-{doc['id']}",
        "body": doc["body"],
        "user": forge.user_json(doc.get("user")),
        "created_at": doc["created_at"],
        "updated_at": doc["updated_at"],
        "issue_url": issue_api_url(forge, full, int(doc["issue_number"])),
        "author_association": people.association(forge, doc.get("user"), repo_of(forge, full)),
        "performed_via_github_app": None,
        "reactions": reactions_json(f"{url}/reactions"),
    }


def get_comment_doc(forge: Forge, full: str, comment_id: str) -> dict[str, Any]:
    return forge.get("comment", comment_id, repo=full)


@ROUTER.route("POST", "/repos/{owner}/{repo}/issues/{number}/comments", access="read")
def create_comment(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    data = body_dict(req)
    body = require_str(data, "body", "IssueComment")
    stamp = forge.now_iso()
    with forge.lock:
        issue = get_issue_doc(forge, full, req.params["number"])
        doc = forge.insert(
            "comment",
            full,
            {
                "issue_number": issue["number"],
                "body": body,
                "user": req.user or forge.login,
                "created_at": stamp,
                "updated_at": stamp,
            },
        )
        forge.update("issue", int(issue["id"]), {"updated_at": stamp})
    out = comment_json(forge, full, doc)
    return Response(201, out, {"Location": out["url"]})


@ROUTER.route("GET", "/repos/{owner}/{repo}/issues/{number}/comments")
def list_comments(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    issue = get_issue_doc(forge, full, req.params["number"])
    docs = forge.find("comment", full, issue_number=issue["number"])
    if req.query.get("since"):
        docs = [d for d in docs if d["updated_at"] >= req.query["since"]]
    return paginate(forge, req, [comment_json(forge, full, d) for d in docs])


@ROUTER.route("GET", "/repos/{owner}/{repo}/issues/comments")
def list_repo_comments(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    docs = forge.find("comment", full)
    if req.query.get("since"):
        docs = [d for d in docs if d["updated_at"] >= req.query["since"]]
    if req.query.get("direction") == "desc":
        docs.reverse()
    return paginate(forge, req, [comment_json(forge, full, d) for d in docs])


@ROUTER.route("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}")
def get_comment(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    return comment_json(forge, full, get_comment_doc(forge, full, req.params["comment_id"]))


@ROUTER.route("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}", access="read")
def update_comment(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    body = require_str(body_dict(req), "body", "IssueComment")
    with forge.lock:
        doc = get_comment_doc(forge, full, req.params["comment_id"])
        people.require_author_or(forge, req.user, full, doc, "write")
        doc = forge.update("comment", int(doc["id"]), {"body": body, "updated_at": forge.now_iso()})
    return comment_json(forge, full, doc)


@ROUTER.route("DELETE", "/repos/{owner}/{repo}/issues/comments/{comment_id}", access="read")
def delete_comment(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    with forge.lock:
        doc = get_comment_doc(forge, full, req.params["comment_id"])
        people.require_author_or(forge, req.user, full, doc, "write")
        forge.delete("comment", int(doc["id"]))
    return Response(204)


@ROUTER.route("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions")
def list_comment_reactions(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    get_comment_doc(forge, full, req.params["comment_id"])
    return paginate(forge, req, [])


# ---- search -------------------------------------------------------------------------------


def parse_query(q: str) -> tuple[list[tuple[str, str]], list[str]]:
    """Split a search query into ``(qualifier, value)`` pairs and free-text terms.

    Quoted phrases stay one term; ``label:"needs review"`` keeps its quoted value.
    """
    try:
        tokens = shlex.split(q)
    except ValueError:
        tokens = q.split()
    qualifiers: list[tuple[str, str]] = []
    terms: list[str] = []
    for token in tokens:
        key, sep, value = token.partition(":")
        if sep and key and " " not in key and value:
            qualifiers.append((key.lower(), value))
        else:
            terms.append(token)
    return qualifiers, terms


def matches(
    doc: dict[str, Any], full: str, qualifiers: list[tuple[str, str]], terms: list[str]
) -> bool:
    pull: dict[str, Any] = doc.get("pull") or {}
    fields = ["title", "body"]
    for key, value in qualifiers:
        low = value.lower()
        negate = key.startswith("-")
        key = key.lstrip("-")
        ok = True
        if key == "repo":
            ok = full.lower() == low
        elif key in ("is", "type", "state"):
            ok = {
                "issue": not pull,
                "pr": bool(pull),
                "pull-request": bool(pull),
                "open": doc["state"] == "open",
                "closed": doc["state"] == "closed",
                "merged": bool(pull and pull.get("merged")),
                "unmerged": bool(pull and not pull.get("merged")),
                "draft": bool(pull and pull.get("draft")),
            }.get(low, True)
        elif key == "in":
            fields = [f for f in ("title", "body") if f in low.split(",")] or fields
        elif key == "label":
            ok = low in {str(n).lower() for n in doc.get("labels", [])}
        elif key == "head":
            ok = bool(pull) and str(pull["head_ref"]).lower() == low.split(":")[-1]
        elif key == "base":
            ok = bool(pull) and str(pull["base_ref"]).lower() == low
        elif key == "author":
            ok = str(doc.get("user", "")).lower() == low
        elif key == "assignee":
            ok = low in {str(a).lower() for a in doc.get("assignees", [])}
        if ok == negate:
            return False
    haystack = " ".join(str(doc.get(f) or "") for f in fields).lower()
    return all(term.lower() in haystack for term in terms)


@ROUTER.route("GET", "/search/issues")
def search_issues(forge: Forge, req: Request) -> Response:
    q = req.query.get("q", "").strip()
    if not q:
        raise validation_failed("Search", "missing", "q")
    qualifiers, terms = parse_query(q)
    repos = [str(r["full_name"]) for r in forge.find("repo", "")]
    wanted = {v.lower() for k, v in qualifiers if k == "repo"}
    found: list[tuple[str, dict[str, Any]]] = []
    for full in repos:
        if wanted and full.lower() not in wanted:
            continue
        found += [
            (full, d) for d in forge.find("issue", full) if matches(d, full, qualifiers, terms)
        ]
    sort = req.query.get("sort")
    reverse = req.query.get("order", "desc") != "asc"
    if sort == "updated":
        found.sort(key=lambda fd: fd[1]["updated_at"], reverse=reverse)
    else:
        found.sort(key=lambda fd: (fd[1]["created_at"], fd[1]["id"]), reverse=reverse)
    items = []
    for full, doc in found:
        item = issue_json(forge, full, doc)
        item["score"] = 1.0
        if item["body"] is None:
            del item["body"]
        items.append(item)
    response = paginate(forge, req, items, key="items")
    response.body = {
        "total_count": response.body["total_count"],
        "incomplete_results": False,
        "search_type": "lexical",
        "items": response.body["items"],
    }
    return response
