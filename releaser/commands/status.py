"""`releaser status VERSION [--json]`: the live state of a release, from any machine.

Every applicable step is checked (read-only) concurrently in a bounded pool; operator answers
come from the ledger. JSON output (stable, documented in docs/handover.md)::

    {"release": "v1.2.0", "version": "1.2.0", "kind": "final", "repo": "o/r",
     "claim": null | {"driver", "host", "stage", "since", "expires"},
     "stages": [{"stage": "start", "steps": [{"step", "status", "detail", "evidence"}]}],
     "ledger": [the last 10 entries], "next": "releaser prepare v1.2.0" | null}
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from releaser.engine import describe_exception, step_applies
from releaser.errors import ReleaserError
from releaser.step import Outcome, Status, Step

if TYPE_CHECKING:
    from releaser.context import Context


def _check(ctx: Context, step: Step) -> Outcome:
    try:
        outcome = step.check(ctx)
    except ReleaserError as exc:
        return Outcome.failed(exc.message)
    except Exception as exc:
        return Outcome.failed(f"checking failed: {describe_exception(exc)}")
    if outcome.status is Status.UNKNOWN:
        answer = ctx.ledger.answer(step.name)
        if answer is not None:
            return Outcome.done(f"confirmed by {answer.by} at {answer.at}", answer.evidence)
    return outcome


def collect(ctx: Context) -> dict[str, Any]:
    from steps import PLANS

    ctx.github.repo  # noqa: B018 - connect once, before the pool shares the client
    work = [
        (stage, step) for stage, steps in PLANS.items() for step in steps if step_applies(step, ctx)
    ]
    workers = max(1, int(ctx.config.engine.concurrency))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(lambda pair: _check(ctx, pair[1]), work))
    stages: dict[str, list[dict[str, Any]]] = {stage: [] for stage in PLANS}
    next_command = None
    for (stage, step), outcome in zip(work, outcomes, strict=True):
        stages[stage].append(
            {
                "step": step.name,
                "status": outcome.status.value,
                "detail": outcome.detail,
                "evidence": outcome.evidence,
            }
        )
        if next_command is None and outcome.status is not Status.DONE:
            if outcome.status is Status.UNKNOWN:
                next_command = f"releaser confirm {ctx.version} {step.name} --evidence URL"
            else:
                next_command = f"releaser {stage} {ctx.version}"
    holder = ctx.ledger.claim_holder()
    return {
        "release": ctx.tag,
        "version": str(ctx.version),
        "kind": ctx.version.kind,
        "repo": ctx.repo_name,
        "claim": asdict(holder) if holder else None,
        "stages": [{"stage": s, "steps": rows} for s, rows in stages.items() if rows],
        "ledger": ctx.ledger.entries()[-10:],
        "next": next_command,
    }


def show_status(ctx: Context, as_json: bool) -> None:
    data = collect(ctx)
    ui = ctx.ui
    if as_json:
        ui.text(json.dumps(data, indent=2, sort_keys=True))
        return
    table = Table(
        title=f"{data['release']} ({data['kind']}) in {data['repo']}", title_justify="left"
    )
    for column in ("stage", "step", "status", "detail", "evidence"):
        table.add_column(column, overflow="fold")
    from releaser.ui import STATUS_STYLE

    for stage in data["stages"]:
        for i, row in enumerate(stage["steps"]):
            style = STATUS_STYLE.get(row["status"], "")
            table.add_row(
                stage["stage"] if i == 0 else "",
                row["step"],
                f"[{style}]{row['status']}[/{style}]",
                escape(row["detail"] or ""),
                row["evidence"] or "",
            )
    ui.print(table)
    claim = data["claim"]
    if claim:
        ui.print(
            f"claim: {claim['driver']} on {claim['host']} ({claim['stage']}) "
            f"since {claim['since']}, until {claim['expires']}"
        )
    else:
        ui.print("claim: nobody is driving this release right now")
    if data["ledger"]:
        ui.print("last ledger entries:")
        for e in data["ledger"][-5:]:
            what = e.get("stage") or e.get("step") or ""
            ui.print(f"  {e.get('at', '')} {e.get('by', e.get('driver', ''))} {e['type']} {what}")
    ui.print(f"next: [bold]{data['next']}[/bold]" if data["next"] else "[green]all done[/green]")
