"""The `prepare` stage: version branch, version bumps, changelog, release PR, next-dev bump.

Every write goes through the forge's API (refs, trees, commits, contents, pulls): no clone
is needed except to run a configured changelog command. Commits releaser makes carry a
``Releaser-Step: <step>`` trailer, so the changelog leaves them out.

Reads shared between steps are memoised per command in ``ctx.cache`` (branch heads, tags,
file contents at a commit); a re-run of a prepared release makes a handful of GETs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from releaser.errors import StepFailed
from releaser.step import Action, Outcome, Step
from releaser.version import Version, VersionError
from steps._branches import (
    TRAILER,
    blocked_on_branch,
    branch_head,
    file_at,
    moved,
    release_tags,
    repo_html,
)
from steps._changelog import (
    changelog_heading,
    changelog_path,
    changelog_section,
    compute_section,
    insert_section,
)

if TYPE_CHECKING:
    from releaser.context import Context

__all__ = ["changelog_section", "version_changes"]

# -- the base of the version branch ---------------------------------------------------------


@dataclass(frozen=True)
class Base:
    """Where the version branch starts: a description and a commit sha (None: missing)."""

    describe: str
    sha: str | None


def version_branch_base(ctx: Context) -> Base:
    """X.Y.0 (rc or final): the default branch head. A patch X.Y.Z: the release branch when
    configured, else the previous release's version branch, else the previous release tag."""
    if "prepare.base" in ctx.cache:
        return ctx.cache["prepare.base"]
    project = ctx.config.project
    previous = ctx.version.previous_final()
    base: Base
    if previous is None:
        head = branch_head(ctx, project.default_branch)
        base = Base(f"{project.default_branch} head", head[0] if head else None)
    else:
        candidates = []
        if project.release_branch:
            candidates.append(str(ctx.config.render(project.release_branch, ctx.version)))
        candidates.append(ctx.config.version_branch_for(previous))
        base = Base("", None)
        for name in candidates:
            head = branch_head(ctx, name)
            if head is not None:
                base = Base(f"{name} head", head[0])
                break
        if base.sha is None:
            tag = ctx.config.tag_for(previous)
            sha = _resolve_tag(ctx, tag)
            tried = " or ".join([f"branch {c}" for c in candidates] + [f"tag {tag}"])
            base = Base(f"tag {tag}" if sha else tried, sha)
    if base.sha is not None:
        ctx.cache["prepare.base"] = base
    return base


def _resolve_tag(ctx: Context, tag: str) -> str | None:
    if not any(name == tag for _, name in release_tags(ctx)):
        return None
    return str(ctx.github.repo.get_commit(tag).sha)


def _where(ctx: Context) -> tuple[str, str | None, str | None]:
    """(description, commit sha, tree sha) of the version branch, or of where it would start
    (dry-run plans of later steps read files there)."""
    head = branch_head(ctx, ctx.version_branch)
    if head is not None:
        return ctx.version_branch, head[0], head[1]
    base = version_branch_base(ctx)
    return f"{ctx.version_branch} (to be created at {base.describe})", base.sha, None


# -- version files --------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    path: str
    old_value: str
    new_value: str
    old_line: str
    new_line: str
    text: str  # the whole new file


def version_changes(ctx: Context, sha: str, dev: bool = False) -> list[Change]:
    """The version files at commit ``sha`` that don't hold the release version yet (with
    ``dev``: the next development version, files with ``dev_format`` only).

    Raises StepFailed naming the file and pattern when a file or its pattern is missing.
    """
    changes = []
    next_dev = ctx.version.next_dev(ctx.config.project.dev_suffix)
    for entry in ctx.config.version_files:
        if dev:
            if not entry.dev_format:
                continue
            value = next_dev.format(entry.dev_format)
        else:
            value = str(ctx.config.render(entry.format, ctx.version))
        change = _change(ctx, entry.path, entry.pattern, sha, value)
        if change is not None:
            changes.append(change)
    return changes


