"""The `merge` and `next` stages: merge the release back, the next dev version, closing up.

Merging back (finals): a branch ``merge-release-vX.Y.Z`` at the tagged commit, plus a commit
setting the version files to what the default branch holds (its own ``-dev`` version), merged
into the default branch through a PR with a merge commit (never squash). Both sides then
changed the version lines the same way, so the merge is clean; a real conflict stops with the
git commands to resolve it by hand.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from releaser.api import (
    Access,
    Action,
    HTTPError,
    Issue,
    Outcome,
    Pending,
    PullRequest,
    RemoteError,
    RemoteTag,
    Result,
    Step,
    StepContext,
    StepFailed,
    Version,
    checklist,
)
from steps import _release as rel
from steps._release import GITHUB_RELEASE, RELEASE_PR, RELEASE_TAG, TRACKING_ISSUE, push_access
from steps._versions import (
    NEXT_DEV_PR,
    next_dev_applies,
    next_dev_plan,
    next_dev_state,
    open_next_dev_pr,
)

SUMMARY_MARKER = "<!-- releaser:summary -->"
CLOSED_MARKER = "<!-- releaser:release-pr-closed -->"


def merge_branch(ctx: StepContext) -> str:
    return f"merge-release-{ctx.tag}"


def _source(ctx: StepContext) -> str:
    return rel.release_branch(ctx) or ctx.version_branch


def merged_in(ctx: StepContext, sha: str) -> bool:
    """Whether ``sha`` is an ancestor of (or equal to) the default branch's head."""
    return ctx.forge.compare(rel.default_branch(ctx), sha).status in ("behind", "identical")


def version_fixes(ctx: StepContext, ref: str) -> dict[str, str]:
    """path -> text: the version files at ``ref`` with the default branch's version values."""
    default = rel.default_branch(ctx)
    fixes: dict[str, str] = {}
    for vf in ctx.config.version_files:
        path = str(vf.path)
        ours, theirs = ctx.forge.file(path, default), ctx.forge.file(path, ref)
        if ours is None or theirs is None:
            continue
        pattern = re.compile(str(vf.pattern))
        want = pattern.search(ours.text)
        have = pattern.search(theirs.text)
        if want is None or have is None or want["version"] == have["version"]:
            continue
        start, end = have.span("version")
        fixes[path] = theirs.text[:start] + want["version"] + theirs.text[end:]
    return fixes


def _resolve_by_hand(ctx: StepContext) -> str:
    default = rel.default_branch(ctx)
    branch = merge_branch(ctx)
    return (
        f"resolve it by hand: `git fetch origin && git checkout -B {branch} "
        f"origin/{branch} && git merge origin/{default}` (keep {default}'s -dev version in "
        f"the version files), `git commit`, `git push origin {branch}`, then re-run"
    )


MERGE_BACK_PR: Result[PullRequest | None] = Result(
    "merge-back-pr",
    lambda ctx: ctx.forge.find_pull(merge_branch(ctx), rel.default_branch(ctx)),
    pending="the pull request {by} would open",
)


