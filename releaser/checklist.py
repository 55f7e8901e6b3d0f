"""The tracking issue's checklist: rendered from the release plan, ticked as steps complete.

The checklist sits between two HTML comment markers in the issue body, so it can be found
and updated while the rest of the body stays the maintainers' own. One line per step that
applies to this release kind::

    - [ ] version-branch: Create the version branch from the right base.
    - [x] release-pr: Open the release pull request. ([evidence](https://.../pull/4))

Ticks are monotonic: a tick is never removed, so two drivers ticking at once merge by OR
(``sync_checklist`` re-reads after writing and retries when a concurrent edit dropped one).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from releaser.forge import lacks
from releaser.step import Status

if TYPE_CHECKING:
    from releaser.api import StepContext as Context
    from releaser.models import Issue
    from releaser.step import StepResult

START_MARKER = "<!-- releaser:checklist:start -->"
END_MARKER = "<!-- releaser:checklist:end -->"
SYNC_ATTEMPTS = 5
SETTLE_MAX = 3.0  # seconds to wait before re-reading the issue after an edit

_ITEM = re.compile(r"^- \[(?P<mark>[ xX])\] (?P<name>[a-z0-9][a-z0-9-]*): (?P<rest>.*)$")


# -- rendering ----------------------------------------------------------------------------


def issue_title(ctx: Context) -> str:
    return str(ctx.config.render(ctx.config.tracking_issue.title, ctx.version))


def render_checklist(ctx: Context) -> str:
    """The tracking issue's body for this release: an intro and the checklist (offline)."""
    version = ctx.version
    name = ctx.config.project.name
    lines = [
        f"Tracking issue for **{name} {ctx.tag}** ({version.kind} release).",
        "",
        "The release is driven with `releaser` stage commands, run in "
        f"order: `releaser start v{version}`, `releaser prepare v{version}`, ... (or "
        f"`releaser release v{version}` for all of them). `releaser status v{version}` shows "
        "where the release stands and what to run next; any maintainer can continue it "
        "from any machine. Items are ticked as their steps complete, with their evidence.",
        "",
        START_MARKER,
    ]
    for stage in ctx.release_plan():
        command = f"`releaser {stage.stage} v{version}`"
        lines += ["", f"### {stage.stage}", "", f"{command}: {stage.help}"]
        lines.append("")
        lines += [f"- [ ] {s.name}: {s.doc().summary}" for s in stage.steps]
    lines += ["", END_MARKER, ""]
    return "\n".join(lines)


def has_checklist(body: str | None) -> bool:
    return bool(body) and START_MARKER in str(body) and END_MARKER in str(body)


def _evidence_suffix(evidence: str | None) -> str:
    if not evidence:
        return ""
    if evidence.startswith(("http://", "https://")):
        return f" ([evidence]({evidence}))"
    return f" (evidence: `{evidence}`)"


def apply_ticks(body: str, ticks: Mapping[str, str | None]) -> str:
    """Tick the checklist items of ``ticks`` (step name -> evidence or None).

    Never unticks, never touches an item already ticked or text outside the markers, and is
    idempotent: ``apply_ticks(apply_ticks(b, t), t) == apply_ticks(b, t)``.
    """
    start = body.find(START_MARKER)
    end = body.find(END_MARKER, start + 1)
    if start < 0 or end < 0:
        return body
    inside = body[start:end].split("\n")
    for i, line in enumerate(inside):
        match = _ITEM.match(line)
        if not match or match["mark"] != " " or match["name"] not in ticks:
            continue
        rest = match["rest"] + _evidence_suffix(ticks[match["name"]])
        inside[i] = f"- [x] {match['name']}: {rest}"
    return body[:start] + "\n".join(inside) + body[end:]


def ticked(body: str | None) -> set[str]:
    """Names of the ticked items of the checklist in ``body``."""
    if not has_checklist(body):
        return set()
    text = str(body)
    inside = text[text.find(START_MARKER) : text.find(END_MARKER)]
    found = set()
    for line in inside.split("\n"):
        match = _ITEM.match(line)
        if match and match["mark"] != " ":
            found.add(match["name"])
    return found


def items(body: str | None) -> set[str]:
    """Names of every item (ticked or not) of the checklist in ``body``."""
    if not has_checklist(body):
        return set()
    text = str(body)
    inside = text[text.find(START_MARKER) : text.find(END_MARKER)]
    return {m["name"] for m in map(_ITEM.match, inside.split("\n")) if m}


# -- the issue on the forge ---------------------------------------------------------------


def find_tracking_issue(ctx: Context) -> Issue | None:
    """The release's tracking issue (open or closed, exact title), or None.

    With ``[tracking_issue] labels`` the issues carrying the first label are listed;
    otherwise the search API, then the most recent issues (``Forge.find_issue``).
    """
    labels = list(ctx.config.tracking_issue.labels or [])
    return ctx.forge.find_issue(issue_title(ctx), labels[0] if labels else None)


def sync_checklist(
    ctx: Context,
    results: Iterable[StepResult],
    before_write: Callable[[], None] = lambda: None,
) -> bool:
    """Tick the items of the steps found DONE (linking their evidence); True if it wrote.

    Reads the issue, writes the new body only when it changed, then re-reads and retries
    while a concurrent writer dropped one of our ticks. Does nothing in dry-run, without a
    tracking issue, with ``[tracking_issue] checklist = false``, or when the token may not
    write to the repository (a reader's run writes nothing at all).
    """
    if ctx.options.dry_run or not ctx.config.tracking_issue.checklist:
        return False
    ticks = {r.step: r.evidence for r in results if r.status == Status.DONE}
    if not ticks:
        return False
    issue = find_tracking_issue(ctx)
    if issue is None:
        return False
    body = issue.body
    wanted = set(ticks) & items(body)
    if wanted <= ticked(body):
        return False  # every tick is there already: a re-run reads nothing more
    if lacks(ctx.forge.my_role(), "write"):
        ctx.debug("not ticking the tracking issue: the token has no write access")
        return False
    wrote = False
    for _attempt in range(SYNC_ATTEMPTS):
        started = time.monotonic()
        issue = ctx.forge.issue(issue.number, fresh=True)  # never write a stale body
        body = issue.body
        wanted = set(ticks) & items(body)
        if wanted <= ticked(body):
            break
        before_write()  # the claim: a driver blocked by another's writes nothing
        issue = ctx.forge.update_issue(issue.number, body=apply_ticks(body, ticks))
        wrote = True
        ctx.debug(f"ticked {', '.join(sorted(wanted - ticked(body)))} on #{issue.number}")
        # The forge has no compare-and-swap for issues: a driver that read the body just
        # before our edit may overwrite it. Its read-modify-write takes about as long as
        # ours, so re-read only once that has passed; then re-apply what was dropped.
        window = time.monotonic() - started
        time.sleep(min(SETTLE_MAX, 0.05 + window * (2 + random.random())))
    return wrote