def _change(ctx: Context, path: str, pattern: str, sha: str, value: str) -> Change | None:
    found = file_at(ctx, path, sha)
    if found is None:
        raise StepFailed(
            f"version file {path} does not exist at {sha[:7]}",
            "fix [[version_files]] path in releaser.toml",
        )
    text = found[0]
    matches = list(re.finditer(pattern, text))
    if len(matches) != 1:
        how = "matches nothing" if not matches else f"matches {len(matches)} times, not once"
        raise StepFailed(
            f"{path}: pattern {pattern} {how}",
            f"fix [[version_files]] pattern for {path} in releaser.toml (or the file)",
        )
    match = matches[0]
    if match["version"] == value:
        return None
    start, end = match.span("version")
    new_text = text[:start] + value + text[end:]
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    old_line = text[line_start : line_end if line_end >= 0 else len(text)]
    new_line = old_line[: start - line_start] + value + old_line[end - line_start :]
    return Change(path, match["version"], value, old_line, new_line, new_text)


def _diff(changes: list[Change]) -> str:
    out = []
    for c in changes:
        out += [f"{c.path}:", f"- {c.old_line}", f"+ {c.new_line}"]
    return "\n".join(out)


def _trailer(message: str, step: str) -> str:
    return f"{message}\n\n{TRAILER}: {step}\n"


def _author(ctx: Context) -> dict[str, str] | None:
    git = ctx.config.git
    if git.author_name and git.author_email:
        return {"name": str(git.author_name), "email": str(git.author_email)}
    return None


def commit_files(
    ctx: Context, branch: str, head: tuple[str, str], files: dict[str, str], message: str
) -> str:
    """One commit on ``branch`` (whose head is ``head``) writing ``files``; returns its sha.

    Tree, commit, then a fast-forward ref update: if the branch moved meanwhile the forge
    refuses and nothing changed (the tree and commit are unreferenced objects).
    """
    requester = ctx.github.gh.requester
    api = f"{ctx.forge.api_url}/repos/{ctx.repo_name}/git"
    entries = [
        {"path": path, "mode": "100644", "type": "blob", "content": text}
        for path, text in files.items()
    ]
    _, tree = requester.requestJsonAndCheck(
        "POST", f"{api}/trees", input={"base_tree": head[1], "tree": entries}
    )
    body: dict[str, Any] = {"message": message, "tree": tree["sha"], "parents": [head[0]]}
    author = _author(ctx)
    if author:
        body["author"] = author
    _, commit = requester.requestJsonAndCheck("POST", f"{api}/commits", input=body)
    requester.requestJsonAndCheck(
        "PATCH", f"{api}/refs/heads/{branch}", input={"sha": commit["sha"], "force": False}
    )
    moved(ctx, branch, commit["sha"], tree["sha"])
    ctx.ui.debug(f"committed {commit['sha'][:7]} on {branch}: {message.splitlines()[0]}")
    return str(commit["sha"])


# -- pull requests --------------------------------------------------------------------------


def find_pull(ctx: Context, head: str, base: str, closed_too: bool = False) -> Any:
    """An open or merged pull request from ``head`` into ``base`` (with ``closed_too``, a
    closed one as a last resort), or None."""
    owner = ctx.repo_name.split("/")[0]
    pulls = ctx.github.repo.get_pulls(state="all", head=f"{owner}:{head}", base=base)
    found = closed = None
    for pull in pulls:
        if pull.state == "open":
            return pull
        if pull.merged_at is not None and found is None:
            found = pull
        closed = closed or pull
    return found or (closed if closed_too else None)


def release_pr_base(ctx: Context) -> str:
    project = ctx.config.project
    if project.release_branch:
        return str(ctx.config.render(project.release_branch, ctx.version))
    return str(project.default_branch)


# -- steps ----------------------------------------------------------------------------------


class VersionBranch(Step):
    """Create the version branch the release is prepared on.

    X.Y.0 releases (rcs and the final) start from the default branch head; a patch X.Y.Z
    starts from the release branch when one is configured, else from the previous
    release's version branch, else from the previous release's tag. rcs and the final of
    one version share the branch, so later rcs and the final find it done.

    Why: the release is stabilised on its own branch while development goes on on the
    default branch; fixes are cherry-picked onto it.
    By hand: git push origin origin/main:refs/heads/release-vX.Y   (patch: from the
    previous release's branch or tag)
    """

    name = "version-branch"

    def check(self, ctx: Context) -> Outcome:
        name = ctx.version_branch
        head = branch_head(ctx, name)
        if head is not None:
            return Outcome.done(f"{name} at {head[0][:7]}", f"{repo_html(ctx)}/tree/{name}")
        base = version_branch_base(ctx)
        if base.sha is None:
            if ctx.version.is_patch:
                return Outcome.failed(
                    f"no previous release to start the patch from: no {base.describe}",
                )
            return Outcome.failed(
                f"the default branch {ctx.config.project.default_branch} does not exist"
            )
        return Outcome.todo(f"branch {name} does not exist (base: {base.describe})")

    def plan(self, ctx: Context) -> list[Action]:
        base = version_branch_base(ctx)
        sha = (base.sha or "?")[:7]
        return [Action("create", f"branch {ctx.version_branch} at {sha} ({base.describe})")]

    def run(self, ctx: Context) -> None:
        base = version_branch_base(ctx)
        if base.sha is None:
            raise StepFailed(f"no base for {ctx.version_branch}: {base.describe}")
        ctx.github.repo.create_git_ref(f"refs/heads/{ctx.version_branch}", base.sha)


