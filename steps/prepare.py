"""The `prepare` stage: version branch, version bumps, changelog, release PR, next-dev bump.

Every write goes through the forge's API (refs, trees, commits, contents, pulls): no clone
is needed except to run a configured changelog command. Commits releaser makes carry a
``Releaser-Step: <step>`` trailer, so the changelog leaves them out.

Reads shared between steps are memoised per command in ``ctx.cache`` (branch heads, tags,
file contents at a commit); a re-run of a prepared release makes a handful of GETs.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from releaser.errors import StepFailed
from releaser.step import Action, Outcome, Step
from releaser.version import Version, VersionError

if TYPE_CHECKING:
    from releaser.context import Context

TRAILER = "Releaser-Step"
SECTION_CACHE = "changelog-section"
_BRANCHES = "prepare.branches"  # name -> (commit sha, tree sha)
_FILES = "prepare.files"  # (path, commit sha) -> (text, blob sha) or None
_TAGS = "prepare.tags"  # [(Version, tag name)]


# -- shared reads ---------------------------------------------------------------------------


def _memo(ctx: Context, key: str) -> dict[Any, Any]:
    table: dict[Any, Any] = ctx.cache.setdefault(key, {})
    return table


def branch_head(ctx: Context, name: str) -> tuple[str, str] | None:
    """(commit sha, tree sha) of a branch, or None when it does not exist."""
    branches = _memo(ctx, _BRANCHES)
    if name in branches:
        return branches[name]
    from releaser.clients.github import is_status

    try:
        branch = ctx.github.repo.get_branch(name)
    except Exception as exc:
        if is_status(exc, 404):
            return None  # not memoised: the next check after a write must see it
        raise
    head = (branch.commit.sha, branch.commit.commit.tree.sha)
    branches[name] = head
    return head


def _moved(ctx: Context, branch: str, sha: str, tree: str) -> None:
    _memo(ctx, _BRANCHES)[branch] = (sha, tree)


def file_at(ctx: Context, path: str, sha: str) -> tuple[str, str] | None:
    """(text, blob sha) of a file at a commit, or None when absent (memoised: immutable)."""
    files = _memo(ctx, _FILES)
    if (path, sha) in files:
        return files[(path, sha)]
    from releaser.clients.github import is_status

    try:
        content = ctx.github.repo.get_contents(path, ref=sha)
    except Exception as exc:
        if not is_status(exc, 404):
            raise
        found = None
    else:
        if isinstance(content, list):
            raise StepFailed(f"{path} is a directory, not a file")
        found = (content.decoded_content.decode("utf-8"), content.sha)
    files[(path, sha)] = found
    return found


def _tag_regex(ctx: Context) -> re.Pattern[str]:
    template = ctx.config.project.tag
    parts = re.split(r"(\{[a-z_]+\})", template)
    regex = "".join(
        "(?P<version>.+)" if p == "{version}" else (".+?" if p.startswith("{") else re.escape(p))
        for p in parts
    )
    return re.compile(regex)


def release_tags(ctx: Context) -> list[tuple[Version, str]]:
    """Every tag naming a release (per ``[project] tag``), lowest version first."""
    if _TAGS in ctx.cache:
        return ctx.cache[_TAGS]
    pattern = _tag_regex(ctx)
    found: list[tuple[Version, str]] = []
    for ref in ctx.github.repo.get_git_matching_refs("tags/"):
        name = ref.ref.removeprefix("refs/tags/")
        match = pattern.fullmatch(name)
        if match is None:
            continue
        try:
            found.append((Version.parse(match["version"]), name))
        except VersionError:
            continue
    found.sort()
    ctx.cache[_TAGS] = found
    return found


def previous_release(ctx: Context) -> tuple[Version, str] | None:
    """The release this one follows: the highest final tag lower than this version.

    rcs are not releases to compare against: v1.2.0-rc2 and v1.2.0 both follow v1.1.0 (the
    last final of an earlier line), v1.2.1 follows v1.2.0.
    """
    finals = [(v, t) for v, t in release_tags(ctx) if v.is_final and v < ctx.version]
    return finals[-1] if finals else None


def _html(ctx: Context) -> str:
    return str(ctx.github.repo.html_url)


def _blocked_on_branch(ctx: Context) -> Outcome:
    return Outcome.blocked(
        f"branch {ctx.version_branch} does not exist: `releaser prepare {ctx.version}` "
        "creates it (step version-branch)"
    )


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
    _moved(ctx, branch, commit["sha"], tree["sha"])
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
            return Outcome.done(f"{name} at {head[0][:7]}", f"{_html(ctx)}/tree/{name}")
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
                f"the tag {ctx.tag} holds {ctx.version}", f"{_html(ctx)}/blob/{ctx.tag}/{first}"
            )
        head = branch_head(ctx, ctx.version_branch)
        if head is None:
            return _blocked_on_branch(ctx)
        try:
            changes = version_changes(ctx, head[0])
        except StepFailed as exc:
            return Outcome.failed(exc.message)
        if changes:
            todo = ", ".join(f"{c.path} ({c.old_value} -> {c.new_value})" for c in changes)
            return Outcome.todo(f"to bump: {todo}")
        return Outcome.done(
            f"{len(ctx.config.version_files)} file(s) hold {ctx.version}",
            f"{_html(ctx)}/blob/{ctx.version_branch}/{first}",
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
            raise StepFailed(_blocked_on_branch(ctx).detail)
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
            return _blocked_on_branch(ctx)
        path, heading = _changelog_path(ctx), _heading(ctx)
        found = file_at(ctx, path, head[0])
        if found is not None and heading in found[0].splitlines():
            return Outcome.done(
                f'{path} has "{heading}"', f"{_html(ctx)}/blob/{ctx.version_branch}/{path}"
            )
        what = "does not exist" if found is None else f'has no section "{heading}"'
        return Outcome.todo(f"{path} {what}")

    def plan(self, ctx: Context) -> list[Action]:
        where, sha, _tree = _where(ctx)
        section = compute_section(ctx, sha) if sha else ""
        path = _changelog_path(ctx)
        return [Action("commit", f'on {where}: add "{_heading(ctx)}" to {path}', section)]

    def run(self, ctx: Context) -> None:
        head = branch_head(ctx, ctx.version_branch)
        if head is None:
            raise StepFailed(_blocked_on_branch(ctx).detail)
        path, heading = _changelog_path(ctx), _heading(ctx)
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
        _moved(ctx, ctx.version_branch, commit["sha"], commit["tree"]["sha"])


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
            return _blocked_on_branch(ctx)
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
                f"{_html(ctx)}/blob/{default}/{first}",
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
            _moved(ctx, branch, *main)
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


# -- the changelog section ------------------------------------------------------------------


def _changelog_path(ctx: Context) -> str:
    return str(ctx.config.render(ctx.config.changelog.path, ctx.version))


def _heading(ctx: Context) -> str:
    return str(ctx.config.render(ctx.config.changelog.heading, ctx.version)).strip()


def _level(heading: str) -> int:
    return len(heading) - len(heading.lstrip("#"))


def insert_section(text: str, section: str, heading: str) -> str:
    """``text`` with ``section`` inserted above the first heading of the same level (the
    newest release), else appended."""
    prefix = "#" * _level(heading) + " "
    section = section.rstrip("\n") + "\n"
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if _level(heading) and line.startswith(prefix):
            return "".join(lines[:i]) + section + "\n" + "".join(lines[i:])
    if not text.strip():
        return section
    return text.rstrip("\n") + "\n\n" + section


def extract_section(text: str, heading: str) -> str:
    """The section under ``heading`` (up to the next heading of its level or higher)."""
    lines = text.splitlines()
    try:
        start = lines.index(heading)
    except ValueError:
        return ""
    level = _level(heading)
    end = len(lines)
    for i in range(start + 1, len(lines)):
        line_level = _level(lines[i])
        if 0 < line_level <= level and lines[i][line_level : line_level + 1] == " ":
            end = i
            break
    return "\n".join(lines[start:end]).strip() + "\n"


def changelog_section(ctx: Context) -> str:
    """This release's changelog section (heading included), as it is on the version branch
    ("" when there is none); publish uses it for the release body."""
    if ctx.config.changelog is None:
        return ""
    head = branch_head(ctx, ctx.version_branch)
    if head is None:
        return str(ctx.cache.get(SECTION_CACHE, ""))
    found = file_at(ctx, _changelog_path(ctx), head[0])
    return extract_section(found[0], _heading(ctx)) if found else ""


def compute_section(ctx: Context, head_sha: str) -> str:
    """The section for this release, from the history up to ``head_sha`` (memoised)."""
    if SECTION_CACHE in ctx.cache:
        return str(ctx.cache[SECTION_CACHE])
    command = ctx.config.changelog.command
    body = _run_command(ctx, str(command), head_sha) if command else _generate(ctx, head_sha)
    section = f"{_heading(ctx)}\n\n{body.strip()}\n"
    ctx.cache[SECTION_CACHE] = section
    return section


def _generate(ctx: Context, head_sha: str) -> str:
    repo = ctx.github.repo
    previous = previous_release(ctx)
    since = None
    if previous is not None:
        comparison = repo.compare(previous[1], head_sha)
        commits = list(comparison.commits)
        since = comparison.merge_base_commit.commit.committer.date
    else:
        commits = list(repo.get_commits(sha=head_sha))
    by_sha = {c.sha: c for c in commits}
    mainline = []
    current: str | None = head_sha
    while current in by_sha:
        commit = by_sha[current]
        mainline.append(commit)
        current = commit.parents[0].sha if commit.parents else None
    mainline.reverse()
    pulls = _merged_pulls(ctx, {c.sha for c in mainline}, since)

    def credit(commit: Any) -> str:
        author = commit.author
        login = getattr(author, "login", None) if author is not None else None
        return f"@{login}" if login else str(commit.commit.author.name)

    pr_lines, direct_lines = [], []
    for commit in mainline:
        message = commit.commit.message
        if f"\n{TRAILER}: " in message:
            continue
        pull = pulls.get(commit.sha)
        if pull is not None:
            head = by_sha.get(pull.head.sha)
            who = credit(head) if head is not None else f"@{pull.user.login}"
            pr_lines.append(f"- {pull.title} (#{pull.number}) by {who}")
        elif len(commit.parents) < 2:
            subject = message.splitlines()[0] if message else commit.sha[:7]
            direct_lines.append(f"- {subject} ({commit.sha[:7]}) by {credit(commit)}")
    contributors = sorted(
        {
            credit(c)
            for c in commits
            if len(c.parents) < 2 and f"\n{TRAILER}: " not in c.commit.message
        },
        key=str.lower,
    )
    since_text = f"since {previous[1]}" if previous else "in this first release"
    parts = [f"Changes {since_text}."]
    if pr_lines:
        parts.append("### Pull requests\n\n" + "\n".join(pr_lines))
    if direct_lines:
        parts.append("### Other commits\n\n" + "\n".join(direct_lines))
    if not pr_lines and not direct_lines:
        parts.append("No changes.")
    if ctx.config.changelog.contributors and contributors:
        parts.append("### Contributors\n\n" + "\n".join(f"- {c}" for c in contributors))
    return "\n\n".join(parts)


def _merged_pulls(ctx: Context, shas: set[str], since: Any) -> dict[str, Any]:
    """Merged PRs whose merge commit is in ``shas``, by that sha (newest updates first;
    stops at PRs last updated before ``since``)."""
    found: dict[str, Any] = {}
    pulls = ctx.github.repo.get_pulls(state="closed", sort="updated", direction="desc")
    for pull in pulls:
        if since is not None and pull.updated_at < since:
            break
        if pull.merged_at is not None and pull.merge_commit_sha in shas:
            found[pull.merge_commit_sha] = pull
        if len(found) == len(shas):
            break
    return found


def _run_command(ctx: Context, template: str, head_sha: str) -> str:
    """Run ``[changelog] command`` in a clone at ``head_sha``; its stdout is the section."""
    previous = previous_release(ctx)
    command = str(ctx.config.render(template, ctx.version))
    clone = ctx.work_dir / "changelog-clone"
    _git_clone(ctx, clone, head_sha)
    env = {
        **os.environ,
        "RELEASER_VERSION": str(ctx.version),
        "RELEASER_TAG": ctx.tag,
        "RELEASER_PREVIOUS_TAG": previous[1] if previous else "",
        "RELEASER_REPO": ctx.repo_name,
    }
    env.pop(ctx.config.forge.token_env or "GITHUB_TOKEN", None)  # the command gets no token
    ctx.ui.debug(f"changelog command: {command}")
    proc = subprocess.run(
        command, shell=True, cwd=clone, env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        tail = ctx.ui.redactor.redact(proc.stderr.strip().splitlines()[-1] if proc.stderr else "")
        raise StepFailed(
            f"changelog command `{command}` exited {proc.returncode}: {tail}",
            "fix [changelog] command (it runs in a clone of the version branch)",
        )
    return proc.stdout


def _git_clone(ctx: Context, clone: Any, sha: str) -> None:
    """A clone of the repository (full history and tags) checked out at ``sha``."""
    import base64
    import shutil

    basic = base64.b64encode(f"x-access-token:{ctx.forge.token}".encode()).decode()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_CONFIG_COUNT="1",
        GIT_CONFIG_KEY_0="http.extraHeader",
        GIT_CONFIG_VALUE_0=f"Authorization: Basic {basic}",
    )
    url = f"{ctx.forge.git_url}/{ctx.repo_name}.git"

    def git(*args: str, cwd: Any = None) -> None:
        ctx.ui.debug("git " + " ".join(args))
        proc = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise StepFailed(
                f"git {args[0]} failed: {ctx.ui.redactor.redact(proc.stderr.strip())}",
                "check the forge's git URL and token",
            )

    if not (clone / ".git").is_dir():
        shutil.rmtree(clone, ignore_errors=True)
        git("clone", "--quiet", "--no-checkout", url, str(clone))
    else:
        git("fetch", "--quiet", "--tags", "origin", cwd=clone)
    git("checkout", "--quiet", "--force", "--detach", sha, cwd=clone)
