"""Commit statuses, the combined status of a ref, and what a required check sees.

``POST /repos/{o}/{r}/statuses/{sha}`` stores a ``status`` document (sha, state, context,
description, target_url, creator, created_at, updated_at); ``GET .../commits/{ref}/statuses``
lists them newest first; ``GET .../commits/{ref}/status`` combines the latest of each context
by GitHub's rules: ``failure`` if one is ``failure`` or ``error``, ``pending`` if one is
``pending`` or there is none, else ``success``. Check runs (workflow jobs, see ``api_checks``)
are not statuses, as on GitHub; :mod:`releaser.sandbox.checks` merges both for branch
protection's required checks. A new status fires the forge's gate hooks (auto-merge sweeps).
"""

from __future__ import annotations

from typing import Any

from releaser.sandbox import render
from releaser.sandbox.checks import latest_statuses, statuses_of
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
    validation_failed,
)

STATES = ("error", "failure", "pending", "success")


def status_json(forge: Forge, full: str, doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "url": f"{forge.repo_api(full)}/statuses/{doc['sha']}",
        "avatar_url": f"{forge.html_url}/avatars/{doc['creator']}",
        "id": doc["id"],
        "node_id": render.node_id("SC", doc["id"]),
        "state": doc["state"],
        "description": doc.get("description"),
        "target_url": doc.get("target_url"),
        "context": doc["context"],
        "created_at": doc["created_at"],
        "updated_at": doc["updated_at"],
        "creator": forge.user_json(doc["creator"]),
    }


def resolve_sha(forge: Forge, full: str, ref: str) -> str:
    sha = forge.resolve(full, ref)
    if sha is None:
        raise not_found()
    return sha


def combined_state(states: list[str]) -> str:
    if any(s in ("failure", "error") for s in states):
        return "failure"
    if not states or "pending" in states:
        return "pending"
    return "success"


@ROUTER.route("POST", "/repos/{owner}/{repo}/statuses/{sha}")
def create_status(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    data = body_dict(req)
    state = data.get("state")
    if state not in STATES:
        raise validation_failed("Status", "custom", "state", message=f"state is one of {STATES}")
    given = req.params["sha"]
    sha = forge.resolve(full, given) if len(given) >= 4 else None
    if sha is None or not sha.startswith(given.lower()):
        raise ApiError(422, f"No commit found for SHA: {given}")
    for key in ("description", "target_url", "context"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise validation_failed("Status", "invalid", key)
    stamp = forge.now_iso()
    doc = forge.insert(
        "status",
        full,
        {
            "sha": sha,
            "state": state,
            "context": data.get("context") or "default",
            "description": data.get("description"),
            "target_url": data.get("target_url"),
            "creator": req.user or forge.login,
            "created_at": stamp,
            "updated_at": stamp,
        },
    )
    forge.notify_gate(full)
    out = status_json(forge, full, doc)
    return Response(201, out, {"Location": out["url"]})


@ROUTER.route("GET", "/repos/{owner}/{repo}/commits/{ref:path}/statuses")
@ROUTER.route("GET", "/repos/{owner}/{repo}/statuses/{ref:path}")
def list_statuses(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    sha = resolve_sha(forge, full, req.params["ref"])
    return paginate(
        forge, req, [status_json(forge, full, d) for d in statuses_of(forge, full, sha)]
    )


@ROUTER.route("GET", "/repos/{owner}/{repo}/commits/{ref:path}/status")
def combined_status(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    sha = resolve_sha(forge, full, req.params["ref"])
    latest = latest_statuses(forge, full, sha)
    repo = forge.repo(*full.split("/", 1))
    return {
        "state": combined_state([str(d["state"]) for d in latest]),
        "statuses": [status_json(forge, full, d) for d in latest],
        "sha": sha,
        "total_count": len(latest),
        "repository": render.repo_json(forge, repo, req.user),
        "commit_url": f"{forge.repo_api(full)}/commits/{sha}",
        "url": f"{forge.repo_api(full)}/commits/{sha}/status",
    }
