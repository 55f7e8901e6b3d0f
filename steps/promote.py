"""The `promote` stage: tell people the release is out, once per channel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from releaser.api import (
    Access,
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
from steps._messages import MESSAGE_NEEDS, release_url, render
from steps._release import GITHUB_RELEASE, RELEASE_TAG, TRACKING_ISSUE


def _marker(ctx: StepContext) -> str:
    return f"<!-- releaser:announce {ctx.tag} -->"


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
    needs = MESSAGE_NEEDS

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
        lines = [render(ctx, section.message)]
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
    return ctx.forge.other(str(section.repo)).find_issue(render(ctx, section.title))


INFRASTRUCTURE_ISSUE: Result[Issue | None] = Result(
    "infrastructure-issue",
    _infrastructure_issue,
    needs=MESSAGE_NEEDS,
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
    needs = (*MESSAGE_NEEDS, INFRASTRUCTURE_ISSUE)
    makes = (INFRASTRUCTURE_ISSUE,)

    def applies(self, ctx: StepContext) -> bool:
        section = _infrastructure(ctx)
        return section is not None and section.applies(ctx.version)

    def _channel(self, ctx: StepContext, issue: Issue) -> IssueComment:
        section = _infrastructure(ctx)
        body = render(ctx, section.message)
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
        title = render(ctx, section.title)
        body = render(ctx, section.message)
        issue = ctx.peek(INFRASTRUCTURE_ISSUE)
        if issue is None or isinstance(issue, Pending):
            return [
                Action("create", f'issue "{title}" in {section.repo}', body),
                Action("comment", "on it", body),
            ]
        return [Action("comment", f"on {section.repo}#{issue.number}", body)]

    def writes_to(self, ctx: StepContext) -> list[Access]:
        # opening an issue and commenting on it: any reader may (triage and more: closing)
        repo = str(_infrastructure(ctx).repo)
        return [Access(repo, "read", f"open and comment on its issue for {ctx.tag}")]

    def run(self, ctx: StepContext) -> None:
        section = _infrastructure(ctx)
        issue = ctx.need(INFRASTRUCTURE_ISSUE)
        if issue is None:
            title = render(ctx, section.title)
            issue = ctx.forge.other(str(section.repo)).create_issue(
                title, f"Tracking the deployment of {ctx.config.project.name} {ctx.tag}."
            )
        post_once(ctx, self._channel(ctx, issue))


# -- the rc's soak --------------------------------------------------------------------------


def _soak(ctx: StepContext) -> Any:
    promote = ctx.config.promote
    return promote.soak if promote is not None else None


def soak_start(ctx: StepContext) -> datetime | None:
    """When the rc went out: its GitHub release's publication (the forge's clock), else its
    tag's date; None before either exists."""
    release = ctx.need(GITHUB_RELEASE)
    if release is not None and not release.draft:
        moment = release.published_at or release.created_at
        if moment is not None:
            return moment
    if ctx.need(RELEASE_TAG) is None:
        return None
    info = ctx.git.read_tag(ctx.tag)
    return datetime.fromtimestamp(info.tag_time, UTC) if info else None


def mentions(issue: Issue, ctx: StepContext) -> bool:
    """Whether an issue names this rc (its tag, or its version)."""
    text = f"{issue.title}\n{issue.body}"
    return ctx.tag in text or str(ctx.version) in text


def _reports(ctx: StepContext, since: datetime, tracking: int) -> list[Issue]:
    found = ctx.forge.issues_since(since)
    return sorted(
        (i for i in found if i.number != tracking and mentions(i, ctx)), key=lambda i: i.number
    )


class SoakReminder(Step):
    """Remind the release's followers, once the rc has soaked, of what early testers reported.

    `[promote.soak] after` seconds after the rc went out (its GitHub release, else its
    tag), a comment on the tracking issue gives the `message` and lists the reports: issues
    opened since then that mention the rc's tag or version (or says there are none). Until
    then the step is waiting: `releaser promote` exits 4, saying when to re-run it.

    Why: an rc becomes the final only after people had time to try it; the reminder brings
    the decision back with the evidence (the reports) on the issue everyone follows.
    By hand: once the soak time is over, search the issues opened since {tag} that mention
    it, and list them in a comment on the issue "{issue_title}".
    """

    name = "soak-reminder"
    configured_by = ("promote.soak",)
    only = ("rc",)
    needs = (TRACKING_ISSUE, GITHUB_RELEASE, RELEASE_TAG)

    def applies(self, ctx: StepContext) -> bool:
        section = _soak(ctx)
        return section is not None and section.applies(ctx.version)

    def _marker(self, ctx: StepContext) -> str:
        return f"<!-- releaser:soak {ctx.tag} -->"

    def text(self, ctx: StepContext, since: datetime, tracking: int) -> str:
        lines = [ctx.fmt(str(_soak(ctx).message), release_url=release_url(ctx)), ""]
        reports = _reports(ctx, since, tracking)
        if reports:
            lines.append(f"Reports since {ctx.tag} went out ({since:%Y-%m-%d %H:%M} UTC):")
            lines += [f"- #{i.number} {i.title} (@{i.user}, {i.state})" for i in reports]
        else:
            lines.append(f"No issue mentioning {ctx.tag} was opened since it went out.")
        return "\n".join([*lines, "", self._marker(ctx)])

    def _channel(self, ctx: StepContext, since: datetime, number: int) -> IssueComment:
        return IssueComment(ctx.forge, number, self._marker(ctx), self.text(ctx, since, number))

    def check(self, ctx: StepContext) -> Outcome:
        issue = ctx.need(TRACKING_ISSUE)
        if issue is None:
            return Outcome.blocked(f"no tracking issue: `releaser start {ctx.version}` opens it")
        since = soak_start(ctx)
        if since is None:
            return Outcome.blocked(f"{ctx.tag} is not out yet: `releaser publish {ctx.version}`")
        comment = ctx.forge.find_comment(issue.number, self._marker(ctx))
        if comment is not None:
            return Outcome.done(f"reminded on #{issue.number}", comment.html_url)
        due = since.timestamp() + float(_soak(ctx).after)
        if ctx.now() < due:
            when = datetime.fromtimestamp(due, UTC).strftime("%Y-%m-%d %H:%M UTC")
            return Outcome.running(f"{ctx.tag} soaks until {when}", until=due)
        return announcement(ctx, self._channel(ctx, since, issue.number))

    def plan(self, ctx: StepContext) -> list[Action]:
        issue = ctx.peek(TRACKING_ISSUE)
        since = soak_start(ctx)
        if issue is None or isinstance(issue, Pending) or since is None:
            return [Action("comment", "on the tracking issue: the reports of early testers")]
        return [Action("comment", f"on #{issue.number}", self.text(ctx, since, issue.number))]

    def run(self, ctx: StepContext) -> None:
        issue = ctx.need(TRACKING_ISSUE)
        since = soak_start(ctx)
        if issue is not None and since is not None:
            post_once(ctx, self._channel(ctx, since, issue.number))
