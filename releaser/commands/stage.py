"""Stage commands: claim the release before the first write, run the plans, record the run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from releaser.engine import Engine
from releaser.errors import ClaimHeld, InputNeeded, ReleaserError
from releaser.ledger import iso, utcnow
from releaser.step import StepResult

if TYPE_CHECKING:
    from releaser.context import Context


class StageClaim:
    """Claims the release lazily: a re-run whose steps are all done writes nothing at all."""

    def __init__(self, ctx: Context, stage: str) -> None:
        self.ctx = ctx
        self.stage = stage
        self.held = False

    def __call__(self) -> None:
        if self.held or self.ctx.options.dry_run:
            return
        ledger = self.ctx.ledger
        try:
            ledger.claim(self.stage)
        except ClaimHeld as exc:
            if not self.ctx.options.take_over:
                raise
            if not self.ctx.options.yes:
                if not self.ctx.options.interactive:
                    raise InputNeeded(
                        f"--take-over needs a confirmation: {exc.message}",
                        "re-run with --take-over --yes once you know the other driver stopped",
                    ) from exc
                from releaser import prompts

                if not prompts.confirm(f"{exc.message}. Take the release over?"):
                    raise
            self.ctx.ui.warn(f"taking over: {exc.message}")
            ledger.claim(self.stage, take_over=True)
        self.held = True

    def release(self) -> None:
        if self.held:
            self.ctx.ledger.release_claim()
            self.held = False


def run_stages(ctx: Context, stages: list[str]) -> list[StepResult]:
    from steps import PLANS, STAGES

    engine = Engine(ctx)
    claim = StageClaim(ctx, stages[0] if len(stages) == 1 else "release")
    engine.before_write = claim
    everything: list[StepResult] = []
    try:
        for stage in stages:
            started = iso(utcnow())
            results: list[StepResult] = []
            outcome = "failed"
            try:
                results = engine.run_stage(stage, PLANS[stage])
                outcome = "done"
            except ReleaserError:
                results = engine.last_results
                raise
            finally:
                everything += results
                if claim.held:
                    ctx.ledger.record_stage(stage, outcome, started, results)
                _tick_checklist(ctx, results)
    finally:
        claim.release()
    last = stages[-1]
    following = STAGES.index(last) + 1
    if ctx.options.dry_run:
        ctx.ui.print("[blue]dry run: nothing was written.[/blue]")
    elif following < len(STAGES):
        ctx.ui.print(f"next: [bold]releaser {STAGES[following]} {ctx.version}[/bold]")
    else:
        ctx.ui.print(f"[green]release {ctx.tag} is complete.[/green]")
    return everything


def _tick_checklist(ctx: Context, results: list[StepResult]) -> None:
    """Tick the tracking issue's items for steps found done (writes only when a tick is new)."""
    if ctx.options.dry_run or not results:
        return
    from releaser.checklist import sync_checklist

    try:
        sync_checklist(ctx, results)
    except Exception as exc:  # a failed tick must not hide the stage's own outcome
        from releaser.engine import describe_exception

        ctx.ui.warn(f"could not tick the tracking issue: {describe_exception(exc)}")