class MergeBack(Step):
    """Merge the released code back into the default branch, with a merge commit.

    Through a PR from `merge-release-TAG` (the tagged commit, plus a commit keeping the
    default branch's own development version in the version files), merged with a merge
    commit, never squashed.

    Why: fixes made on the release branch must reach the default branch, and the release's
    commits must stay reachable from it (squashing would lose them).
    By hand: `git checkout -b merge-release-{tag} {tag}`, `git merge origin/{default_branch}`
    keeping its -dev version, push, open a PR into {default_branch} and merge it with
    "Create a merge commit".
    """

    name = "merge-back"
    configured_by = ("version_files",)
    only = ("final",)
    needs = (RELEASE_TAG, MERGE_BACK_PR, TRACKING_ISSUE)
    makes = (MERGE_BACK_PR,)

    def check(self, ctx: StepContext) -> Outcome:
        remote = ctx.need(RELEASE_TAG)
        if remote is None:
            return Outcome.blocked(rel.tag_missing(ctx))
        default = rel.default_branch(ctx)
        pull = ctx.need(MERGE_BACK_PR)
        if merged_in(ctx, remote.commit):
            evidence = pull.html_url if pull is not None and pull.merged else None
            return Outcome.done(
                f"{ctx.tag} ({rel.short(remote.commit)}) is merged into {default}",
                evidence or rel.commit_url(ctx, remote.commit),
            )
        if pull is not None and pull.state == "open" and pull.mergeable is False:
            return Outcome.failed(
                f"PR #{pull.number} ({merge_branch(ctx)} -> {default}) has conflicts: "
                + _resolve_by_hand(ctx),
                pull.html_url,
            )
        return Outcome.todo(f"{ctx.tag} is not merged into {default} yet")

    def plan(self, ctx: StepContext) -> list[Action]:
        default = rel.default_branch(ctx)
        branch = merge_branch(ctx)
        remote = ctx.peek(RELEASE_TAG)
        tagged = isinstance(remote, RemoteTag)
        at = remote.commit if isinstance(remote, RemoteTag) else f"{ctx.tag}'s commit"
        actions = []
        if ctx.forge.branch(branch) is None:
            actions.append(Action("create", f"branch {branch} at {at} ({_source(ctx)})"))
            fixes = version_fixes(ctx, ctx.tag) if tagged else {}
            if fixes:
                actions.append(
                    Action(
                        "commit",
                        f"on {branch}: keep {default}'s version in {', '.join(sorted(fixes))}",
                    )
                )
        pull = ctx.peek(MERGE_BACK_PR)
        if pull is None or isinstance(pull, Pending) or pull.state != "open":
            actions.append(Action("create", f"pull request {branch} -> {default}"))
        actions.append(Action("merge", f"that PR into {default} (merge commit, never squash)"))
        return actions

    def writes_to(self, ctx: StepContext) -> list[Access]:
        default = rel.default_branch(ctx)
        return [push_access(ctx, default, f"merge {ctx.tag} into {default}")]

    def run(self, ctx: StepContext) -> None:
        default = rel.default_branch(ctx)
        branch = merge_branch(ctx)
        remote = ctx.need(RELEASE_TAG)
        if remote is None:
            raise RemoteError(rel.tag_missing(ctx))
        if ctx.forge.branch(branch) is None:
            fixes = version_fixes(ctx, ctx.tag)
            sha = remote.commit
            if fixes:
                tagged = ctx.forge.commit(remote.commit)
                sha, _ = ctx.forge.make_commit(
                    tagged.sha,
                    tagged.tree_sha,
                    fixes,
                    f"Keep {default}'s development version\n\n"
                    f"Merging {ctx.tag} back must not change {default}'s version files.",
                    ctx.author(),
                )
            ctx.forge.create_branch(branch, sha)
        pull = ctx.need(MERGE_BACK_PR)
        if pull is None or pull.state != "open":
            issue = ctx.need(TRACKING_ISSUE)
            body = f"Merges {ctx.tag} back into {default} (merge commit, never squash)."
            if issue is not None:
                body += f"\n\nTracking issue: #{issue.number}"
            pull = ctx.forge.create_pull(branch, default, f"Merge {ctx.tag} into {default}", body)
        try:
            ctx.forge.merge_pull(pull.number, method="merge")
        except HTTPError as exc:
            if exc.status in (405, 409):
                raise RemoteError(
                    f"PR #{pull.number} can't be merged ({exc.message}): " + _resolve_by_hand(ctx)
                ) from exc
            raise


class CloseReleasePR(Step):
    """Close the release PR once the release is merged back, linking where it went.

    Only when there is no `release_branch`: the release PR (version branch -> default
    branch) was opened for review; the release reaches the default branch through
    merge-back instead, since the default branch keeps its development version.

    Why: an open release PR after the release suggests it still has to be merged; closing
    it with a link to the merge-back PR leaves a clear history.
    By hand: comment "Released as {tag}; merged back by #N" on the release PR and close it.
    """

    name = "close-release-pr"
    only = ("final",)
    needs = (RELEASE_PR, RELEASE_TAG, MERGE_BACK_PR)
    makes = (RELEASE_PR,)

    def applies(self, ctx: StepContext) -> bool:
        return not ctx.config.project.release_branch

    def check(self, ctx: StepContext) -> Outcome:
        pull = ctx.need(RELEASE_PR)
        if pull is None:
            return Outcome.done("no release PR into the default branch")
        if pull.state != "open":
            return Outcome.done(f"#{pull.number} is {pull.status}", pull.html_url)
        remote = ctx.need(RELEASE_TAG)
        if remote is None or not merged_in(ctx, remote.commit):
            return Outcome.blocked(
                f"{ctx.tag} is not merged back yet: `releaser merge v{ctx.version}` does it"
            )
        return Outcome.todo(f"#{pull.number} is still open")

    def plan(self, ctx: StepContext) -> list[Action]:
        pull = ctx.peek(RELEASE_PR)
        number = f"#{pull.number}" if pull and not isinstance(pull, Pending) else "the release PR"
        return [Action("comment", f"on {number}", self._comment(ctx)), Action("close", number)]

    def _comment(self, ctx: StepContext) -> str:
        merge_pull = ctx.peek(MERGE_BACK_PR)
        via = ""
        if isinstance(merge_pull, Pending):
            via = f" by {merge_pull}"
        elif merge_pull is not None:
            via = f" by #{merge_pull.number}"
        text = f"Released as {ctx.tag}; merged back into {rel.default_branch(ctx)}{via}."
        return f"{text}\n\n{CLOSED_MARKER}"

    def run(self, ctx: StepContext) -> None:
        pull = ctx.need(RELEASE_PR)
        if pull is None or pull.state != "open":
            return
        # A crash between the comment and the close must not comment twice.
        if ctx.forge.find_comment(pull.number, CLOSED_MARKER) is None:
            ctx.forge.comment(pull.number, self._comment(ctx))
        ctx.forge.update_pull(pull.number, state="closed")


