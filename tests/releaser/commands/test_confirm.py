"""`releaser confirm` and answers at prompts: one place (the ledger on the forge), so nobody is
asked the same question twice on any machine; the tracking issue ticks the item with a link."""

from __future__ import annotations

import json
from typing import Any

import pytest

import steps
from releaser import prompts
from releaser.checklist import find_tracking_issue, ticked
from releaser.context import Options
from releaser.step import Outcome, Step
from steps.start import TrackingIssue
from tests.machines import Machine, ledger_entries
from tests.steps.conftest import Project

VERSION = "v1.2.0-rc1"
EVIDENCE = "https://forum.example/t/example-1-2-0-rc1/42"


class ForumPost(Step):
    """Announce the release candidate on the forum.

    Why: testers follow the forum, not the repository.
    By hand: post the changelog in the "Releases" category, then confirm with its URL.
    """

    name = "forum-post"
    manual = True

    def check(self, ctx: Any) -> Outcome:
        return Outcome.unknown("has the release been announced on the forum?")


@pytest.fixture
def forum(monkeypatch: pytest.MonkeyPatch) -> None:
    """`start` gains a manual step the forge can't check."""
    monkeypatch.setitem(steps.PLANS, "start", [TrackingIssue(), ForumPost()])


def _no_prompts(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("asked again")

    for name in ("choose", "text", "confirm"):
        monkeypatch.setattr(prompts, name, refuse)


def test_an_answer_at_a_prompt_is_never_asked_again_on_any_machine(
    project: Project, forum: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from releaser.commands.stage import run_stages

    alice = Machine(project, "a", "alice", "laptop-a")
    bob = Machine(project, "b", "bob", "desktop-b")
    asked: list[str] = []
    monkeypatch.setattr(Options, "interactive", property(lambda self: not self.non_interactive))

    def choose(message: str, choices: list[str]) -> str:
        asked.append(message)
        return choices[0]  # "done, with a link as evidence"

    monkeypatch.setattr(prompts, "choose", choose)
    monkeypatch.setattr(prompts, "text", lambda m, default="": EVIDENCE)
    ctx = alice.context(VERSION, non_interactive=False)
    run_stages(ctx, ["start"])
    assert asked == ["forum-post: has the release been announced on the forum?"]

    _no_prompts(monkeypatch)
    result = bob.cli("--non-interactive", "start", VERSION)
    assert result.exit_code == 0, result.output[-2000:]
    assert "confirmed by alice" in result.output
    run_stages(alice.context(VERSION, non_interactive=False), ["start"])  # alice: not asked

    answers = [e for e in ledger_entries(project, VERSION) if e["type"] == "answer"]
    assert [(e["step"], e["by"], e["host"], e["evidence"]) for e in answers] == [
        ("forum-post", "alice", "laptop-a", EVIDENCE)
    ]
    carol = Machine(project, "c", "carol", "laptop-c")
    status = json.loads(carol.cli("status", VERSION, "--json").stdout)
    (row,) = [s for st in status["stages"] for s in st["steps"] if s["step"] == "forum-post"]
    assert row["status"] == "done" and row["evidence"] == EVIDENCE
    assert row["answer"]["by"] == "alice" and row["answer"]["host"] == "laptop-a"
    issue = find_tracking_issue(carol.context(VERSION))
    assert issue is not None and "forum-post" in ticked(issue.body)
    assert f"([evidence]({EVIDENCE}))" in issue.body


def test_a_question_exits_3_then_confirm_records_it_once(
    project: Project, forum: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_prompts(monkeypatch)
    alice = Machine(project, "a", "alice", "laptop-a")
    bob = Machine(project, "b", "bob", "desktop-b")
    asked = alice.cli("start", VERSION)
    assert asked.exit_code == 3, asked.output[-2000:]
    assert "has the release been announced on the forum?" in asked.output
    assert "releaser confirm v1.2.0-rc1 forum-post --evidence URL" in asked.output

    confirmed = bob.cli("confirm", VERSION, "forum-post", "--evidence", EVIDENCE)
    assert confirmed.exit_code == 0, confirmed.output
    assert "nobody will be asked again" in confirmed.output
    issue = find_tracking_issue(bob.context(VERSION))
    assert issue is not None and "forum-post" in ticked(issue.body)
    assert f"([evidence]({EVIDENCE}))" in issue.body

    mark = len(project.requests())
    again = alice.cli("start", VERSION)
    assert again.exit_code == 0, again.output[-2000:]
    assert "confirmed by bob" in again.output
    assert project.writes_since(mark) == []  # everything done: not even a claim

    same = alice.cli("confirm", VERSION, "forum-post", "--evidence", EVIDENCE)
    assert same.exit_code == 0 and "already confirmed by bob" in same.output
    assert project.writes_since(mark) == []

    newer = "https://forum.example/t/example-1-2-0-rc1/43"
    assert alice.cli("confirm", VERSION, "forum-post", "--evidence", newer).exit_code == 0
    answers = [e for e in ledger_entries(project, VERSION) if e["type"] == "answer"]
    assert [(e["by"], e["evidence"]) for e in answers] == [("bob", EVIDENCE), ("alice", newer)]


def test_confirm_refuses_bad_input_and_writes_nothing(project: Project, forum: None) -> None:
    alice = Machine(project, "a", "alice", "laptop-a")
    mark = len(project.requests())
    unknown = alice.cli("confirm", VERSION, "no-such-step", "--evidence", EVIDENCE)
    assert unknown.exit_code == 2 and "no step named 'no-such-step'" in unknown.output
    assert "forum-post" in unknown.output  # the hint lists the steps
    not_url = alice.cli("confirm", VERSION, "forum-post", "--evidence", "posted it")
    assert not_url.exit_code == 2 and "evidence must be a URL" in not_url.output
    final_only = alice.cli("confirm", VERSION, "merge-release-pr", "--evidence", EVIDENCE)
    assert final_only.exit_code == 2 and "not part of a rc release" in final_only.output
    assert project.writes_since(mark) == []


def test_a_token_in_the_evidence_never_reaches_the_ledger_or_the_output(
    project: Project, forum: None
) -> None:
    alice = Machine(project, "a", "alice", "laptop-a")
    leaky = f"https://forum.example/t/1?access_token={project.token}"
    result = alice.cli("confirm", VERSION, "forum-post", "--evidence", leaky)
    assert result.exit_code == 0, result.output
    assert project.token not in result.output
    raw = project.file("ledger.json", f"refs/releaser/{VERSION}")
    assert raw is not None and project.token not in raw
    (answer,) = [e for e in json.loads(raw)["entries"] if e["type"] == "answer"]
    assert answer["evidence"] == "https://forum.example/t/1?access_token=***"
