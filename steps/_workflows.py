"""Finding, dispatching and judging GitHub Actions runs, for the steps that wait on them.

A tag-triggered workflow's run is the one the tag push started (event ``push``, head sha =
the tagged commit, branch = the tag). A dispatched one is started by releaser, with its
intent recorded in the ledger first, so a crash right after dispatching never dispatches
twice: the next run finds the run, or asks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from releaser.api import (
    Access,
    Action,
    Outcome,
    Result,
    Status,
    Step,
    StepContext,
    WorkflowRun,
)
from steps._release import RELEASE_TAG, tag_missing

TAG_RUN_GRACE = 120.0  # seconds a tag push's run may take to show up
DISPATCH_GRACE = 120.0  # seconds a dispatched run may take to show up
UNSURE_GRACE = 10.0  # after a dispatch whose answer was lost: look this long, then ask
ORDER = (
    Status.FAILED,
    Status.BLOCKED,
    Status.TODO,
    Status.UNKNOWN,
    Status.RUNNING,
    Status.DONE,
)


@dataclass(frozen=True)
class WorkflowSpec:
    """One workflow to find or dispatch for this release, its templates filled in."""

    file: str
    repo: str
    on: str  # "tag" (the tag push starts it) or "dispatch" (releaser starts it)
    ref: str
    inputs: dict[str, str]
    timeout: float = 3600.0
    log_pattern: str | None = None  # a regex (a template) some job log must match

    @property
    def key(self) -> str:
        """The ledger key of a dispatch."""
        return f"dispatch:{self.repo}:{self.file}@{self.ref}"


@dataclass(frozen=True)
class WorkflowState:
    """One configured workflow's state for this release."""

    file: str
    repo: str
    on: str
    ref: str
    inputs: dict[str, str]
    outcome: Outcome
    run: WorkflowRun | None = None

    @property
    def key(self) -> str:
        """The ledger key of a dispatch."""
        return f"dispatch:{self.repo}:{self.file}@{self.ref}"


def configured(ctx: StepContext, stage: str) -> list[Any]:
    """The ``[[build.workflows]]`` run by ``stage`` that apply to this release."""
    workflows = getattr(ctx.config.build, "workflows", None) or []
    return [
        w for w in workflows if str(w.get("stage") or "build") == stage and w.applies(ctx.version)
    ]


def _elapsed(ctx: StepContext, since: datetime) -> str:
    seconds = max(0, int(ctx.now() - since.timestamp()))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _tag_time(ctx: StepContext) -> float | None:
    """When the release tag was made (the annotated tag's tagger time)."""
    info = ctx.git.read_tag(ctx.tag)
    return float(info.tag_time) if info else None


def run_outcome(ctx: StepContext, spec: WorkflowSpec, run: WorkflowRun) -> Outcome:
    """RUNNING / DONE / FAILED for a found run (with the log check on success)."""
    url = run.html_url
    file = spec.file
    forge = ctx.forge.other(spec.repo)
    if run.active:
        started = run.run_started_at or run.created_at or datetime.now(UTC)
        timeout = spec.timeout
        if ctx.now() - started.timestamp() > timeout:
            return Outcome.failed(
                f"{file}: still {run.status} after {_elapsed(ctx, started)} (timeout "
                f"{timeout:.0f}s): look at the run, cancel or fix it, then re-run",
                url,
            )
        return Outcome.running(f"{file}: {run.status} for {_elapsed(ctx, started)}", url)
    if run.conclusion != "success":
        failed = [
            job.name
            for job in forge.jobs(run.id)
            if job.conclusion not in ("success", "skipped", "neutral", None)
        ]
        jobs = f" (failed jobs: {', '.join(failed)})" if failed else ""
        return Outcome.failed(
            f"{file}: run {url} concluded {run.conclusion}{jobs}: fix the cause, re-run the "
            f"failed jobs (`gh run rerun {run.id} --failed`), then re-run this command",
            url,
        )
    if spec.log_pattern:
        regex = re.compile(ctx.fmt(spec.log_pattern))
        run_jobs = forge.jobs(run.id)
        if not any(regex.search(forge.job_log(job)) for job in run_jobs):
            shown = ", ".join(j.html_url for j in run_jobs) or url
            return Outcome.failed(
                f"{file}: the run succeeded but no job log matches {regex.pattern!r} "
                f"({shown}): check the run did what the release needs",
                url,
            )
    return Outcome.done(f"{file}: success", url)


