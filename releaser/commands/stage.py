"""Stage commands: claim the release before the first write, run the plans, record the run.

The claim is lazy: the engine calls ``before_write`` right before a step's first write, so a
re-run whose steps are all done writes nothing at all (no claim, no ledger entry). When the
claim is fresh and the ledger moved since the command started (another driver ran meanwhile),
what the checks saw may be stale: the stage is checked again, under the claim, before any
write. While the claim is held, writes renew the lease when a third of it has passed (the
engine renews it during long waits), so a takeover by someone else stops this command.

Each stage run is recorded in the ledger (who, where, when each step ran, the step that
stopped it): with the unclaim when the stage wrote something, alone when it only waited on
remote work (a build), never when it found everything done. `releaser report` reads them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from releaser.approvals import check_names, require_approval
from releaser.commands.preflight import check_release
from releaser.engine import Engine
from releaser.errors import ClaimHeld, InputNeeded, ReleaserError, StepFailed
from releaser.ledger import iso, utcnow
from releaser.permissions import PermissionMissing, Preflight, ServiceRefused
from releaser.step import Status, Step, StepResult

if TYPE_CHECKING:
    from releaser.context import Context

MAX_RECHECKS = 3


class Recheck(Exception):
    """The ledger moved between our checks and our claim: check the stage again."""


class StageClaim:
    """Claims the release lazily: a re-run whose steps are all done writes nothing at all."""

    def __init__(self, ctx: Context, stage: str, command: str) -> None:
        self.ctx = ctx
        self.stage = stage
        self.command = command  # what to re-run, e.g. "releaser prepare v1.2.0"
        self.held = False
        self.baseline: str | None = None  # the ledger's tip when the checks started
        self.rechecks = 0

    def start(self) -> None:
        """Read the ledger before the checks: its tip (did anyone append meanwhile?) and its
        entries (a claim a dead run of ours left, released at the end if all is done)."""
        if not self.ctx.options.dry_run:
            ledger = self.ctx.ledger
            ledger.entries(refresh=True)
            self.baseline = ledger.known_tip

    def __call__(self) -> None:
        if self.ctx.options.dry_run:
            return
        ledger = self.ctx.ledger
        if self.held:
            ledger.fence()  # TakenOver if someone took the release over; renews when due
            return
        took_over = False
        try:
            ledger.claim(self.stage)
        except ClaimHeld as exc:
            if not self.ctx.options.take_over:
                raise ClaimHeld(
                    exc.message,
                    "wait for them to finish (or the claim to expire), or run "
                    f"`{self.command} --take-over` once you know they stopped",
                ) from None
            self._confirm_take_over(exc)
            self.ctx.ui.warn(f"taking over: {exc.message}")
            ledger.claim(self.stage, take_over=True)
            took_over = True
        self.held = True
        # Our claim went on top of ``last_base``: if that isn't the tip seen before the
        # checks, someone appended meanwhile (a driver that ran this stage leaves claim,
        # stage and unclaim entries) and what the checks saw may be stale.
        moved = ledger.last_base != self.baseline
        self.baseline = ledger.last_base
        if (took_over or moved) and self.rechecks < MAX_RECHECKS:
            self.rechecks += 1
            raise Recheck()

    def _confirm_take_over(self, exc: ClaimHeld) -> None:
        options = self.ctx.options
        if options.yes:
            return
        if not options.interactive:
            raise InputNeeded(
                f"--take-over needs a confirmation: {exc.message}",
                f"re-run `{self.command} --take-over --yes` once you know they stopped",
            ) from exc
        from releaser import prompts

        if not prompts.confirm(f"{exc.message}. Take the release over?"):
            raise ClaimHeld(exc.message, "not taken over; re-run when they are done") from exc

    def release(self, last: dict[str, Any] | None = None) -> None:
        """Release the claim, recording ``last`` (the last stage run) in the same write."""
        if not self.held:
            return
        self.held = False
        try:
            self.ctx.ledger.release_claim(last)
        except Exception as exc:  # the claim expires by itself: don't hide the real outcome
            from releaser.errors import describe_exception

            self.ctx.ui.warn(
                f"could not release the claim (it expires by itself): {describe_exception(exc)}"
            )


def run_stages(ctx: Context, stages: list[str]) -> list[StepResult]:
    from releaser.stages import STAGES

    engine = Engine(ctx)
    name = stages[0] if len(stages) == 1 else "release"
    for table in ctx.config.not_acted_on():
        if table.split(".", 1)[0] in stages:
            ctx.ui.warn(
                f"[{table}] is configured, but no step acts on it yet: "
                f"`releaser {table.split('.', 1)[0]}` does nothing with it (do it by hand)"
            )
    command = f"releaser {name} v{ctx.version}"
    claim = StageClaim(ctx, name, command)
    preflight, gate = _gates(ctx, stages)

    def before_write() -> None:
        preflight()  # once: every permission the command's writes need, or exit 2
        claim()

    engine.before_write = before_write
    engine.gate = gate
    engine.noted = preflight.noted
    everything: list[StepResult] = []
    pending: dict[str, Any] | None = None  # the last stage run, recorded with the unclaim
    claim.start()  # reads the ledger (live runs): the checks below use that read
    skipped = check_release(ctx, stages)
    if ctx.ledger.last_base == claim.baseline:  # it recorded an adoption: our own write
        claim.baseline = ctx.ledger.known_tip
    try:
        for stage in stages:
            if stage in skipped:
                ctx.ui.print(f"[dim]{stage}: skipped ({ctx.tag} is an adopted tag)[/dim]")
                continue
            if pending is not None:
                _record_stage(ctx, pending, claim)
                pending = None
            started = iso(utcnow(ctx.now))
            preflight.next_stage()
            results: list[StepResult] = []
            outcome = "failed"
            refused = False  # the check before the first write stopped it: nothing written
            try:
                while True:
                    try:
                        results = engine.run_stage(stage, ctx.plans[stage])
                        break
                    except Recheck:
                        ctx.forget_reads()  # what we read may predate the other driver
                        ctx.ui.print(
                            "  [cyan]the release moved while checking (another driver ran): "
                            "checking again before writing[/cyan]"
                        )
                outcome = "done"
            except ReleaserError as exc:
                results = engine.last_results
                refused = isinstance(exc, (PermissionMissing, ServiceRefused))
                raise
            finally:
                everything += results
                if claim.held:
                    pending = ctx.ledger.stage_entry(
                        stage, outcome, started, results, engine.stopped
                    )
                elif engine.waited and not ctx.options.dry_run and preflight.allows():
                    # It wrote nothing but waited on remote work (a build): worth a record
                    # of who waited how long; a re-run finding it all done records nothing.
                    _record_stage(
                        ctx,
                        ctx.ledger.stage_entry(stage, outcome, started, results, engine.stopped),
                        claim,
                    )
                if not refused:
                    _tick_checklist(ctx, results, claim)
        if not claim.held and not ctx.options.dry_run:
            _release_stale_own_claim(ctx, everything)
    finally:
        claim.release(pending)
    last = stages[-1]
    following = STAGES.index(last) + 1
    if ctx.options.dry_run:
        ctx.ui.print("[blue]dry run: nothing was written.[/blue]")
        problems = engine.dry_run_problems
        if preflight.problem:
            problems.append(StepResult(preflight.stopped_by, Status.FAILED, preflight.problem))
        if problems:
            listed = "; ".join(f"{r.step} {r.status}: {r.detail}" for r in problems)
            raise StepFailed(
                f"the release would stop at {len(problems)} step(s): {listed}",
                "fix what they say, then dry-run again",
            )
    elif following < len(STAGES):
        ctx.ui.print(f"next: [bold]releaser {STAGES[following]} v{ctx.version}[/bold]")
    else:
        ctx.ui.print(f"[green]release {ctx.tag} is complete.[/green]")
    return everything


def _gates(ctx: Context, stages: list[str]) -> tuple[Preflight, Callable[[Step], None]]:
    """The permission check of the command's writes, and the engine's gate before a step's
    writes: the permissions (once), then the step's approval (``[gates] approve``)."""
    from releaser.commands import check_only_in

    check_only_in(ctx.plans, stages, ctx.options.only)
    check_names(ctx)
    preflight = Preflight(ctx, stages)

    def gate(step: Step) -> None:
        preflight()
        require_approval(ctx, step)

    return preflight, gate


