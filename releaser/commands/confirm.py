"""`releaser confirm VERSION STEP --evidence URL`: record a manual step as done."""

from __future__ import annotations

from typing import TYPE_CHECKING

from releaser.errors import UsageError

if TYPE_CHECKING:
    from releaser.context import Context


def confirm_step(ctx: Context, name: str, evidence: str | None) -> None:
    from steps import all_steps, find_step

    if find_step(name) is None:
        known = ", ".join(s.name for _, s in all_steps())
        raise UsageError(f"no step named {name!r}", f"steps are: {known}")
    if evidence and not evidence.startswith(("http://", "https://")):
        raise UsageError(f"evidence must be a URL, got {evidence!r}", "pass --evidence https://...")
    ledger = ctx.ledger
    current = ledger.answer(name)
    if current is not None and current.evidence == evidence:
        ctx.ui.print(f"{name} was already confirmed by {current.by} at {current.at}")
        return
    if ctx.options.dry_run:
        ctx.ui.print(f"[blue]would[/blue] record {name} as done (evidence: {evidence or 'none'})")
        return
    ledger.record_answer(name, "done", evidence)
    ctx.ui.print(f"recorded {name} as done for {ctx.tag}: nobody will be asked again")
