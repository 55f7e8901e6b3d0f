"""The `promote` stage: tell people the release is out, once per channel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from releaser.api import (
    Action,
    Forge,
    Issue,
    Outcome,
    Pending,
    Post,
    Result,
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

    forge: Forge
    number: int
    marker: str
    body: str
    searchable = True

    @property
    def key(self) -> str:
        return f"issue-comment:{self.forge.repo}#{self.number}"

    @property
    def where(self) -> str:
        return f"{self.forge.repo}#{self.number}"

    def find(self) -> Post | None:
        comment = self.forge.find_comment(self.number, self.marker)
        return Post(comment.html_url) if comment is not None else None

    def get(self, ref: str) -> Post | None:
        return self.find()

    def send(self) -> Post:
        return Post(self.forge.comment(self.number, self.body).html_url)


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
    configured_by = ("promote.tracking_issue",)
    needs = (TRACKING_ISSUE, GITHUB_RELEASE)

    def applies(self, ctx: StepContext) -> bool:
        promote = ctx.config.promote
        section = promote.tracking_issue if promote is not None else None
        return section is not None and section.applies(ctx.version)

    def check(self, ctx: StepContext) -> Outcome:
        issue = ctx.need(TRACKING_ISSUE)
        if issue is None:
            return Outcome.blocked(f"no tracking issue: `releaser start v{ctx.version}` opens it")
        if ctx.need(GITHUB_RELEASE) is None:
            return Outcome.blocked(
                f"no GitHub release for {ctx.tag} yet: `releaser publish v{ctx.version}`"
            )
        return announcement(ctx, self._channel(ctx, issue.number))

    def _channel(self, ctx: StepContext, number: int) -> IssueComment:
        return IssueComment(ctx.forge, number, _marker(ctx), self.text(ctx))

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


def _infrastructure(ctx: StepContext) -> Any:
    promote = ctx.config.promote
    return promote.infrastructure if promote is not None else None


def _infrastructure_issue(ctx: StepContext) -> Issue | None:
    section = _infrastructure(ctx)
    title = ctx.fmt(section.title, release_url=release_url(ctx))
    return ctx.forge.other(str(section.repo)).find_issue(title)


INFRASTRUCTURE_ISSUE: Result[Issue | None] = Result(
    "infrastructure-issue",
    _infrastructure_issue,
    needs=(GITHUB_RELEASE,),
    pending="the issue {by} would open",
)


class NotifyInfrastructure(Step):
    """Tell the infrastructure team the release is out, on their issue for it.

    The issue titled `[promote.infrastructure] title` in their repository (`repo`) gets the
    `message` as a comment, once (a hidden marker finds it again); the issue is opened first
    if the team has none for this release yet.

    Why: the infrastructure team deploys the release (gateways, bootstrappers); they act on
    their own tracker, not on ours.
    By hand: in the infrastructure repository, find (or open) the issue for {tag} and comment
    that {tag} is out, with the release's link.
    """

    name = "notify-infrastructure"
    configured_by = ("promote.infrastructure",)
    needs = (GITHUB_RELEASE, INFRASTRUCTURE_ISSUE)
    makes = (INFRASTRUCTURE_ISSUE,)

    def applies(self, ctx: StepContext) -> bool:
        section = _infrastructure(ctx)
        return section is not None and section.applies(ctx.version)

    def _channel(self, ctx: StepContext, issue: Issue) -> IssueComment:
        section = _infrastructure(ctx)
        body = ctx.fmt(section.message, release_url=release_url(ctx))
        forge = ctx.forge.other(str(section.repo))
        return IssueComment(forge, issue.number, _marker(ctx), f"{body}\n\n{_marker(ctx)}")

    def check(self, ctx: StepContext) -> Outcome:
        if ctx.need(GITHUB_RELEASE) is None:
            return Outcome.blocked(
                f"no GitHub release for {ctx.tag} yet: `releaser publish v{ctx.version}`"
            )
        issue = ctx.need(INFRASTRUCTURE_ISSUE)
        repo = _infrastructure(ctx).repo
        if issue is None:
            return Outcome.todo(f"{repo} has no issue for {ctx.tag} yet")
        return announcement(ctx, self._channel(ctx, issue))

    def plan(self, ctx: StepContext) -> list[Action]:
        section = _infrastructure(ctx)
        title = ctx.fmt(section.title, release_url=release_url(ctx))
        body = ctx.fmt(section.message, release_url=release_url(ctx))
        issue = ctx.peek(INFRASTRUCTURE_ISSUE)
        if issue is None or isinstance(issue, Pending):
            return [
                Action("create", f'issue "{title}" in {section.repo}', body),
                Action("comment", "on it", body),
            ]
        return [Action("comment", f"on {section.repo}#{issue.number}", body)]

    def run(self, ctx: StepContext) -> None:
        section = _infrastructure(ctx)
        issue = ctx.need(INFRASTRUCTURE_ISSUE)
        if issue is None:
            title = ctx.fmt(section.title, release_url=release_url(ctx))
            issue = ctx.forge.other(str(section.repo)).create_issue(
                title, f"Tracking the deployment of {ctx.config.project.name} {ctx.tag}."
            )
        post_once(ctx, self._channel(ctx, issue))
