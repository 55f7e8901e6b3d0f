"""The `build` stage: find (tag-triggered) or dispatch the build workflows, and wait for them.

One step handles every ``[[build.workflows]]`` of the stage. A tag-triggered workflow's run is
the one the tag push started (event ``push``, head sha = the tagged commit, branch = the tag).
A dispatched one is started by releaser, with its intent recorded in the ledger first, so a
crash right after dispatching never dispatches twice: the next run finds the run, or asks.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from releaser.step import Action, Outcome, Status, Step
from steps import _release as rel

if TYPE_CHECKING:
    from github.Workflow import Workflow
    from github.WorkflowRun import WorkflowRun

    from releaser.context import Context

ACTIVE = ("queued", "in_progress", "waiting", "requested", "pending")
TAG_RUN_GRACE = 120.0  # seconds a tag push's run may take to show up
DISPATCH_GRACE = 120.0  # seconds a dispatched run may take to show up
INTENT_POLL = (0.5, 1.0, 2.0)  # re-reads before asking about a dispatch with no visible run
ORDER = (
    Status.FAILED,
    Status.BLOCKED,
    Status.TODO,
    Status.UNKNOWN,
    Status.RUNNING,
    Status.DONE,
)


@dataclass(frozen=True)
class WorkflowState:
    """One configured workflow's state for this release."""

    file: str
    repo: str
    on: str
    ref: str
    inputs: dict[str, str]
    outcome: Outcome
    run: Any = None  # the WorkflowRun, when one was found


def _elapsed(since: datetime) -> str:
    seconds = max(0, int((datetime.now(UTC) - since).total_seconds()))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def configured(ctx: Context, stage: str) -> list[Any]:
    """The ``[[build.workflows]]`` run by ``stage`` that apply to this release."""
    build = ctx.config.build
    workflows = getattr(build, "workflows", None) or []
    return [
        w for w in workflows if str(w.get("stage") or "build") == stage and w.applies(ctx.version)
    ]


def tag_time(ctx: Context) -> float | None:
    """When the release tag was made (the annotated tag's tagger time)."""

    def read() -> float | None:
        info = ctx.git.read_tag(ctx.tag)
        return float(info.tag_time) if info else None

    return rel.memo(ctx, "tag_time", read)


def _workflow(ctx: Context, repo_name: str, file: str) -> Workflow:
    def get() -> Workflow:
        repo = ctx.github.repo if repo_name == ctx.repo_name else ctx.github.repository(repo_name)
        return repo.get_workflow(file)

    return rel.memo(ctx, f"workflow:{repo_name}:{file}", get)


def run_outcome(ctx: Context, file: str, run: WorkflowRun, w: Any) -> Outcome:
    """RUNNING / DONE / FAILED for a found run (with the log check on success)."""
    url = str(run.html_url)
    if run.status in ACTIVE or run.status != "completed":
        started = _aware(run.run_started_at or run.created_at)
        timeout = float(w.get("timeout") or 3600)
        if (datetime.now(UTC) - started).total_seconds() > timeout:
            return Outcome.failed(
                f"{file}: still {run.status} after {_elapsed(started)} (timeout {timeout:.0f}s):"
                f" look at the run, cancel or fix it, then re-run",
                url,
            )
        return Outcome.running(f"{file}: {run.status} for {_elapsed(started)}", url)
    if run.conclusion != "success":
        failed = [
            str(job.name)
            for job in run.jobs()
            if job.conclusion not in ("success", "skipped", "neutral", None)
        ]
        jobs = f" (failed jobs: {', '.join(failed)})" if failed else ""
        return Outcome.failed(
            f"{file}: run {url} concluded {run.conclusion}{jobs}: fix the cause, re-run the "
            f"failed jobs (`gh run rerun {run.id} --failed`), then re-run this command",
            url,
        )
    pattern = w.get("log_pattern")
    if pattern:
        regex = ctx.config.render(str(pattern), ctx.version)
        found, job_urls = rel.memo(
            ctx, f"log:{run.id}:{run.run_attempt}:{regex}", lambda: _logs_match(ctx, run, regex)
        )
        if not found:
            return Outcome.failed(
                f"{file}: the run succeeded but no job log matches {regex!r} "
                f"({', '.join(job_urls) or url}): check the run did what the release needs",
                url,
            )
    return Outcome.done(f"{file}: success", url)


