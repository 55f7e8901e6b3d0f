"""The `prepare` stage: version branch, version bumps, changelog, release PR, next-dev bump.

Every write goes through the forge's API (refs, trees, commits, pulls): no clone is needed
except to run a configured changelog command. Commits releaser makes carry a
``Releaser-Step: <step>`` trailer, so the changelog leaves them out.
"""

from __future__ import annotations

from dataclasses import dataclass

from releaser.api import (
    Access,
    Action,
    Outcome,
    Pending,
    Result,
    Step,
    StepContext,
    StepFailed,
)
from steps._changelog import (
    CHANGELOG_SECTION,
    changelog_heading,
    changelog_path,
    compute_section,
    insert_section,
)
from steps._release import (
    PREVIOUS_RELEASE,
    RELEASE_PR,
    RELEASE_TAG,
    RELEASE_TAGS,
    TRACKING_ISSUE,
    VERSION_BRANCH,
    default_branch,
    push_access,
    release_pr_base,
    trailer,
)
from steps._versions import (
    NEXT_DEV_PR,
    diff,
    next_dev_applies,
    next_dev_plan,
    next_dev_state,
    open_next_dev_pr,
    values,
    version_changes,
)

# -- the base of the version branch ---------------------------------------------------------


@dataclass(frozen=True)
class Base:
    """Where the version branch starts: a description and a commit sha (None: missing)."""

    describe: str
    sha: str | None


def _base(ctx: StepContext) -> Base:
    """X.Y.0 (rc or final): the default branch head. A patch X.Y.Z: the release branch when
    configured, else the previous release's version branch, else the previous release tag."""
    project = ctx.config.project
    previous = ctx.version.previous_final()
    if previous is None:
        head = ctx.forge.branch(default_branch(ctx))
        return Base(f"{project.default_branch} head", head.sha if head else None)
    candidates = []
    if project.release_branch:
        candidates.append(ctx.fmt(str(project.release_branch)))
    candidates.append(ctx.config.version_branch_for(previous))
    for name in candidates:
        head = ctx.forge.branch(name)
        if head is not None:
            return Base(f"{name} head", head.sha)
    tag = ctx.config.tag_for(previous)
    if any(name == tag for _, name in ctx.need(RELEASE_TAGS)):
        return Base(f"tag {tag}", ctx.forge.commit(tag).sha)
    return Base(" or ".join([f"branch {c}" for c in candidates] + [f"tag {tag}"]), None)


BRANCH_BASE: Result[Base] = Result("branch-base", _base, needs=(RELEASE_TAGS,))


def _blocked_on_branch(ctx: StepContext) -> Outcome:
    return Outcome.blocked(
        f"branch {ctx.version_branch} does not exist: `releaser prepare v{ctx.version}` "
        "creates it (step version-branch)"
    )


def _where(ctx: StepContext) -> tuple[str, str | None]:
    """The version branch described for a plan, and the commit its files are read at: the
    branch as it is now (a planned earlier step's change is named, not guessed)."""
    pending = ctx.peek(VERSION_BRANCH)
    head = ctx.current(VERSION_BRANCH)
    if head is None:
        base = ctx.need(BRANCH_BASE)
        return f"{ctx.version_branch} (to be created at {base.describe})", base.sha
    if isinstance(pending, Pending):
        return f"{ctx.version_branch} (after {pending.by})", head.sha
    return ctx.version_branch, head.sha


# -- steps ----------------------------------------------------------------------------------


