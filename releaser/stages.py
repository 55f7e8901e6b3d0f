"""The stage commands in release order, with their help (names: a contract, see
docs/architecture.md, "Commands").

The command line registers one command per stage from here without importing the steps
(``releaser --help`` stays fast); ``steps.PLANS`` gives each stage its ordered steps.
"""

from __future__ import annotations

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

STAGES: tuple[str, ...] = tuple(STAGE_HELP)