def _logs_match(ctx: Context, run: WorkflowRun, regex: str) -> tuple[bool, list[str]]:
    compiled = re.compile(regex)
    urls: list[str] = []
    for job in run.jobs():
        urls.append(str(job.html_url))
        log = rel.download(ctx, f"{job.url}/logs", accept="application/vnd.github+json")
        if compiled.search(log.decode("utf-8", "replace")):
            return True, urls
    return False, urls


class WorkflowRuns(Step):
    """Base of the steps that find or dispatch workflows of a stage and wait for them."""

    stage_key = "build"

    def applies(self, ctx: Context) -> bool:
        return bool(configured(ctx, self.stage_key))

    # -- state -------------------------------------------------------------------------

    def precondition(self, ctx: Context) -> str | None:
        """Why the workflows can't run yet (None: they can)."""
        if rel.remote_tag(ctx) is None:
            return rel.tag_missing(ctx)
        return None

    def states(self, ctx: Context) -> list[WorkflowState]:
        return [self.state(ctx, w) for w in configured(ctx, self.stage_key)]

    def state(self, ctx: Context, w: Any) -> WorkflowState:
        file = str(w.file)
        on = str(w.get("on") or "tag")
        repo_name = str(w.get("repo") or ctx.repo_name)
        ref = ctx.config.render(str(w.ref), ctx.version) if w.get("ref") else ctx.tag
        inputs = {
            str(k): ctx.config.render(str(v), ctx.version)
            for k, v in (w.get("inputs") or {}).items()
        }

        def make(outcome: Outcome, run: Any = None) -> WorkflowState:
            return WorkflowState(file, repo_name, on, ref, inputs, outcome, run)

        if on == "tag":
            return make(*self._tag_run(ctx, w, file))
        return make(*self._dispatched_run(ctx, w, file, repo_name, ref))

    def _tag_run(self, ctx: Context, w: Any, file: str) -> tuple[Outcome, Any]:
        remote = rel.remote_tag(ctx)
        assert remote is not None
        workflow = _workflow(ctx, ctx.repo_name, file)
        runs = [
            r
            for r in workflow.get_runs(event="push", head_sha=remote.commit, branch=ctx.tag)
            if r.head_branch == ctx.tag
        ]
        if runs:
            run = max(runs, key=lambda r: r.id)
            return run_outcome(ctx, file, run, w), run
        made = tag_time(ctx)
        if made is not None and time.time() - made < TAG_RUN_GRACE:
            return Outcome.running(
                f"{file}: waiting for the run the push of {ctx.tag} starts"
            ), None
        return (
            Outcome.failed(
                f"{file}: no run was started by the push of {ctx.tag}: check the workflow's "
                f"`on.push.tags` filter; start it by hand (`gh workflow run {file} --ref "
                f'{ctx.tag}`) and re-run, or configure it with on = "dispatch"'
            ),
            None,
        )

    def _dispatched_run(
        self, ctx: Context, w: Any, file: str, repo_name: str, ref: str
    ) -> tuple[Outcome, Any]:
        key = f"dispatch:{repo_name}:{file}@{ref}"
        workflow = _workflow(ctx, repo_name, file)
        intent = ctx.ledger.intent(self.name, key)
        run_id = None
        if intent and intent.get("type") == "result" and intent.get("evidence"):
            match = re.search(r"/actions/runs/(\d+)", str(intent["evidence"]))
            run_id = int(match.group(1)) if match else None
        if run_id is not None:
            run = _repo_for(ctx, repo_name).get_workflow_run(run_id)
            return run_outcome(ctx, file, run, w), run
        since = tag_time(ctx) or 0.0
        polls = list(INTENT_POLL) if intent and intent.get("type") == "intent" else []
        while True:
            runs = [
                r
                for r in workflow.get_runs(event="workflow_dispatch", branch=ref)
                if _aware(r.created_at).timestamp() >= since - 5
            ]
            if runs or not polls:
                break
            time.sleep(polls.pop(0))
        if runs:
            run = max(runs, key=lambda r: r.id)
            return run_outcome(ctx, file, run, w), run
        if intent is None:
            return Outcome.todo(f"{file}: to dispatch on {ref}"), None
        at = str(intent.get("at", ""))
        if intent.get("type") == "result":
            recorded = _parse_at(at)
            if recorded is not None and time.time() - recorded < DISPATCH_GRACE:
                return Outcome.running(f"{file}: dispatched at {at}, waiting for its run"), None
        return (
            Outcome.unknown(
                f"{file} was dispatched on {ref} at {at} by {intent.get('by')}, but no run shows "
                f"up: look at {workflow.html_url}; if no run started, start it by hand "
                f"(`gh workflow run {file} --ref {ref}`), then confirm"
            ),
            None,
        )

    # -- the contract ------------------------------------------------------------------

    def check(self, ctx: Context) -> Outcome:
        blocked = self.precondition(ctx)
        if blocked:
            return Outcome.blocked(blocked)
        states = self.states(ctx)
        ctx.cache[f"release:{self.name}:states"] = states  # for plan(), right after
        return aggregate([s.outcome for s in states])

    def plan(self, ctx: Context) -> list[Action]:
        actions = []
        for s in self._states_for_plan(ctx):
            if s.on != "tag" and s.outcome.status is Status.TODO:
                inputs = ", ".join(f"{k}={v}" for k, v in s.inputs.items()) or "no inputs"
                actions.append(
                    Action("dispatch", f"workflow {s.file} in {s.repo} on {s.ref}", inputs)
                )
        return actions

    def _states_for_plan(self, ctx: Context) -> list[WorkflowState]:
        cached = ctx.cache.get(f"release:{self.name}:states")
        if cached is not None:
            return list(cached)
        if self.precondition(ctx):
            # dry-run after planned steps: every dispatched workflow would be dispatched
            out = []
            for w in configured(ctx, self.stage_key):
                if str(w.get("on") or "tag") != "tag":
                    ref = ctx.config.render(str(w.ref), ctx.version) if w.get("ref") else ctx.tag
                    inputs = {
                        str(k): ctx.config.render(str(v), ctx.version)
                        for k, v in (w.get("inputs") or {}).items()
                    }
                    repo = str(w.get("repo") or ctx.repo_name)
                    out.append(
                        WorkflowState(str(w.file), repo, "dispatch", ref, inputs, Outcome.todo())
                    )
            return out
        return self.states(ctx)

    def run(self, ctx: Context) -> None:
        ctx.cache.pop(f"release:{self.name}:states", None)
        for s in self.states(ctx):
            if s.on == "tag" or s.outcome.status is not Status.TODO:
                continue
            key = f"dispatch:{s.repo}:{s.file}@{s.ref}"
            ctx.ledger.record_intent(self.name, key, f"dispatch {s.file} on {s.ref}")
            workflow = _workflow(ctx, s.repo, s.file)
            ctx.ui.debug(f"POST actions/workflows/{s.file}/dispatches ref={s.ref}")
            result = workflow.create_dispatch(
                s.ref, inputs=s.inputs, throw=True, return_run_details=True
            )
            evidence = getattr(result, "html_url", None) or None
            ctx.ledger.record_result(self.name, key, str(evidence) if evidence else None)
        ctx.cache.pop(f"release:{self.name}:states", None)