class VersionBranch(Step):
    """Create the version branch the release is prepared on.

    X.Y.0 releases (rcs and the final) start from the default branch head; a patch X.Y.Z
    starts from the release branch when one is configured, else from the previous
    release's version branch, else from the previous release's tag. rcs and the final of
    one version share the branch, so later rcs and the final find it done.

    Why: the release is stabilised on its own branch while development goes on on the
    default branch; fixes are cherry-picked onto it.
    By hand: git push origin origin/{default_branch}:refs/heads/{version_branch}   (patch:
    from the previous release's branch or tag)
    """

    name = "version-branch"
    needs = (VERSION_BRANCH, BRANCH_BASE)
    makes = (VERSION_BRANCH,)

    def check(self, ctx: StepContext) -> Outcome:
        name = ctx.version_branch
        head = ctx.need(VERSION_BRANCH)
        if head is not None:
            return Outcome.done(f"{name} at {head.sha[:7]}", f"{ctx.forge.html_url}/tree/{name}")
        base = ctx.need(BRANCH_BASE)
        if base.sha is None:
            if ctx.version.is_patch:
                return Outcome.failed(
                    f"no previous release to start the patch from: no {base.describe}"
                )
            return Outcome.failed(
                f"the default branch {ctx.config.project.default_branch} does not exist"
            )
        return Outcome.todo(f"branch {name} does not exist (base: {base.describe})")

    def plan(self, ctx: StepContext) -> list[Action]:
        base = ctx.need(BRANCH_BASE)
        sha = (base.sha or "?")[:7]
        return [Action("create", f"branch {ctx.version_branch} at {sha} ({base.describe})")]

    def run(self, ctx: StepContext) -> None:
        base = ctx.need(BRANCH_BASE)
        if base.sha is None:
            raise StepFailed(f"no base for {ctx.version_branch}: {base.describe}")
        ctx.forge.create_branch(ctx.version_branch, base.sha)


class VersionBump(Step):
    """Set the release version in every version file on the version branch.

    Each ``[[version_files]]`` pattern must match exactly once; its ``version`` group is
    replaced by ``format`` (default ``{version}``). All files change in one commit.

    Why: the released code must report the version it is released as.
    By hand: edit each version file on {version_branch} to {version}, commit
    "Set version to {version}" and push the branch.
    """

    name = "version-bump"
    configured_by = ("version_files",)
    needs = (VERSION_BRANCH, RELEASE_TAG, BRANCH_BASE)
    makes = (VERSION_BRANCH,)

    def applies(self, ctx: StepContext) -> bool:
        return bool(ctx.config.version_files)

    def check(self, ctx: StepContext) -> Outcome:
        first = ctx.config.version_files[0].path
        tagged = ctx.need(RELEASE_TAG)
        if tagged is not None:
            # Once tagged, the release commit is fixed: the branch may have moved on (a
            # later rc or the final), and bumping it back would be wrong.
            try:
                changes = version_changes(ctx, tagged.commit)
            except StepFailed as exc:
                return Outcome.failed(exc.message)
            if changes:
                return Outcome.failed(
                    f"{ctx.tag} is tagged on {tagged.commit[:12]}, whose version files don't "
                    f"hold {ctx.version} ({', '.join(c.path for c in changes)}): release the "
                    "next version"
                )
            return Outcome.done(
                f"the tag {ctx.tag} holds {ctx.version}",
                f"{ctx.forge.html_url}/blob/{ctx.tag}/{first}",
            )
        head = ctx.need(VERSION_BRANCH)
        if head is None:
            return _blocked_on_branch(ctx)
        try:
            changes = version_changes(ctx, head.sha)
        except StepFailed as exc:
            return Outcome.failed(exc.message)
        if changes:
            todo = ", ".join(f"{c.path} ({c.old_value} -> {c.new_value})" for c in changes)
            return Outcome.todo(f"to bump: {todo}")
        return Outcome.done(
            f"{len(ctx.config.version_files)} file(s) hold {ctx.version}",
            f"{ctx.forge.html_url}/blob/{ctx.version_branch}/{first}",
        )

    def plan(self, ctx: StepContext) -> list[Action]:
        where, sha = _where(ctx)
        changes = version_changes(ctx, sha) if sha else []
        return [Action("commit", f"on {where}: set {values(changes)}", diff(changes))]

    def run(self, ctx: StepContext) -> None:
        head = ctx.need(VERSION_BRANCH)
        if head is None:
            raise StepFailed(_blocked_on_branch(ctx).detail)
        changes = version_changes(ctx, head.sha)
        if changes:
            message = trailer(f"Set version to {ctx.version}", self.name)
            ctx.forge.commit_files(
                ctx.version_branch,
                head,
                {c.path: c.text for c in changes},
                message,
                ctx.author(),
            )

    def writes_to(self, ctx: StepContext) -> list[Access]:
        return [
            push_access(ctx, ctx.version_branch, f"commit the version bump to {ctx.version_branch}")
        ]