class NextDevVersion(Step):
    """Make sure the default branch moves to the next development version.

    Done when the default branch holds the next development version or later, or when the
    PR doing it (opened by `prepare` at the first rc, normally) exists; otherwise opens it.

    Why: after the final, builds from the default branch must not report the released version.
    By hand: on a branch from {default_branch}, set each version file to {next_dev}, push,
    and open a PR into {default_branch}.
    """

    name = "next-dev-version"
    configured_by = ("version_files",)
    only = ("final",)
    skip = ("patch",)
    needs = (NEXT_DEV_PR,)
    makes = (NEXT_DEV_PR,)

    def applies(self, ctx: StepContext) -> bool:
        return next_dev_applies(ctx)

    def check(self, ctx: StepContext) -> Outcome:
        return next_dev_state(ctx)

    def plan(self, ctx: StepContext) -> list[Action]:
        return next_dev_plan(ctx)

    def run(self, ctx: StepContext) -> None:
        open_next_dev_pr(ctx, self.name)


def summary_comment(ctx: StepContext) -> str:
    release = ctx.peek(GITHUB_RELEASE)
    remote = ctx.peek(RELEASE_TAG)
    pr = ctx.peek(RELEASE_PR)
    lines = [SUMMARY_MARKER, f"{ctx.config.project.name} {ctx.tag} is released."]
    if remote is not None and not isinstance(remote, Pending):
        lines.append(f"- Tag: [{ctx.tag}]({rel.tag_url(ctx)}) on {remote.commit}")
    if release is not None and not isinstance(release, Pending):
        lines.append(f"- Release: {release.html_url}")
    if pr is not None and not isinstance(pr, Pending):
        lines.append(f"- Release PR: #{pr.number}")
    lines.append("")
    lines.append("Closing this tracking issue: every step of the release is done.")
    return "\n".join(lines) + "\n"


class CloseTrackingIssue(Step):
    """Comment a summary on the tracking issue and close it.

    Why: the closed issue, with its ticked checklist and summary, is the release's record.
    By hand: comment the tag, release URL and PRs on the issue "{issue_title}", then close it.
    """

    name = "close-tracking-issue"
    needs = (TRACKING_ISSUE, GITHUB_RELEASE, RELEASE_TAG, RELEASE_PR)
    makes = (TRACKING_ISSUE,)

    def check(self, ctx: StepContext) -> Outcome:
        issue = ctx.need(TRACKING_ISSUE)
        if issue is None:
            return Outcome.blocked(f"no tracking issue: run `releaser start v{ctx.version}`")
        if issue.state == "closed":
            return Outcome.done(f"#{issue.number} is closed", issue.html_url)
        missing = "" if ctx.forge.find_comment(issue.number, SUMMARY_MARKER) else "summary and "
        return Outcome.todo(f"#{issue.number} needs its {missing}closing")

    def plan(self, ctx: StepContext) -> list[Action]:
        issue = ctx.peek(TRACKING_ISSUE)
        if issue is None or isinstance(issue, Pending):
            return [Action("comment", "on the tracking issue", summary_comment(ctx))]
        actions = []
        if ctx.forge.find_comment(issue.number, SUMMARY_MARKER) is None:
            actions.append(Action("comment", f"on #{issue.number}", summary_comment(ctx)))
        actions.append(Action("close", f"#{issue.number}"))
        return actions

    def run(self, ctx: StepContext) -> None:
        issue = ctx.need(TRACKING_ISSUE)
        if issue is None:
            raise RemoteError(f"no tracking issue: run `releaser start v{ctx.version}`")
        if ctx.forge.find_comment(issue.number, SUMMARY_MARKER) is None:
            ctx.forge.comment(issue.number, summary_comment(ctx))
        ctx.forge.update_issue(issue.number, state="closed", state_reason="completed")