class VersionBump(Step):
    """Set the release version in every version file on the version branch.

    Each ``[[version_files]]`` pattern must match exactly once; its ``version`` group is
    replaced by ``format`` (default ``{version}``). All files change in one commit.

    Why: the released code must report the version it is released as.
    By hand: edit each version file on the version branch (e.g. version.go) to X.Y.Z(-rcN),
    commit "Set version to X.Y.Z(-rcN)" and push the branch.
    """

    name = "version-bump"

    def applies(self, ctx: Context) -> bool:
        return bool(ctx.config.version_files)

    def check(self, ctx: Context) -> Outcome:
        first = ctx.config.version_files[0].path
        tagged = ctx.git.tag_object(ctx.tag)
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
                f"the tag {ctx.tag} holds {ctx.version}", f"{repo_html(ctx)}/blob/{ctx.tag}/{first}"
            )
        head = branch_head(ctx, ctx.version_branch)
        if head is None:
            return blocked_on_branch(ctx)
        try:
            changes = version_changes(ctx, head[0])
        except StepFailed as exc:
            return Outcome.failed(exc.message)
        if changes:
            todo = ", ".join(f"{c.path} ({c.old_value} -> {c.new_value})" for c in changes)
            return Outcome.todo(f"to bump: {todo}")
        return Outcome.done(
            f"{len(ctx.config.version_files)} file(s) hold {ctx.version}",
            f"{repo_html(ctx)}/blob/{ctx.version_branch}/{first}",
        )

    def plan(self, ctx: Context) -> list[Action]:
        where, sha, _tree = _where(ctx)
        changes = version_changes(ctx, sha) if sha else []
        paths = ", ".join(c.path for c in changes)
        return [
            Action("commit", f"on {where}: set version {ctx.version} in {paths}", _diff(changes))
        ]

    def run(self, ctx: Context) -> None:
        head = branch_head(ctx, ctx.version_branch)
        if head is None:
            raise StepFailed(blocked_on_branch(ctx).detail)
        changes = version_changes(ctx, head[0])
        if changes:
            message = _trailer(f"Set version to {ctx.version}", self.name)
            commit_files(ctx, ctx.version_branch, head, {c.path: c.text for c in changes}, message)


class Changelog(Step):
    """Add this release's section to the changelog on the version branch.

    The section is generated from what was merged since the previous release (the highest
    final tag below this version): merged pull requests, direct commits and contributors;
    or it is the output of ``[changelog] command``, run in a clone of the version branch.
    It is inserted above the newest release section. A section already there (by heading)
    is left as it is: edit it freely before tagging.

    Why: users read the changelog to decide whether to upgrade; the GitHub release body
    reuses this section.
    By hand: list the PRs merged since the previous tag (`git log --merges vX.Y.Z..`),
    write the section under "## vX.Y.Z" in the changelog on the version branch, commit, push.
    """

    name = "changelog"

    def applies(self, ctx: Context) -> bool:
        return ctx.config.changelog is not None

    def check(self, ctx: Context) -> Outcome:
        head = branch_head(ctx, ctx.version_branch)
        if head is None:
            return blocked_on_branch(ctx)
        path, heading = changelog_path(ctx), changelog_heading(ctx)
        found = file_at(ctx, path, head[0])
        if found is not None and heading in found[0].splitlines():
            return Outcome.done(
                f'{path} has "{heading}"', f"{repo_html(ctx)}/blob/{ctx.version_branch}/{path}"
            )
        what = "does not exist" if found is None else f'has no section "{heading}"'
        return Outcome.todo(f"{path} {what}")

    def plan(self, ctx: Context) -> list[Action]:
        where, sha, _tree = _where(ctx)
        section = compute_section(ctx, sha) if sha else ""
        path = changelog_path(ctx)
        return [Action("commit", f'on {where}: add "{changelog_heading(ctx)}" to {path}', section)]

    def run(self, ctx: Context) -> None:
        head = branch_head(ctx, ctx.version_branch)
        if head is None:
            raise StepFailed(blocked_on_branch(ctx).detail)
        path, heading = changelog_path(ctx), changelog_heading(ctx)
        found = file_at(ctx, path, head[0])
        if found is not None and heading in found[0].splitlines():
            return
        section = compute_section(ctx, head[0])
        text = insert_section(found[0] if found else "", section, heading)
        message = _trailer(f"Add the changelog of {ctx.tag}", self.name)
        repo = ctx.github.repo
        author = _author(ctx)
        kwargs: dict[str, Any] = {"branch": ctx.version_branch}
        if author:
            from github import InputGitAuthor

            kwargs["author"] = InputGitAuthor(author["name"], author["email"])
        if found is None:
            result = repo.create_file(path, message, text, **kwargs)
        else:
            result = repo.update_file(path, message, text, found[1], **kwargs)
        commit = result["commit"].raw_data  # the git commit the forge made
        moved(ctx, ctx.version_branch, commit["sha"], commit["tree"]["sha"])