class Changelog(Step):
    """Add this release's section to the changelog on the version branch.

    The section is generated from what was merged since the previous release (the highest
    final tag below this version): merged pull requests, direct commits and contributors;
    or it is the output of ``[changelog] command``, run in a clone of the version branch.
    It is inserted above the newest release section. A section already there (by heading)
    is left as it is: edit it freely before tagging.

    Why: users read the changelog to decide whether to upgrade; the GitHub release body
    reuses this section.
    By hand: list the PRs merged since the previous tag (`git log --merges PREVIOUS..`),
    write the section under its heading in the changelog on {version_branch}, commit, push.
    """

    name = "changelog"
    configured_by = ("changelog",)
    needs = (VERSION_BRANCH, BRANCH_BASE, CHANGELOG_SECTION, PREVIOUS_RELEASE)
    makes = (VERSION_BRANCH, CHANGELOG_SECTION)

    def applies(self, ctx: StepContext) -> bool:
        return ctx.config.changelog is not None

    def check(self, ctx: StepContext) -> Outcome:
        head = ctx.need(VERSION_BRANCH)
        if head is None:
            return _blocked_on_branch(ctx)
        path, heading = changelog_path(ctx), changelog_heading(ctx)
        if ctx.need(CHANGELOG_SECTION):
            return Outcome.done(
                f'{path} has "{heading}"',
                f"{ctx.forge.html_url}/blob/{ctx.version_branch}/{path}",
            )
        found = ctx.forge.file(path, head.sha)
        what = "does not exist" if found is None else f'has no section "{heading}"'
        return Outcome.todo(f"{path} {what}")

    def plan(self, ctx: StepContext) -> list[Action]:
        where, sha = _where(ctx)
        # The section is the same on the branch before and after the version bump (releaser's
        # own commits are left out of it): compute it from what is there now.
        section = compute_section(ctx, sha) if sha else ""
        path = changelog_path(ctx)
        return [Action("commit", f'on {where}: add "{changelog_heading(ctx)}" to {path}', section)]

    def run(self, ctx: StepContext) -> None:
        head = ctx.need(VERSION_BRANCH)
        if head is None:
            raise StepFailed(_blocked_on_branch(ctx).detail)
        if ctx.need(CHANGELOG_SECTION):
            return
        path = changelog_path(ctx)
        found = ctx.forge.file(path, head.sha)
        section = compute_section(ctx, head.sha)
        text = insert_section(found.text if found else "", section, changelog_heading(ctx))
        message = trailer(f"Add the changelog of {ctx.tag}", self.name)
        ctx.forge.commit_files(ctx.version_branch, head, {path: text}, message, ctx.author())

    def writes_to(self, ctx: StepContext) -> list[Access]:
        return [
            push_access(ctx, ctx.version_branch, f"commit the changelog to {ctx.version_branch}")
        ]