def _record_stage(ctx: Context, entry: dict[str, Any], claim: StageClaim) -> None:
    try:
        ctx.ledger.append(entry)
        if not claim.held and ctx.ledger.last_base == claim.baseline:
            claim.baseline = ctx.ledger.known_tip  # only our own record moved the tip
    except Exception as exc:  # the forge holds the truth; the record is for people
        from releaser.errors import describe_exception

        ctx.ui.warn(f"could not record the stage run in the ledger: {describe_exception(exc)}")


TICK_ATTEMPTS = 4  # a transient failure of the tracking issue's tick is tried again


def _tick_checklist(ctx: Context, results: list[StepResult], claim: StageClaim) -> None:
    """Tick the tracking issue's items for steps found done (writes only when a tick is new,
    and only under the claim: a driver stopped by another's claim writes nothing)."""
    if ctx.options.dry_run or not results:
        return
    from releaser.checklist import sync_checklist
    from releaser.errors import AmbiguousWrite, HTTPError, Unreachable

    for attempt in range(1, TICK_ATTEMPTS + 1):
        try:
            sync_checklist(ctx, results, before_write=claim)
            return
        except (ClaimHeld, InputNeeded, Recheck):
            return  # not ours to write: the stage's own outcome says why
        except (AmbiguousWrite, HTTPError, Unreachable) as exc:
            # A tick is a read of the issue, then its whole body written: safe to do again.
            # Left undone, no later stage would tick this stage's steps.
            transient = not isinstance(exc, HTTPError) or exc.status >= 500
            if transient and attempt < TICK_ATTEMPTS:
                ctx.forget_reads()
                continue
            _tick_failed(ctx, exc)
            return
        except Exception as exc:  # a failed tick must not hide the stage's own outcome
            _tick_failed(ctx, exc)
            return


def _tick_failed(ctx: Context, exc: BaseException) -> None:
    from releaser.errors import describe_exception

    ctx.ui.warn(
        f"could not tick the tracking issue: {describe_exception(exc)}; "
        "re-run the command to tick it (it is safe)"
    )


def _release_stale_own_claim(ctx: Context, results: list[StepResult]) -> None:
    """A run that found every step done releases a claim a dead run of the same forge
    identity left (its lease would otherwise hold the release until it expires)."""
    if not results or any(str(r.status) not in ("done", "skipped") for r in results):
        return
    try:
        released = ctx.ledger.release_own_stale()
    except Exception as exc:
        from releaser.errors import describe_exception

        ctx.ui.warn(f"could not release a stale claim: {describe_exception(exc)}")
        return
    if released is not None:
        ctx.ui.print(
            f"released the claim {released.who()} left ({released.stage}, a run that stopped)"
        )
