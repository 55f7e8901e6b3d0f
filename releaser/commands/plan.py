"""`releaser plan VERSION`: the whole process for one release, offline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape

from releaser.engine import step_applies

if TYPE_CHECKING:
    from releaser.context import Context


def print_plan(ctx: Context) -> None:
    from steps import PLANS, STAGE_HELP

    ui = ctx.ui
    v = ctx.version
    ui.print(f"[bold]Release {escape(ctx.tag)}[/bold] ({v.kind} release of {ctx.repo_name})")
    total = 0
    for stage, steps in PLANS.items():
        applying = [s for s in steps if step_applies(s, ctx)]
        left_out = len(steps) - len(applying)
        ui.print(f"\n[bold]releaser {stage} {v}[/bold]  [dim]{escape(STAGE_HELP[stage])}[/dim]")
        if not steps:
            ui.print("  [dim](no steps yet)[/dim]")
        for step in applying:
            total += 1
            doc = step.doc()
            marks = []
            if step.dangerous:
                marks.append("[red]dangerous[/red]")
            if step.manual:
                marks.append("[magenta]manual[/magenta]")
            if step.kind_label():
                marks.append(f"[dim]{step.kind_label()}[/dim]")
            tail = f"  {' '.join(marks)}" if marks else ""
            ui.print(f"  {total:>2}. [bold]{step.name}[/bold]: {escape(doc.summary)}{tail}")
        if left_out:
            ui.print(f"  [dim]({left_out} step(s) not for {v.kind} releases)[/dim]")
