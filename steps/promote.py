"""The `promote` stage: tell people the release is out, once per channel."""

from __future__ import annotations

from dataclasses import dataclass

from releaser.api import (
    Action,
    Outcome,
    Pending,
    Post,
    Step,
    StepContext,
    announcement,
    post_once,
)
from steps._release import GITHUB_RELEASE, TRACKING_ISSUE, tag_url


def _marker(ctx: StepContext) -> str:
    return f"<!-- releaser:announce {ctx.tag} -->"


def release_url(ctx: StepContext) -> str:
    """The release's page (the tag's, before the release exists)."""
    release = ctx.peek(GITHUB_RELEASE)
    if release is None or isinstance(release, Pending):
        return tag_url(ctx)
    return release.html_url


@dataclass(frozen=True)
class IssueComment:
    """A comment on an issue, found again by its hidden marker (a channel)."""

    ctx: StepContext
    number: int
    marker: str
    body: str
    searchable = True

    @property
    def key(self) -> str:
        return f"issue-comment:{self.number}"

    @property
    def where(self) -> str:
        return f"issue #{self.number}"

    def find(self) -> Post | None:
        comment = self.ctx.forge.find_comment(self.number, self.marker)
        return Post(comment.html_url) if comment is not None else None

    def get(self, ref: str) -> Post | None:
        return self.find()

    def send(self) -> Post:
        return Post(self.ctx.forge.comment(self.number, self.body).html_url)


class AnnounceOnTrackingIssue(Step):
    """Announce the release on its tracking issue, pinging the early testers for an rc.

    The comment is the `[promote.tracking_issue] message` template (with `{release_url}`);
    for a release candidate it also mentions every `early_testers` handle, asking them to
    test. A hidden marker identifies the comment, so it is posted once.

    Why: the people following the release issue (and, for an rc, the early testers who
    agreed to try candidates) learn that it is out and where to get it.
    By hand: comment on the issue "{issue_title}": "{tag} is out: <release URL>" (rc: add
    "@tester1 @tester2: please test and report on this issue").
    """

    name = "announce-on-tracking-issue"
    needs = (TRACKING_ISSUE, GITHUB_RELEASE)

    def applies(self, ctx: StepContext) -> bool:
        promote = ctx.config.promote
        section = promote.tracking_issue if promote is not None else None
        return section is not None and section.applies(ctx.version)

    def check(self, ctx: StepContext) -> Outcome:
        issue = ctx.need(TRACKING_ISSUE)
        if issue is None:
            return Outcome.blocked(f"no tracking issue: `releaser start {ctx.version}` opens it")
        if ctx.need(GITHUB_RELEASE) is None:
            return Outcome.blocked(
                f"no GitHub release for {ctx.tag} yet: `releaser publish {ctx.version}`"
            )
        return announcement(ctx, self._channel(ctx, issue.number))

    def _channel(self, ctx: StepContext, number: int) -> IssueComment:
        return IssueComment(ctx, number, _marker(ctx), self.text(ctx))

    def text(self, ctx: StepContext) -> str:
        section = ctx.config.promote.tracking_issue
        lines = [ctx.fmt(section.message, release_url=release_url(ctx))]
        if ctx.version.is_rc and section.early_testers:
            testers = " ".join(section.early_testers)
            lines.append(f"{testers}: please test {ctx.tag} and report problems on this issue.")
        return "\n\n".join([*lines, _marker(ctx)])

    def plan(self, ctx: StepContext) -> list[Action]:
        issue = ctx.peek(TRACKING_ISSUE)
        where = f"#{issue.number}" if issue and not isinstance(issue, Pending) else "the issue"
        return [Action("comment", f"on {where}", self.text(ctx))]

    def run(self, ctx: StepContext) -> None:
        issue = ctx.need(TRACKING_ISSUE)
        if issue is not None:
            post_once(ctx, self._channel(ctx, issue.number))
