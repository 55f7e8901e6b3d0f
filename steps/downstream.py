"""The `downstream` stage: every dependent updated by one commit and one PR, then tested.

``update-dependents`` reads every ``[[downstream]]`` repository at once (``[engine]
concurrency`` of them in parallel), then writes each one's files in ONE commit through the
Git Data API and opens (or updates) its pull request. ``dependent-tests`` dispatches each
dependent's test workflow with the new version and waits for the runs; a failed run is
reported once on the tracking issue and fails the step (nothing is reverted). Both show each
repository's state on one progress board.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from releaser.api import (
    Access,
    Action,
    Issue,
    Outcome,
    Pending,
    Release,
    Result,
    Status,
    Step,
    StepContext,
    StepFailed,
    UsageError,
    announcement,
    post_once,
)
from steps._dependents import (
    UPDATE_STEP,
    Dependent,
    UpdateState,
    Written,
    commit_message,
    concurrently,
    dependents,
    plan_update,
    read_update,
    unchanged_key,
    write_update,
)
from steps._release import GITHUB_RELEASE, TRACKING_ISSUE, tag_url
from steps._workflows import (
    WorkflowSpec,
    WorkflowState,
    aggregate,
    dispatch_action,
    dispatch_once,
    workflow_state,
)
from steps.promote import IssueComment

TESTS_STEP = "dependent-tests"


def board_title(ctx: StepContext) -> str:
    return f"dependents of {ctx.tag}"


def _release_url(ctx: StepContext) -> str:
    release = ctx.peek(GITHUB_RELEASE)
    return release.html_url if isinstance(release, Release) else tag_url(ctx)


def _no_release(ctx: StepContext) -> Outcome:
    return Outcome.blocked(
        f"no GitHub release for {ctx.tag} yet: `releaser publish {ctx.version}` (dependents "
        "are updated to a published release)"
    )


def _raise_first(errors: list[BaseException]) -> None:
    """Raise what went wrong in the workers: a refused credential as is, one error as is,
    several as one message naming each."""
    if not errors:
        return
    for exc in errors:
        if isinstance(exc, UsageError):
            raise exc
    if len(errors) == 1:
        raise errors[0]
    raise StepFailed(
        "; ".join(getattr(e, "message", str(e)) for e in errors),
        "fix what each says, then re-run the same command: it is safe",
    )


def _first_todo(outcomes: list[Outcome]) -> Outcome:
    """One outcome for many repositories: TODO while any has work left (a broken dependent
    does not hold the others back; it fails the step once they are done), else the most
    urgent status, with every repository's detail."""
    todo = [o.detail for o in outcomes if o.status is Status.TODO]
    if todo:
        return Outcome.todo("; ".join(todo))
    return aggregate(outcomes)


# -- updates -----------------------------------------------------------------------------------


def _updates(ctx: StepContext) -> list[UpdateState]:
    deps = [d for d in dependents(ctx) if d.makes_pr]
    states = []
    found_states = concurrently(ctx, deps, lambda d: read_update(ctx, d))
    for dep, found in zip(deps, found_states, strict=True):
        if isinstance(found, StepFailed):
            states.append(UpdateState(dep, Outcome.failed(found.message), board="failed"))
        elif isinstance(found, BaseException):
            raise found
        else:
            states.append(found)
    return states


DEPENDENT_UPDATES: Result[list[UpdateState]] = Result(
    "dependent-updates", _updates, pending="the pull requests {by} would open"
)


def pr_body(ctx: StepContext, dep: Dependent) -> str:
    """The dependent's PR body: the release, the tracking issue, what changed and how."""
    name = ctx.config.project.name
    lines = [f"Updates {name} to {ctx.tag}.", "", f"- Release: {_release_url(ctx)}"]
    issue = ctx.peek(TRACKING_ISSUE)
    if isinstance(issue, Issue):
        lines.append(f"- Tracking issue: {issue.html_url}")
    files = ", ".join(f"`{f}`" for f in dep.files) or "the files it changes"
    how = f" (by `{dep.command}`)" if dep.command else ""
    lines.append(f"- Changed: {files}{how}")
    lines += [
        "",
        f"Opened by releaser (`releaser downstream {ctx.version}`); re-running it updates this "
        "pull request.",
        f"<!-- releaser:downstream {ctx.tag} -->",
    ]
    return "\n".join(lines) + "\n"


