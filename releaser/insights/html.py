"""The report as one self-contained HTML page: inline CSS and SVG, no script, nothing fetched.

The page's Content-Security-Policy forbids every fetch and every script, so it reads the
same offline, from a CI artifact or an e-mail attachment. The Gantt chart is an SVG of
rectangles on the release's time axis (one row per stage run, step, workflow job attempt
and wait on a person; colours in :data:`releaser.insights.gantt.COLORS`); each rectangle
carries ``data-*`` attributes naming its stage, step or workflow, and a ``<title>`` (the
browser's tooltip) with its times. The trends chart draws each release's duration, time
waiting on CI and time waiting on people as bars.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

from releaser.insights.gantt import COLORS, LEGEND, Row, duration, rows
from releaser.insights.timeline import parse

LABEL_W = 330
CHART_W = 840
ROW_H = 18
BAR_H = 12
AXIS_H = 30
TICKS = (
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
    172800,
    604800,
)
# The trends chart's bars: a release's duration, its time waiting on CI, on people (shades
# apart from the Gantt chart's, and the legends' swatches are translucent: the Gantt chart's
# colours are its bars' alone, which the page's test finds in a screenshot).
TREND_COLORS = {
    "duration_seconds": "#adb5bd",
    "ci_seconds": "#74c0fc",
    "people_seconds": "#b197fc",
}

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #212529; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; }
p.summary { margin: 4px 0 12px; color: #495057; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border-bottom: 1px solid #dee2e6; padding: 3px 10px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
svg text { font: 12px system-ui, sans-serif; fill: #212529; }
svg text.group { font-weight: 600; }
svg text.dim { fill: #868e96; }
.legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px;
            vertical-align: -1px; opacity: 0.75; }
"""


def _attrs(values: dict[str, str]) -> str:
    return "".join(f' data-{k}="{escape(v)}"' for k, v in values.items())


def _tick_step(total: float) -> int:
    return next((t for t in TICKS if total / t <= 10), TICKS[-1])


def gantt_svg(release: dict[str, Any], now: datetime) -> str:
    """The release's Gantt chart as an ``<svg>`` element."""
    start, end = parse(release["start"]), parse(release["end"])
    if start is None or end is None:
        return "<p>Nothing recorded for this release: no ledger and no workflow runs.</p>"
    total = max((end - start).total_seconds(), 1.0)
    chart_rows = rows(release, now)
    groups = {"stages": "Stages", "workflows": "Workflow jobs", "people": "Waiting on people"}
    lines: list[tuple[str, Row | None]] = []
    for chart_row in chart_rows:
        last = lines[-1][1] if lines else None
        if last is None or last.group != chart_row.group:
            lines.append((groups[chart_row.group], None))
        lines.append(("", chart_row))
    height = AXIS_H + ROW_H * len(lines) + 8
    width = LABEL_W + CHART_W + 20

    def x(moment: datetime) -> float:
        return LABEL_W + (moment - start).total_seconds() / total * CHART_W

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="gantt" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" shape-rendering="crispEdges" '
        f'role="img" aria-label="timeline of {escape(release["release"])}">'
    ]
    step = _tick_step(total)
    tick = 0
    while tick <= total:
        tx = LABEL_W + tick / total * CHART_W
        out.append(
            f'<line x1="{tx:.1f}" y1="{AXIS_H - 6}" x2="{tx:.1f}" y2="{height}" '
            'stroke="#e9ecef" stroke-width="1"/>'
            f'<text x="{tx + 2:.1f}" y="{AXIS_H - 12}" class="dim">+{duration(tick)}</text>'
        )
        tick += step
    for i, (title, row) in enumerate(lines):
        y = AXIS_H + i * ROW_H
        if row is None:
            out.append(f'<text x="4" y="{y + 13}" class="group">{escape(title)}</text>')
            continue
        indent = 14 * (row.indent + 1)
        css = "dim" if row.indent else ""
        out.append(f'<g class="row {row.group}"{_attrs(row.attrs)}>')
        out.append(
            f'<text x="{indent}" y="{y + 13}" class="{css}">{escape(row.label)}'
            f"<title>{escape(row.detail)}</title></text>"
        )
        for seg in row.segments:
            left = x(seg.start)
            w = max(x(seg.end) - left, 3.0)
            tip = f"{row.label}: {seg.kind} {duration((seg.end - seg.start).total_seconds())}"
            out.append(
                f'<rect class="seg {seg.kind}" x="{left:.1f}" y="{y + (ROW_H - BAR_H) // 2}" '
                f'width="{w:.1f}" height="{BAR_H}" fill="{COLORS[seg.kind]}"{_attrs(row.attrs)}>'
                f"<title>{escape(tip)}</title></rect>"
            )
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def _legend() -> str:
    items = "".join(
        f'<span><i style="background:{COLORS[k]}"></i>{escape(v)}</span>' for k, v in LEGEND.items()
    )
    return f'<p class="legend">{items}</p>'


