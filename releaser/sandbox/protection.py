"""Branch protection, tag protection and pull-request reviews: the rules and their checks.

Documents (kind, repo ``owner/name``):

``protection``      branch, required_status_checks ({strict, contexts, checks} or None),
                    required_pull_request_reviews ({required_approving_review_count,
                    dismiss_stale_reviews, require_code_owner_reviews} or None),
                    enforce_admins, allow_force_pushes, allow_deletions, updated_at
``tag_protection``  pattern (fnmatch, e.g. ``v*``), created_at, updated_at
``review``          number, user, state (APPROVED, CHANGES_REQUESTED, COMMENTED, PENDING),
                    body, commit_id, submitted_at

Branch protection, as GitHub applies it:

- merging a pull request (``merge_blocker``) needs every required context green on the head
  (a commit status or a check run of that name, see :mod:`releaser.sandbox.checks`;
  ``strict``: the head contains the base) and
  ``required_approving_review_count`` approvals whose authors have write access, none of whom
  asks for changes; else 405 with GitHub's message (``Required status check "ci" is
  expected.``, ``At least 1 approving review is required by reviewers with write access.``);
- a direct update of the branch (git push, the git refs API, the contents API, merges API:
  ``update_refusal``) is refused when reviews are required ("Changes must be made through a
  pull request."), when a required context is not green on the new commit, for a deletion
  unless ``allow_deletions`` and for a non-fast-forward unless ``allow_force_pushes``;
- admins bypass all of it unless ``enforce_admins`` (as GitHub lets them).

Tag protection: only users with ``maintain`` or ``admin`` create or delete tags matching a
rule, by git push or the refs API (tags never move in the sandbox anyway).
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any

from releaser.sandbox import gitdata, people
from releaser.sandbox.checks import check_states
from releaser.sandbox.http import ApiError

if TYPE_CHECKING:
    from releaser.sandbox.forge import Forge

ZERO = "0" * 40
PROTECTED_DOCS = "https://docs.github.com/articles/about-protected-branches"


# ---- rules --------------------------------------------------------------------------------


def branch_rule(forge: Forge, full: str, branch: str) -> dict[str, Any] | None:
    return forge.find_one("protection", full, branch=branch)


def required_contexts(rule: dict[str, Any]) -> list[str]:
    checks = rule.get("required_status_checks")
    if not checks:
        return []
    names = list(checks.get("contexts") or [])
    for check in checks.get("checks") or []:
        if check.get("context") not in names:
            names.append(str(check["context"]))
    return names


def tag_protected(forge: Forge, full: str, tag: str) -> bool:
    return any(
        fnmatch.fnmatchcase(tag, str(rule["pattern"]))
        for rule in forge.find("tag_protection", full)
    )


# ---- reviews ------------------------------------------------------------------------------


def latest_reviews(forge: Forge, full: str, number: int) -> dict[str, dict[str, Any]]:
    """Each reviewer's latest deciding review (APPROVED or CHANGES_REQUESTED)."""
    out: dict[str, dict[str, Any]] = {}
    for doc in forge.find("review", full, number=number):
        if doc["state"] in ("APPROVED", "CHANGES_REQUESTED"):
            out[str(doc["user"])] = doc
    return out


def review_decision(forge: Forge, full: str, pull: dict[str, Any]) -> tuple[int, bool]:
    """(approvals by users with write access, whether one of them asks for changes)."""
    repo = forge.repo(*full.split("/", 1))
    approvals, changes = 0, False
    for login, review in latest_reviews(forge, full, int(pull["number"])).items():
        if not people.at_least(people.role(forge, login, repo), "write"):
            continue
        if review["state"] == "APPROVED":
            approvals += 1
        else:
            changes = True
    return approvals, changes


# ---- checks -------------------------------------------------------------------------------


def _bypasses(forge: Forge, full: str, login: str | None, rule: dict[str, Any]) -> bool:
    if rule.get("enforce_admins"):
        return False
    repo = forge.repo(*full.split("/", 1))
    return people.role(forge, login, repo) == "admin"