def _repo_for(ctx: Context, repo_name: str) -> Any:
    return ctx.github.repo if repo_name == ctx.repo_name else ctx.github.repository(repo_name)


def _parse_at(text: str) -> float | None:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def aggregate(outcomes: list[Outcome]) -> Outcome:
    """One outcome for several workflows: the most urgent status, every detail."""
    if not outcomes:
        return Outcome.done("no workflows for this release")
    worst = min(outcomes, key=lambda o: ORDER.index(o.status))
    details = "; ".join(o.detail for o in outcomes if o.detail)
    evidence = worst.evidence or next((o.evidence for o in outcomes if o.evidence), None)
    return Outcome(worst.status, details, evidence)


class BuildWorkflows(WorkflowRuns):
    """Wait for the tag's build workflows: the runs its push started, or dispatched ones.

    Every `[[build.workflows]]` of the build stage: `on = "tag"` runs are found by the tagged
    commit; `on = "dispatch"` ones are dispatched once (intent recorded in the ledger first).
    Optionally a run must also print `log_pattern` in its job logs.

    Why: the release assets, images and packages come from these runs; publishing before they
    succeed would publish nothing, or something broken.
    By hand: watch `gh run list --workflow build.yml --branch vX.Y.Z` (or
    `gh workflow run build.yml --ref vX.Y.Z` to dispatch one) until it succeeds.
    """

    name = "build-workflows"
    stage_key = "build"