def aggregate(outcomes: list[Outcome]) -> Outcome:
    """One outcome for several workflows: the most urgent status, every detail."""
    if not outcomes:
        return Outcome.done("no workflows for this release")
    worst = min(outcomes, key=lambda o: ORDER.index(o.status))
    details = "; ".join(o.detail for o in outcomes if o.detail)
    evidence = worst.evidence or next((o.evidence for o in outcomes if o.evidence), None)
    return Outcome(worst.status, details, evidence)


def spec_of(ctx: StepContext, w: Any) -> WorkflowSpec:
    """The spec of a configured ``[[build.workflows]]``."""
    return WorkflowSpec(
        file=str(w.file),
        repo=str(w.get("repo") or ctx.repo_name),
        on=str(w.get("on") or "tag"),
        ref=ctx.fmt(str(w.ref)) if w.get("ref") else ctx.tag,
        inputs={str(k): ctx.fmt(str(v)) for k, v in (w.get("inputs") or {}).items()},
        timeout=float(w.get("timeout") or 3600),
        log_pattern=str(w.log_pattern) if w.get("log_pattern") else None,
    )


def workflow_state(ctx: StepContext, step: str, spec: WorkflowSpec) -> WorkflowState:
    """The state of one workflow (a tag-triggered one needs the tag to exist)."""
    file, repo, on, ref, inputs = spec.file, spec.repo, spec.on, spec.ref, spec.inputs

    def make(outcome: Outcome, run: WorkflowRun | None = None) -> WorkflowState:
        return WorkflowState(file, repo, on, ref, inputs, outcome, run)

    forge = ctx.forge.other(repo)
    if forge.workflow(file) is None:
        return make(
            Outcome.failed(
                f"{file}: no such workflow in {repo}: check [[build.workflows]] file (and repo)"
            )
        )
    if on == "tag":
        remote = ctx.need(RELEASE_TAG)
        assert remote is not None
        runs = [
            r
            for r in forge.runs(file, event="push", branch=ctx.tag, head_sha=remote.commit)
            if r.head_branch == ctx.tag
        ]
        if runs:
            run = max(runs, key=lambda r: r.id)
            return make(run_outcome(ctx, spec, run), run)
        made = _tag_time(ctx)
        if made is not None and ctx.now() - made < TAG_RUN_GRACE:
            return make(
                Outcome.running(f"{file}: waiting for the run the push of {ctx.tag} starts")
            )
        return make(
            Outcome.failed(
                f"{file}: no run was started by the push of {ctx.tag}: check the workflow's "
                f"`on.push.tags` filter; start it by hand (`gh workflow run {file} --ref "
                f'{ctx.tag}`) and re-run, or configure it with on = "dispatch"'
            )
        )
    state = make(Outcome.todo())
    intent = ctx.intent(state.key, step=step)
    run_id = None
    if intent is not None and intent.done and intent.evidence:
        match = re.search(r"/actions/runs/(\d+)", intent.evidence)
        run_id = int(match.group(1)) if match else None
    if run_id is not None:
        run = forge.run(run_id)
        return make(run_outcome(ctx, spec, run), run)
    since = _tag_time(ctx) or 0.0
    runs = [
        r
        for r in forge.runs(file, event="workflow_dispatch", branch=ref)
        if r.created_at is not None and r.created_at.timestamp() >= since - 5
    ]
    if runs:
        run = max(runs, key=lambda r: r.id)
        return make(run_outcome(ctx, spec, run), run)
    if intent is None:
        return make(Outcome.todo(f"{file}: to dispatch on {ref}"))
    if _age(ctx, intent.at) < (DISPATCH_GRACE if intent.done else UNSURE_GRACE):
        # dispatched (or its answer lost) moments ago: the run may not be listed yet
        return make(Outcome.running(f"{file}: dispatched at {intent.at}, waiting for its run"))
    workflow = forge.workflow(file)
    where = workflow.html_url if workflow else repo
    return make(
        Outcome.unknown(
            f"{file} was dispatched on {ref} at {intent.at} by {intent.by}, but no run shows "
            f"up: look at {where}; if no run started, start it by hand "
            f"(`gh workflow run {file} --ref {ref}`), then confirm"
        )
    )


