"""REST: branch protection, tag protection and pull-request reviews (rules in ``protection``).

::

    PUT|GET|DELETE /repos/{o}/{r}/branches/{branch}/protection      (admin)
    POST|GET       /repos/{o}/{r}/tags/protection                   (admin)
    DELETE         /repos/{o}/{r}/tags/protection/{id}              (admin)
    POST|GET       /repos/{o}/{r}/pulls/{n}/reviews                 (read; not your own PR)
    GET            /repos/{o}/{r}/pulls/{n}/reviews/{id}

The sandbox supports no push ``restrictions`` (they must be null), and of the other settings
enforces required status checks (``strict``, ``contexts``, ``checks``), required approving
reviews, ``enforce_admins``, ``allow_force_pushes`` and ``allow_deletions``. A changed rule
or a new review fires the forge's gate hooks (auto-merge sweeps).
"""

from __future__ import annotations

from typing import Any

from releaser.sandbox import people, protection
from releaser.sandbox.api_issues import get_issue_doc
from releaser.sandbox.api_pulls import current_shas
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

ADMIN_ONLY = "Must have admin rights to Repository."
REQUIRED_KEYS = (
    "required_status_checks",
    "enforce_admins",
    "required_pull_request_reviews",
    "restrictions",
)
EVENTS = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}


# ---- branch protection --------------------------------------------------------------------


def protection_json(forge: Forge, full: str, rule: dict[str, Any]) -> dict[str, Any]:
    """The ``protected-branch`` object (also fits ``branch-protection``)."""
    url = f"{forge.repo_api(full)}/branches/{rule['branch']}/protection"
    out: dict[str, Any] = {
        "url": url,
        "required_signatures": {"url": f"{url}/required_signatures", "enabled": False},
        "enforce_admins": {"url": f"{url}/enforce_admins", "enabled": bool(rule["enforce_admins"])},
        "required_linear_history": {"enabled": False},
        "allow_force_pushes": {"enabled": bool(rule["allow_force_pushes"])},
        "allow_deletions": {"enabled": bool(rule["allow_deletions"])},
        "block_creations": {"enabled": False},
        "required_conversation_resolution": {"enabled": False},
        "lock_branch": {"enabled": False},
        "allow_fork_syncing": {"enabled": False},
    }
    checks = rule.get("required_status_checks")
    if checks is not None:
        out["required_status_checks"] = {
            "url": f"{url}/required_status_checks",
            "strict": bool(checks["strict"]),
            "contexts": list(checks["contexts"]),
            "checks": [dict(c) for c in checks["checks"]],
            "contexts_url": f"{url}/required_status_checks/contexts",
        }
    reviews = rule.get("required_pull_request_reviews")
    if reviews is not None:
        out["required_pull_request_reviews"] = {
            "url": f"{url}/required_pull_request_reviews",
            "dismiss_stale_reviews": bool(reviews["dismiss_stale_reviews"]),
            "require_code_owner_reviews": bool(reviews["require_code_owner_reviews"]),
            "required_approving_review_count": int(reviews["required_approving_review_count"]),
            "require_last_push_approval": False,
        }
    return out