# -- the next release -----------------------------------------------------------------------


def next_release(ctx: StepContext) -> Version:
    """The release ``[next.tracking_issue] version`` names (it must come after this one)."""
    text = ctx.fmt(str(ctx.config.next.tracking_issue.version))
    version = Version.parse(text)
    if not version > ctx.version:
        raise StepFailed(
            f"[next.tracking_issue] version gives {version}, which is not after {ctx.version}",
            'e.g. version = "{major}.{next_minor}.0-rc1"',
        )
    return version


def _next_issue(ctx: StepContext) -> Issue | None:
    following = ctx.for_version(next_release(ctx))
    labels = list(ctx.config.tracking_issue.labels or [])
    return ctx.forge.find_issue(checklist.issue_title(following), labels[0] if labels else None)


NEXT_TRACKING_ISSUE: Result[Issue | None] = Result(
    "next-tracking-issue", _next_issue, pending="the issue {by} would open"
)


class NextTrackingIssue(Step):
    """Open the next release's tracking issue, with its checklist.

    The release `[next.tracking_issue] version` names (default: the next minor's first rc)
    gets the issue `releaser start` would open for it: titled by `[tracking_issue] title`,
    with its labels and that release's checklist, so its `start` finds it done. An issue
    that exists already is left as it is.

    Why: as soon as a final ships, the next release needs a place where its work, its
    blockers and its date are tracked.
    By hand: `releaser plan NEXT_VERSION` lists that release's steps: open an issue titled
    as `[tracking_issue] title` gives for it, with them as a checklist.
    """

    name = "next-tracking-issue"
    configured_by = ("next.tracking_issue",)
    only = ("final",)
    skip = ("patch",)
    needs = (RELEASE_TAG, NEXT_TRACKING_ISSUE)
    makes = (NEXT_TRACKING_ISSUE,)

    def applies(self, ctx: StepContext) -> bool:
        section = ctx.config.next.tracking_issue
        return section is not None and section.applies(ctx.version)

    def check(self, ctx: StepContext) -> Outcome:
        if ctx.need(RELEASE_TAG) is None:
            return Outcome.blocked(rel.tag_missing(ctx))
        issue = ctx.need(NEXT_TRACKING_ISSUE)
        if issue is None:
            title = checklist.issue_title(ctx.for_version(next_release(ctx)))
            return Outcome.todo(f'no issue titled "{title}" yet')
        return Outcome.done(f"#{issue.number} ({issue.state})", issue.html_url)

    def _issue(self, ctx: StepContext) -> tuple[str, str, list[str]]:
        following = ctx.for_version(next_release(ctx))
        labels = list(ctx.config.tracking_issue.labels or [])
        body = checklist.render_checklist(following) if ctx.config.tracking_issue.checklist else ""
        return checklist.issue_title(following), body, labels

    def plan(self, ctx: StepContext) -> list[Action]:
        title, body, labels = self._issue(ctx)
        shown = f" with labels {', '.join(labels)}" if labels else ""
        return [Action("create", f'issue "{title}"{shown}', body)]

    def run(self, ctx: StepContext) -> None:
        if ctx.need(NEXT_TRACKING_ISSUE) is None:
            title, body, labels = self._issue(ctx)
            ctx.forge.create_issue(title, body, labels)


def _next_changelog(ctx: StepContext) -> Any:
    return ctx.config.next.changelog


def _changelog_branch(ctx: StepContext) -> str:
    return ctx.fmt(str(_next_changelog(ctx).branch))


def link_line(ctx: StepContext) -> str:
    """``- [v1.3](docs/changelogs/v1.3.md)``: the file, relative to the index's directory."""
    section = _next_changelog(ctx)
    path, index = ctx.fmt(str(section.path)), ctx.fmt(str(section.index))
    target = posixpath.relpath(path, posixpath.dirname(index) or ".")
    return f"- [{ctx.fmt(str(section.title))}]({target})"


def insert_link(text: str, line: str) -> str:
    """``line`` above the index's first link item (``- [``), else at its end."""
    lines = text.split("\n")
    for i, existing in enumerate(lines):
        if existing.startswith("- ["):
            return "\n".join([*lines[:i], line, *lines[i:]])
    body = text.rstrip("\n")
    return f"{body}\n\n{line}\n" if body else f"{line}\n"