def _age(ctx: StepContext, at: str) -> float:
    try:
        moment = datetime.strptime(at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return float("inf")
    return ctx.now() - moment.timestamp()


def workflow_states(ctx: StepContext, step: str, stage: str) -> list[WorkflowState]:
    return [workflow_state(ctx, step, spec_of(ctx, w)) for w in configured(ctx, stage)]


def dispatch_action(spec: WorkflowSpec | WorkflowState) -> Action:
    """The plan line of a dispatch."""
    inputs = ", ".join(f"{k}={v}" for k, v in spec.inputs.items()) or "no inputs"
    return Action("dispatch", f"workflow {spec.file} in {spec.repo} on {spec.ref}", inputs)


def dispatch_once(ctx: StepContext, state: WorkflowState) -> str | None:
    """Dispatch a workflow whose state is TODO: the intent goes in the ledger first, so a
    crash after the dispatch never dispatches twice (the next check finds the run, or asks);
    the run's URL when the forge says it."""
    ctx.record_intent(state.key, f"dispatch {state.file} on {state.ref}")
    url = ctx.forge.other(state.repo).dispatch(state.file, state.ref, state.inputs)
    ctx.record_result(state.key, url)
    return url


def planned_dispatches(ctx: StepContext, stage: str) -> list[Action]:
    """Dry run, before the tag exists: every dispatched workflow would be dispatched."""
    specs = [spec_of(ctx, w) for w in configured(ctx, stage)]
    return [dispatch_action(spec) for spec in specs if spec.on != "tag"]


class WorkflowRuns(Step):
    """Base of the steps that find or dispatch the workflows of one stage and wait for them.

    Subclasses set ``stage_key`` (the ``stage`` of ``[[build.workflows]]`` entries) and
    ``states`` (the Result holding their states).
    """

    stage_key: str = "build"
    states: Result[list[WorkflowState]]

    def applies(self, ctx: StepContext) -> bool:
        return bool(configured(ctx, self.stage_key))

    def preflight(self, ctx: StepContext) -> list[str]:
        problems = []
        for w in configured(ctx, self.stage_key):
            spec = spec_of(ctx, w)
            if ctx.forge.other(spec.repo).workflow(spec.file) is None:
                problems.append(
                    f"[[build.workflows]] file = {spec.file!r}: {spec.repo} has no such workflow "
                    "(its file name under .github/workflows/)"
                )
        return problems

    def precondition(self, ctx: StepContext) -> str | None:
        """Why the workflows can't run yet (None: they can)."""
        return tag_missing(ctx) if ctx.need(RELEASE_TAG) is None else None

    def check(self, ctx: StepContext) -> Outcome:
        blocked = self.precondition(ctx)
        if blocked:
            return Outcome.blocked(blocked)
        return aggregate([s.outcome for s in ctx.need(self.states)])

    def plan(self, ctx: StepContext) -> list[Action]:
        if self.precondition(ctx):
            return planned_dispatches(ctx, self.stage_key)
        return [
            dispatch_action(s)
            for s in ctx.need(self.states)
            if s.on != "tag" and s.outcome.status is Status.TODO
        ]

    def writes_to(self, ctx: StepContext) -> list[Access]:
        """Dispatching a workflow needs write on its repository and the token's workflow
        scope; tag-triggered ones are only read."""
        out = []
        for w in configured(ctx, self.stage_key):
            spec = spec_of(ctx, w)
            if spec.on != "tag":
                why = f"dispatch {spec.file} on {spec.ref}"
                out.append(Access(spec.repo, "write", why, scope="workflow"))
        return out

    def run(self, ctx: StepContext) -> None:
        for s in ctx.need(self.states):
            if s.on != "tag" and s.outcome.status is Status.TODO:
                dispatch_once(ctx, s)
