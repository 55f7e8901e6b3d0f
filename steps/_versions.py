"""Version files and the next development version, shared by `prepare` and `next`.

``version_changes`` reads each ``[[version_files]]`` file at a commit and says what would
change; the next-dev functions find, plan and open the PR that moves the default branch to
the next development version (prepare does it at the first rc, next makes sure of it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from releaser.api import (
    Action,
    Outcome,
    PullRequest,
    Result,
    StepContext,
    StepFailed,
    Version,
    VersionError,
)
from steps._release import branch_off_default, default_branch, trailer

# -- version files --------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    path: str
    old_value: str
    new_value: str
    old_line: str
    new_line: str
    text: str  # the whole new file


def version_changes(ctx: StepContext, sha: str, dev: bool = False) -> list[Change]:
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
            value = ctx.fmt(entry.format)
        change = _change(ctx, entry.path, entry.pattern, sha, value)
        if change is not None:
            changes.append(change)
    return changes


def _change(ctx: StepContext, path: str, pattern: str, sha: str, value: str) -> Change | None:
    found = ctx.forge.file(path, sha)
    if found is None:
        raise StepFailed(
            f"version file {path} does not exist at {sha[:7]}",
            "fix [[version_files]] path in releaser.toml",
        )
    text = found.text
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


def diff(changes: list[Change]) -> str:
    out = []
    for c in changes:
        out += [f"{c.path}:", f"- {c.old_line}", f"+ {c.new_line}"]
    return "\n".join(out)


def values(changes: list[Change]) -> str:
    """What is written, as written: ``0.2.0.dev0 in pyproject.toml, 0.2.0-dev in x.go``."""
    return ", ".join(f"{c.new_value} in {c.path}" for c in changes)


# -- the next development version -----------------------------------------------------------


def next_dev(ctx: StepContext) -> Version:
    return ctx.version.next_dev(ctx.config.project.dev_suffix)


def next_dev_branch(ctx: StepContext) -> str:
    return ctx.fmt(ctx.config.prepare.next_dev_branch)


def next_dev_changes(ctx: StepContext, sha: str) -> list[Change]:
    """Version files at ``sha`` below the next development version."""
    target = next_dev(ctx)
    behind = []
    for change in version_changes(ctx, sha, dev=True):
        try:
            if Version.parse(change.old_value) >= target:
                continue
        except VersionError:
            pass
        behind.append(change)
    return behind


NEXT_DEV_PR: Result[PullRequest | None] = Result(
    "next-dev-pr",
    lambda ctx: ctx.forge.find_pull(next_dev_branch(ctx), default_branch(ctx)),
    pending="the pull request {by} would open",
)


def next_dev_applies(ctx: StepContext) -> bool:
    return any(f.dev_format for f in ctx.config.version_files)


def next_dev_state(ctx: StepContext) -> Outcome:
    """Done when the PR exists (open or merged) or the default branch is there already."""
    default = default_branch(ctx)
    pull = ctx.need(NEXT_DEV_PR)
    if pull is not None and pull.status != "closed":
        return Outcome.done(f"#{pull.number} ({pull.status})", pull.html_url)
    head = ctx.forge.branch(default)
    if head is None:
        return Outcome.failed(f"the default branch {default} does not exist")
    try:
        changes = next_dev_changes(ctx, head.sha)
    except StepFailed as exc:
        return Outcome.failed(exc.message)
    if not changes:
        first = next(f.path for f in ctx.config.version_files if f.dev_format)
        return Outcome.done(
            f"{default} is at {next_dev(ctx)} or later",
            f"{ctx.forge.html_url}/blob/{default}/{first}",
        )
    return Outcome.todo(f"{default} is at {changes[0].old_value}")


def next_dev_plan(ctx: StepContext) -> list[Action]:
    default = default_branch(ctx)
    branch = next_dev_branch(ctx)
    actions = []
    head = ctx.forge.branch(branch)
    if head is None:
        main = ctx.forge.branch(default)
        sha = main.sha[:7] if main else "?"
        actions.append(Action("create", f"branch {branch} at {sha} ({default} head)"))
        head = main
    changes = next_dev_changes(ctx, head.sha) if head else []
    if changes:
        actions.append(Action("commit", f"on {branch}: set {values(changes)}", diff(changes)))
    title = ctx.fmt(ctx.config.prepare.next_dev_pr_title)
    actions.append(Action("create", f'pull request {branch} -> {default}: "{title}"'))
    return actions


def open_next_dev_pr(ctx: StepContext, step: str) -> None:
    """Branch, commit and PR moving the default branch to the next development version;
    each part is skipped when an earlier, interrupted run made it."""
    default = default_branch(ctx)
    branch = next_dev_branch(ctx)
    head = branch_off_default(ctx, branch)
    changes = next_dev_changes(ctx, head.sha)
    if changes:
        message = trailer(f"Start {next_dev(ctx)} development", step)
        ctx.forge.commit_files(
            branch, head, {c.path: c.text for c in changes}, message, ctx.author()
        )
    pull = ctx.forge.find_pull(branch, default)
    if pull is None or pull.status == "closed":
        body = (
            f"Moves {default} to the next development version, {next_dev(ctx)}, "
            f"now that {ctx.tag} is being released from {ctx.version_branch}.\n"
        )
        title = ctx.fmt(ctx.config.prepare.next_dev_pr_title)
        ctx.forge.create_pull(branch, default, title, body)
