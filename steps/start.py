"""The `start` stage: the tracking issue, the human view of the release."""

from __future__ import annotations

from releaser.api import Action, Outcome, Step, StepContext, checklist
from steps._release import TRACKING_ISSUE


class TrackingIssue(Step):
    """Open or find the release's tracking issue, with its checklist.

    The issue is found by its exact title among open and closed issues, so a re-run or
    another maintainer finds the same one. An existing issue is never overwritten: when its
    body lacks the checklist, the checklist is appended below what is there.

    Why: the tracking issue is where people follow the release; its checklist, ticked as
    steps complete with links to their evidence, shows what is done and what is left.
    By hand: open an issue titled "{issue_title}" (with the configured labels) whose body
    lists the steps of `releaser plan {tag}`; tick them as you go.
    """

    name = "tracking-issue"
    needs = (TRACKING_ISSUE,)
    makes = (TRACKING_ISSUE,)

    def check(self, ctx: StepContext) -> Outcome:
        issue = ctx.need(TRACKING_ISSUE)
        if issue is None:
            return Outcome.todo(f'no issue titled "{checklist.issue_title(ctx)}"')
        if ctx.config.tracking_issue.checklist and not checklist.has_checklist(issue.body):
            return Outcome.todo(f"issue #{issue.number} has no checklist section")
        state = "" if issue.state == "open" else f" ({issue.state})"
        return Outcome.done(f"issue #{issue.number}{state}", issue.html_url)

    def _body(self, ctx: StepContext) -> str:
        return checklist.render_checklist(ctx) if ctx.config.tracking_issue.checklist else ""

    def plan(self, ctx: StepContext) -> list[Action]:
        issue = ctx.need(TRACKING_ISSUE)
        if issue is not None:
            return [
                Action("update", f"issue #{issue.number}: append the checklist", self._body(ctx))
            ]
        labels = list(ctx.config.tracking_issue.labels or [])
        shown = f" with labels {', '.join(labels)}" if labels else ""
        return [Action("create", f'issue "{checklist.issue_title(ctx)}"{shown}', self._body(ctx))]

    def run(self, ctx: StepContext) -> None:
        issue = ctx.need(TRACKING_ISSUE)
        if issue is None:
            labels = list(ctx.config.tracking_issue.labels or [])
            ctx.forge.create_issue(checklist.issue_title(ctx), self._body(ctx), labels)
        else:
            current = issue.body.rstrip()
            body = self._body(ctx)
            ctx.forge.update_issue(issue.number, body=f"{current}\n\n{body}" if current else body)