class UpdateDependents(Step):
    """Update every dependent repository: one commit with all its files, and its PR.

    For each `[[downstream]]` with `files` or a `command` (finals only, unless its `only`
    says so): the files are changed by `pattern`, by `marker` and/or by running `command` in
    a shallow checkout of `base`; all of them go into ONE commit on `base` (Git Data API:
    tree, commit, ref) on `branch`, and a pull request into `base` links the release and the
    tracking issue, requests `reviewers` and, with `auto_merge`, enables auto-merge.
    Repositories are handled concurrently (`[engine] concurrency`). A re-run updates the same
    branch and PR: the branch is moved (forced) only while its head is releaser's own commit
    and has not moved since it was read. A PR a maintainer merged or closed is reported, not
    reopened.

    Why: dependents (apps, docs, interop tests) must move to the new release; one commit
    per repository instead of one per file makes an update of many repositories take seconds
    and gives reviewers one change to look at.
    By hand: in each dependent, branch off the default branch, bump the version in the
    configured files (or run the configured command), commit everything at once, push, and
    open a PR titled "Update to {tag}" linking the release and "{issue_title}".
    """

    name = UPDATE_STEP
    configured_by = ("downstream",)
    needs = (GITHUB_RELEASE, TRACKING_ISSUE, DEPENDENT_UPDATES)
    makes = (DEPENDENT_UPDATES,)

    def applies(self, ctx: StepContext) -> bool:
        return any(d.makes_pr for d in dependents(ctx))

    def writes_to(self, ctx: StepContext) -> list[Access]:
        """A branch and a pull request in each dependent: write on each."""
        return [
            Access(d.repo, "write", f"the update's branch {d.branch} and its PR")
            for d in dependents(ctx)
            if d.makes_pr
        ]

    def check(self, ctx: StepContext) -> Outcome:
        if ctx.need(GITHUB_RELEASE) is None:
            return _no_release(ctx)
        return _first_todo([s.outcome for s in ctx.need(DEPENDENT_UPDATES)])

    def plan(self, ctx: StepContext) -> list[Action]:
        actions = []
        for state in ctx.need(DEPENDENT_UPDATES):
            if state.outcome.status is Status.TODO:
                actions += plan_update(state, pr_body(ctx, state.dep))
        return actions

    def run(self, ctx: StepContext) -> None:
        states = ctx.need(DEPENDENT_UPDATES)
        board = ctx.progress(board_title(ctx), [s.dep.label for s in states])
        for state in states:
            if state.outcome.status is not Status.TODO:
                detail = state.outcome.evidence or state.outcome.detail
                board.update(state.dep.label, state.board, detail)
        todo = [s for s in states if s.outcome.status is Status.TODO]
        url = _release_url(ctx)
        work = {s.dep.index: (commit_message(ctx, s.dep, url), pr_body(ctx, s.dep)) for s in todo}

        def update(state: UpdateState) -> Written:
            message, body = work[state.dep.index]
            return write_update(ctx, state, message, body, board)

        errors: list[BaseException] = []
        for state, done in zip(todo, concurrently(ctx, todo, update), strict=True):
            if isinstance(done, BaseException):
                board.update(state.dep.label, "failed", getattr(done, "message", str(done)))
                errors.append(done)
                continue
            if done.unchanged_at:  # the ledger remembers it: the check can't run the command
                ctx.record_result(unchanged_key(state.dep), done.unchanged_at)
        _raise_first(errors)


# -- tests -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DependentRun:
    """One dependent's test workflow for this release: where it runs and how it stands."""

    dep: Dependent
    state: WorkflowState

    @property
    def failed_run(self) -> bool:
        """A run that concluded unsuccessfully (a test failure to report), not a config
        problem."""
        return self.state.outcome.status is Status.FAILED and self.state.run is not None


