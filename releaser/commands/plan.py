"""`releaser plan VERSION`: the whole process for one release, offline."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from rich.markup import escape

from releaser.approvals import approve_list
from releaser.step import Step, skip_reason

if TYPE_CHECKING:
    from releaser.context import Context


def print_plan(ctx: Context, typed: str | None = None) -> None:
    """Print the plan; the commands it shows carry the version as the operator ``typed`` it
    (``v1.2.0`` stays ``v1.2.0``)."""
    from steps import PLANS, STAGE_HELP

    ui = ctx.ui
    v = ctx.version
    shown = f"v{v}" if (typed or "").strip().startswith("v") else str(v)
    ui.print(f"[bold]Release {escape(ctx.tag)}[/bold] ({v.kind} release of {ctx.repo_name})")
    total = 0
    for stage, steps in PLANS.items():
        reasons = {s.name: skip_reason(s, ctx) for s in steps}
        applying = [s for s in steps if reasons[s.name] is None]
        left_out = Counter(r for r in reasons.values() if r is not None)
        ui.print(f"\n[bold]releaser {stage} {shown}[/bold]  [dim]{escape(STAGE_HELP[stage])}[/dim]")
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
            if step.name in approve_list(ctx):
                marks.append("[yellow]needs an approval[/yellow]")
            if step.kind_label():
                marks.append(f"[dim]{step.kind_label()}[/dim]")
            tail = f"  {' '.join(marks)}" if marks else ""
            ui.print(f"  {total:>2}. [bold]{step.name}[/bold]: {escape(doc.summary)}{tail}")
        for reason, count in left_out.items():
            ui.print(f"  [dim]({count} step{'s' if count > 1 else ''} {reason})[/dim]")
    _print_sections(ctx, PLANS)


def _print_sections(ctx: Context, plans: dict[str, list[Step]]) -> None:
    """Which steps act on each configured table; the ones none acts on yet, plainly."""
    from releaser.config_schema import TABLES

    ui = ctx.ui
    rows = []
    for table in TABLES:
        if not ctx.config.configured(table.name):
            continue
        serving = [
            s.name for steps in plans.values() for s in steps if table.name in s.configured_by
        ]
        if serving:
            rows.append(f"  [{table.name}]: {', '.join(serving)}")
    if rows:
        ui.print("\n[bold]Configuration[/bold] (the steps acting on each table)")
        for row in rows:
            ui.text(row)
    for name in ctx.config.not_acted_on():
        ui.warn(
            f"[{name}] is configured, but no step acts on it yet: this release does nothing "
            "with it (do that part by hand)"
        )
