"""The rows of a release's Gantt chart, drawn by both renderers (terminal and HTML).

A row is a label and segments on the release's time axis: a stage run (green when done,
orange when it stopped), its steps (teal), each workflow job of each attempt (a yellow queue
segment, then a blue run segment, red when the job failed), and each wait on a person
(violet). The colours are distinctive on purpose: the HTML page's test finds the bars in a
screenshot by them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from releaser.insights.timeline import parse

COLORS: dict[str, str] = {
    "stage": "#2b8a3e",  # a stage run that completed
    "stage-stopped": "#f76707",  # a stage run that stopped (failed, needed input, still running)
    "step": "#38d9a9",
    "queue": "#fcc419",  # a job waiting for a runner
    "run": "#1c7ed6",  # a job running (or done)
    "run-failed": "#c92a2a",
    "people": "#7048e8",  # waiting on a person: an approval, an answer, a re-run
}
LEGEND = {
    "stage": "stage run",
    "stage-stopped": "stage run that stopped",
    "step": "step",
    "queue": "job queued",
    "run": "job running",
    "run-failed": "job failed",
    "people": "waiting on a person",
}


@dataclass(frozen=True)
class Segment:
    start: datetime
    end: datetime
    kind: str  # a key of COLORS
    note: str = ""


@dataclass
class Row:
    group: str  # "stages", "workflows" or "people"
    label: str
    detail: str
    segments: list[Segment] = field(default_factory=list)
    attrs: dict[str, str] = field(default_factory=dict)  # data-* attributes in the SVG
    indent: int = 0


def duration(total: int | float | None) -> str:
    """``1h02m``, ``4m05s``, ``48s`` (``-`` when unknown)."""
    if total is None:
        return "-"
    value = round(total)
    hours, rest = divmod(value, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def _span(item: dict[str, Any], start: str = "start", end: str = "end") -> tuple[Any, Any]:
    return parse(item.get(start)), parse(item.get(end))


def rows(release: dict[str, Any], now: datetime | None = None) -> list[Row]:
    """Every row of the chart, in order: stages with their steps, jobs, people."""
    out: list[Row] = []
    for stage in release["stages"]:
        for run in stage["runs"]:
            start, end = _span(run)
            stopped = run["outcome"] != "done"
            kind = "stage-stopped" if stopped else "stage"
            why = f", stopped at {run['stopped']}" if run["stopped"] else ""
            out.append(
                Row(
                    "stages",
                    f"{stage['stage']} #{run['attempt']}",
                    f"{run['by']}@{run['host']}: {run['outcome']}{why}, {duration(run['seconds'])}",
                    [Segment(start, end, kind)] if start and end else [],
                    {"stage": stage["stage"], "attempt": str(run["attempt"])},
                )
            )
            for step in run["steps"]:
                s, e = _span(step)
                out.append(
                    Row(
                        "stages",
                        step["step"],
                        f"{step['status']}, {duration(step['seconds'])}",
                        [Segment(s, e, "step")] if s and e else [],
                        {"stage": stage["stage"], "step": step["step"]},
                        indent=1,
                    )
                )
    for w in release["workflows"]:
        for attempt in w["attempts"]:
            for job in attempt["jobs"] or [None]:
                item = job or attempt
                created, started = _span(item, "created", "started")
                completed = parse(item.get("completed"))
                failed = (item.get("conclusion") or "") in ("failure", "cancelled", "timed_out")
                segments = []
                if created and (started or not completed):
                    segments.append(Segment(created, started or now or created, "queue"))
                if started:
                    kind = "run-failed" if failed else "run"
                    segments.append(Segment(started, completed or now or started, kind))
                name = job["name"] if job else "(no jobs)"
                out.append(
                    Row(
                        "workflows",
                        f"{w['workflow']} #{attempt['attempt']} {name}",
                        f"{item.get('conclusion') or item.get('status') or 'running'}: queued "
                        f"{duration(item['queue_seconds'])}, ran {duration(item['run_seconds'])}",
                        segments,
                        {"workflow": w["workflow"], "attempt": str(attempt["attempt"])},
                    )
                )
    for wait in release["people"]:
        start, end = _span(wait)
        out.append(
            Row(
                "people",
                f"{wait['kind']}: {wait['who'] or '?'}",
                f"{wait['what']}, after {duration(wait['seconds'])}",
                [Segment(start, end, "people")] if start and end else [],
                {"people": wait["kind"]},
            )
        )
    return out
