"""Engine semantics (docs/architecture.md, "The engine") with fake steps whose "remote
state" is a dict.

The fake steps stand in for real services on purpose: these tests are about what the engine
does around a step (dry-run, confirm, ask, wait, settle, errors), not about any service.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from releaser.engine import Engine
from releaser.errors import AmbiguousWrite, InputNeeded, StepFailed, StillRunning
from releaser.step import Action, Outcome, Pending, Result, Status, Step
from tests.releaser.conftest import Harness


class Remote:
    def __init__(self) -> None:
        self.state: dict[str, Any] = {}
        self.runs: list[str] = []


class Make(Step):
    """Make a thing exist on the remote.

    Why: the tests need a step that writes.
    By hand: touch the thing.
    """

    name = "make-thing"

    def __init__(self, remote: Remote, key: str = "thing", name: str | None = None) -> None:
        self.remote = remote
        self.key = key
        if name:
            self.name = name  # type: ignore[misc]

    def check(self, ctx: Any) -> Outcome:
        if self.remote.state.get(self.key):
            return Outcome.done(f"{self.key} exists", f"https://example.invalid/{self.key}")
        return Outcome.todo(f"{self.key} is missing")

    def plan(self, ctx: Any) -> list[Action]:
        return [Action("create", self.key, "preview of the content")]

    def run(self, ctx: Any) -> None:
        self.remote.runs.append(self.name)
        self.remote.state[self.key] = True


class Dangerous(Make):
    """Push something irreversible.

    Why: tests the confirmation path.
    By hand: push it.
    """

    name = "push-thing"
    dangerous = True


class RcOnly(Make):
    """Only for release candidates.

    Why: tests kinds.
    By hand: nothing.
    """

    name = "rc-thing"
    only: ClassVar[tuple[str, ...]] = ("rc",)


class Manual(Step):
    """Post on a forum with no API.

    Why: tests questions.
    By hand: post it on the forum.
    """

    name = "forum-post"
    manual = True

    def check(self, ctx: Any) -> Outcome:
        return Outcome.unknown("was the forum post published?")


class Workflow(Step):
    """Wait for a workflow that finishes after a few checks.

    Why: tests waiting.
    By hand: watch the workflow.
    """

    name = "workflow"

    def __init__(self, checks_until_done: int, conclusion: Status = Status.DONE) -> None:
        self.left = checks_until_done
        self.conclusion = conclusion

    def check(self, ctx: Any) -> Outcome:
        if self.left > 0:
            self.left -= 1
            return Outcome.running(f"in progress ({self.left} left)", "https://runs/1")
        if self.conclusion is Status.FAILED:
            return Outcome.failed("the run failed: job build", "https://runs/1")
        return Outcome.done("the run succeeded", "https://runs/1")


class Crashy(Make):
    """Write, then crash before returning (as a killed process would).

    Why: tests crash recovery.
    By hand: touch it.
    """

    name = "crashy"
    crash_before_write = False

    def run(self, ctx: Any) -> None:
        if self.crash_before_write:
            raise ConnectionError("connection reset before the write")
        super().run(ctx)
        raise ConnectionError("connection reset after the write")


class Blocked(Step):
    """Needs something another step makes (declared: ``needs`` the result ``thing``).

    Why: tests BLOCKED and declared results.
    By hand: make the other thing first.
    """

    name = "needs-thing"

    def __init__(self, remote: Remote, maker: Make | None = None) -> None:
        self.remote = remote
        self.thing: Result[bool] = Result(
            "thing", lambda ctx: bool(remote.state.get("thing")), pending="the thing {by} makes"
        )
        self.needs = (self.thing,)  # type: ignore[misc]
        if maker is not None:
            maker.makes = (self.thing,)  # type: ignore[misc]

    def check(self, ctx: Any) -> Outcome:
        if not ctx.need(self.thing):
            return Outcome.blocked("the thing does not exist: run make-thing first")
        return Outcome.done("ok")

    def plan(self, ctx: Any) -> list[Action]:
        thing = ctx.peek(self.thing)
        return [Action("use", str(thing) if isinstance(thing, Pending) else "the thing")]


def test_runs_missing_work_then_rerun_makes_no_run_calls(harness: Harness) -> None:
    remote = Remote()
    steps = [Make(remote, "a", "make-a"), Make(remote, "b", "make-b")]
    results = Engine(harness.context()).run_stage("prepare", steps)
    assert remote.runs == ["make-a", "make-b"]
    assert [r.status for r in results] == [Status.DONE, Status.DONE]
    assert all(r.acted for r in results)

    again = Engine(harness.context()).run_stage("prepare", steps)
    assert remote.runs == ["make-a", "make-b"]  # no new run() calls
    assert not any(r.acted for r in again)
    assert "a exists" in harness.output()


def test_dry_run_never_calls_run_and_prints_the_plan(harness: Harness) -> None:
    remote = Remote()
    make = Make(remote)
    steps = [make, Dangerous(remote, "pushed"), Blocked(remote, make)]
    results = Engine(harness.context(dry_run=True)).run_stage("tag", steps)
    assert remote.runs == []
    assert remote.state == {}
    assert [str(r.status) for r in results] == ["planned", "planned", "planned"]
    out = harness.output()
    assert "would create thing" in out
    assert "preview of the content" in out
    # planned after the step it depends on, naming what it waits for (never a stale value)
    assert "after make-thing (needs the thing make-thing makes)" in out
    assert "would use the thing make-thing makes" in out


def test_dry_run_reports_a_real_blocker_and_goes_on(harness: Harness) -> None:
    remote = Remote()
    steps = [Blocked(remote), Make(remote, "later", "make-later")]  # nothing makes the thing
    engine = Engine(harness.context(dry_run=True))
    results = engine.run_stage("tag", steps)
    assert [str(r.status) for r in results] == ["blocked", "planned"]
    assert [r.step for r in engine.dry_run_problems] == ["needs-thing"]


def test_a_step_asking_for_a_result_it_does_not_declare_is_a_bug(harness: Harness) -> None:
    remote = Remote()
    step = Blocked(remote)
    step.needs = ()  # type: ignore[misc]
    with pytest.raises(StepFailed, match="without declaring it in needs"):
        Engine(harness.context()).run_stage("tag", [step])


def test_dangerous_step_needs_yes_when_non_interactive(harness: Harness) -> None:
    remote = Remote()
    with pytest.raises(InputNeeded) as exc:
        Engine(harness.context()).run_stage("tag", [Dangerous(remote)])
    assert exc.value.exit_code == 3
    assert "--yes" in (exc.value.hint or "")
    assert remote.runs == []
    assert "will create thing" in harness.output()  # the plan was shown for review

    Engine(harness.context(yes=True)).run_stage("tag", [Dangerous(remote)])
    assert remote.runs == ["push-thing"]


def test_dangerous_step_confirmed_interactively(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from releaser import prompts
    from releaser.context import Options

    asked: list[str] = []
    monkeypatch.setattr(Options, "interactive", property(lambda self: True))
    monkeypatch.setattr(
        prompts, "confirm", lambda message, default=False: asked.append(message) or True
    )
    remote = Remote()
    Engine(harness.context(non_interactive=False)).run_stage("tag", [Dangerous(remote)])
    assert remote.runs == ["push-thing"]
    assert asked and "push-thing" in asked[0]

    monkeypatch.setattr(prompts, "confirm", lambda message, default=False: False)
    other = Remote()
    with pytest.raises(StepFailed, match="not confirmed"):
        Engine(harness.context(non_interactive=False)).run_stage("tag", [Dangerous(other)])
    assert other.runs == []


def test_unknown_non_interactive_exits_3_with_the_question(harness: Harness) -> None:
    with pytest.raises(InputNeeded) as exc:
        Engine(harness.context()).run_stage("promote", [Manual()])
    assert exc.value.exit_code == 3
    assert "was the forum post published?" in exc.value.message
    assert "releaser confirm v1.2.0 forum-post --evidence URL" in (exc.value.hint or "")
    assert "post it on the forum" in harness.output()  # the manual instructions were shown


def test_unknown_answered_once_is_never_asked_again(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from releaser import prompts
    from releaser.context import Options

    monkeypatch.setattr(Options, "interactive", property(lambda self: True))
    monkeypatch.setattr(prompts, "choose", lambda message, choices: choices[0])
    monkeypatch.setattr(prompts, "text", lambda message, default="": "https://forum/t/1")
    Engine(harness.context(non_interactive=False)).run_stage("promote", [Manual()])
    answer = harness.context().ledger.answer("forum-post")
    assert answer is not None and answer.evidence == "https://forum/t/1"

    # A second machine, non-interactive: the ledger answers, nobody is asked.
    def never(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("asked twice")

    monkeypatch.setattr(prompts, "choose", never)
    results = Engine(harness.context()).run_stage("promote", [Manual()])
    assert results[0].status is Status.DONE
    assert results[0].evidence == "https://forum/t/1"


def test_running_waits_then_settles(harness: Harness) -> None:
    step = Workflow(checks_until_done=3)
    results = Engine(harness.context()).run_stage("build", [step])
    assert results[0].status is Status.DONE
    assert results[0].evidence == "https://runs/1"
    assert "waiting" in harness.output()


def test_running_with_no_wait_exits_4(harness: Harness) -> None:
    with pytest.raises(StillRunning) as exc:
        Engine(harness.context(no_wait=True)).run_stage("build", [Workflow(3)])
    assert exc.value.exit_code == 4


def test_running_that_fails_stops_with_exit_1(harness: Harness) -> None:
    with pytest.raises(StepFailed) as exc:
        Engine(harness.context()).run_stage("build", [Workflow(1, Status.FAILED)])
    assert exc.value.exit_code == 1
    assert exc.value.message == "workflow: the run failed: job build"


def test_running_times_out(make_harness: Any) -> None:
    h = make_harness("")
    h.config.data["engine"]["wait_timeout"] = 0.05
    with pytest.raises(StepFailed, match="still running after"):
        Engine(h.context()).run_stage("build", [Workflow(10_000)])


def test_failed_stops_the_stage_and_names_the_step(harness: Harness) -> None:
    remote = Remote()
    steps = [Blocked(remote), Make(remote)]
    with pytest.raises(StepFailed) as exc:
        Engine(harness.context()).run_stage("publish", steps)
    assert exc.value.exit_code == 1
    assert exc.value.message.startswith("needs-thing: the thing does not exist")
    assert remote.runs == []  # the stage stopped before the next step


def test_exception_after_the_write_is_recognised_by_the_check(harness: Harness) -> None:
    remote = Remote()
    results = Engine(harness.context()).run_stage("prepare", [Crashy(remote)])
    assert results[0].status is Status.DONE
    assert remote.runs == ["crashy"]


def test_exception_before_the_write_then_rerun_converges(harness: Harness) -> None:
    remote = Remote()
    step = Crashy(remote)
    step.crash_before_write = True
    with pytest.raises(StepFailed, match="connection reset before the write"):
        Engine(harness.context()).run_stage("prepare", [step])
    assert remote.state == {}

    fixed = Make(remote, "thing", "crashy")
    Engine(harness.context()).run_stage("prepare", [fixed])
    Engine(harness.context()).run_stage("prepare", [fixed])
    assert remote.runs == ["crashy"]  # exactly one write in the end


class Delayed(Make):
    """Post something whose answer is lost while the service is still applying it.

    Why: a timed-out write may land after the client gave up.
    By hand: post it.
    """

    name = "delayed"

    def __init__(self, remote: Remote, lands_after: int | None) -> None:
        super().__init__(remote)
        self.lands_after = lands_after  # checks after the send; None: it never lands
        self.checks_since_send = 0

    def check(self, ctx: Any) -> Outcome:
        if self.remote.runs:
            self.checks_since_send += 1
            if self.lands_after is not None and self.checks_since_send > self.lands_after:
                self.remote.state[self.key] = True
        return super().check(ctx)

    def run(self, ctx: Any) -> None:
        self.remote.runs.append(self.name)
        raise AmbiguousWrite("the answer was lost (timed out)", "re-run the command")


def test_a_lost_answer_is_checked_again_until_the_write_lands(harness: Harness) -> None:
    remote = Remote()
    engine = Engine(harness.context())
    slept: list[float] = []
    engine.sleep = slept.append
    results = engine.run_stage("promote", [Delayed(remote, lands_after=3)])
    assert results[0].status is Status.DONE
    assert remote.runs == ["delayed"]  # sent once: seen on the fourth check, not sent again
    assert slept == [0.2, 0.5, 1.0]


def test_a_lost_answer_that_never_lands_fails_after_the_rechecks(harness: Harness) -> None:
    remote = Remote()
    engine = Engine(harness.context())
    slept: list[float] = []
    engine.sleep = slept.append
    with pytest.raises(StepFailed, match="the answer was lost"):
        engine.run_stage("promote", [Delayed(remote, lands_after=None)])
    assert remote.runs == ["delayed"]
    assert sum(slept) == pytest.approx(7.7)


def test_kinds_decide_which_steps_apply(harness: Harness) -> None:
    remote = Remote()
    results = Engine(harness.context("v1.2.0")).run_stage("prepare", [RcOnly(remote)])
    assert results[0].status == "skipped"
    Engine(harness.context("v1.2.0-rc1")).run_stage("prepare", [RcOnly(remote)])
    assert remote.runs == ["rc-thing"]


def test_only_and_skip_select_steps(harness: Harness) -> None:
    remote = Remote()
    steps = [Make(remote, "a", "make-a"), Make(remote, "b", "make-b")]
    Engine(harness.context(only=("make-b",))).run_stage("prepare", steps)
    assert remote.runs == ["make-b"]
    Engine(harness.context(skip=("make-a",))).run_stage("prepare", steps)
    assert remote.runs == ["make-b"]


def test_run_that_leaves_work_undone_fails(harness: Harness) -> None:
    class Lazy(Make):
        """Claims to write but doesn't.

        Why: tests the re-check after run().
        By hand: none.
        """

        name = "lazy"

        def run(self, ctx: Any) -> None:
            self.remote.runs.append(self.name)

    with pytest.raises(StepFailed, match="still finds work to do"):
        Engine(harness.context()).run_stage("prepare", [Lazy(Remote())])


def test_empty_stage_says_so(harness: Harness) -> None:
    assert Engine(harness.context()).run_stage("downstream", []) == []
    assert "has no steps yet" in harness.output()


def test_summary_table_lists_every_step(harness: Harness) -> None:
    remote = Remote()
    Engine(harness.context()).run_stage("prepare", [Make(remote, "a", "make-a"), RcOnly(remote)])
    out = harness.output()
    assert "make-a" in out and "rc-thing" in out and "skipped" in out


# -- questions whose answer the step judges; exact content shown with them -------------------


class LinkedPost(Step):
    """Post a topic by hand and give its link.

    Why: tests a step that judges the operator's answer.
    By hand: post it, then give its link.
    """

    name = "linked-post"
    makes: ClassVar[tuple[Result[Any], ...]] = ()

    def check(self, ctx: Any) -> Outcome:
        answer = ctx.answer()
        if answer is None:
            return Outcome.unknown("post the topic, then give its link")
        if answer.evidence and "/t/" in answer.evidence:
            return Outcome.done("posted by hand", answer.evidence)
        return Outcome.failed(f"{answer.evidence} is not a topic's link")

    def by_hand_plan(self, ctx: Any) -> list[Action]:
        return [Action("post", 'topic "Example v1.2.0 is out!" in News', "The exact body.")]


def test_a_question_shows_exactly_what_to_post(harness: Harness) -> None:
    with pytest.raises(InputNeeded):
        Engine(harness.context()).run_stage("promote", [LinkedPost()])
    out = harness.output()
    assert 'by hand: post topic "Example v1.2.0 is out!" in News' in out
    assert "│ The exact body." in out


@pytest.mark.parametrize(
    "link, status", [("https://forum/t/7", Status.DONE), ("https://forum/nothing", None)]
)
def test_the_answer_is_checked_by_the_step(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, link: str, status: Status | None
) -> None:
    from releaser import prompts
    from releaser.context import Options

    monkeypatch.setattr(Options, "interactive", property(lambda self: True))
    monkeypatch.setattr(prompts, "choose", lambda message, choices: choices[0])
    monkeypatch.setattr(prompts, "text", lambda message, default="": link)
    engine = Engine(harness.context(non_interactive=False))
    if status is None:
        with pytest.raises(StepFailed, match="is not a topic's link"):
            engine.run_stage("promote", [LinkedPost()])
    else:
        [result] = engine.run_stage("promote", [LinkedPost()])
        assert result.status is status and result.evidence == link


def test_a_dry_run_plans_what_depends_on_a_question_after_it(harness: Harness) -> None:
    remote = Remote()
    asking = LinkedPost()
    user = Blocked(remote)
    asking.makes = (user.thing,)  # type: ignore[misc]
    results = Engine(harness.context(dry_run=True)).run_stage("promote", [asking, user])
    assert results[0].status is Status.UNKNOWN and results[0].detail.startswith("would ask")
    assert results[1].status == "planned" and "after linked-post" in results[1].detail


class RateLimitedPost(Make):
    """Post, refused by a rate limit longer than the configured wait.

    Why: tests that a rate limit in run() is exit 4, not a failure.
    By hand: post it later.
    """

    name = "rate-limited-post"

    def run(self, ctx: Any) -> None:
        from releaser.errors import RateLimited

        raise RateLimited("the service's rate limit: no posts until 12:00", "re-run after 12:00")


def test_a_rate_limit_in_run_is_exit_4(harness: Harness) -> None:
    with pytest.raises(StillRunning) as exc:
        Engine(harness.context()).run_stage("promote", [RateLimitedPost(Remote())])
    assert exc.value.exit_code == 4 and "no posts until 12:00" in exc.value.message


# -- what the ledger records of a stage run (releaser report reads it) ------------------------


def test_stage_runs_record_each_step_s_times_and_the_step_that_stopped_them(
    harness: Harness,
) -> None:
    from releaser.commands.stage import run_stages

    ctx = harness.context()
    remote = Remote()
    ctx.plans = {"prepare": [Make(remote, "a", "make-a")], "build": [Workflow(2, Status.FAILED)]}
    run_stages(ctx, ["prepare"])
    with pytest.raises(StepFailed):
        run_stages(ctx, ["build"])
    stages = [e for e in harness.store.doc["entries"] if e["type"] == "stage"]
    prepare, build = stages
    assert prepare["steps"] == {"make-a": "done"} and "stopped" not in prepare
    start, end = prepare["times"]["make-a"]
    assert prepare["start"] <= start <= end <= prepare["end"]
    # The build wrote nothing but waited on remote work: recorded all the same (no claim),
    # with the step that stopped it and when.
    assert (build["outcome"], build["steps"], build["times"]) == ("failed", {}, {})
    stopped = build["stopped"]
    assert (stopped["step"], stopped["status"]) == ("workflow", "failed")
    assert build["start"] <= stopped["start"] <= stopped["end"] <= build["end"]
    claims = [e for e in harness.store.doc["entries"] if e["type"] == "claim"]
    assert [c["stage"] for c in claims] == ["prepare"]

    # Re-runs that find everything done record nothing.
    writes = harness.store.writes
    ctx.plans["build"] = [Workflow(0)]
    run_stages(ctx, ["prepare"])
    run_stages(ctx, ["build"])
    assert harness.store.writes == writes


def test_a_stage_stopped_for_an_answer_records_the_question_s_step(harness: Harness) -> None:
    from releaser.commands.stage import run_stages

    ctx = harness.context()
    ctx.plans = {"promote": [Make(Remote(), "a", "make-a"), Manual()]}
    with pytest.raises(InputNeeded):
        run_stages(ctx, ["promote"])
    (entry,) = [e for e in harness.store.doc["entries"] if e["type"] == "stage"]
    assert entry["outcome"] == "failed" and entry["steps"] == {"make-a": "done"}
    assert (entry["stopped"]["step"], entry["stopped"]["status"]) == ("forum-post", "unknown")


class RunsTests(Step):
    """Dispatch a test run, wait for it, report its failure.

    Why: tests work that a wait reveals (a failure to report once the run ends).
    By hand: run the tests, report a failure.
    """

    name = "tests"

    def __init__(self, remote: Remote, checks_while_running: int) -> None:
        self.remote = remote
        self.left = checks_while_running

    def check(self, ctx: Any) -> Outcome:
        if "dispatch" not in self.remote.runs:
            return Outcome.todo("to dispatch")
        if self.left > 0:
            self.left -= 1
            return Outcome.running("tests running", "https://runs/1")
        if "report" not in self.remote.runs:
            return Outcome.todo("its failure to report")
        return Outcome.failed("the tests failed (reported)", "https://runs/1")

    def run(self, ctx: Any) -> None:
        self.remote.runs.append("dispatch" if "dispatch" not in self.remote.runs else "report")


@pytest.mark.parametrize("checks_while_running", [0, 3])
def test_work_an_effect_reveals_is_done_in_the_same_command(
    harness: Harness, checks_while_running: int
) -> None:
    """The run ends while settling (0) or while waiting (3): its failure is reported now,
    not by a re-run, and the step fails with the run's outcome."""
    remote = Remote()
    with pytest.raises(StepFailed, match="the tests failed"):
        Engine(harness.context()).run_stage("downstream", [RunsTests(remote, checks_while_running)])
    assert remote.runs == ["dispatch", "report"]