class ReleasePR(Step):
    """Open the release pull request from the version branch.

    It goes into the release branch when one is configured, else into the default branch;
    it is a draft for rcs (``[prepare] draft_for_rc``). Its body links the tracking issue
    and lists what happens next. A final reuses its rcs' PR: it is retitled for the final
    and marked ready for review.

    Why: the PR is where the release's changes are reviewed and CI runs on them.
    By hand: open a PR from {version_branch} into the release (or default) branch titled
    "Release {tag}", as a draft for an rc; link the tracking issue. For the final, retitle
    it and mark it ready for review.
    """

    name = "release-pr"
    configured_by = ("prepare",)
    needs = (VERSION_BRANCH, RELEASE_PR, RELEASE_TAG, TRACKING_ISSUE)
    makes = (RELEASE_PR,)

    def check(self, ctx: StepContext) -> Outcome:
        if ctx.need(VERSION_BRANCH) is None:
            return _blocked_on_branch(ctx)
        base = release_pr_base(ctx)
        pull = ctx.need(RELEASE_PR)
        # Once the release is tagged, its PR may have been closed after the merge-back.
        tagged = ctx.need(RELEASE_TAG) is not None
        if pull is not None and (pull.status != "closed" or tagged):
            fixes = self._fixes(ctx, pull.title, pull.status)
            if fixes and not tagged:
                return Outcome.todo(f"#{pull.number} {' and '.join(fixes)}")
            return Outcome.done(f"#{pull.number} ({pull.status})", pull.html_url)
        if ctx.forge.branch(base) is None:
            return Outcome.failed(
                f"the PR's base branch {base} does not exist: create it (e.g. "
                f"`git push origin <last release tag>:refs/heads/{base}`) or unset "
                "[project] release_branch"
            )
        return Outcome.todo(f"no pull request from {ctx.version_branch} into {base}")

    def _fixes(self, ctx: StepContext, title: str, status: str) -> list[str]:
        """What an open PR of an earlier rc needs for the final (rcs keep the first rc's)."""
        fixes: list[str] = []
        if not ctx.version.is_final:
            return fixes
        if status in ("open", "draft") and title != self._title(ctx):
            fixes.append(f'is titled "{title}"')
        if status == "draft" and not self._draft(ctx):
            fixes.append("is still a draft")
        return fixes

    def plan(self, ctx: StepContext) -> list[Action]:
        pull = ctx.peek(RELEASE_PR)
        if pull is not None and not isinstance(pull, Pending):
            actions = []
            if pull.title != self._title(ctx):
                actions.append(Action("update", f'#{pull.number}: title "{self._title(ctx)}"'))
            if pull.draft and not self._draft(ctx):
                actions.append(Action("update", f"#{pull.number}: mark ready for review"))
            return actions
        draft = " (draft)" if self._draft(ctx) else ""
        target = (
            f'pull request {ctx.version_branch} -> {release_pr_base(ctx)}: "{self._title(ctx)}"'
        )
        return [Action("create", target + draft, self._body(ctx))]

    def run(self, ctx: StepContext) -> None:
        pull = ctx.need(RELEASE_PR)
        if pull is not None and pull.status != "closed":
            if pull.title != self._title(ctx):
                pull = ctx.forge.update_pull(pull.number, title=self._title(ctx))
            if pull.draft and not self._draft(ctx):
                ctx.forge.mark_ready(pull)
            return
        ctx.forge.create_pull(
            ctx.version_branch,
            release_pr_base(ctx),
            self._title(ctx),
            self._body(ctx),
            draft=self._draft(ctx),
        )

    def _draft(self, ctx: StepContext) -> bool:
        return ctx.version.is_rc and bool(ctx.config.prepare.draft_for_rc)

    def _title(self, ctx: StepContext) -> str:
        return ctx.fmt(ctx.config.prepare.pr_title)

    def _body(self, ctx: StepContext) -> str:
        version = ctx.version
        lines = [f"Release {ctx.tag} of {ctx.config.project.name}, prepared by `releaser`."]
        issue = ctx.peek(TRACKING_ISSUE)
        if isinstance(issue, Pending):
            lines += ["", "Tracking issue: (the issue tracking-issue opens)"]
        elif issue is not None:
            lines += ["", f"Tracking issue: #{issue.number}"]
        lines += ["", "What happens next:", ""]
        plan = ctx.release_plan()
        here = next((i for i, s in enumerate(plan) if s.stage == "prepare"), -1)
        for stage in plan[here + 1 :]:
            lines.append(f"- [ ] `releaser {stage.stage} v{version}`: {stage.help}")
        if ctx.config.project.release_branch and version.is_final:
            lines.append("")
            lines.append("Merge with a merge commit (never squash or rebase).")
        return "\n".join(lines) + "\n"


class NextDevBump(Step):
    """Open a PR moving the default branch to the next development version.

    Made once per X.Y line, at its first release (normally rc1): it is done when the
    default branch already holds the next development version or later, or when the PR
    (open or merged) exists, so later rcs and the final find it done. Only version files
    with ``dev_format`` are bumped; patches never bump the default branch.

    Why: builds from the default branch must not report the version being released.
    By hand: on a branch from {default_branch}, set each version file to {next_dev}, push,
    and open a PR into {default_branch}.
    """

    name = "next-dev-bump"
    configured_by = ("prepare", "version_files")
    skip = ("patch",)
    needs = (NEXT_DEV_PR,)
    makes = (NEXT_DEV_PR,)

    def applies(self, ctx: StepContext) -> bool:
        return next_dev_applies(ctx) and bool(ctx.config.prepare.next_dev_pr)

    def check(self, ctx: StepContext) -> Outcome:
        return next_dev_state(ctx)

    def plan(self, ctx: StepContext) -> list[Action]:
        return next_dev_plan(ctx)

    def run(self, ctx: StepContext) -> None:
        open_next_dev_pr(ctx, self.name)
