"""The results steps share, declared once: each is read once per command, and a step that
uses one lists it in ``needs`` (one that changes it, in ``makes``).

Every result here is read-only. The engine forgets them after each write; in a dry run, a
result that a planned step would change is *pending*, and says so in plans.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from releaser.api import (
    Access,
    Branch,
    Issue,
    PullRequest,
    Release,
    RemoteTag,
    Result,
    StepContext,
    StepFailed,
    Version,
    VersionError,
)

TRAILER = "Releaser-Step"  # in the message of every commit releaser makes


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def short(sha: str | None) -> str:
    return (sha or "")[:12]


# -- names ----------------------------------------------------------------------------------


def default_branch(ctx: StepContext) -> str:
    return str(ctx.config.project.default_branch)


def branch_off_default(ctx: StepContext, branch: str) -> Branch:
    """``branch`` as it is, or made now from the default branch's head (an interrupted run's
    branch is reused, never made twice)."""
    head = ctx.forge.branch(branch)
    if head is not None:
        return head
    default = default_branch(ctx)
    main = ctx.forge.branch(default)
    if main is None:
        raise StepFailed(f"the default branch {default} does not exist")
    ctx.forge.create_branch(branch, main.sha)
    return main


def release_branch(ctx: StepContext) -> str | None:
    """The long-lived branch finals are merged into (``[project] release_branch``), or None."""
    value = ctx.config.project.release_branch
    return ctx.fmt(str(value)) if value else None


def release_pr_base(ctx: StepContext) -> str:
    """Where the release PR goes: the release branch, else the default branch."""
    return release_branch(ctx) or default_branch(ctx)


def tag_url(ctx: StepContext) -> str:
    return f"{ctx.forge.html_url}/releases/tag/{ctx.tag}"


def commit_url(ctx: StepContext, sha: str) -> str:
    return f"{ctx.forge.html_url}/commit/{sha}"


def tag_missing(ctx: StepContext) -> str:
    return f"the tag {ctx.tag} doesn't exist yet: run `releaser tag v{ctx.version}`"


def trailer(message: str, step: str) -> str:
    return f"{message}\n\n{TRAILER}: {step}\n"


def gpg_key(ctx: StepContext) -> str | None:
    key = ctx.config.signing.gpg_key
    return str(key) if key else None


def gnupg_home(ctx: StepContext) -> str | None:
    """The GnuPG home from ``[signing] gpg_home_env`` (None: gpg's default)."""
    name = ctx.config.signing.gpg_home_env
    return ctx.env(str(name)) if name else None


def push_access(ctx: StepContext, branch: str, why: str) -> Access:
    """What a new commit on ``branch`` (a direct push, or merging a pull request whose head
    no CI has run on yet) needs: write, or admin when the branch's protection requires
    checks, which a new commit doesn't have yet (only an admin may bypass them)."""
    head = ctx.forge.branch(branch)
    enforced = head is not None and head.protected and head.checks_enforced != "off"
    if head is not None and enforced and head.required_checks:
        checks = ", ".join(head.required_checks)
        why = f"{why} (protected {branch} requires {checks}, which a new commit lacks)"
        return Access(ctx.repo_name, "admin", why)
    return Access(ctx.repo_name, "write", why)


# -- the tracking issue ---------------------------------------------------------------------


def _tracking_issue(ctx: StepContext) -> Issue | None:
    labels = list(ctx.config.tracking_issue.labels or [])
    title = ctx.fmt(ctx.config.tracking_issue.title)
    return ctx.forge.find_issue(title, labels[0] if labels else None)


TRACKING_ISSUE: Result[Issue | None] = Result(
    "tracking-issue", _tracking_issue, pending="the issue {by} would open"
)

# -- branches and tags ----------------------------------------------------------------------

VERSION_BRANCH: Result[Branch | None] = Result(
    "version-branch",
    lambda ctx: ctx.forge.branch(ctx.version_branch),
    pending="the version branch as {by} would leave it",
)

RELEASE_TAG: Result[RemoteTag | None] = Result(
    "release-tag", lambda ctx: ctx.git.tag_object(ctx.tag), pending="the tag {by} would push"
)


def _tag_regex(ctx: StepContext) -> re.Pattern[str]:
    parts = re.split(r"(\{[a-z_]+\})", str(ctx.config.project.tag))
    regex = "".join(
        "(?P<version>.+)" if p == "{version}" else (".+?" if p.startswith("{") else re.escape(p))
        for p in parts
    )
    return re.compile(regex)


def _release_tags(ctx: StepContext) -> list[tuple[Version, str]]:
    pattern = _tag_regex(ctx)
    found = []
    for ref in ctx.forge.refs("tags/"):
        name = ref.name.removeprefix("refs/tags/")
        match = pattern.fullmatch(name)
        if match is None:
            continue
        try:
            found.append((Version.parse(match["version"]), name))
        except VersionError:
            continue
    return sorted(found)


RELEASE_TAGS: Result[list[tuple[Version, str]]] = Result("release-tags", _release_tags)
"""Every tag naming a release (per ``[project] tag``), lowest version first."""


def _previous_release(ctx: StepContext) -> tuple[Version, str] | None:
    """The highest final below this version: v1.2.0-rc2 and v1.2.0 follow v1.1.0 (rcs are
    not releases to compare against), v1.2.1 follows v1.2.0."""
    finals = [(v, t) for v, t in ctx.need(RELEASE_TAGS) if v.is_final and v < ctx.version]
    return finals[-1] if finals else None


PREVIOUS_RELEASE: Result[tuple[Version, str] | None] = Result(
    "previous-release", _previous_release, needs=(RELEASE_TAGS,)
)

# -- the release PR and the commit to tag ---------------------------------------------------

RELEASE_PR: Result[PullRequest | None] = Result(
    "release-pr",
    lambda ctx: ctx.forge.find_pull(ctx.version_branch, release_pr_base(ctx)),
    pending="the release PR as {by} would leave it",
)


@dataclass(frozen=True)
class Target:
    """The commit the release tag must point at, or why it isn't known yet."""

    sha: str | None
    where: str  # "head of release-v1.2", "merge commit of PR #4 into release"
    blocked: str = ""  # why there is no commit yet (with the command that provides it)


def _tag_target(ctx: StepContext) -> Target:
    """rc: head of the version branch; final with a release branch: the merge commit of the
    release PR; final without: head of the version branch."""
    branch = release_branch(ctx)
    if ctx.version.is_final and branch:
        pr = ctx.need(RELEASE_PR)
        if pr is None:
            return Target(
                None,
                "",
                f"no release PR from {ctx.version_branch} into {branch}: "
                f"run `releaser prepare v{ctx.version}`",
            )
        if not pr.merged:
            return Target(
                None,
                "",
                f"merge the release PR #{pr.number} into {branch} first "
                f"(`releaser tag v{ctx.version} --only merge-release-pr`): {pr.html_url}",
            )
        return Target(pr.merge_commit_sha, f"merge commit of PR #{pr.number} into {branch}")
    head = ctx.need(VERSION_BRANCH)
    if head is None:
        return Target(
            None,
            "",
            f"the version branch {ctx.version_branch} doesn't exist: "
            f"run `releaser prepare v{ctx.version}`",
        )
    return Target(head.sha, f"head of {ctx.version_branch}")


TAG_TARGET: Result[Target] = Result(
    "tag-target",
    _tag_target,
    needs=(VERSION_BRANCH, RELEASE_PR),
    pending="the commit {by} would make",
)

# -- the GitHub release ---------------------------------------------------------------------

GITHUB_RELEASE: Result[Release | None] = Result(
    "github-release", lambda ctx: ctx.forge.release(ctx.tag), pending="the release {by} would make"
)
