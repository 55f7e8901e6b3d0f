"""The `start` stage: the tracking issue, the human view of the release."""

from __future__ import annotations

from typing import TYPE_CHECKING

from releaser.checklist import (
    create_issue,
    find_tracking_issue,
    has_checklist,
    issue_title,
    remember_issue,
    render_checklist,
)
from releaser.step import Action, Outcome, Step

if TYPE_CHECKING:
    from releaser.context import Context


class TrackingIssue(Step):
    """Open or find the release's tracking issue, with its checklist.

    The issue is found by its exact title among open and closed issues, so a re-run or
    another maintainer finds the same one. An existing issue is never overwritten: when its
    body lacks the checklist, the checklist is appended below what is there.

    Why: the tracking issue is where people follow the release; its checklist, ticked as
    steps complete with links to their evidence, shows what is done and what is left.
    By hand: open an issue titled "Release vX.Y.Z" (with the configured labels) whose body
    lists the steps of `releaser plan vX.Y.Z`; tick them as you go.
    """

    name = "tracking-issue"

    def check(self, ctx: Context) -> Outcome:
        issue = find_tracking_issue(ctx)
        if issue is None:
            return Outcome.todo(f'no issue titled "{issue_title(ctx)}"')
        if ctx.config.tracking_issue.checklist and not has_checklist(issue.body):
            return Outcome.todo(f"issue #{issue.number} has no checklist section")
        state = "" if issue.state == "open" else f" ({issue.state})"
        return Outcome.done(f"issue #{issue.number}{state}", issue.html_url)

    def plan(self, ctx: Context) -> list[Action]:
        body = render_checklist(ctx) if ctx.config.tracking_issue.checklist else ""
        issue = find_tracking_issue(ctx)
        if issue is not None:
            return [Action("update", f"issue #{issue.number}: append the checklist", body)]
        labels = list(ctx.config.tracking_issue.labels or [])
        shown = f" with labels {', '.join(labels)}" if labels else ""
        return [Action("create", f'issue "{issue_title(ctx)}"{shown}', body)]

    def run(self, ctx: Context) -> None:
        body = render_checklist(ctx) if ctx.config.tracking_issue.checklist else ""
        issue = find_tracking_issue(ctx, refresh=True)
        if issue is None:
            labels = list(ctx.config.tracking_issue.labels or [])
            issue = create_issue(ctx, issue_title(ctx), body, labels)
        else:
            current = (issue.body or "").rstrip()
            issue.edit(body=f"{current}\n\n{body}" if current else body)
        remember_issue(ctx, issue)
