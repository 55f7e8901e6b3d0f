"""Lookups the tag, build, publish, merge and next stages share, memoised per command.

Every lookup here is read-only; results are kept in ``ctx.cache`` so one command reads each
thing once. The engine forgets every read after a write (``Context.forget_reads``), so its
re-check sees the new state; :func:`forget` is for a step that must re-read within ``run()``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from github.GitRelease import GitRelease
    from github.Issue import Issue
    from github.PullRequest import PullRequest

    from releaser.clients.git import RemoteTag
    from releaser.context import Context

T = TypeVar("T")
_PREFIX = "release:"


def memo(ctx: Context, key: str, compute: Callable[[], T]) -> T:
    """``compute()`` once per command (per ``key``; thread-safe, see ``Context.memo``)."""
    return ctx.memo(_PREFIX + key, compute)


def forget(ctx: Context, *keys: str) -> None:
    """Drop memoised lookups (all of them without ``keys``) after a write."""
    if not keys:
        for key in [k for k in ctx.cache if k.startswith(_PREFIX)]:
            del ctx.cache[key]
        return
    for key in keys:
        ctx.cache.pop(_PREFIX + key, None)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def short(sha: str | None) -> str:
    return (sha or "")[:12]


# -- the repository ---------------------------------------------------------------------


def html_url(ctx: Context) -> str:
    """The repository's web page (``https://github.com/owner/name``)."""
    return memo(ctx, "html_url", lambda: str(ctx.github.repo.html_url))


def commit_url(ctx: Context, sha: str) -> str:
    return f"{html_url(ctx)}/commit/{sha}"


def tag_url(ctx: Context) -> str:
    return f"{html_url(ctx)}/releases/tag/{ctx.tag}"


def remote_tag(ctx: Context) -> RemoteTag | None:
    """The release tag on the forge (ls-remote, memoised by the git client)."""
    return ctx.git.tag_object(ctx.tag)


def tag_missing(ctx: Context) -> str:
    return f"the tag {ctx.tag} doesn't exist yet: run `releaser tag {ctx.version}`"


def default_branch(ctx: Context) -> str:
    return str(ctx.config.project.default_branch)


def release_branch(ctx: Context) -> str | None:
    value = ctx.config.project.release_branch
    return str(value) if value else None


# -- the release PR (version branch -> release branch) -----------------------------------


def release_pr(ctx: Context) -> PullRequest | None:
    """The PR merging the version branch into ``release_branch`` for this release.

    Prefers the PR titled as ``[prepare] pr_title`` says; an open one over a merged one, a
    merged one over a closed one, the newest first.
    """
    branch = release_branch(ctx)
    if branch is None:
        return None

    def find() -> PullRequest | None:
        repo = ctx.github.repo
        owner = ctx.repo_name.split("/", 1)[0]
        pulls = list(repo.get_pulls(state="all", head=f"{owner}:{ctx.version_branch}", base=branch))
        if not pulls:
            return None
        title = ctx.config.render(ctx.config.prepare.pr_title, ctx.version)

        def rank(pr: PullRequest) -> tuple[int, int, int]:
            state = 2 if pr.state == "open" else (1 if pr.merged else 0)
            return (int(pr.title == title), state, pr.number)

        return max(pulls, key=rank)

    return memo(ctx, "release_pr", find)


@dataclass(frozen=True)
class Target:
    """The commit the release tag must point at, or why it isn't known yet."""

    sha: str | None
    where: str  # "head of release-v1.2", "merge commit of PR #4 into release"
    blocked: str = ""  # why there is no commit yet (with the command that provides it)


def tag_target(ctx: Context) -> Target:
    """rc: head of the version branch; final with a release branch: the merge commit of the
    release PR; final without: head of the version branch."""

    def find() -> Target:
        branch = release_branch(ctx)
        if ctx.version.is_final and branch:
            pr = release_pr(ctx)
            if pr is None:
                return Target(
                    None,
                    "",
                    f"no release PR from {ctx.version_branch} into {branch}: "
                    f"run `releaser prepare {ctx.version}`",
                )
            if not pr.merged:
                return Target(
                    None,
                    "",
                    f"merge the release PR #{pr.number} into {branch} first "
                    f"(`releaser tag {ctx.version} --only merge-release-pr`): {pr.html_url}",
                )
            return Target(
                str(pr.merge_commit_sha), f"merge commit of PR #{pr.number} into {branch}"
            )
        sha = ctx.git.resolve(f"refs/heads/{ctx.version_branch}")
        if sha is None:
            return Target(
                None,
                "",
                f"the version branch {ctx.version_branch} doesn't exist: "
                f"run `releaser prepare {ctx.version}`",
            )
        return Target(sha, f"head of {ctx.version_branch}")

    return memo(ctx, "tag_target", find)


# -- the GitHub release ------------------------------------------------------------------


def github_release(ctx: Context) -> GitRelease | None:
    """The release for the tag (drafts included), or None."""

    def find() -> GitRelease | None:
        from github import GithubException

        repo = ctx.github.repo
        try:
            return repo.get_release(ctx.tag)
        except GithubException as exc:
            if exc.status != 404:
                raise
        for release in repo.get_releases():  # drafts aren't found by tag
            if release.tag_name == ctx.tag:
                return release
        return None

    return memo(ctx, "github_release", find)


def tracking_issue(ctx: Context) -> Issue | None:
    """The release's tracking issue (``releaser.checklist.find_tracking_issue``), or None."""

    def find() -> Issue | None:
        try:
            from releaser.checklist import find_tracking_issue
        except ImportError:
            return None
        found: Any = find_tracking_issue(ctx)
        return found if found is not None else None

    return memo(ctx, "tracking_issue", find)


def download(ctx: Context, url: str, accept: str = "application/octet-stream") -> bytes:
    """GET an API URL that answers with bytes or redirects to them (assets, artifacts, logs).

    The token goes to the API only: a redirect's target (a signed storage URL on GitHub) is
    fetched without it.
    """
    import httpx

    ctx.ui.debug(f"GET {url}")
    headers = {"Authorization": f"token {ctx.forge.token}", "Accept": accept}
    with httpx.Client(timeout=60) as client:
        response = client.get(url, headers=headers, follow_redirects=False)
        hops = 0
        while response.status_code in (301, 302, 303, 307, 308) and hops < 5:
            location = response.headers["location"]
            ctx.ui.debug(f"GET {location.split('?', 1)[0]} (redirect)")
            response = client.get(location, follow_redirects=False)
            hops += 1
        response.raise_for_status()
        return response.content


def gnupg_home(ctx: Context) -> str | None:
    """The GnuPG home from ``[signing] gpg_home_env`` (None: gpg's default)."""
    name = ctx.config.signing.gpg_home_env
    if not name:
        return None
    import os

    return os.environ.get(str(name)) or ctx.secrets.optional(str(name))


def gpg_key(ctx: Context) -> str | None:
    key = ctx.config.signing.gpg_key
    return str(key) if key else None