def _test_ref(ctx: StepContext, dep: Dependent, update: UpdateState | None) -> str:
    """Where the tests run: `workflow_ref`, else the PR's branch (they see the update), else
    the base (no PR: the dependent is tested as it is)."""
    if dep.workflow_ref:
        return dep.workflow_ref
    if dep.makes_pr and (update is None or update.pull is not None or update.head is not None):
        return dep.branch  # a PR's branch, even once merged: the ref (and ledger key) holds
    if update is not None and update.base_name:
        return update.base_name
    return dep.base or ctx.forge.other(dep.repo).repository().default_branch


def _spec(ctx: StepContext, dep: Dependent, update: UpdateState | None) -> WorkflowSpec:
    assert dep.workflow is not None
    return WorkflowSpec(
        file=dep.workflow,
        repo=dep.repo,
        on="dispatch",
        ref=_test_ref(ctx, dep, update),
        inputs=dep.inputs,
        timeout=float(ctx.config.engine.wait_timeout),
    )


def _tests(ctx: StepContext) -> list[DependentRun]:
    deps = [d for d in dependents(ctx) if d.workflow]
    updates = (
        {s.dep.index: s for s in ctx.need(DEPENDENT_UPDATES)}
        if any(d.makes_pr for d in deps)
        else {}
    )
    ctx.git.read_tag(ctx.tag)  # the runs are looked for after the tag's time: fetch it once

    def one(dep: Dependent) -> DependentRun:
        update = updates.get(dep.index)
        spec = _spec(ctx, dep, update)

        def held(outcome: Outcome) -> DependentRun:
            state = WorkflowState(spec.file, spec.repo, spec.on, spec.ref, spec.inputs, outcome)
            return DependentRun(dep, state)

        if update is not None and not dep.workflow_ref:
            if update.outcome.status is not Status.DONE:
                return held(
                    Outcome.blocked(
                        f"{dep.repo}: tested once its update is done: `releaser downstream "
                        f"{ctx.version} --only update-dependents`"
                    )
                )
            if update.pull is not None and update.pull.status == "closed":
                return held(Outcome.done(f"{dep.repo}: not tested (its PR was closed)"))
        state = workflow_state(ctx, TESTS_STEP, spec)
        gone = spec.ref == dep.branch and ctx.forge.other(dep.repo).branch(spec.ref) is None
        if state.outcome.status is Status.TODO and gone:
            return held(
                Outcome.failed(
                    f"{dep.repo}: branch {spec.ref} is gone (its PR merged and the branch "
                    f"deleted?): set downstream[{dep.index}].workflow_ref to test elsewhere"
                )
            )
        named = replace(state.outcome, detail=f"{dep.repo}: {state.outcome.detail}")
        return DependentRun(dep, replace(state, outcome=named))

    runs = []
    for found in concurrently(ctx, deps, one):
        if isinstance(found, BaseException):
            raise found
        runs.append(found)
    return runs


DEPENDENT_TESTS: Result[list[DependentRun]] = Result(
    "dependent-tests",
    _tests,
    needs=(DEPENDENT_UPDATES,),
    pending="the test runs {by} would start",
)


def _report(ctx: StepContext, issue: Issue, run: DependentRun) -> IssueComment:
    """The tracking issue's comment about one dependent's failed tests (posted once)."""
    marker = f"<!-- releaser:dependent-tests {ctx.tag} {run.dep.repo} -->"
    url = run.state.run.html_url if run.state.run else ""
    body = (
        f"The tests of {run.dep.repo} against {ctx.tag} failed: {url}\n\n"
        f"{run.state.outcome.detail}\n\n"
        "Nothing was reverted. Fix the cause (here or there), re-run the failed jobs, then "
        f"re-run `releaser downstream {ctx.version}`.\n\n{marker}"
    )
    return IssueComment(ctx.forge, issue.number, marker, body)


BOARD_WORDS = {
    Status.TODO: "to dispatch",
    Status.RUNNING: "tests running",
    Status.DONE: "passed",
    Status.FAILED: "failed",
    Status.BLOCKED: "waiting for its update",
    Status.UNKNOWN: "unknown: asking",
}