def _status_checks(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise validation_failed("Protection", "invalid", "required_status_checks")
    contexts = value.get("contexts") or []
    checks = value.get("checks") or []
    if not isinstance(contexts, list) or not all(isinstance(c, str) for c in contexts):
        raise ApiError(422, "Invalid request.\n\nrequired_status_checks.contexts is a list.")
    parsed = []
    for check in checks if isinstance(checks, list) else [None]:
        if not isinstance(check, dict) or not isinstance(check.get("context"), str):
            raise ApiError(422, "Invalid request.\n\nEach of checks needs a context.")
        parsed.append({"context": check["context"], "app_id": check.get("app_id")})
    if "strict" not in value:
        raise ApiError(422, 'Invalid request.\n\n"strict" wasn\'t supplied.')
    # as GitHub answers: every required context in both lists
    for context in contexts:
        if context not in [c["context"] for c in parsed]:
            parsed.append({"context": context, "app_id": None})
    names = [c["context"] for c in parsed]
    return {"strict": bool(value["strict"]), "contexts": names, "checks": parsed}


def _reviews(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise validation_failed("Protection", "invalid", "required_pull_request_reviews")
    count = value.get("required_approving_review_count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 6:
        raise ApiError(422, "required_approving_review_count is a number from 0 to 6.")
    return {
        "required_approving_review_count": count,
        "dismiss_stale_reviews": bool(value.get("dismiss_stale_reviews", False)),
        "require_code_owner_reviews": bool(value.get("require_code_owner_reviews", False)),
    }


def _branch(forge: Forge, req: Request) -> tuple[str, str]:
    full = full_name(forge, req)
    branch = req.params["branch"]
    if forge.resolve(full, f"refs/heads/{branch}") is None:
        raise ApiError(404, "Branch not found")
    return full, branch


@ROUTER.route("PUT", "/repos/{owner}/{repo}/branches/{branch:path}/protection", "admin", ADMIN_ONLY)
def put_protection(forge: Forge, req: Request) -> dict[str, Any]:
    full, branch = _branch(forge, req)
    data = body_dict(req)
    for key in REQUIRED_KEYS:
        if key not in data:
            raise ApiError(422, f'Invalid request.\n\n"{key}" wasn\'t supplied.')
    if data["restrictions"] is not None:
        raise ApiError(422, "The sandbox forge supports no push restrictions: send null.")
    fields = {
        "branch": branch,
        "required_status_checks": _status_checks(data["required_status_checks"]),
        "required_pull_request_reviews": _reviews(data["required_pull_request_reviews"]),
        "enforce_admins": bool(data["enforce_admins"]),
        "allow_force_pushes": bool(data.get("allow_force_pushes") or False),
        "allow_deletions": bool(data.get("allow_deletions") or False),
        "updated_at": forge.now_iso(),
    }
    with forge.lock:
        rule = protection.branch_rule(forge, full, branch)
        if rule is None:
            rule = forge.insert("protection", full, fields)
        else:
            rule = forge.update("protection", int(rule["id"]), fields)
    forge.notify_gate(full)
    return protection_json(forge, full, rule)


@ROUTER.route("GET", "/repos/{owner}/{repo}/branches/{branch:path}/protection", "admin", ADMIN_ONLY)
def get_protection(forge: Forge, req: Request) -> dict[str, Any]:
    full, branch = _branch(forge, req)
    rule = protection.branch_rule(forge, full, branch)
    if rule is None:
        raise ApiError(404, "Branch not protected")
    return protection_json(forge, full, rule)


@ROUTER.route(
    "DELETE", "/repos/{owner}/{repo}/branches/{branch:path}/protection", "admin", ADMIN_ONLY
)
def delete_protection(forge: Forge, req: Request) -> Response:
    full, branch = _branch(forge, req)
    with forge.lock:
        rule = protection.branch_rule(forge, full, branch)
        if rule is None:
            raise ApiError(404, "Branch not protected")
        forge.delete("protection", int(rule["id"]))
    forge.notify_gate(full)
    return Response(204)


# ---- tag protection -----------------------------------------------------------------------


def tag_rule_json(doc: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "pattern", "created_at", "updated_at")
    return {**{k: doc[k] for k in keys}, "enabled": True}


@ROUTER.route("POST", "/repos/{owner}/{repo}/tags/protection", "admin", ADMIN_ONLY)
def create_tag_protection(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    pattern = require_str(body_dict(req), "pattern", "TagProtection")
    stamp = forge.now_iso()
    with forge.lock:
        if forge.find_one("tag_protection", full, pattern=pattern) is not None:
            raise validation_failed("TagProtection", "already_exists", "pattern")
        doc = forge.insert(
            "tag_protection", full, {"pattern": pattern, "created_at": stamp, "updated_at": stamp}
        )
    return Response(201, tag_rule_json(doc))


@ROUTER.route("GET", "/repos/{owner}/{repo}/tags/protection", "admin", ADMIN_ONLY)
def list_tag_protection(forge: Forge, req: Request) -> list[dict[str, Any]]:
    full = full_name(forge, req)
    return [tag_rule_json(d) for d in forge.find("tag_protection", full)]


@ROUTER.route("DELETE", "/repos/{owner}/{repo}/tags/protection/{rule_id}", "admin", ADMIN_ONLY)
def delete_tag_protection(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    with forge.lock:
        doc = forge.get("tag_protection", req.params["rule_id"], repo=full)
        forge.delete("tag_protection", int(doc["id"]))
    return Response(204)


# ---- reviews ------------------------------------------------------------------------------


def review_json(forge: Forge, full: str, doc: dict[str, Any]) -> dict[str, Any]:
    pull_url = f"{forge.repo_api(full)}/pulls/{doc['number']}"
    html = f"{forge.repo_html(full)}/pull/{doc['number']}#pullrequestreview-{doc['id']}"
    repo = forge.repo(*full.split("/", 1))
    out = {
        "id": doc["id"],
        "node_id": f"PRR_{doc['id']}",
        "user": forge.user_json(doc["user"]),
        "body": doc.get("body") or "",
        "state": doc["state"],
        "html_url": html,
        "pull_request_url": pull_url,
        "_links": {"html": {"href": html}, "pull_request": {"href": pull_url}},
        "commit_id": doc["commit_id"],
        "author_association": people.association(forge, doc["user"], repo),
    }
    if doc.get("submitted_at"):
        out["submitted_at"] = doc["submitted_at"]
    return out


def _unprocessable(message: str) -> ApiError:
    return ApiError(422, "Unprocessable Entity", [message])


@ROUTER.route("POST", "/repos/{owner}/{repo}/pulls/{number}/reviews", access="read")
def create_review(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    data = body_dict(req)
    event = data.get("event")
    if event is not None and event not in EVENTS:
        raise validation_failed("PullRequestReview", "invalid", "event")
    body = data.get("body") or ""
    with forge.lock:
        doc = get_issue_doc(forge, full, req.params["number"])
        if not doc.get("pull"):
            raise not_found()
        author = str(doc.get("user", "")).lower() == (req.user or "").lower()
        if author and event == "APPROVE":
            raise _unprocessable("Can not approve your own pull request")
        if author and event == "REQUEST_CHANGES":
            raise _unprocessable("Can not request changes on your own pull request")
        if event in ("REQUEST_CHANGES", "COMMENT") and not body:
            raise _unprocessable(f"Body is required when the event is {event}")
        if doc["state"] != "open":
            raise _unprocessable("Can not review a closed pull request")
        head, _ = current_shas(forge, full, doc["pull"])
        review = forge.insert(
            "review",
            full,
            {
                "number": doc["number"],
                "user": req.user or forge.login,
                "state": EVENTS[event] if event else "PENDING",
                "body": body,
                "commit_id": data.get("commit_id") or head,
                "submitted_at": forge.now_iso() if event else None,
            },
        )
    forge.notify_gate(full)
    return Response(200, review_json(forge, full, review))


@ROUTER.route("GET", "/repos/{owner}/{repo}/pulls/{number}/reviews")
def list_reviews(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    doc = get_issue_doc(forge, full, req.params["number"])
    if not doc.get("pull"):
        raise not_found()
    reviews = forge.find("review", full, number=doc["number"])
    return paginate(forge, req, [review_json(forge, full, r) for r in reviews])


@ROUTER.route("GET", "/repos/{owner}/{repo}/pulls/{number}/reviews/{review_id}")
def get_review(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    review = forge.get("review", req.params["review_id"], repo=full)
    if str(review["number"]) != req.params["number"]:
        raise not_found()
    return review_json(forge, full, review)
