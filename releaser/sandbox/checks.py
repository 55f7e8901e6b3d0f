"""What a commit's checks say: its commit statuses and the check runs of its workflow runs.

A ``status`` document (sha, state, context, description, target_url, creator, created_at,
updated_at) is stored by :mod:`releaser.sandbox.api_statuses`; check runs are the jobs of
the workflow runs on a commit (:mod:`releaser.sandbox.actions`), served by
:mod:`releaser.sandbox.api_checks`. ``check_states`` merges both for branch protection's
required checks (:mod:`releaser.sandbox.protection`), where a context is satisfied by a
status or a check run of that name. Reading the runs settles them: a due run completes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from releaser.sandbox import actions

if TYPE_CHECKING:
    from releaser.sandbox.forge import Forge

OK_CONCLUSIONS = ("success", "neutral", "skipped")


def statuses_of(forge: Forge, full: str, sha: str) -> list[dict[str, Any]]:
    """Every status of the commit, newest first."""
    return sorted(forge.find("status", full, sha=sha), key=lambda d: d["id"], reverse=True)


def latest_statuses(forge: Forge, full: str, sha: str) -> list[dict[str, Any]]:
    """The newest status of each context, newest first."""
    seen: set[str] = set()
    out = []
    for doc in statuses_of(forge, full, sha):
        if doc["context"] not in seen:
            seen.add(doc["context"])
            out.append(doc)
    return out


def runs_on(forge: Forge, full: str, sha: str) -> list[dict[str, Any]]:
    """The workflow runs on the commit (settled), newest first."""
    runs = [actions.settle(forge, full, r) for r in forge.find("run", full, head_sha=sha)]
    return sorted(runs, key=lambda r: r["id"], reverse=True)


def latest_per_workflow(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[Any] = set()
    out = []
    for run in runs:  # newest first
        if run["workflow_id"] not in seen:
            seen.add(run["workflow_id"])
            out.append(run)
    return out


def check_states(forge: Forge, full: str, sha: str) -> dict[str, str]:
    """``{context: success|pending|failure}`` of the commit's latest statuses and check runs
    (the latest run of each workflow); a status wins over a check run of the same name."""
    now = forge.clock.now()
    out: dict[str, str] = {}
    for run in latest_per_workflow(runs_on(forge, full, sha)):
        for job in actions.job_states(run, now):
            if job.status != "completed" or job.conclusion is None:
                state = "pending"
            else:
                state = "success" if job.conclusion in OK_CONCLUSIONS else "failure"
            out.setdefault(job.name, state)
    for doc in latest_statuses(forge, full, sha):
        out[doc["context"]] = "failure" if doc["state"] == "error" else str(doc["state"])
    return out
