"""Approvals: steps that run only once someone other than the driver approved exactly what
they would do (``[gates] approve`` names the steps, ``[gates] approvers`` who may approve).

- **What is approved.** A step says what it would do in one line,
  ``Step.approval_subject(ctx)`` (``push-tag``: ``tag v1.2.0 on <sha>``). An approval names
  that subject; one given for another subject (another commit, another digest) doesn't
  count. A step without a subject is approved for the release as a whole.
- **Where it lives.** ``releaser approve VERSION STEP``, run by an approver on any machine,
  appends ``{"type": "approval", "step", "subject", "login"}`` to the release's ledger. The
  login is the approver's forge user (``GET /user`` of their token), checked against the
  forge before anything is written.
- **Who may approve.** An active member of an ``@org/team`` of ``approvers``, or a listed
  ``@user`` with write access to the repository; with no ``approvers``, anyone with write
  access. Never the driver: an approval whose login is the driver's own doesn't count.
- **When it is checked.** The engine calls :func:`require_approval` before the step's writes
  (after its check found work to do): the driver's own token re-checks every recorded
  approval (its subject, its author's rights today); without one that counts, the command
  stops with exit 3 naming who may approve and the command to run.

Trust: the ledger is as trustworthy as write access to the repository (anyone who can push
a tag can also write an entry); approvals are a second pair of eyes among maintainers, not
a defence against one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from releaser.errors import InputNeeded, UsageError
from releaser.forge import at_least
from releaser.step import Pending

if TYPE_CHECKING:
    from releaser.context import Context
    from releaser.ledger import Approval
    from releaser.step import Step


@dataclass(frozen=True)
class Verdict:
    """One recorded approval, judged now: whether it counts, and why (or why not)."""

    approval: Approval
    counts: bool
    reason: str  # as what it counts ("member of @acme/release"), or why it doesn't

    def as_json(self) -> dict[str, Any]:
        return {**self.approval.as_json(), "counts": self.counts, "reason": self.reason}


def approve_list(ctx: Context) -> list[str]:
    """``[gates] approve`` for this release (empty when ``[gates]`` doesn't apply to it)."""
    gates = ctx.config.gates
    return list(gates.approve or []) if gates.applies(ctx.version) else []


def check_names(ctx: Context) -> None:
    """Every name in ``[gates] approve`` is a step of the release process (exit 2 if not)."""
    known = {step.name for steps in ctx.plans.values() for step in steps}
    unknown = [name for name in ctx.config.gates.approve or [] if name not in known]
    if unknown:
        raise UsageError(
            f"[gates] approve names no step: {', '.join(unknown)}",
            "use step names as `releaser plan VERSION` lists them",
        )


def required(ctx: Context, step: Step) -> bool:
    return step.name in approve_list(ctx)


def approvers(ctx: Context) -> list[str]:
    return [str(h) for h in ctx.config.gates.approvers or []]


def who_may_approve(ctx: Context) -> str:
    """In words: "a member of @acme/release or @alice", "anyone with write access to o/r"."""
    handles = approvers(ctx)
    if not handles:
        return f"anyone with write access to {ctx.repo_name}"
    teams = [h for h in handles if "/" in h]
    users = [h for h in handles if "/" not in h]
    parts = [f"a member of {' or '.join(teams)}"] if teams else []
    parts += users
    return " or ".join(parts)


def grant(ctx: Context, login: str) -> tuple[str | None, str]:
    """(how ``login`` may approve, None if not; why not, in words), asked of the forge."""
    handles = approvers(ctx)
    forge = ctx.forge
    if not handles:
        role = forge.role_of(login)
        if at_least(role, "write"):
            return f"{role} access to {ctx.repo_name}", ""
        return None, f"{login} has {role or 'no'} access to {ctx.repo_name} (write needed)"
    listed_without_write = ""
    unseen: list[str] = []  # teams this token can't see (or that don't exist)
    for handle in handles:
        name = handle.removeprefix("@")
        if "/" in name:
            org, slug = name.split("/", 1)
            if forge.team_role(org, slug, login) is not None:
                return f"member of {handle}", ""
            if not forge.team_visible(org, slug):
                unseen.append(handle)
        elif name.lower() == login.lower():
            role = forge.role_of(login)
            if at_least(role, "write"):
                return f"{handle}, with {role} access", ""
            listed_without_write = f"; {handle} is listed but has {role or 'no'} access"
    viewer = forge.login()
    if unseen and viewer.lower() != login.lower():  # a member would see their own team
        listed_without_write += (
            f"; {viewer}'s token can't see {', '.join(unseen)} (only members of its org can, "
            "and it must exist), so membership there can't be checked"
        )
    return None, f"{login} is not one of {', '.join(handles)}{listed_without_write}"


def subject_of(ctx: Context, step: Step) -> str | None:
    """What an approval of ``step`` must name now (raises what the step's reads raise)."""
    with ctx.running(step):
        return step.approval_subject(ctx)


def judge(
    ctx: Context, step: Step, subject: str | None, driver: str | None = None
) -> list[Verdict]:
    """Every approval recorded for ``step``, newest first, judged against ``subject`` and
    (when given) the ``driver``'s login."""
    verdicts = []
    for approval in reversed(ctx.ledger.approvals(step.name)):
        login = approval.login
        if approval.subject != subject:
            other = f"approves another subject: {approval.subject}"
            verdicts.append(Verdict(approval, False, other))
        elif driver is not None and login.lower() == driver.lower():
            verdicts.append(Verdict(approval, False, f"by the driver themselves ({driver})"))
        else:
            how, why_not = grant(ctx, login)
            verdicts.append(Verdict(approval, how is not None, how or why_not))
    return verdicts


def approve_command(ctx: Context, step: Step) -> str:
    return f"releaser approve {ctx.version} {step.name}"


def require_approval(ctx: Context, step: Step) -> None:
    """The engine's gate before ``step``'s writes: returns when an approval counts (saying
    whose), else stops with exit 3 (a dry run says it would)."""
    if not required(ctx, step):
        return
    try:
        subject = subject_of(ctx, step)
    except Pending:
        ctx.ui.print(f"  [blue]needs an approval[/blue] by {who_may_approve(ctx)}")
        return
    driver = ctx.forge.login()
    verdicts = judge(ctx, step, subject, driver)
    counting = next((v for v in verdicts if v.counts), None)
    what = f' of "{subject}"' if subject else ""
    if counting is not None:
        a = counting.approval
        ctx.ui.print(f"  [green]approved[/green]{what} by {a.login} ({counting.reason}) at {a.at}")
        return
    ignored = "; ".join(f"{v.approval.login}'s: {v.reason}" for v in verdicts[:3])
    ignored = f" (not counted: {ignored})" if ignored else ""
    other = f" other than you ({driver})" if driver else ""
    message = f"needs an approval{what} by {who_may_approve(ctx)}{other}{ignored}"
    hint = (
        f"an approver runs `{approve_command(ctx, step)}` (from any machine); then re-run "
        "this command"
    )
    if ctx.options.dry_run:
        ctx.ui.print(f"  [yellow]would stop:[/yellow] {message}; {hint}")
        return
    raise InputNeeded(message, hint)