def status_blocker(forge: Forge, full: str, rule: dict[str, Any], sha: str | None) -> str | None:
    """Why the commit ``sha`` (None: a commit not made yet) misses a required context."""
    states = check_states(forge, full, sha) if sha else {}
    for context in required_contexts(rule):
        state = states.get(context)
        if state == "failure":
            return f'Required status check "{context}" is failing.'
        if state != "success":
            return f'Required status check "{context}" is expected.'
    return None


def review_blocker(
    forge: Forge, full: str, rule: dict[str, Any], pull: dict[str, Any]
) -> str | None:
    reviews = rule.get("required_pull_request_reviews")
    if not reviews:
        return None
    needed = int(reviews.get("required_approving_review_count", 1) or 0)
    approvals, changes = review_decision(forge, full, pull)
    if changes:
        return "Changes requested by a reviewer with write access."
    if approvals < needed:
        noun = "approving review is" if needed == 1 else "approving reviews are"
        return f"At least {needed} {noun} required by reviewers with write access."
    return None


def merge_blocker(
    forge: Forge,
    full: str,
    pull: dict[str, Any],
    head: str,
    base: str,
    login: str | None,
    *,
    bypass: bool = True,
) -> str | None:
    """Why the base branch's protection forbids merging the pull request now, or None.

    ``bypass``: an admin's merge ignores the rules unless ``enforce_admins`` (auto-merge
    passes False: it waits for the rules whoever enabled it)."""
    rule = branch_rule(forge, full, str(pull["pull"]["base_ref"]))
    if rule is None or (bypass and _bypasses(forge, full, login, rule)):
        return None
    checks = rule.get("required_status_checks") or {}
    if checks.get("strict") and not gitdata.is_ancestor(forge, full, base, head):
        return "Head branch was not up to date with the base branch. Update it and try again."
    return status_blocker(forge, full, rule, head) or review_blocker(forge, full, rule, pull)


def update_refusal(
    forge: Forge,
    full: str,
    login: str | None,
    ref: str,
    old: str,
    new: str | None,
    *,
    check_fast_forward: bool = True,
) -> str | None:
    """Why protection refuses moving ``ref`` from ``old`` to ``new`` directly (ZERO: created
    or deleted; ``new`` None: a commit the forge is about to write), or None.

    The message has GitHub's lines (``GH006: Protected branch update failed for REF.`` and
    the reason); the git hook prints it as ``remote: ...`` lines."""
    repo = forge.repo(*full.split("/", 1))
    if ref.startswith("refs/tags/"):
        tag = ref[len("refs/tags/") :]
        creates_or_deletes = old == ZERO or new == ZERO
        if not creates_or_deletes or not tag_protected(forge, full, tag):
            return None
        if people.at_least(people.role(forge, login, repo), "maintain"):
            return None
        action = "create" if old == ZERO else "delete"
        return (
            f"GH006: Protected tag update failed for {ref}.\n"
            f"You're not authorized to {action} a protected tag: maintain or admin role required."
        )
    if not ref.startswith("refs/heads/"):
        return None
    rule = branch_rule(forge, full, ref[len("refs/heads/") :])
    if rule is None or _bypasses(forge, full, login, rule):
        return None
    head = f"GH006: Protected branch update failed for {ref}.\n"
    if new == ZERO:
        return None if rule.get("allow_deletions") else head + "Cannot delete this protected branch"
    if (
        check_fast_forward
        and old != ZERO
        and new is not None
        and not rule.get("allow_force_pushes")
        and not gitdata.is_ancestor(forge, full, old, new)
    ):
        return head + "Cannot force-push to this branch"
    if rule.get("required_pull_request_reviews"):
        return head + "Changes must be made through a pull request."
    blocked = status_blocker(forge, full, rule, new)
    return head + blocked if blocked else None


def guard_update(
    forge: Forge, full: str, login: str | None, ref: str, old: str, new: str | None
) -> None:
    """ApiError 422 when ``update_refusal`` refuses the update (REST writes)."""
    refusal = update_refusal(forge, full, login, ref, old, new)
    if refusal is not None:
        raise ApiError(422, refusal.replace("\n", " "))