class DependentTests(Step):
    """Run every dependent's test workflow against the release, and wait for it.

    For each `[[downstream]]` with a `workflow`: it is dispatched once with its `inputs`
    (the new version) on `workflow_ref`, else on the PR's branch, else on the base branch;
    the dispatch is recorded in the ledger first, so a crash never dispatches twice. The
    engine waits for the runs. A failed run is reported once on the tracking issue (its URL
    and failed jobs) and fails the step; nothing is reverted.

    Why: a release that breaks its dependents (browser extension, desktop app) should be
    known before it is announced widely, and by the people watching the release.
    By hand: in each dependent, run its test workflow with the new version
    (`gh workflow run WORKFLOW -R OWNER/REPO --ref BRANCH -f INPUT={version}`), watch it
    (`gh run watch -R OWNER/REPO`), and report a failure on "{issue_title}".
    """

    name = TESTS_STEP
    configured_by = ("downstream",)
    needs = (GITHUB_RELEASE, TRACKING_ISSUE, DEPENDENT_UPDATES, DEPENDENT_TESTS)
    makes = (DEPENDENT_TESTS,)

    def applies(self, ctx: StepContext) -> bool:
        return any(d.workflow for d in dependents(ctx))

    def writes_to(self, ctx: StepContext) -> list[Access]:
        """Dispatching each dependent's test workflow needs write on it and the token's
        workflow scope; reporting a failure, write on the project (the tracking issue)."""
        out = [
            Access(d.repo, "write", f"dispatch {d.workflow}", scope="workflow")
            for d in dependents(ctx)
            if d.workflow
        ]
        return [*out, Access(ctx.repo_name, "write", "report a failed run on the tracking issue")]

    def check(self, ctx: StepContext) -> Outcome:
        if ctx.need(GITHUB_RELEASE) is None:
            return _no_release(ctx)
        runs = ctx.need(DEPENDENT_TESTS)
        board = ctx.progress(board_title(ctx), [r.dep.label for r in runs])
        for r in runs:
            outcome = r.state.outcome
            board.update(r.dep.label, BOARD_WORDS[outcome.status], outcome.evidence or r.state.ref)
        outcomes = [r.state.outcome for r in runs]
        running = [o for o in outcomes if o.status is Status.RUNNING]
        unreported = [] if running else self._unreported(ctx, runs)
        reports = [
            Outcome.todo(f"{r.dep.repo}: its failure to report on the tracking issue")
            for r in unreported
        ]
        if running and not any(o.status is Status.TODO for o in outcomes):
            # failures are reported once every run has ended
            return Outcome.running("; ".join(o.detail for o in outcomes), running[0].evidence)
        return _first_todo(outcomes + reports)

    def _unreported(self, ctx: StepContext, runs: list[DependentRun]) -> list[DependentRun]:
        issue = ctx.need(TRACKING_ISSUE)
        if issue is None:
            return []  # nowhere to report: the step fails with the run's URL
        return [
            r
            for r in runs
            if r.failed_run and announcement(ctx, _report(ctx, issue, r)).status is Status.TODO
        ]

    def plan(self, ctx: StepContext) -> list[Action]:
        runs = ctx.peek(DEPENDENT_TESTS)
        if isinstance(runs, Pending):  # the updates are planned: every test would run
            return [dispatch_action(_spec(ctx, d, None)) for d in dependents(ctx) if d.workflow]
        actions = [dispatch_action(r.state) for r in runs if r.state.outcome.status is Status.TODO]
        issue = ctx.peek(TRACKING_ISSUE)
        if isinstance(issue, Issue):
            for r in self._unreported(ctx, runs):
                report = _report(ctx, issue, r)
                actions.append(Action("comment", f"on #{issue.number}", report.body))
        return actions

    def run(self, ctx: StepContext) -> None:
        runs = ctx.need(DEPENDENT_TESTS)
        board = ctx.progress(board_title(ctx), [r.dep.label for r in runs])
        # one by one: each dispatch's intent goes in the ledger first (one ref, appended by
        # compare-and-swap: its appends are serial anyway); the runs themselves are parallel
        for r in runs:
            if r.state.outcome.status is Status.TODO:
                board.update(r.dep.label, "dispatching", r.state.ref)
                url = dispatch_once(ctx, r.state)
                board.update(r.dep.label, "tests running", url or r.state.ref)
        issue = ctx.need(TRACKING_ISSUE)
        if issue is not None:
            for r in self._unreported(ctx, runs):
                post_once(ctx, _report(ctx, issue, r))
