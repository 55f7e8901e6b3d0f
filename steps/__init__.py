"""The release process on one screen: each stage command and its ordered steps.

The order of ``PLANS`` is the order of a release; the order inside a stage is the order the
engine checks and runs its steps. One line per step says what it makes true. The steps
themselves live in one module per stage; ``docs/runbook.md`` is generated from this file.
"""

from __future__ import annotations

from releaser.api import STAGE_HELP, STAGES, Step
from steps.build import BuildWorkflows
from steps.downstream import DependentTests, UpdateDependents
from steps.finish import (
    CloseReleasePR,
    CloseTrackingIssue,
    MergeBack,
    NextChangelog,
    NextDevVersion,
    NextTrackingIssue,
)
from steps.prepare import Changelog, NextDevBump, ReleasePR, VersionBranch, VersionBump
from steps.promote import AnnounceOnTrackingIssue, NotifyInfrastructure, SoakReminder
from steps.promote_channels import (
    AnnounceOnDiscord,
    AnnounceOnDiscourse,
    AnnounceOnMatrix,
    AnnounceOnReddit,
    LinkDiscourseTopic,
    PinDiscourseTopic,
)
from steps.publish import Checksums, GitHubRelease, PublishWorkflows, ReleaseAssets
from steps.publish_distributions import DistributionsPR
from steps.publish_docker import DockerImages
from steps.publish_npm import NpmPackage
from steps.publish_pypi import PyPIUpload
from steps.publish_verify import ReleaseVerified, VerifyArtifacts
from steps.start import TrackingIssue
from steps.tag import CIGreen, MergeReleasePR, PushTag, TagCommitReady

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
        CIGreen(),  # the release commit's required checks are green (pending: waits)
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
        VerifyArtifacts(),  # the assets as users download them: checksums, signature, smoke
        PyPIUpload(),  # the distributions on the package index, each with our sha256
        NpmPackage(),  # the npm version published, its dist-tag (latest / next) on it
        DockerImages(),  # every image tag on the registry, on the release image's digest
        DistributionsPR(),  # the version added to a distributions repository by PR, then live
    ],
    "promote": [
        ReleaseVerified(),  # nothing is announced unless the downloads verify
        AnnounceOnTrackingIssue(),  # "vX.Y.Z is out" on the tracking issue; rc: early testers
        NotifyInfrastructure(),  # the infrastructure team told, on their issue for the release
        AnnounceOnMatrix(),  # "vX.Y.Z is out!" in each Matrix room, found by its marker
        AnnounceOnDiscourse(),  # the forum topic (or the operator posts it and gives its URL)
        PinDiscourseTopic(),  # pin = true: the topic pinned globally
        AnnounceOnReddit(),  # a link post to r/SUB (or the operator posts it and gives its URL)
        AnnounceOnDiscord(),  # the webhook's message; never re-sent blindly (ledger intent)
        LinkDiscourseTopic(),  # finals: the release notes link the forum topic
        SoakReminder(),  # rc, after its soak time: early testers' reports, on the tracking issue
    ],
    "downstream": [
        UpdateDependents(),  # each dependent: one commit with all its files, one PR (parallel)
        DependentTests(),  # each dependent's test workflow run on the new version and passed
    ],
    "merge": [
        MergeBack(),  # the tagged commit reaches the default branch (merge commit, never squash)
        CloseReleasePR(),  # the review-only release PR is closed, linking the merge-back
    ],
    "next": [
        NextDevVersion(),  # the default branch is on the next development version
        NextChangelog(),  # the next release's changelog file, linked from the index (by PR)
        NextTrackingIssue(),  # the next release's tracking issue, with its checklist
        CloseTrackingIssue(),  # a summary comment, then the tracking issue closed
    ],
}

__all__ = ["PLANS", "STAGES", "STAGE_HELP", "all_steps", "find_step"]


def all_steps() -> list[tuple[str, Step]]:
    """Every (stage, step) in release order."""
    return [(stage, step) for stage, steps in PLANS.items() for step in steps]


def find_step(name: str) -> tuple[str, Step] | None:
    for stage, step in all_steps():
        if step.name == name:
            return stage, step
    return None
