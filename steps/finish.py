"""The `merge` and `next` stages: merge the release back, the next dev version, closing up.

Merging back (finals): a branch ``merge-release-vX.Y.Z`` at the tagged commit, plus a commit
setting the version files to what the default branch holds (its own ``-dev`` version), merged
into the default branch through a PR with a merge commit (never squash). Both sides then
changed the version lines the same way, so the merge is clean; a real conflict stops with the
git commands to resolve it by hand.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from releaser.errors import RemoteError
from releaser.step import Action, Outcome, Step
from steps import _release as rel
from steps.prepare import NextDevBump

if TYPE_CHECKING:
    from releaser.context import Context

SUMMARY_MARKER = "<!-- releaser:summary -->"


def merge_branch(ctx: Context) -> str:
    return f"merge-release-{ctx.tag}"


def _source(ctx: Context) -> str:
    return rel.release_branch(ctx) or ctx.version_branch


def _file(ctx: Context, path: str, ref: str) -> tuple[str, str] | None:
    """(text, blob sha) of a file at a ref, or None (memoised per command)."""

    def read() -> tuple[str, str] | None:
        from github import GithubException

        try:
            content = ctx.github.repo.get_contents(path, ref=ref)
        except GithubException as exc:
            if exc.status == 404:
                return None
            raise
        assert not isinstance(content, list)
        return content.decoded_content.decode("utf-8"), str(content.sha)

    return rel.memo(ctx, f"file:{ref}:{path}", read)


def _merged_in(ctx: Context, sha: str) -> bool:
    """Whether ``sha`` is an ancestor of (or equal to) the default branch's head."""
    default = rel.default_branch(ctx)

    def compare() -> bool:
        result = ctx.github.repo.compare(default, sha)
        return str(result.status) in ("behind", "identical")

    return rel.memo(ctx, f"merged-in:{sha}", compare)


def version_fixes(ctx: Context, ref: str) -> dict[str, str]:
    """path -> text: the version files at ``ref`` with the default branch's version values."""
    default = rel.default_branch(ctx)
    fixes: dict[str, str] = {}
    for vf in ctx.config.version_files:
        path = str(vf.path)
        ours, theirs = _file(ctx, path, default), _file(ctx, path, ref)
        if ours is None or theirs is None:
            continue
        pattern = re.compile(str(vf.pattern))
        want = pattern.search(ours[0])
        have = pattern.search(theirs[0])
        if want is None or have is None or want["version"] == have["version"]:
            continue
        start, end = have.span("version")
        fixes[path] = theirs[0][:start] + want["version"] + theirs[0][end:]
    return fixes


def _resolve_by_hand(ctx: Context) -> str:
    default = rel.default_branch(ctx)
    branch = merge_branch(ctx)
    return (
        f"resolve it by hand: `git fetch origin && git checkout -B {branch} "
        f"origin/{branch} && git merge origin/{default}` (keep {default}'s -dev version in "
        f"the version files), `git commit`, `git push origin {branch}`, then re-run"
    )


