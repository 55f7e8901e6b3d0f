"""`releaser report VERSION [--since VERSION] [--json] [--html FILE]`: where a release's time
went, and trends across releases (docs/report.md).

Read-only, from the forge and the ledgers alone, so it gives the same answer on any
machine. ``VERSION``: the release's timeline (stage runs and their steps, workflow jobs with
queue and run times, waits on people). ``--since VERSION``: one row per release tagged from
that version on. ``--json`` prints the document docs/report.md describes (its JSON Schema is
there); ``--html FILE`` writes one self-contained page with the same content as charts.
With ``-v`` the number of forge requests is printed (conditional GETs answered 304 included).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from releaser.errors import UsageError

if TYPE_CHECKING:
    from releaser.context import Context
    from releaser.version import Version

FORMAT = 1


def build_report(ctx: Context, version: Version | None, since: Version | None) -> dict[str, Any]:
    """The report document (docs/report.md) for ``version`` and/or the releases ``since``."""
    from releaser.insights.timeline import Reader, iso, release_report
    from releaser.insights.trends import trends_report

    ctx.forge.repository()  # one clear error when the repository can't be read
    now = datetime.fromtimestamp(ctx.now(), UTC).replace(microsecond=0)
    order = tuple(step.name for steps in ctx.plans.values() for step in steps)
    reader = Reader(ctx.config, ctx.forge, ctx.api, order)
    release = None
    if version is not None:
        release = release_report(reader, version, now)
        if not release["ledger"] and not release["workflows"]:
            tag = release["release"]
            raise UsageError(
                f"nothing recorded for {tag}: no ledger (refs/releaser/{tag}) and no workflow "
                "run on the tag",
                "check the version (`git tag --list` names the releases), or use --since",
            )
    return {
        "format": FORMAT,
        "repo": ctx.repo_name,
        "generated_at": iso(now),
        "release": release,
        "trends": (
            trends_report(reader, since, now, {release["release"]: release} if release else None)
            if since is not None
            else None
        ),
    }


def show_report(
    ctx: Context,
    version: Version | None,
    since: Version | None,
    *,
    as_json: bool = False,
    html: Path | None = None,
) -> dict[str, Any]:
    """Build the report, then print it (a table, or JSON) and write the HTML page."""
    if version is None and since is None:
        raise UsageError(
            "report needs a release, or --since",
            "e.g. `releaser report v1.2.0`, or `releaser report --since v1.0.0`",
        )
    ui = ctx.ui
    doc = build_report(ctx, version, since)
    if as_json:
        ui.text(json.dumps(doc, indent=2, sort_keys=True))
    else:
        from releaser.insights.terminal import show

        show(ui, doc)
    if html is not None:
        from releaser.insights.html import write_page

        path = write_page(doc, html, ui.redactor.redact)
        (ui.err if as_json else ui.console).print(f"wrote {path}", markup=False)
    if ctx.options.verbose:
        stats = ctx.api.stats
        ui.err.print(
            f"forge requests: {stats.requests} ({stats.not_modified} answered 304 from the "
            "ETag cache)",
            markup=False,
        )
    return doc