class ReleasePR(Step):
    """Open the release pull request from the version branch.

    It goes into the release branch when one is configured, else into the default branch;
    it is a draft for rcs (``[prepare] draft_for_rc``). Its body links the tracking issue
    and lists what happens next. An open or merged PR for the same branches counts as done
    (a final reuses its rcs' PR).

    Why: the PR is where the release's changes are reviewed and CI runs on them.
    By hand: open a PR from release-vX.Y into the release (or default) branch titled
    "Release vX.Y.Z", as a draft for an rc; link the tracking issue.
    """

    name = "release-pr"

    def check(self, ctx: Context) -> Outcome:
        if branch_head(ctx, ctx.version_branch) is None:
            return blocked_on_branch(ctx)
        base = release_pr_base(ctx)
        # Once the release is tagged, its PR may have been closed after the merge-back.
        tagged = ctx.git.tag_object(ctx.tag) is not None
        pull = find_pull(ctx, ctx.version_branch, base, closed_too=tagged)
        if pull is not None:
            state = "merged" if pull.merged_at else ("draft" if pull.draft else pull.state)
            return Outcome.done(f"#{pull.number} ({state})", pull.html_url)
        if branch_head(ctx, base) is None:
            return Outcome.failed(
                f"the PR's base branch {base} does not exist: create it (e.g. "
                f"`git push origin <last release tag>:refs/heads/{base}`) or unset "
                "[project] release_branch"
            )
        return Outcome.todo(f"no pull request from {ctx.version_branch} into {base}")

    def plan(self, ctx: Context) -> list[Action]:
        draft = " (draft)" if self._draft(ctx) else ""
        target = (
            f'pull request {ctx.version_branch} -> {release_pr_base(ctx)}: "{self._title(ctx)}"'
        )
        return [Action("create", target + draft, self._body(ctx))]

    def run(self, ctx: Context) -> None:
        ctx.github.repo.create_pull(
            base=release_pr_base(ctx),
            head=ctx.version_branch,
            title=self._title(ctx),
            body=self._body(ctx),
            draft=self._draft(ctx),
        )

    def _draft(self, ctx: Context) -> bool:
        return ctx.version.is_rc and bool(ctx.config.prepare.draft_for_rc)

    def _title(self, ctx: Context) -> str:
        return str(ctx.config.render(ctx.config.prepare.pr_title, ctx.version))

    def _body(self, ctx: Context) -> str:
        from releaser.checklist import find_tracking_issue
        from releaser.engine import step_applies
        from steps import PLANS, STAGE_HELP

        version = ctx.version
        lines = [f"Release {ctx.tag} of {ctx.config.project.name}, prepared by `releaser`."]
        issue = find_tracking_issue(ctx)
        if issue is not None:
            lines += ["", f"Tracking issue: #{issue.number}"]
        lines += ["", "What happens next:", ""]
        stages = list(PLANS)
        for stage in stages[stages.index("prepare") + 1 :]:
            if any(step_applies(s, ctx) for s in PLANS[stage]):
                lines.append(f"- [ ] `releaser {stage} {version}`: {STAGE_HELP[stage]}")
        if ctx.config.project.release_branch and version.is_final:
            lines.append("")
            lines.append("Merge with a merge commit (never squash or rebase).")
        return "\n".join(lines) + "\n"


