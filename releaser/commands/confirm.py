"""`releaser confirm VERSION STEP --evidence URL`: record a manual step as done
(`--retry`: record that it did not happen, so the step does it again).

The answer goes to the release's ledger on the forge, exactly where an answer given at a
prompt goes: every later command, on any machine, finds it and never asks again. The
tracking issue's item for the step is ticked, linking the evidence. Confirming again with
the same evidence writes nothing; with other evidence, the newer answer wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from releaser.errors import UsageError
from releaser.permissions import require_ledger_write
from releaser.step import Status, StepResult, skip_reason

if TYPE_CHECKING:
    from releaser.context import Context


def confirm_step(ctx: Context, name: str, evidence: str | None, retry: bool = False) -> None:
    from steps import all_steps, find_step

    found = find_step(name)
    if found is None:
        known = ", ".join(s.name for _, s in all_steps())
        raise UsageError(f"no step named {name!r}", f"steps are: {known}")
    _, step = found
    if evidence is not None and not evidence.startswith(("http://", "https://")):
        raise UsageError(
            f"evidence must be a URL, got {ctx.ui.redactor.redact(evidence)!r}",
            "pass --evidence https://...",
        )
    if skip_reason(step, ctx) is not None:
        raise UsageError(
            f"step {name} is not part of a {ctx.version.kind} release like {ctx.tag}",
            f"`releaser plan v{ctx.version}` lists its steps",
        )
    if retry:
        if evidence is not None:
            raise UsageError("--retry and --evidence contradict each other", "give one of them")
        if not ctx.options.dry_run:
            require_ledger_write(ctx, "an answer")
        _record_retry(ctx, name)
        return
    safe_evidence = ctx.ui.redactor.redact(evidence) if evidence else None
    ledger = ctx.ledger
    current = ledger.answer(name)
    if current is not None and current.evidence == safe_evidence:
        ctx.ui.print(f"{name} was already confirmed by {current.by} at {current.at}")
        return
    if ctx.options.dry_run:
        ctx.ui.print(
            f"[blue]would[/blue] record {name} as done (evidence: {safe_evidence or 'none'})"
        )
        return
    require_ledger_write(ctx, "an answer")
    ledger.record_answer(name, "done", safe_evidence)
    ctx.ui.print(f"recorded {name} as done for {ctx.tag}: nobody will be asked again")
    _tick(ctx, StepResult(name, Status.DONE, "confirmed by the operator", safe_evidence))


def _record_retry(ctx: Context, name: str) -> None:
    """The operator says the step's write did not happen: its next run does it again."""
    if ctx.options.dry_run:
        ctx.ui.print(f"[blue]would[/blue] record that {name} should be done again")
        return
    ctx.ledger.record_answer(name, "retry", None)
    ctx.ui.print(
        f"recorded for {ctx.tag}: {name} did not happen; "
        f"`releaser release v{ctx.version}` (or its stage) does it again"
    )


def _tick(ctx: Context, result: StepResult) -> None:
    from releaser.checklist import sync_checklist
    from releaser.errors import describe_exception

    try:
        sync_checklist(ctx, [result])
    except Exception as exc:  # the answer is recorded: a failed tick is only a warning
        ctx.ui.warn(f"could not tick the tracking issue: {describe_exception(exc)}")
