"""Runs a stage's steps: check -> plan / ask / act -> verify / wait (DESIGN §4).

The engine owns everything around a step: narration, skipping, dry-run, confirmation of
dangerous steps, questions, waiting on remote work, re-checking after a write, and error
wrapping (messages get the step name here, never inside steps).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from releaser.errors import InputNeeded, ReleaserError, StepFailed, StillRunning, UsageError
from releaser.step import Action, Outcome, Status, Step, StepResult

if TYPE_CHECKING:
    from releaser.context import Context

SETTLE_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0)  # re-checks after run() for asynchronous effects


def skip_reason(step: Step, ctx: Context) -> str | None:
    """Why a step is not part of this release (None when it is).

    Kinds come from the step's ``only``/``skip``, overridden by ``[steps.NAME]``; then the
    step's own ``applies()`` (its config is present).
    """
    only, skip = step.only, step.skip
    override = ctx.config.step_override(step.name)
    if override is not None:
        if override.get("enabled") is False:
            return f"disabled by [steps.{step.name}]"
        only = tuple(override.get("only") or only)
        skip = tuple(override.get("skip") or skip)
    if not ctx.version.matches(only, skip):
        return f"not for {ctx.version.kind} releases"
    if not step.applies(ctx):
        return "not configured for this project"
    return None


def step_applies(step: Step, ctx: Context) -> bool:
    return skip_reason(step, ctx) is None


def selected(step: Step, ctx: Context) -> bool:
    """``--only`` / ``--skip`` from the command line."""
    opts = ctx.options
    if opts.only and step.name not in opts.only:
        return False
    return step.name not in opts.skip


class Engine:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.ui = ctx.ui
        # Called before the first write of a command (claims the release); a re-run whose
        # steps are all done never calls it, so it writes nothing.
        self.before_write: Callable[[], None] = lambda: None
        self.last_results: list[StepResult] = []

    # -- a whole stage -----------------------------------------------------------------

    def run_stage(self, stage: str, steps: Sequence[Step]) -> list[StepResult]:
        """Run the stage's steps in order; raises a ReleaserError when one stops the stage."""
        ctx = self.ctx
        self.ui.stage(stage, ctx.tag, ctx.options.dry_run)
        results: list[StepResult] = []
        self.last_results = results
        if not steps:
            self.ui.print(f"  [dim]stage {stage} has no steps yet: nothing to do[/dim]")
            return results
        try:
            for step in steps:
                results.append(self.run_step(step))
        finally:
            self.ui.summary(f"{stage} {ctx.tag}", results)
        return results

    # -- one step ----------------------------------------------------------------------

    def run_step(self, step: Step) -> StepResult:
        ctx = self.ctx
        reason = skip_reason(step, ctx)
        if reason is not None:
            return StepResult(step.name, "skipped", reason)
        if not selected(step, ctx):
            return StepResult(step.name, "skipped", "not selected (--only/--skip)")
        started = time.monotonic()
        self.ui.step(step.name, step.describe(ctx))
        try:
            result = self._drive(step)
        except ReleaserError as exc:
            exc.message = f"{step.name}: {exc.message}"
            raise
        result.seconds = time.monotonic() - started
        return result

    def _check(self, step: Step) -> Outcome:
        try:
            outcome = step.check(self.ctx)
        except ReleaserError:
            raise
        except Exception as exc:
            self._debug_traceback()
            credential_error(exc)
            raise StepFailed(
                f"checking failed: {describe_exception(exc)}",
                "re-run the command (it is safe); -v shows the details",
            ) from exc
        if outcome.status is Status.UNKNOWN:
            # Someone answered already, on this machine or another: never ask twice.
            answer = self.ctx.ledger.answer(step.name)
            if answer is not None:
                return Outcome.done(f"confirmed by {answer.by} at {answer.at}", answer.evidence)
        return outcome

    def _drive(self, step: Step) -> StepResult:
        ctx = self.ctx
        outcome = self._check(step)
        if outcome.status is Status.DONE:
            self.ui.outcome("done", outcome.detail, outcome.evidence)
            return StepResult(step.name, Status.DONE, outcome.detail, outcome.evidence)
        if outcome.status is Status.RUNNING:
            if ctx.options.dry_run:
                self.ui.outcome("running", outcome.detail, outcome.evidence)
                return StepResult(step.name, Status.RUNNING, outcome.detail, outcome.evidence)
            outcome = self._wait(step, outcome)
            return self._finish(step, outcome, acted=False)
        if outcome.status is Status.TODO:
            return self._act(step, outcome)
        if outcome.status is Status.UNKNOWN:
            return self._ask(step, outcome)
        if outcome.status is Status.BLOCKED and ctx.options.dry_run and ctx.planned:
            return self._plan_after_planned(step, outcome)
        return self._finish(step, outcome, acted=False)

    def _act(self, step: Step, outcome: Outcome) -> StepResult:
        ctx = self.ctx
        self.ui.outcome("todo", outcome.detail)
        actions = step.plan(ctx)
        if ctx.options.dry_run:
            self.ui.plan(actions)
            ctx.planned.add(step.name)
            return StepResult(step.name, "planned", outcome.detail, actions=actions)
        if step.dangerous and not ctx.options.yes:
            self.ui.plan(actions, heading="will")
            if not ctx.options.interactive:
                raise InputNeeded(
                    "this step is irreversible and needs a confirmation: review the plan above",
                    "re-run with --yes once a reviewer has checked the plan",
                )
            from releaser import prompts

            if not prompts.confirm(f"{step.name}: make these writes?"):
                raise StepFailed("not confirmed by the operator", "re-run when ready")
        elif ctx.options.verbose:
            self.ui.plan(actions, heading="will")
        self.before_write()
        try:
            step.run(ctx)
        except ReleaserError as exc:
            # An error may come after the write was applied: the check decides.
            after = self._recheck(step)
            if after.status is not Status.DONE:
                raise StepFailed(exc.message, exc.hint) from exc
        except Exception as exc:
            self._debug_traceback()
            credential_error(exc)
            after = self._recheck(step)
            if after.status is not Status.DONE:
                raise StepFailed(
                    describe_exception(exc), "re-run the command: it re-checks before writing"
                ) from exc
        return self._finish(step, self._settle(step), acted=True, actions=actions)

    def _recheck(self, step: Step) -> Outcome:
        """Check again, forgetting what this command read before: after a write, or while
        waiting, memoised reads are stale."""
        self.ctx.forget_reads()
        return self._check(step)

    def _settle(self, step: Step) -> Outcome:
        """Check again after run() until the effect shows (asynchronous writes)."""
        outcome = self._recheck(step)
        for delay in SETTLE_DELAYS:
            if outcome.status is not Status.TODO:
                break
            time.sleep(delay)
            outcome = self._recheck(step)
        if outcome.status is Status.RUNNING:
            outcome = self._wait(step, outcome)
        if outcome.status is Status.TODO:
            return Outcome.failed(f"ran, but the check still finds work to do: {outcome.detail}")
        return outcome

    def _wait(self, step: Step, outcome: Outcome) -> Outcome:
        ctx = self.ctx
        if ctx.options.no_wait:
            raise StillRunning(
                f"still running: {outcome.detail}",
                "re-run the same command later (without --no-wait to wait)",
            )
        engine_cfg = ctx.config.engine
        timeout = float(engine_cfg.wait_timeout)
        interval = float(step.poll_interval or engine_cfg.poll_interval)
        deadline = time.monotonic() + timeout
        with self.ui.waiting(f"{step.name}: {outcome.detail}", timeout) as display:
            while outcome.status is Status.RUNNING:
                if time.monotonic() > deadline:
                    return Outcome.failed(
                        f"still running after {timeout:.0f}s: {outcome.detail}", outcome.evidence
                    )
                time.sleep(interval)
                if ctx.ledger.renew_due():  # a third of our lease has passed: extend it
                    ctx.ledger.renew()
                outcome = self._recheck(step)
                display.update(outcome.detail)
        return outcome

    def _ask(self, step: Step, outcome: Outcome) -> StepResult:
        ctx = self.ctx
        doc = step.doc()
        self.ui.outcome("unknown", outcome.detail)
        if doc.by_hand:
            self.ui.manual(ctx.fmt(doc.by_hand) if "{" in doc.by_hand else doc.by_hand)
        if ctx.options.dry_run:
            return StepResult(step.name, Status.UNKNOWN, "would ask: " + outcome.detail)
        confirm_cmd = f"releaser confirm {ctx.version} {step.name} --evidence URL"
        if not ctx.options.interactive:
            raise InputNeeded(
                f"operator input needed: {outcome.detail}",
                f"do it by hand as shown, then record it: `{confirm_cmd}`",
            )
        from releaser import prompts

        choice = prompts.choose(
            f"{step.name}: {outcome.detail}",
            ["done, with a link as evidence", "done", "not yet: stop here"],
        )
        if choice.startswith("not yet"):
            raise StepFailed("waiting for the operator", f"do it, then re-run or `{confirm_cmd}`")
        evidence = prompts.text("Evidence URL:") if "link" in choice else None
        self.before_write()
        ctx.ledger.record_answer(step.name, "done", evidence or None)
        return self._finish(step, Outcome.done("confirmed by the operator", evidence), True)

    def _plan_after_planned(self, step: Step, outcome: Outcome) -> StepResult:
        """Dry-run: a step blocked only by steps this run planned would run after them."""
        ctx = self.ctx
        self.ui.outcome("blocked", f"{outcome.detail} (until the planned steps run)")
        try:
            actions = step.plan(ctx)
        except Exception:
            self.ui.print("  [blue]would[/blue] act once the steps above have run")
            actions = []
        else:
            self.ui.plan(actions)
        ctx.planned.add(step.name)
        return StepResult(step.name, "planned", outcome.detail, actions=actions)

    def _finish(
        self,
        step: Step,
        outcome: Outcome,
        acted: bool,
        actions: list[Action] | None = None,
    ) -> StepResult:
        status = outcome.status
        self.ui.outcome(status.value, outcome.detail, outcome.evidence)
        result = StepResult(step.name, status, outcome.detail, outcome.evidence, acted)
        result.actions = list(actions or [])
        if status in (Status.FAILED, Status.BLOCKED):
            if self.ctx.options.dry_run:
                return result
            raise StepFailed(outcome.detail, "fix it, then re-run the same command: it is safe")
        if status is Status.RUNNING:
            raise StillRunning(outcome.detail, "re-run the same command later")
        if status is Status.UNKNOWN:
            return self._ask(step, outcome)
        return result

    def _debug_traceback(self) -> None:
        if self.ctx.options.verbose:
            self.ui.debug(traceback.format_exc())


def describe_exception(exc: BaseException) -> str:
    """A one-line description of an unexpected exception from a client library."""
    status = getattr(exc, "status", None)
    data = getattr(exc, "data", None)
    if status is not None and isinstance(data, dict):
        return f"the forge answered {status}: {data.get('message', data)}"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip(": ")


def credential_error(exc: BaseException) -> None:
    """Raise a UsageError (exit 2, nothing else written) for a refused token or scope."""
    status = getattr(exc, "status", None)
    headers = {k.lower(): v for k, v in (getattr(exc, "headers", None) or {}).items()}
    if status == 401:
        raise UsageError(
            "the forge refused the token (401 Bad credentials)",
            "set a valid token (see `releaser env`); `releaser doctor` checks it",
        ) from exc
    if status == 403 and "x-accepted-oauth-scopes" in headers:
        have = {s.strip() for s in headers.get("x-oauth-scopes", "").split(",") if s.strip()}
        need = {s.strip() for s in headers["x-accepted-oauth-scopes"].split(",") if s.strip()}
        if need and not need & have:
            raise UsageError(
                f"the token lacks the scope this needs: {', '.join(sorted(need))}",
                "create a token with that scope (`releaser env` lists the scopes)",
            ) from exc
