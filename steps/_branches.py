"""Reads the prepare-stage steps share, memoised per command in ``ctx.cache``: branch heads,
file contents at a commit, release tags and the previous release.

``ctx.forget_reads()`` (the engine, after every write) drops them all.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from releaser.errors import StepFailed
from releaser.step import Outcome
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


def moved(ctx: Context, branch: str, sha: str, tree: str) -> None:
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


def repo_html(ctx: Context) -> str:
    return str(ctx.github.repo.html_url)


def blocked_on_branch(ctx: Context) -> Outcome:
    return Outcome.blocked(
        f"branch {ctx.version_branch} does not exist: `releaser prepare {ctx.version}` "
        "creates it (step version-branch)"
    )
