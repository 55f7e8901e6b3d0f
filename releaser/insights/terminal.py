"""The report in the terminal: rich tables, with the Gantt chart and the trends as bars."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from releaser.insights.gantt import COLORS, LEGEND, Row, duration, rows
from releaser.insights.timeline import parse

if TYPE_CHECKING:
    from releaser.ui import UI

BAR_WIDTH = 40
TREND_WIDTH = 24
GROUP_TITLES = {"stages": "stages", "workflows": "workflow jobs", "people": "waiting on people"}


def bar(row: Row, start: datetime, total: float, width: int = BAR_WIDTH) -> Text:
    """One row's segments as block characters over ``width`` cells (at least one cell per
    segment, so an instant still shows)."""
    cells: list[str | None] = [None] * width
    for seg in row.segments:
        first = int((seg.start - start).total_seconds() / total * width)
        last = int((seg.end - start).total_seconds() / total * width)
        first = min(max(first, 0), width - 1)
        last = min(max(last, first + 1), width)
        for i in range(first, last):
            cells[i] = seg.kind
    text = Text()
    for kind in cells:
        text.append("█" if kind else "·", style=COLORS[kind] if kind else "dim")
    return text


def _offset(moment: str | None, start: datetime | None) -> str:
    at = parse(moment)
    if at is None or start is None:
        return "-"
    return "+" + duration((at - start).total_seconds())


def show_release(ui: UI, release: dict[str, Any], now: datetime) -> None:
    totals = release["totals"]
    start, end = parse(release["start"]), parse(release["end"])
    drivers = ", ".join(release["drivers"]) or "nobody recorded"
    head = f"[bold]{escape(release['release'])}[/bold] ({release['kind']})"
    if start is None or end is None:
        ui.print(f"{head}: nothing recorded (no ledger, no workflow runs)")
        return
    ui.print(
        f"{head}: {duration(totals['duration_seconds'])}, from {release['start']} to "
        f"{release['end']}; driven by {escape(drivers)}"
    )
    if not release["ledger"]:
        ui.print("[yellow]no ledger for this release: stages unknown, CI figures only[/yellow]")
    total = max((end - start).total_seconds(), 1.0)
    table = Table(title_justify="left", show_lines=False, pad_edge=False)
    table.add_column("what", overflow="fold")
    table.add_column("at", justify="right")
    table.add_column("detail", overflow="fold")
    table.add_column(f"timeline ({duration(total)})", no_wrap=True)
    group = ""
    for row in rows(release, now):
        if row.group != group:
            group = row.group
            table.add_row(f"[bold]{GROUP_TITLES[group]}[/bold]", "", "", "")
        first = min((s.start for s in row.segments), default=None)
        at = "+" + duration((first - start).total_seconds()) if first else "-"
        label = ("  " * (row.indent + 1)) + row.label
        style = "dim" if row.indent else ""
        table.add_row(
            Text(label, style=style), at, Text(row.detail, style=style), bar(row, start, total)
        )
    ui.print(table)
    legend = Text("  ")
    for kind, name in LEGEND.items():
        legend.append("█", style=COLORS[kind])
        legend.append(f" {name}  ")
    ui.print(legend)
    ui.print(
        f"total {duration(totals['duration_seconds'])}: stages ran "
        f"{duration(totals['stage_seconds'])}, waiting on CI {duration(totals['ci_seconds'])} "
        f"(queued {duration(totals['ci_queue_seconds'])}), waiting on people "
        f"{duration(totals['people_seconds'])}; {totals['reruns']} workflow re-run(s), "
        f"{totals['stage_retries']} stage retry(ies)"
    )
    build = release["build"]
    if build["attempts"]:
        ui.print(
            f"build ({', '.join(build['workflows'])}): {build['attempts']} attempt(s), median "
            f"{duration(build['median_seconds'])}, queued {duration(build['median_queue_seconds'])}"
            f", {_rate(build['success_rate'])} succeeded"
        )


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def trend_bar(row: dict[str, Any], longest: float, width: int = TREND_WIDTH) -> Text:
    """The release's duration as a bar: CI (blue), then people (violet), then the rest."""
    total = row["duration_seconds"] or 0
    cells = max(1, round(total / longest * width)) if longest and total else 0
    ci = min(cells, round((row["ci_seconds"] or 0) / longest * width)) if longest else 0
    people = min(cells - ci, round((row["people_seconds"] or 0) / longest * width))
    text = Text()
    text.append("█" * ci, style=COLORS["run"])
    text.append("█" * people, style=COLORS["people"])
    text.append("█" * max(0, cells - ci - people), style="grey50")
    return text


def show_trends(ui: UI, trends: dict[str, Any]) -> None:
    releases = trends["releases"]
    if not releases:
        ui.print(f"no release tagged since {escape(trends['since'])}")
        return
    longest = max((r["duration_seconds"] or 0 for r in releases), default=0)
    table = Table(title=f"releases since {trends['since']}", title_justify="left")
    table.add_column("release", no_wrap=True)
    for column in ("took", "CI", "queued", "people", "re-runs"):
        table.add_column(column, justify="right", no_wrap=True)
    for column in ("build\nmedian", "build\nqueue", "build\nok"):
        table.add_column(column, justify="right", no_wrap=True)
    header = Text("duration\n")
    for name, style in (("CI", COLORS["run"]), ("people", COLORS["people"]), ("other", "grey50")):
        header.append("█", style=style)
        header.append(f" {name} ")
    table.add_column(header, no_wrap=True, width=TREND_WIDTH)
    for r in releases:
        build = r["build"]
        table.add_row(
            f"{escape(r['release'])}" + ("" if r["ledger"] else " [dim](no ledger)[/dim]"),
            duration(r["duration_seconds"]),
            duration(r["ci_seconds"]),
            duration(r["ci_queue_seconds"]),
            duration(r["people_seconds"]),
            str(r["reruns"]),
            duration(build["median_seconds"]),
            duration(build["median_queue_seconds"]),
            _rate(build["success_rate"]),
            trend_bar(r, longest),
        )
    ui.print(table)


def show(ui: UI, doc: dict[str, Any]) -> None:
    now = parse(doc["generated_at"])
    assert now is not None
    if doc["release"] is not None:
        show_release(ui, doc["release"], now)
    if doc["trends"] is not None:
        if doc["release"] is not None:
            ui.print()
        show_trends(ui, doc["trends"])