def changelog_files(ctx: StepContext, sha: str) -> dict[str, str]:
    """path -> text: what the commit at ``sha`` lacks (the new file, the index's link)."""
    section = _next_changelog(ctx)
    path, index = ctx.fmt(str(section.path)), ctx.fmt(str(section.index))
    files: dict[str, str] = {}
    if ctx.forge.file(path, sha) is None:
        files[path] = ctx.fmt(str(section.content)).rstrip("\n") + "\n"
    found = ctx.forge.file(index, sha)
    text = found.text if found is not None else ""
    line = link_line(ctx)
    if line.split("](", 1)[1] not in text.replace("](./", "]("):
        files[index] = insert_link(text, line)
    return files


NEXT_CHANGELOG_PR: Result[PullRequest | None] = Result(
    "next-changelog-pr",
    lambda ctx: ctx.forge.find_pull(_changelog_branch(ctx), rel.default_branch(ctx)),
    pending="the pull request {by} would open",
)


class NextChangelog(Step):
    """Create the next release's changelog file and link it from the changelog index.

    On a branch (`[next.changelog] branch`) from the default branch: the file `path` with
    `content`, and the line `- [TITLE](path)` in `index`, above its first link item; a pull
    request into the default branch proposes them. Done when the default branch has both,
    or that pull request is open or merged.

    Why: the next release's notes are written while its changes land, in their own file,
    and readers find every release's notes from the index.
    By hand: on a branch from {default_branch}, create the next release's changelog file,
    add `- [vX.Y](path/to/it)` to the changelog index, push, and open a PR into
    {default_branch}.
    """

    name = "next-changelog"
    configured_by = ("next.changelog",)
    only = ("final",)
    skip = ("patch",)
    needs = (RELEASE_TAG, NEXT_CHANGELOG_PR)
    makes = (NEXT_CHANGELOG_PR,)

    def applies(self, ctx: StepContext) -> bool:
        section = _next_changelog(ctx)
        return section is not None and section.applies(ctx.version)

    def check(self, ctx: StepContext) -> Outcome:
        if ctx.need(RELEASE_TAG) is None:
            return Outcome.blocked(rel.tag_missing(ctx))
        default = rel.default_branch(ctx)
        path = ctx.fmt(str(_next_changelog(ctx).path))
        head = ctx.forge.branch(default)
        if head is None:
            return Outcome.failed(f"the default branch {default} does not exist")
        if not changelog_files(ctx, head.sha):
            return Outcome.done(
                f"{default} has {path}, linked from the index",
                f"{ctx.forge.html_url}/blob/{default}/{path}",
            )
        pull = ctx.need(NEXT_CHANGELOG_PR)
        if pull is not None and pull.status != "closed":
            return Outcome.done(f"#{pull.number} ({pull.status}) adds {path}", pull.html_url)
        return Outcome.todo(f"{default} has no {path} (or the index doesn't link it)")

    def plan(self, ctx: StepContext) -> list[Action]:
        default = rel.default_branch(ctx)
        branch = _changelog_branch(ctx)
        actions = []
        head = ctx.forge.branch(branch)
        if head is None:
            head = ctx.forge.branch(default)
            at = head.sha[:7] if head else "?"
            actions.append(Action("create", f"branch {branch} at {at} ({default} head)"))
        files = changelog_files(ctx, head.sha) if head else {}
        for path, text in files.items():
            actions.append(Action("commit", f"on {branch}: {path}", text))
        title = ctx.fmt(str(_next_changelog(ctx).pr_title))
        actions.append(Action("create", f'pull request {branch} -> {default}: "{title}"'))
        return actions

    def run(self, ctx: StepContext) -> None:
        default = rel.default_branch(ctx)
        branch = _changelog_branch(ctx)
        head = rel.branch_off_default(ctx, branch)
        files = changelog_files(ctx, head.sha)
        if files:
            path = ctx.fmt(str(_next_changelog(ctx).path))
            message = rel.trailer(f"Add {path}", self.name)
            ctx.forge.commit_files(branch, head, files, message, ctx.author())
        pull = ctx.forge.find_pull(branch, default)
        if pull is None or pull.status == "closed":
            title = ctx.fmt(str(_next_changelog(ctx).pr_title))
            body = f"The changelog of the next release, now that {ctx.tag} is out.\n"
            ctx.forge.create_pull(branch, default, title, body)