class NextDevBump(Step):
    """Open a PR moving the default branch to the next development version.

    Made once per X.Y line, at its first release (normally rc1): it is done when the
    default branch already holds X.(Y+1).0-dev or later, or when the PR (open or merged)
    exists, so later rcs and the final find it done. Only version files with
    ``dev_format`` are bumped; patches never bump the default branch.

    Why: builds from the default branch must not report the version being released.
    By hand: on a branch bump-vX.(Y+1).0-dev from the default branch, set each version file
    to X.(Y+1).0-dev, push, and open a PR into the default branch.
    """

    name = "next-dev-bump"
    skip = ("patch",)

    def applies(self, ctx: Context) -> bool:
        files = ctx.config.version_files
        return bool(ctx.config.prepare.next_dev_pr) and any(f.dev_format for f in files)

    def check(self, ctx: Context) -> Outcome:
        default = str(ctx.config.project.default_branch)
        branch = self._branch(ctx)
        pull = find_pull(ctx, branch, default)
        if pull is not None:
            state = "merged" if pull.merged_at else "open"
            return Outcome.done(f"#{pull.number} ({state})", pull.html_url)
        head = branch_head(ctx, default)
        if head is None:
            return Outcome.failed(f"the default branch {default} does not exist")
        try:
            changes = self._changes(ctx, head[0])
        except StepFailed as exc:
            return Outcome.failed(exc.message)
        if not changes:
            first = next(f.path for f in ctx.config.version_files if f.dev_format)
            return Outcome.done(
                f"{default} is at {self._next_dev(ctx)} or later",
                f"{repo_html(ctx)}/blob/{default}/{first}",
            )
        return Outcome.todo(f"{default} is at {changes[0].old_value}")

    def plan(self, ctx: Context) -> list[Action]:
        default = str(ctx.config.project.default_branch)
        branch = self._branch(ctx)
        actions = []
        head = branch_head(ctx, branch)
        if head is None:
            main = branch_head(ctx, default)
            sha = main[0][:7] if main else "?"
            actions.append(Action("create", f"branch {branch} at {sha} ({default} head)"))
            head = main
        changes = self._changes(ctx, head[0]) if head else []
        if changes:
            paths = ", ".join(c.path for c in changes)
            target = f"on {branch}: set version {self._next_dev(ctx)} in {paths}"
            actions.append(Action("commit", target, _diff(changes)))
        actions.append(
            Action("create", f'pull request {branch} -> {default}: "{self._title(ctx)}"')
        )
        return actions

    def run(self, ctx: Context) -> None:
        default = str(ctx.config.project.default_branch)
        branch = self._branch(ctx)
        repo = ctx.github.repo
        head = branch_head(ctx, branch)
        if head is None:
            main = branch_head(ctx, default)
            if main is None:
                raise StepFailed(f"the default branch {default} does not exist")
            repo.create_git_ref(f"refs/heads/{branch}", main[0])
            moved(ctx, branch, *main)
            head = main
        changes = self._changes(ctx, head[0])
        if changes:
            message = _trailer(f"Start {self._next_dev(ctx)} development", self.name)
            commit_files(ctx, branch, head, {c.path: c.text for c in changes}, message)
        if find_pull(ctx, branch, default) is None:
            body = (
                f"Moves {default} to the next development version, {self._next_dev(ctx)}, "
                f"now that {ctx.tag} is being released from {ctx.version_branch}.\n"
            )
            repo.create_pull(base=default, head=branch, title=self._title(ctx), body=body)

    def _next_dev(self, ctx: Context) -> Version:
        return ctx.version.next_dev(ctx.config.project.dev_suffix)

    def _branch(self, ctx: Context) -> str:
        return str(ctx.config.render(ctx.config.prepare.next_dev_branch, ctx.version))

    def _title(self, ctx: Context) -> str:
        return str(ctx.config.render(ctx.config.prepare.next_dev_pr_title, ctx.version))

    def _changes(self, ctx: Context, sha: str) -> list[Change]:
        """Version files at ``sha`` below the next development version."""
        changes = version_changes(ctx, sha, dev=True)
        target = self._next_dev(ctx)
        behind = []
        for change in changes:
            try:
                if Version.parse(change.old_value) >= target:
                    continue
            except VersionError:
                pass
            behind.append(change)
        return behind
