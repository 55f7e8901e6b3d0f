"""This release's changelog section: generated from what was merged since the previous
release (merged PRs, direct commits, contributors), or the output of ``[changelog] command``
run in a clone; found in and inserted into the changelog file.
"""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING, Any

from releaser.errors import StepFailed

if TYPE_CHECKING:
    from releaser.context import Context

from steps._branches import (
    SECTION_CACHE,
    TRAILER,
    branch_head,
    file_at,
    previous_release,
)

# -- the changelog section ------------------------------------------------------------------


def changelog_path(ctx: Context) -> str:
    return str(ctx.config.render(ctx.config.changelog.path, ctx.version))


def changelog_heading(ctx: Context) -> str:
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
    found = file_at(ctx, changelog_path(ctx), head[0])
    return extract_section(found[0], changelog_heading(ctx)) if found else ""


def compute_section(ctx: Context, head_sha: str) -> str:
    """The section for this release, from the history up to ``head_sha`` (memoised)."""
    if SECTION_CACHE in ctx.cache:
        return str(ctx.cache[SECTION_CACHE])
    command = ctx.config.changelog.command
    body = _run_command(ctx, str(command), head_sha) if command else _generate(ctx, head_sha)
    section = f"{changelog_heading(ctx)}\n\n{body.strip()}\n"
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
