"""`releaser approve VERSION STEP`: approve, as a second maintainer, what a gated step would do.

Run by an approver (``[gates] approvers``) on any machine, with their own token. It shows
what the step would do now (its plan, and the subject an approval binds to: the commit to
tag, the digest to promote), checks on the forge that the token's user may approve, and
records the approval in the release's ledger. The driver's next run of the step finds it;
an approval of another subject, or by the driver themselves, doesn't count
(:mod:`releaser.approvals`).

Exit codes: 0 recorded (or already recorded, or nothing left to approve); 1 nothing to
approve yet (the step's inputs don't exist); 2 the step needs no approval, or this user may
not approve (nothing written).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from releaser import approvals
from releaser.errors import UsageError
from releaser.permissions import require_ledger_write
from releaser.step import Status, skip_reason

if TYPE_CHECKING:
    from releaser.context import Context


def approve_step(ctx: Context, name: str) -> None:
    from steps import all_steps, find_step

    found = find_step(name)
    if found is None:
        known = ", ".join(s.name for _, s in all_steps())
        raise UsageError(f"no step named {name!r}", f"steps are: {known}")
    _, step = found
    approvals.check_names(ctx)
    if skip_reason(step, ctx) is not None:
        raise UsageError(
            f"step {name} is not part of a {ctx.version.kind} release like {ctx.tag}",
            f"`releaser plan {ctx.version}` lists its steps",
        )
    if not approvals.required(ctx, step):
        raise UsageError(
            f"{name} needs no approval for {ctx.tag}: [gates] approve doesn't list it"
            + ("" if ctx.config.gates.applies(ctx.version) else " for this kind of release"),
            "nothing to do; the driver's run does it without one",
        )
    login = ctx.forge.login()
    if not login:
        raise UsageError(
            "this token is no user's (an app's installation token): an approval is a person's",
            "run `releaser approve` with your own token",
        )
    how, why_not = approvals.grant(ctx, login)
    if how is None:
        raise UsageError(
            f"{login} may not approve {name}: {why_not}",
            f"approvers are {approvals.who_may_approve(ctx)}: ask one of them",
        )
    require_ledger_write(ctx, "an approval")
    with ctx.running(step):
        outcome = step.check(ctx)
    if outcome.status is Status.DONE:
        ctx.ui.print(f"nothing to approve: {name} is done ({outcome.detail})")
        return
    subject = approvals.subject_of(ctx, step)
    with ctx.running(step):
        actions = step.plan(ctx)
    ctx.ui.print(f"[bold]{name}[/bold] for {ctx.tag} ({outcome.detail}) would:")
    ctx.ui.plan(actions, heading="would")
    what = subject or f"{name} for {ctx.tag}"
    if ctx.options.dry_run:
        ctx.ui.print(f"[blue]would[/blue] record {login}'s approval ({how}) of: {what}")
        return
    if ctx.ledger.record_approval(name, subject, login, how):
        ctx.ui.print(f"recorded {login}'s approval ({how}) of: {what}")
    else:
        ctx.ui.print(f"{login} had already approved: {what}")
    driver = ctx.ledger.last_driver_login()
    if driver is not None and driver.lower() == login.lower():
        ctx.ui.warn(
            f"you ({login}) drove this release last: your approval counts only when someone "
            f"else runs {name}"
        )
    else:
        ctx.ui.print(f"`releaser {found[0]} {ctx.version}` (run by someone else) now proceeds")
