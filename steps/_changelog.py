"""This release's changelog section: generated from what was merged since the previous
release (merged PRs, direct commits, contributors), or the output of ``[changelog] command``
run in a clone; found in and inserted into the changelog file.
"""

from __future__ import annotations

from datetime import datetime

from releaser.api import Commit, PullRequest, Result, StepContext, StepFailed
from steps._release import PREVIOUS_RELEASE, TRAILER, VERSION_BRANCH

# -- the changelog section ------------------------------------------------------------------


def changelog_path(ctx: StepContext) -> str:
    return ctx.fmt(ctx.config.changelog.path)


def changelog_heading(ctx: StepContext) -> str:
    return ctx.fmt(ctx.config.changelog.heading).strip()


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


def _section_on_branch(ctx: StepContext) -> str:
    """This release's section as the version branch has it ("" when there is none)."""
    if ctx.config.changelog is None:
        return ""
    head = ctx.need(VERSION_BRANCH)
    if head is None:
        return ""
    found = ctx.forge.file(changelog_path(ctx), head.sha)
    return extract_section(found.text, changelog_heading(ctx)) if found else ""


CHANGELOG_SECTION: Result[str] = Result(
    "changelog-section",
    _section_on_branch,
    needs=(VERSION_BRANCH,),
    pending="this version's changelog section (as {by} would write it, shown above)",
)
"""This release's changelog section (heading included) on the version branch."""


def compute_section(ctx: StepContext, head_sha: str) -> str:
    """The section for this release, from the history up to ``head_sha``: the output of
    ``[changelog] command``, or generated from merged PRs and commits."""
    command = ctx.config.changelog.command
    body = _run_command(ctx, str(command), head_sha) if command else _generate(ctx, head_sha)
    return f"{changelog_heading(ctx)}\n\n{body.strip()}\n"


def _generate(ctx: StepContext, head_sha: str) -> str:
    previous = ctx.need(PREVIOUS_RELEASE)
    since = None
    if previous is not None:
        comparison = ctx.forge.compare(previous[1], head_sha)
        commits = comparison.commits
        since = comparison.merge_base.committer.date
    else:
        commits = ctx.forge.commits(head_sha)
    by_sha = {c.sha: c for c in commits}
    mainline: list[Commit] = []
    current: str | None = head_sha
    while current in by_sha:
        commit = by_sha[current]
        mainline.append(commit)
        current = commit.parents[0] if commit.parents else None
    mainline.reverse()
    pulls = _merged_pulls(ctx, {c.sha for c in mainline}, since)
    pr_lines, direct_lines = [], []
    for commit in mainline:
        if f"\n{TRAILER}: " in commit.message:
            continue
        pull = pulls.get(commit.sha)
        if pull is not None:
            head = by_sha.get(pull.head_sha)
            who = head.author.credit if head is not None else f"@{pull.user}"
            pr_lines.append(f"- {pull.title} (#{pull.number}) by {who}")
        elif len(commit.parents) < 2:
            direct_lines.append(f"- {commit.subject} ({commit.sha[:7]}) by {commit.author.credit}")
    contributors = sorted(
        {
            c.author.credit
            for c in commits
            if len(c.parents) < 2 and f"\n{TRAILER}: " not in c.message
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


def _merged_pulls(
    ctx: StepContext, shas: set[str], since: datetime | None
) -> dict[str, PullRequest]:
    """Merged PRs whose merge commit is in ``shas``, by that sha (newest updates first;
    stops at PRs last updated before ``since``)."""
    found: dict[str, PullRequest] = {}
    if not shas:
        return found
    for pull in ctx.forge.closed_pulls():
        if since is not None and pull.updated_at is not None and pull.updated_at < since:
            break
        if pull.merged and pull.merge_commit_sha in shas:
            found[pull.merge_commit_sha] = pull
        if len(found) == len(shas):
            break
    return found


def _run_command(ctx: StepContext, template: str, head_sha: str) -> str:
    """Run ``[changelog] command`` in a checkout at ``head_sha``; its stdout is the section."""
    previous = ctx.need(PREVIOUS_RELEASE)
    command = ctx.fmt(template)
    clone = ctx.git.checkout(ctx.work_dir / "changelog-clone", head_sha)
    result = ctx.git.run_command(
        command,
        clone,
        {
            "RELEASER_VERSION": str(ctx.version),
            "RELEASER_TAG": ctx.tag,
            "RELEASER_PREVIOUS_TAG": previous[1] if previous else "",
            "RELEASER_REPO": ctx.repo_name,
        },
    )
    if result.returncode != 0:
        raise StepFailed(
            f"changelog command `{command}` exited {result.returncode}: {result.last_error}",
            "fix [changelog] command (it runs in a clone of the version branch)",
        )
    return result.stdout
