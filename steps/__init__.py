"""The release process on one screen: each stage command and its ordered steps.

The order of ``PLANS`` is the order of a release; the order inside a stage is the order the
engine checks and runs its steps. One line per step says what it makes true. The steps
themselves live in one module per stage; ``docs/runbook.md`` is generated from this file.
"""

from __future__ import annotations

from releaser.step import Step
from steps.build import BuildWorkflows
from steps.finish import CloseReleasePR, CloseTrackingIssue, MergeBack, NextDevVersion
from steps.prepare import Changelog, NextDevBump, ReleasePR, VersionBranch, VersionBump
from steps.promote import AnnounceOnTrackingIssue
from steps.publish import Checksums, GitHubRelease, PublishWorkflows, ReleaseAssets
from steps.start import TrackingIssue
from steps.tag import MergeReleasePR, PushTag, TagCommitReady

STAGE_HELP: dict[str, str] = {
    "start": "Open or find the tracking issue, with the checklist for this release.",
    "prepare": "Version branch, version bumps, changelog, release PR, next-dev bump (first rc).",
    "tag": "Signed annotated tag on the right commit; push that tag only.",
    "build": "Trigger or find the build workflows and wait for them.",
    "publish": "GitHub release, assets and checksums; image tags, packages, distributions.",
    "promote": "Announce: tracking issue, Matrix, Discourse, Reddit, Discord.",
    "downstream": "Bump dependents by PR and run their test workflows.",
    "merge": "Merge the release branch back into the default branch (merge commit).",
    "next": "Next development version on the default branch; close the tracking issue.",
}

PLANS: dict[str, list[Step]] = {
    "start": [
        TrackingIssue(),  # the release's tracking issue, its body the checklist of this plan
    ],
    "prepare": [
        VersionBranch(),  # release-vX.Y from the default branch (patches: the previous release)
        VersionBump(),  # every version file holds the release version, on the version branch
        Changelog(),  # this release's section: merged PRs, commits, contributors (or a command)
        ReleasePR(),  # the PR to review the release (draft for rcs)
        NextDevBump(),  # a PR moving the default branch to X.(Y+1).0-dev (first rc)
    ],
    "tag": [
        MergeReleasePR(),  # finals with a release branch: the release PR merged (merge commit)
        TagCommitReady(),  # the commit to tag is known and exists
        PushTag(),  # the annotated, signed tag on exactly that commit, pushed alone (dangerous)
    ],
    "build": [
        BuildWorkflows(),  # the runs the tag push started (or dispatched ones) succeeded
    ],
    "publish": [
        GitHubRelease(),  # the release for the tag: changelog body, prerelease for rcs
        PublishWorkflows(),  # workflows that need the release to exist (asset sync, npm)
        ReleaseAssets(),  # the built files attached, each exactly as built
        Checksums(),  # SHA256SUMS of every asset, and its GPG signature
    ],
    "promote": [
        AnnounceOnTrackingIssue(),  # "vX.Y.Z is out" on the tracking issue; rc: early testers
    ],
    "downstream": [],
    "merge": [
        MergeBack(),  # the tagged commit reaches the default branch (merge commit, never squash)
        CloseReleasePR(),  # the review-only release PR is closed, linking the merge-back
    ],
    "next": [
        NextDevVersion(),  # the default branch is on the next development version
        CloseTrackingIssue(),  # a summary comment, then the tracking issue closed
    ],
}

STAGES: tuple[str, ...] = tuple(PLANS)


def all_steps() -> list[tuple[str, Step]]:
    """Every (stage, step) in release order."""
    return [(stage, step) for stage, steps in PLANS.items() for step in steps]


def find_step(name: str) -> tuple[str, Step] | None:
    for stage, step in all_steps():
        if step.name == name:
            return stage, step
    return None