def _table(head: list[str], body: list[list[str]], numeric: set[int]) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    trs = []
    for cells in body:
        tds = "".join(
            f'<td class="num">{escape(c)}</td>' if i in numeric else f"<td>{escape(c)}</td>"
            for i, c in enumerate(cells)
        )
        trs.append(f"<tr>{tds}</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(trs)}</tbody></table>"


def release_section(release: dict[str, Any], now: datetime) -> str:
    totals = release["totals"]
    drivers = ", ".join(release["drivers"]) or "nobody recorded"
    parts = [
        f'<section class="release" data-release="{escape(release["release"])}">',
        f"<h1>{escape(release['release'])} ({escape(release['kind'])})</h1>",
        f'<p class="summary">{duration(totals["duration_seconds"])}, from '
        f"{escape(str(release['start']))} to {escape(str(release['end']))}; driven by "
        f"{escape(drivers)}. Waiting on CI {duration(totals['ci_seconds'])} (queued "
        f"{duration(totals['ci_queue_seconds'])}), on people "
        f"{duration(totals['people_seconds'])}; {totals['reruns']} workflow re-run(s), "
        f"{totals['stage_retries']} stage retry(ies).</p>",
        gantt_svg(release, now),
        _legend(),
    ]
    stage_rows = [
        [
            s["stage"],
            str(r["attempt"]),
            f"{r['by']}@{r['host']}",
            str(r["start"]),
            duration(r["seconds"]),
            r["outcome"] + (f" (stopped at {r['stopped']})" if r["stopped"] else ""),
        ]
        for s in release["stages"]
        for r in s["runs"]
    ]
    if stage_rows:
        parts.append("<h2>Stage runs</h2>")
        parts.append(
            _table(["stage", "run", "by", "started", "took", "outcome"], stage_rows, {1, 4})
        )
    job_rows = [
        [
            w["workflow"],
            str(a["attempt"]),
            j["name"],
            str(j["conclusion"] or j["status"]),
            duration(j["queue_seconds"]),
            duration(j["run_seconds"]),
        ]
        for w in release["workflows"]
        for a in w["attempts"]
        for j in a["jobs"]
    ]
    if job_rows:
        parts.append("<h2>Workflow jobs</h2>")
        parts.append(
            _table(
                ["workflow", "attempt", "job", "conclusion", "queued", "ran"], job_rows, {1, 4, 5}
            )
        )
    people_rows = [
        [p["kind"], p["who"], p["what"], str(p["end"]), duration(p["seconds"])]
        for p in release["people"]
    ]
    if people_rows:
        parts.append("<h2>Waiting on people</h2>")
        parts.append(_table(["kind", "who", "what", "at", "waited"], people_rows, {4}))
    parts.append("</section>")
    return "\n".join(parts)


def trends_svg(trends: dict[str, Any]) -> str:
    releases = trends["releases"]
    longest = max((r["duration_seconds"] or 0 for r in releases), default=0) or 1
    band = 3 * 12 + 10
    height = 10 + band * len(releases)
    width = LABEL_W + CHART_W + 90
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trends" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" shape-rendering="crispEdges" '
        'role="img" aria-label="duration, CI and people time per release">'
    ]
    for i, r in enumerate(releases):
        y = 6 + i * band
        out.append(f'<g class="trend" data-release="{escape(r["release"])}">')
        out.append(f'<text x="4" y="{y + 22}">{escape(r["release"])}</text>')
        for j, (key, fill) in enumerate(TREND_COLORS.items()):
            value = r[key] or 0
            w = max(value / longest * CHART_W, 2.0 if value else 0.0)
            by = y + j * 12
            out.append(
                f'<rect class="{key}" x="{LABEL_W}" y="{by}" width="{w:.1f}" height="10" '
                f'fill="{fill}"><title>{escape(key)}: {duration(value)}</title></rect>'
                f'<text x="{LABEL_W + w + 6:.1f}" y="{by + 9}" class="dim">'
                f"{duration(value)}</text>"
            )
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def trends_section(trends: dict[str, Any]) -> str:
    releases = trends["releases"]
    head = f"<h2>Releases since {escape(trends['since'])}</h2>"
    if not releases:
        return f'<section class="trends">{head}<p>No release tagged since then.</p></section>'
    names = {"duration_seconds": "duration", "ci_seconds": "waiting on CI"}
    legend = (
        '<p class="legend">'
        + "".join(
            f'<span><i style="background:{color}"></i>{names.get(key, "waiting on people")}</span>'
            for key, color in TREND_COLORS.items()
        )
        + "</p>"
    )

    body = []
    for r in releases:
        build = r["build"]
        rate = build["success_rate"]
        body.append(
            [
                r["release"],
                str(r["published"] or "-"),
                duration(r["duration_seconds"]),
                duration(r["ci_seconds"]),
                duration(r["ci_queue_seconds"]),
                duration(r["people_seconds"]),
                str(r["reruns"]),
                duration(build["median_seconds"]),
                duration(build["median_queue_seconds"]),
                "-" if rate is None else f"{rate * 100:.0f}%",
            ]
        )
    table = _table(
        [
            "release",
            "published",
            "took",
            "CI",
            "queued",
            "people",
            "re-runs",
            "build median",
            "build queue",
            "build ok",
        ],
        body,
        set(range(2, 10)),
    )
    return f'<section class="trends">{head}{legend}{trends_svg(trends)}{table}</section>'


def page(doc: dict[str, Any]) -> str:
    """The whole page for a report document (docs/report.md)."""
    now = parse(doc["generated_at"])
    assert now is not None
    title = doc["release"]["release"] if doc["release"] else f"since {doc['trends']['since']}"
    sections = []
    if doc["release"] is not None:
        sections.append(release_section(doc["release"], now))
    if doc["trends"] is not None:
        sections.append(trends_section(doc["trends"]))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">\n"
        f"<title>releaser report: {escape(doc['repo'])} {escape(title)}</title>\n"
        f"<style>{STYLE}</style>\n</head>\n<body>\n"
        f'<p class="summary">releaser report of {escape(doc["repo"])}, made '
        f"{escape(doc['generated_at'])} from the forge and the release ledgers.</p>\n"
        + "\n".join(sections)
        + "\n</body>\n</html>\n"
    )


def write_page(
    doc: dict[str, Any], path: Path, redact: Callable[[str], str] = lambda text: text
) -> Path:
    """Write the page (through ``redact``: no secret ever reaches a file)."""
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(redact(page(doc)), encoding="utf-8")
    return path