class MergeBack(Step):
    """Merge the released code back into the default branch, with a merge commit.

    Through a PR from `merge-release-vX.Y.Z` (the tagged commit, plus a commit keeping the
    default branch's own development version in the version files), merged with a merge
    commit, never squashed.

    Why: fixes made on the release branch must reach the default branch, and the release's
    commits must stay reachable from it (squashing would lose them).
    By hand: `git checkout -b merge-release-vX.Y.Z vX.Y.Z`, `git merge origin/main` keeping
    main's -dev version, push, open a PR into main and merge it with "Create a merge commit".
    """

    name = "merge-back"
    only = ("final",)

    def _pull(self, ctx: Context) -> Any:
        def find() -> Any:
            owner = ctx.repo_name.split("/", 1)[0]
            pulls = ctx.github.repo.get_pulls(
                state="all", head=f"{owner}:{merge_branch(ctx)}", base=rel.default_branch(ctx)
            )
            ranked = sorted(pulls, key=lambda p: (p.state == "open", p.merged, p.number))
            return ranked[-1] if ranked else None

        return rel.memo(ctx, "merge-back-pr", find)

    def check(self, ctx: Context) -> Outcome:
        remote = rel.remote_tag(ctx)
        if remote is None:
            return Outcome.blocked(rel.tag_missing(ctx))
        default = rel.default_branch(ctx)
        if _merged_in(ctx, remote.commit):
            pull = self._pull(ctx)
            evidence = pull.html_url if pull is not None and pull.merged else None
            return Outcome.done(
                f"{ctx.tag} ({rel.short(remote.commit)}) is merged into {default}",
                evidence or rel.commit_url(ctx, remote.commit),
            )
        pull = self._pull(ctx)
        if pull is not None and pull.state == "open" and pull.mergeable is False:
            return Outcome.failed(
                f"PR #{pull.number} ({merge_branch(ctx)} -> {default}) has conflicts: "
                + _resolve_by_hand(ctx),
                pull.html_url,
            )
        return Outcome.todo(f"{ctx.tag} is not merged into {default} yet")

    def plan(self, ctx: Context) -> list[Action]:
        default = rel.default_branch(ctx)
        branch = merge_branch(ctx)
        remote = rel.remote_tag(ctx)
        at = remote.commit if remote else f"{ctx.tag}'s commit"
        actions = []
        if ctx.git.ref_sha(f"refs/heads/{branch}") is None:
            actions.append(Action("create", f"branch {branch} at {at} ({_source(ctx)})"))
            fixes = version_fixes(ctx, ctx.tag) if remote else {}
            if fixes:
                actions.append(
                    Action(
                        "commit",
                        f"on {branch}: keep {default}'s version in {', '.join(sorted(fixes))}",
                    )
                )
        if self._pull(ctx) is None or self._pull(ctx).state != "open":
            actions.append(Action("create", f"pull request {branch} -> {default}"))
        actions.append(Action("merge", f"that PR into {default} (merge commit, never squash)"))
        return actions

    def run(self, ctx: Context) -> None:
        from github import GithubException, InputGitTreeElement

        repo = ctx.github.repo
        default = rel.default_branch(ctx)
        branch = merge_branch(ctx)
        remote = rel.remote_tag(ctx)
        if remote is None:
            raise RemoteError(rel.tag_missing(ctx))
        head = ctx.git.ref_sha(f"refs/heads/{branch}")
        if head is None:
            fixes = version_fixes(ctx, ctx.tag)
            sha = remote.commit
            if fixes:
                base = repo.get_git_commit(remote.commit)
                tree = repo.create_git_tree(
                    [InputGitTreeElement(p, "100644", "blob", content=t) for p, t in fixes.items()],
                    base.tree,
                )
                commit = repo.create_git_commit(
                    f"Keep {default}'s development version\n\n"
                    f"Merging {ctx.tag} back must not change {default}'s version files.",
                    tree,
                    [base],
                )
                sha = commit.sha
            ctx.ui.debug(f"POST git/refs refs/heads/{branch} {sha}")
            repo.create_git_ref(f"refs/heads/{branch}", sha)
        pull = self._pull(ctx)
        if pull is None or pull.state != "open":
            issue = rel.tracking_issue(ctx)
            body = f"Merges {ctx.tag} back into {default} (merge commit, never squash)."
            if issue is not None:
                body += f"\n\nTracking issue: #{issue.number}"
            pull = repo.create_pull(
                base=default, head=branch, title=f"Merge {ctx.tag} into {default}", body=body
            )
        try:
            pull.merge(merge_method="merge")
        except GithubException as exc:
            if exc.status in (405, 409):
                raise RemoteError(
                    f"PR #{pull.number} can't be merged ({exc.data}): " + _resolve_by_hand(ctx)
                ) from exc
            raise


CLOSED_MARKER = "<!-- releaser:release-pr-closed -->"


