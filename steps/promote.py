"""The `promote` stage: tell people the release is out.

The tracking-issue announcement is here; chat rooms, forums and social sites (Matrix,
Discourse, Reddit, Discord) join this stage as their clients land.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from releaser.step import Action, Outcome, Step
from steps import _release as rel

if TYPE_CHECKING:
    from releaser.context import Context


def _marker(ctx: Context) -> str:
    return f"<!-- releaser:announce {ctx.tag} -->"


class AnnounceOnTrackingIssue(Step):
    """Announce the release on its tracking issue, pinging the early testers for an rc.

    The comment is the `[promote.tracking_issue] message` template (with `{release_url}`);
    for a release candidate it also mentions every `early_testers` handle, asking them to
    test. A hidden marker identifies the comment, so it is posted once.

    Why: the people following the release issue (and, for an rc, the early testers who
    agreed to try candidates) learn that it is out and where to get it.
    By hand: comment on the tracking issue "vX.Y.Z is out: <release URL>" (rc: add
    "@tester1 @tester2: please test and report on this issue").
    """

    name = "announce-on-tracking-issue"

    def applies(self, ctx: Context) -> bool:
        promote = ctx.config.promote
        section = promote.tracking_issue if promote is not None else None
        return section is not None and section.applies(ctx.version)

    def _comment(self, ctx: Context) -> Any:
        issue = rel.tracking_issue(ctx)
        if issue is None:
            return None
        marker = _marker(ctx)

        def find() -> Any:
            return next((c for c in issue.get_comments() if marker in (c.body or "")), None)

        return rel.memo(ctx, "announce-comment", find)

    def check(self, ctx: Context) -> Outcome:
        issue = rel.tracking_issue(ctx)
        if issue is None:
            return Outcome.blocked(f"no tracking issue: `releaser start {ctx.version}` opens it")
        if rel.github_release(ctx) is None:
            return Outcome.blocked(
                f"no GitHub release for {ctx.tag} yet: `releaser publish {ctx.version}`"
            )
        comment = self._comment(ctx)
        if comment is not None:
            return Outcome.done(f"announced on #{issue.number}", comment.html_url)
        return Outcome.todo(f"#{issue.number} has no announcement of {ctx.tag}")

    def text(self, ctx: Context) -> str:
        section = ctx.config.promote.tracking_issue
        release = rel.github_release(ctx)
        release_url = release.html_url if release is not None else rel.tag_url(ctx)
        lines = [ctx.config.render(section.message, ctx.version, release_url=release_url)]
        if ctx.version.is_rc and section.early_testers:
            testers = " ".join(section.early_testers)
            lines.append(f"{testers}: please test {ctx.tag} and report problems on this issue.")
        return "\n\n".join([*lines, _marker(ctx)])

    def plan(self, ctx: Context) -> list[Action]:
        issue = rel.tracking_issue(ctx)
        where = f"#{issue.number}" if issue is not None else "the tracking issue"
        return [Action("comment", f"on {where}", self.text(ctx))]

    def run(self, ctx: Context) -> None:
        issue = rel.tracking_issue(ctx)
        if issue is None or self._comment(ctx) is not None:
            return
        issue.create_comment(self.text(ctx))
