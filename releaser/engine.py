"""Runs a stage's steps: check -> plan / ask / act -> verify / wait (docs/architecture.md).

The engine owns everything around a step: narration, skipping, dry-run, confirmation of
dangerous steps, questions, waiting on remote work, re-checking after a write, handing over
declared results, and error wrapping (messages get the step name here, never inside steps).

Dry run: a step whose input a planned step would change (``Pending``) is planned after it
("on the commit that version-bump would make"), never with a stale value; a step that is
really blocked or failed is reported and the dry run goes on, then exits 1 like a live run.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from releaser.errors import (
    AmbiguousWrite,
    InputNeeded,
    RateLimited,
    ReleaserError,
    StepFailed,
    StillRunning,
    UsageError,
    describe_exception,
)
from releaser.step import (
    Action,
    Outcome,
    Pending,
    Result,
    Status,
    Step,
    StepResult,
    skip_reason,
)

if TYPE_CHECKING:
    from releaser.context import Context

SETTLE_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0)  # re-checks after run() for asynchronous effects
POLL_BACKOFF = 1.5  # while waiting, each interval is half as long again as the last
# How a step that stopped its stage is recorded: waiting on the operator, on remote work, or
# failed (anything else).
STOPPED_AS: dict[type[ReleaserError], Status] = {
    InputNeeded: Status.UNKNOWN,
    StillRunning: Status.RUNNING,
}
ACT_AGAIN = 3  # times a step acts again on new work its own effect revealed (a failure to report)
RETRY_ANSWER = "it did not happen: do it now"


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
        # Called before a step's writes, once its check found work to do (also in a dry run):
        # the gates (permissions, approvals) that may stop the command there.
        self.gate: Callable[[Step], None] = lambda step: None
        # Whether a dry run reported this error already, before the first write (a refused
        # credential the step meets again): the dry run goes on past the step.
        self.noted: Callable[[ReleaserError], bool] = lambda exc: False
        self.last_results: list[StepResult] = []
        self.dry_run_problems: list[StepResult] = []  # blocked / failed steps of a dry run
        self.sleep: Callable[[float], None] = time.sleep
        # For the ledger's record of the last stage run: whether it waited on remote work,
        # and the step that stopped it (with when it was taken up and the exit code).
        self.waited = False
        self.stopped: StepResult | None = None
        ctx.show_progress = True  # steps' progress boards are shown while the engine runs

    # -- a whole stage -----------------------------------------------------------------

    def run_stage(self, stage: str, steps: Sequence[Step]) -> list[StepResult]:
        """Run the stage's steps in order; raises a ReleaserError when one stops the stage."""
        ctx = self.ctx
        self.ui.stage(stage, ctx.tag, ctx.options.dry_run)
        results: list[StepResult] = []
        self.last_results = results
        self.waited = False
        self.stopped = None
        if not steps:
            self.ui.print(f"  [dim]stage {stage} has no steps yet: nothing to do[/dim]")
            return results
        try:
            for step in steps:
                results.append(self.run_step(step))
        finally:
            self.ui.close_boards()
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
        began = ctx.now()
        self.ui.step(step.name, step.describe(ctx))
        try:
            with ctx.running(step):
                result = self._drive(step)
        except ReleaserError as exc:
            if self.noted(exc):
                # the preflight printed it in full before the first write: not again here
                self.ui.outcome("failed", "would stop before the first write (said above)")
                detail = f"would stop before the first write: {exc.message}"
                return StepResult(step.name, Status.FAILED, detail)
            if not exc.message.startswith(f"{step.name}: "):
                exc.message = f"{step.name}: {exc.message}"
            self.stopped = StepResult(
                step.name,
                STOPPED_AS.get(type(exc), Status.FAILED),
                exc.message,
                started_at=began,
                ended_at=ctx.now(),
            )
            raise
        result.seconds = time.monotonic() - started
        result.started_at, result.ended_at = began, ctx.now()
        return result

    def _read_needs(self, step: Step) -> None:
        """Compute the results ``step`` declares it needs at the same time, before its check
        asks for them one after the other (each is memoised: the check then finds them). A
        failure is left for the check to meet, with its own message."""
        from releaser.parallel import at_once

        needs = [r for r in step.needs if ("result", r.name) not in self.ctx.memo]
        workers = int(self.ctx.config.engine.concurrency)
        if len(needs) < 2 or workers < 2:
            return

        def read(result: Result[object]) -> Callable[[], object]:
            def compute() -> object:
                try:
                    return self.ctx.need(result)
                except Exception:
                    return None

            return compute

        at_once([read(r) for r in needs], workers)

    def _check(self, step: Step) -> Outcome:
        self._read_needs(step)
        try:
            outcome = step.check(self.ctx)
        except (ReleaserError, Pending):
            raise
        except Exception as exc:
            self._debug_traceback()
            raise StepFailed(
                f"checking failed: {describe_exception(exc)}",
                "this is a bug in releaser or an answer it did not expect; -v shows the details",
            ) from exc
        if outcome.status is Status.UNKNOWN:
            # Someone answered already, on this machine or another: never ask twice.
            answer = self.ctx.ledger.answer(step.name)
            if answer is not None:
                return Outcome.done(f"confirmed by {answer.by} at {answer.at}", answer.evidence)
        return outcome

    def _drive(self, step: Step) -> StepResult:
        ctx = self.ctx
        try:
            outcome = self._check(step)
        except Pending as pending:
            return self._plan_after(step, pending)
        if outcome.status is Status.DONE:
            self.ui.outcome("done", outcome.detail, outcome.evidence)
            return StepResult(step.name, Status.DONE, outcome.detail, outcome.evidence)
        if outcome.status is Status.RUNNING:
            if ctx.options.dry_run:
                self.ui.outcome("running", outcome.detail, outcome.evidence)
                return StepResult(step.name, Status.RUNNING, outcome.detail, outcome.evidence)
            outcome = self._wait(step, outcome)
            if outcome.status is Status.TODO:  # the wait ended with work to do: do it
                return self._act(step, outcome)
            return self._finish(step, outcome, acted=False)
        if outcome.status is Status.TODO:
            return self._act(step, outcome)
        if outcome.status is Status.UNKNOWN:
            return self._ask(step, outcome)
        return self._finish(step, outcome, acted=False)

    def _plan(self, step: Step) -> list[Action]:
        try:
            return step.plan(self.ctx)
        except Pending as pending:
            return [Action("act", f"once {pending.by} has run ({step.doc().summary.rstrip('.')})")]

    def _act(self, step: Step, outcome: Outcome, rounds: int = ACT_AGAIN) -> StepResult:
        ctx = self.ctx
        self.ui.outcome("todo", outcome.detail)
        actions = self._plan(step)
        if ctx.options.dry_run:
            self.ui.plan(actions)
            self.gate(step)  # says where the gates would stop a live run
            ctx.mark_planned(step)
            return StepResult(step.name, "planned", outcome.detail, actions=actions)
        self.gate(step)
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
        except (UsageError, RateLimited):
            raise  # a refused credential or scope, a rate limit: that request wrote nothing
        except ReleaserError as exc:
            # An error may come after the write was applied: the check decides. A lost
            # answer may be a write still being applied: the check is given time to see it.
            if isinstance(exc, AmbiguousWrite):
                after = self._settle(step, outcome)
            else:
                after = self._recheck(step)
            if after.status is Status.UNKNOWN:
                return self._ask(step, after)
            if after.status is not Status.DONE:
                raise StepFailed(exc.message, exc.hint) from exc
        except Exception as exc:
            self._debug_traceback()
            after = self._recheck(step)
            if after.status is not Status.DONE:
                raise StepFailed(
                    describe_exception(exc), "re-run the command: it re-checks before writing"
                ) from exc
        settled = self._settle(step, outcome)
        if settled.status is Status.TODO and settled.detail != outcome.detail and rounds > 0:
            # what run() started ended, leaving other work (a failed test run to report)
            return self._act(step, settled, rounds - 1)
        if settled.status is Status.TODO:
            settled = Outcome.failed(f"ran, but the check still finds work to do: {settled.detail}")
        return self._finish(step, settled, acted=True, actions=actions)

    def _recheck(self, step: Step) -> Outcome:
        """Check again, forgetting what this command read before: after a write, or while
        waiting, memoised reads are stale."""
        self.ctx.forget_reads()
        return self._check(step)

    def _settle(self, step: Step, before: Outcome) -> Outcome:
        """Check again after run() until the effect shows (asynchronous writes: the same work
        still to do), waiting on remote work it started."""
        outcome = self._recheck(step)
        for delay in SETTLE_DELAYS:
            if outcome.status is not Status.TODO or outcome.detail != before.detail:
                break
            self.sleep(delay)
            outcome = self._recheck(step)
        if outcome.status is Status.RUNNING:
            return self._wait(step, outcome)
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
        longest = max(interval, float(engine_cfg.poll_max_interval))
        if outcome.until is not None and outcome.until - ctx.now() > timeout:
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(outcome.until))
            raise StillRunning(
                f"still waiting: {outcome.detail}",
                f"re-run the same command after {when} (longer than [engine] wait_timeout)",
            )
        self.waited = True  # only a wait that polls: one ending at once is worth no record
        deadline = time.monotonic() + timeout
        with self.ui.waiting(f"{step.name}: {outcome.detail}", timeout) as display:
            while outcome.status is Status.RUNNING:
                if time.monotonic() > deadline:
                    return Outcome.failed(
                        f"still running after {timeout:.0f}s: {outcome.detail}", outcome.evidence
                    )
                self.sleep(interval)
                interval = min(longest, interval * POLL_BACKOFF)  # long work: check less often
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
            self.ui.manual(ctx.by_hand(doc.by_hand))
        exact = self._by_hand_plan(step)
        if exact:
            self.ui.plan(exact, heading="by hand:")
        if ctx.options.dry_run:
            ctx.mark_planned(step)  # the answer may change what it makes: later steps wait
            return StepResult(step.name, Status.UNKNOWN, "would ask: " + outcome.detail)
        confirm_cmd = f"releaser confirm v{ctx.version} {step.name} --evidence URL"
        retry_cmd = f"releaser confirm v{ctx.version} {step.name} --retry"
        if not ctx.options.interactive:
            raise InputNeeded(
                f"operator input needed: {outcome.detail}",
                f"if it is done, record it: `{confirm_cmd}`; if it did not happen and should "
                f"be done by releaser: `{retry_cmd}`",
            )
        from releaser import prompts

        choice = prompts.choose(
            f"{step.name}: {outcome.detail}",
            ["done, with a link as evidence", "done", RETRY_ANSWER, "not yet: stop here"],
        )
        if choice.startswith("not yet"):
            raise StepFailed("waiting for the operator", f"do it, then re-run or `{confirm_cmd}`")
        self.before_write()
        if choice == RETRY_ANSWER:
            ctx.ledger.record_answer(step.name, "retry", None)
            return self._drive(step)
        evidence = prompts.text("Evidence URL:") if "link" in choice else None
        ctx.ledger.record_answer(step.name, "done", evidence or None)
        # The step may judge the answer (a link that must answer): check again.
        after = self._recheck(step)
        if after.status not in (Status.DONE, Status.FAILED):
            after = Outcome.done("confirmed by the operator", evidence)
        return self._finish(step, after, True)

    def _by_hand_plan(self, step: Step) -> list[Action]:
        try:
            return step.by_hand_plan(self.ctx)
        except Pending:
            return []

    def _plan_after(self, step: Step, pending: Pending) -> StepResult:
        """Dry run: the step's input is what a planned step would make: plan it after that
        one, describing the input as pending, never with a stale value."""
        ctx = self.ctx
        detail = f"after {pending.by} (needs {pending})"
        self.ui.outcome("planned", detail)
        actions = self._plan(step)
        self.ui.plan(actions)
        ctx.mark_planned(step)
        return StepResult(step.name, "planned", detail, actions=actions)

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
                self.dry_run_problems.append(result)
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