class CloseReleasePR(Step):
    """Close the release PR once the release is merged back, linking where it went.

    Only when there is no `release_branch`: the release PR (version branch -> default
    branch) was opened for review; the release reaches the default branch through
    merge-back instead, since the default branch keeps its development version.

    Why: an open release PR after the release suggests it still has to be merged; closing
    it with a link to the merge-back PR leaves a clear history.
    By hand: comment "Released as vX.Y.Z; merged back by #N" on the release PR and close it.
    """

    name = "close-release-pr"
    only = ("final",)

    def applies(self, ctx: Context) -> bool:
        return not ctx.config.project.release_branch

    def _pull(self, ctx: Context) -> Any:
        def find() -> Any:
            owner = ctx.repo_name.split("/", 1)[0]
            pulls = ctx.github.repo.get_pulls(
                state="all",
                head=f"{owner}:{ctx.version_branch}",
                base=rel.default_branch(ctx),
            )
            ranked = sorted(pulls, key=lambda p: (p.state == "open", p.number))
            return ranked[-1] if ranked else None

        return rel.memo(ctx, "review-release-pr", find)

    def check(self, ctx: Context) -> Outcome:
        pull = self._pull(ctx)
        if pull is None:
            return Outcome.done("no release PR into the default branch")
        if pull.state != "open":
            return Outcome.done(
                f"#{pull.number} is {'merged' if pull.merged else 'closed'}", pull.html_url
            )
        remote = rel.remote_tag(ctx)
        if remote is None or not _merged_in(ctx, remote.commit):
            return Outcome.blocked(
                f"{ctx.tag} is not merged back yet: `releaser merge {ctx.version}` does it"
            )
        return Outcome.todo(f"#{pull.number} is still open")

    def plan(self, ctx: Context) -> list[Action]:
        pull = self._pull(ctx)
        number = f"#{pull.number}" if pull is not None else "the release PR"
        return [
            Action("comment", f"on {number}", self._comment(ctx)),
            Action("close", number),
        ]

    def _comment(self, ctx: Context) -> str:
        merge_pull = MergeBack()._pull(ctx)
        via = f" by #{merge_pull.number}" if merge_pull is not None else ""
        text = f"Released as {ctx.tag}; merged back into {rel.default_branch(ctx)}{via}."
        return f"{text}\n\n{CLOSED_MARKER}"

    def run(self, ctx: Context) -> None:
        pull = self._pull(ctx)
        if pull is None or pull.state != "open":
            return
        # A crash between the comment and the close must not comment twice.
        if not any(CLOSED_MARKER in (c.body or "") for c in pull.get_issue_comments()):
            pull.create_issue_comment(self._comment(ctx))
        pull.edit(state="closed")


class NextDevVersion(NextDevBump):
    """Make sure the default branch moves to the next development version.

    Done when the default branch holds X.(Y+1).0-dev or later, or when the PR doing it
    (opened by `prepare` at the first rc, normally) exists; otherwise opens that PR.

    Why: after the final, builds from the default branch must not report the released version.
    By hand: on a branch bump-vX.(Y+1).0-dev from the default branch, set each version file
    to X.(Y+1).0-dev, push, and open a PR into the default branch.
    """

    name = "next-dev-version"
    only = ("final",)
    skip = ("patch",)


def summary_comment(ctx: Context) -> str:
    release = rel.github_release(ctx)
    remote = rel.remote_tag(ctx)
    lines = [SUMMARY_MARKER, f"{ctx.config.project.name} {ctx.tag} is released."]
    if remote is not None:
        lines.append(f"- Tag: [{ctx.tag}]({rel.tag_url(ctx)}) on {remote.commit}")
    if release is not None:
        lines.append(f"- Release: {release.html_url}")
    pr = rel.release_pr(ctx)
    if pr is not None:
        lines.append(f"- Release PR: #{pr.number}")
    lines.append("")
    lines.append("Closing this tracking issue: every step of the release is done.")
    return "\n".join(lines) + "\n"


class CloseTrackingIssue(Step):
    """Comment a summary on the tracking issue and close it.

    Why: the closed issue, with its ticked checklist and summary, is the release's record.
    By hand: comment the tag, release URL and PRs on the issue, then close it.
    """

    name = "close-tracking-issue"

    def _comment(self, ctx: Context) -> Any:
        issue = rel.tracking_issue(ctx)
        if issue is None:
            return None

        def find() -> Any:
            for comment in issue.get_comments():
                if SUMMARY_MARKER in (comment.body or ""):
                    return comment
            return None

        return rel.memo(ctx, "summary-comment", find)

    def check(self, ctx: Context) -> Outcome:
        issue = rel.tracking_issue(ctx)
        if issue is None:
            return Outcome.blocked(f"no tracking issue: run `releaser start {ctx.version}`")
        if issue.state == "closed":
            return Outcome.done(f"#{issue.number} is closed", issue.html_url)
        missing = "" if self._comment(ctx) is not None else "summary comment and "
        return Outcome.todo(f"#{issue.number} needs its {missing}closing")

    def plan(self, ctx: Context) -> list[Action]:
        issue = rel.tracking_issue(ctx)
        number = f"#{issue.number}" if issue is not None else "the tracking issue"
        actions = []
        if self._comment(ctx) is None:
            actions.append(Action("comment", f"on {number}", summary_comment(ctx)))
        actions.append(Action("close", number))
        return actions

    def run(self, ctx: Context) -> None:
        issue = rel.tracking_issue(ctx)
        if issue is None:
            raise RemoteError(f"no tracking issue: run `releaser start {ctx.version}`")
        if self._comment(ctx) is None:
            issue.create_comment(summary_comment(ctx))
        issue.edit(state="closed", state_reason="completed")
