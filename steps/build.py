"""The `build` stage: find (tag-triggered) or dispatch the build workflows, and wait for them."""

from __future__ import annotations

from releaser.api import Result
from steps._release import RELEASE_TAG
from steps._workflows import WorkflowRuns, WorkflowState, workflow_states

BUILD_STATES: Result[list[WorkflowState]] = Result(
    "build-states",
    lambda ctx: workflow_states(ctx, "build-workflows", "build"),
    needs=(RELEASE_TAG,),
    pending="the runs {by} would start",
)


class BuildWorkflows(WorkflowRuns):
    """Wait for the tag's build workflows: the runs its push started, or dispatched ones.

    Every `[[build.workflows]]` of the build stage: `on = "tag"` runs are found by the tagged
    commit; `on = "dispatch"` ones are dispatched once (intent recorded in the ledger first).
    Optionally a run must also print `log_pattern` in its job logs.

    Why: the release assets, images and packages come from these runs; publishing before they
    succeed would publish nothing, or something broken.
    By hand: watch `gh run list --workflow build.yml --branch {tag}` (or
    `gh workflow run build.yml --ref {tag}` to dispatch one) until it succeeds.
    """

    name = "build-workflows"
    configured_by = ("build.workflows",)
    stage_key = "build"
    states = BUILD_STATES
    needs = (RELEASE_TAG, BUILD_STATES)
    makes = (BUILD_STATES,)
