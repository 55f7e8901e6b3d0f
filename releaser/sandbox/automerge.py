"""Auto-merge: a pull request merged by the forge as soon as its base branch's rules allow.

Enabling it (GraphQL ``enablePullRequestAutoMerge``) stores ``pull.auto_merge`` ({enabled_by,
merge_method, commit_title, commit_message, enabled_at}) and an ``automerge`` document (number)
(repo, number) that marks the work. ``sweep`` merges every such pull request that is
open, not a draft, free of conflicts and passes its base branch's protection (required checks
and reviews; no admin bypass): at once when nothing is required, as GitHub does for a clean
pull request, else on the first request after the last requirement turned green (the forge's
tick runs ``sweep`` before every request; its gate hook runs it after a new status, review or
rule). It is built on the pulls API (``api_pulls``, ``api_issues``) and on ``protection``;
those modules reach it only through the hooks it registers when imported.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

from releaser.sandbox.api_issues import get_issue_doc
from releaser.sandbox.api_pulls import current_shas, do_merge, merge_tree
from releaser.sandbox.forge import GATE_HOOKS, TICK_HOOKS, Forge
from releaser.sandbox.http import ApiError
from releaser.sandbox.protection import merge_blocker


def enable(forge: Forge, full: str, doc: dict[str, Any], user: str, method: str) -> dict[str, Any]:
    """Turn auto-merge on for an open pull request; the updated document (maybe merged)."""
    with forge.lock:
        pull = {
            **doc["pull"],
            "auto_merge": {
                "enabled_by": user,
                "merge_method": method,
                "commit_title": None,
                "commit_message": None,
                "enabled_at": forge.now_iso(),
            },
        }
        forge.update("issue", int(doc["id"]), {"pull": pull, "updated_at": forge.now_iso()})
        if forge.find_one("automerge", full, number=doc["number"]) is None:
            forge.insert("automerge", full, {"repo": full, "number": doc["number"]})
    sweep(forge, full)
    return forge.get("issue", int(doc["id"]))


def disable(forge: Forge, full: str, number: int) -> None:
    with forge.lock:
        for mark in forge.find("automerge", full, number=number):
            forge.delete("automerge", int(mark["id"]))


def sweep(forge: Forge, full: str | None = None) -> list[int]:
    """Merge every waiting pull request (of ``full``, or all) that may be merged now; the
    numbers merged."""
    merged: list[int] = []
    for mark in forge.find("automerge", full):
        repo, number = str(mark["repo"]), int(mark["number"])
        pushes: list[tuple[str, str, str]] = []
        with forge.lock:
            try:
                doc = get_issue_doc(forge, repo, number)
            except ApiError:
                forge.delete("automerge", int(mark["id"]))
                continue
            pull = doc["pull"]
            settings = pull.get("auto_merge")
            if doc["state"] != "open" or pull.get("merged") or not settings:
                forge.delete("automerge", int(mark["id"]))
                continue
            head, base = current_shas(forge, repo, pull)
            if pull.get("draft") or merge_tree(forge, repo, base, head) is None:
                continue
            user = str(settings["enabled_by"])
            if merge_blocker(forge, repo, doc, head, base, user, bypass=False) is not None:
                continue
            try:
                new, old, _ = do_merge(
                    forge, repo, doc, {"merge_method": settings["merge_method"]}, user
                )
            except ApiError:
                traceback.print_exc(file=sys.stderr)
                continue
            forge.delete("automerge", int(mark["id"]))
            pushes.append((f"refs/heads/{pull['base_ref']}", old, new))
            merged.append(number)
        forge.notify_push(repo, pushes)
    return merged


def on_tick(forge: Forge) -> None:
    try:
        sweep(forge)
    except Exception:
        traceback.print_exc(file=sys.stderr)


def on_gate(forge: Forge, full: str) -> None:
    """A status, review or rule changed in ``full``: merge what may be merged now."""
    sweep(forge, full)


if on_tick not in TICK_HOOKS:
    TICK_HOOKS.append(on_tick)
if on_gate not in GATE_HOOKS:
    GATE_HOOKS.append(on_gate)
