"""Trends across releases: one row per release since a version (the ``trends`` object of
docs/report.md).

The releases are the repository's tags that name a version in the project's tag format
(``[project] tag``), from ``--since`` on, in version order; the forge's releases add when
each was published. Each row sums up that release's timeline (:mod:`.timeline`): how long
it took, how long it waited on CI and on people, its re-runs, and its build workflows'
median duration, median queue time and success rate over every attempt.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from releaser.insights.timeline import Reader, iso, release_report
from releaser.version import Version, VersionError


def release_versions(reader: Reader, since: Version) -> list[Version]:
    """The versions tagged in the repository from ``since`` on, in version order."""
    config = reader.config
    found: set[Version] = set()
    for ref in reader.forge.refs("tags/"):
        tag = ref.name.removeprefix("refs/tags/")
        try:
            version = Version.parse(tag)
        except VersionError:
            continue
        if config.tag_for(version) == tag and version >= since:
            found.add(version)
    return sorted(found)


def summary(release: dict[str, Any], published: datetime | None) -> dict[str, Any]:
    """One release's row."""
    totals = release["totals"]
    return {
        "release": release["release"],
        "version": release["version"],
        "kind": release["kind"],
        "published": iso(published),
        "ledger": release["ledger"],
        "start": release["start"],
        "end": release["end"],
        "duration_seconds": totals["duration_seconds"],
        "ci_seconds": totals["ci_seconds"],
        "ci_queue_seconds": totals["ci_queue_seconds"],
        "people_seconds": totals["people_seconds"],
        "reruns": totals["reruns"],
        "stage_retries": totals["stage_retries"],
        "build": release["build"],
    }


def trends_report(
    reader: Reader,
    since: Version,
    now: datetime,
    known: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The ``trends`` object: every release from ``since`` on (``known``: releases already
    read, by tag)."""
    published = {r.tag_name: r.published_at for r in reader.forge.releases() if not r.draft}
    rows = []
    for version in release_versions(reader, since):
        tag = reader.config.tag_for(version)
        release = (known or {}).get(tag) or release_report(reader, version, now)
        rows.append(summary(release, published.get(tag)))
    return {"since": reader.config.tag_for(since), "releases": rows}
