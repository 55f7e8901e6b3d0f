"""What announcements say: the message template fields, and the marker that finds a post again.

Every ``fields="message"`` template of releaser.toml (``[promote.*] message``, titles) is
filled by :func:`render` with the version fields and :func:`message_fields`: the release's
page, the tracking issue's, the changelog's, and the changelog's highlights. A step that
renders one declares :data:`MESSAGE_NEEDS`.
"""

from __future__ import annotations

import re
from typing import Any

from releaser.api import Pending, StepContext
from steps._changelog import CHANGELOG_SECTION, changelog_path
from steps._release import GITHUB_RELEASE, TRACKING_ISSUE, tag_url

MESSAGE_NEEDS = (GITHUB_RELEASE, TRACKING_ISSUE, CHANGELOG_SECTION)
HIGHLIGHTS = 5  # changelog entries in {highlights}
_ENTRY = re.compile(r"^\s{0,3}[-*] +\S")


def release_url(ctx: StepContext) -> str:
    """The release's page (the tag's, before the release exists)."""
    release = ctx.peek(GITHUB_RELEASE)
    if release is None or isinstance(release, Pending):
        return tag_url(ctx)
    return release.html_url


def issue_url(ctx: StepContext) -> str:
    """The tracking issue's page ("" when there is none)."""
    issue = ctx.peek(TRACKING_ISSUE)
    if isinstance(issue, Pending):
        return f"({issue})"
    return issue.html_url if issue is not None else ""


def changelog_url(ctx: StepContext) -> str:
    """The changelog file at the tag (the release's page without a [changelog])."""
    if ctx.config.changelog is None:
        return release_url(ctx)
    return f"{ctx.forge.html_url}/blob/{ctx.tag}/{changelog_path(ctx)}"


def highlights(section: str, limit: int = HIGHLIGHTS) -> str:
    """The first ``limit`` entries (``- `` lines) of a changelog section, contributors left
    out, then how many more there are."""
    entries: list[str] = []
    skipping = False
    for line in section.splitlines():
        if line.lstrip().startswith("#"):
            skipping = "contributor" in line.lower()
            continue
        if not skipping and _ENTRY.match(line):
            entries.append("- " + line.strip()[1:].strip())
    shown = entries[:limit]
    if len(entries) > limit:
        shown.append(f"- and {len(entries) - limit} more")
    return "\n".join(shown)


def message_fields(ctx: StepContext) -> dict[str, str]:
    """The fields message templates may use beyond the version's (``MESSAGE_FIELD_DOCS``)."""
    fields = {
        "release_url": release_url(ctx),
        "issue_url": issue_url(ctx),
        "changelog_url": changelog_url(ctx),
        "highlights": "",
    }
    if ctx.config.changelog is not None:
        section = ctx.peek(CHANGELOG_SECTION)
        fields["highlights"] = (
            f"({section})" if isinstance(section, Pending) else highlights(section)
        )
    return fields


def render(ctx: StepContext, template: Any) -> str:
    """A message template filled in; blank lines an empty field leaves are folded."""
    text = ctx.fmt(str(template), **message_fields(ctx))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def marker(ctx: StepContext) -> str:
    """What identifies this release's announcement in a channel other projects post to."""
    return f"releaser:announce {ctx.repo_name} {ctx.tag}"
