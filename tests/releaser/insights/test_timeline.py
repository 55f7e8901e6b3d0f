"""A release's timeline from what the ledger and the forge hold (docs/report.md): stage runs
and their steps, workflow attempts with queue and run times, waits on people, totals.

The inputs are a ledger's entries as releaser writes them and the forge's answers in
GitHub's REST shapes (the same ``from_json`` the facade uses); the sandbox end-to-end test
(tests/releaser/commands/test_report.py) reads them from a real forge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from releaser.config import Config, load_config
from releaser.insights.gantt import COLORS, duration, rows
from releaser.insights.terminal import bar
from releaser.insights.timeline import (
    assemble,
    iso,
    people_waits,
    stage_runs,
    union_seconds,
    workflow_json,
)
from releaser.models import Job, PullRequest, Review, WorkflowRun
from releaser.version import Version

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)


def at(offset: float) -> str:
    return iso(T0 + timedelta(seconds=offset)) or ""


@pytest.fixture
def config(tmp_path: Path) -> Config:
    path = tmp_path / "releaser.toml"
    path.write_text(
        '[project]\nname = "Example"\nrepo = "acme/example"\n\n'
        '[[build.workflows]]\nfile = "build.yml"\n'
    )
    return load_config(path)


def stage(name: str, start: float, end: float, outcome: str = "done", **extra: Any) -> dict:
    return {
        "type": "stage",
        "stage": name,
        "outcome": outcome,
        "start": at(start),
        "end": at(end),
        "by": "alice",
        "host": "laptop",
        "at": at(end),
        **extra,
    }


def run_json(attempt: int, conclusion: str | None, created: float, started: float) -> dict:
    return {
        "id": 7,
        "name": "Build",
        "path": ".github/workflows/build.yml",
        "event": "push",
        "status": "completed" if conclusion else "in_progress",
        "conclusion": conclusion,
        "head_sha": "a" * 40,
        "head_branch": "v1.3.0-rc1",
        "html_url": "http://forge/acme/example/actions/runs/7",
        "run_attempt": attempt,
        "created_at": at(created),
        "run_started_at": at(started),
        "updated_at": at(started),
        "triggering_actor": {"login": "bob"},
    }


def job_json(attempt: int, conclusion: str, created: float, started: float, done: float) -> dict:
    return {
        "id": 70000 + attempt,
        "run_id": 7,
        "run_attempt": attempt,
        "name": "build",
        "status": "completed",
        "conclusion": conclusion,
        "html_url": f"http://forge/acme/example/actions/runs/7/job/{attempt}",
        "created_at": at(created),
        "started_at": at(started),
        "completed_at": at(done),
    }


def test_union_counts_overlaps_once() -> None:
    def span(a: float, b: float) -> tuple[datetime, datetime]:
        return T0 + timedelta(seconds=a), T0 + timedelta(seconds=b)

    assert union_seconds([span(0, 100), span(50, 200), span(500, 510)]) == 210
    assert union_seconds([span(0, 100), span(20, 30)]) == 100  # one inside the other
    assert union_seconds([span(0, 10), span(10, 20)]) == 20
    assert union_seconds([]) == 0


def test_stage_runs_in_release_order_with_attempts_steps_and_the_stopping_step() -> None:
    entries = [
        {"type": "claim", "at": at(0)},
        stage(
            "tag",
            0,
            5,
            steps={"push-tag": "done", "tag-commit-ready": "done"},
            times={"push-tag": [at(2), at(5)], "tag-commit-ready": [at(0), at(2)]},
        ),
        stage("start", 0, 1, steps={"tracking-issue": "done"}),
        stage(
            "build",
            10,
            130,
            "failed",
            steps={},
            times={},
            stopped={
                "step": "build-workflows",
                "status": "failed",
                "start": at(10),
                "end": at(130),
            },
        ),
        stage(
            "build",
            900,
            1020,
            steps={"build-workflows": "done", "skipped-one": "skipped"},
            times={"build-workflows": [at(900), at(1020)]},
        ),
    ]
    order = ("tracking-issue", "tag-commit-ready", "push-tag", "build-workflows")
    stages = stage_runs(entries, order)
    assert [s["stage"] for s in stages] == ["start", "tag", "build"]
    tag = stages[1]["runs"][0]
    assert [s["step"] for s in tag["steps"]] == ["tag-commit-ready", "push-tag"]  # plan order
    assert [s["seconds"] for s in tag["steps"]] == [2, 3]
    first, second = stages[2]["runs"]
    assert (first["attempt"], first["outcome"], first["stopped"], first["seconds"]) == (
        1,
        "failed",
        "build-workflows",
        120,
    )
    assert first["steps"] == [
        {
            "step": "build-workflows",
            "status": "failed",
            "start": at(10),
            "end": at(130),
            "seconds": 120,
        }
    ]
    assert (second["attempt"], second["stopped"]) == (2, None)
    assert [s["step"] for s in second["steps"]] == ["build-workflows"]  # skipped ones left out
    # Entries written before step times were recorded: steps without times.
    assert stages[0]["runs"][0]["steps"][0]["start"] is None


def test_workflow_attempts_and_jobs_queue_and_run_times() -> None:
    run = WorkflowRun.from_json(run_json(2, "success", 0, 900))
    jobs = [
        Job.from_json(job_json(1, "failure", 0, 24, 120)),
        Job.from_json(job_json(2, "success", 900, 924, 1020)),
    ]
    w = workflow_json("acme/example", run, jobs)
    assert (w["workflow"], w["reruns"], w["conclusion"]) == ("build.yml", 1, "success")
    one, two = w["attempts"]
    assert (one["conclusion"], one["queue_seconds"], one["run_seconds"]) == ("failure", 24, 96)
    assert (two["conclusion"], two["queue_seconds"], two["run_seconds"]) == ("success", 24, 96)
    assert (one["triggered_by"], two["triggered_by"]) == (None, "bob")
    assert (two["created"], two["completed"]) == (at(900), at(1020))
    # A run still going: no completion, the queue so far.
    running = WorkflowRun.from_json(run_json(1, None, 0, 0))
    queued = Job.from_json(
        job_json(1, "success", 0, 0, 0)
        | {"status": "queued", "conclusion": None, "completed_at": None}
    )
    (attempt,) = workflow_json("acme/example", running, [queued])["attempts"]
    assert attempt["completed"] is None and attempt["started"] is None
    assert attempt["conclusion"] is None


def _pull(number: int) -> PullRequest:
    return PullRequest.from_json(
        {
            "number": number,
            "state": "open",
            "head": {"ref": "release-v1.3", "sha": "b" * 40},
            "base": {"ref": "main"},
            "html_url": f"http://forge/acme/example/pull/{number}",
        }
    )


def _review(login: str, offset: float, state: str = "APPROVED") -> Review:
    return Review.from_json(
        {"id": offset, "user": {"login": login}, "state": state, "submitted_at": at(offset)}
    )


def test_people_waits_start_when_the_last_stage_run_before_them_ended() -> None:
    entries = [
        stage("prepare", 0, 60),
        stage("tag", 100, 130, "failed", stopped={"step": "push-tag", "status": "unknown"}),
        {
            "type": "answer",
            "step": "push-tag",
            "answer": "done",
            "evidence": "http://x/1",
            "by": "carol",
            "host": "desk",
            "at": at(700),
        },
        stage("build", 800, 920),
    ]
    stages = stage_runs(entries)
    approvals = [(_pull(4), _review("bob", 400)), (_pull(4), _review("eve", 99999))]
    run = WorkflowRun.from_json(run_json(2, "success", 800, 1500))
    jobs = [
        Job.from_json(job_json(1, "failure", 800, 810, 900)),
        Job.from_json(job_json(2, "success", 1500, 1510, 1600)),
    ]
    workflows = [workflow_json("acme/example", run, jobs)]
    window = (T0, T0 + timedelta(seconds=1600))
    waits = people_waits(entries, stages, approvals, workflows, window)
    assert [(w["kind"], w["who"], w["start"], w["end"], w["seconds"]) for w in waits] == [
        ("approval", "bob", at(130), at(400), 270),  # since the tag run stopped
        ("answer", "carol", at(130), at(700), 570),
        ("rerun", "bob", at(900), at(1500), 600),  # since the failed attempt ended
    ]  # eve approved long after the release: not one of its waits
    assert waits[1]["what"] == "confirmed push-tag" and waits[1]["url"] == "http://x/1"


def test_assemble_totals_and_build_figures(config: Config) -> None:
    entries = [
        stage("start", 0, 0),
        stage("tag", 600, 600),
        stage("build", 600, 720, "failed", stopped={"step": "build-workflows", "status": "failed"}),
        stage("build", 1620, 1740),
        stage("next", 1740, 1800),
    ]
    run = WorkflowRun.from_json(run_json(2, "success", 600, 1620))
    jobs = [
        Job.from_json(job_json(1, "failure", 600, 624, 720)),
        Job.from_json(job_json(2, "success", 1620, 1644, 1740)),
    ]
    now = T0 + timedelta(hours=5)
    doc = assemble(
        config,
        Version.parse("1.3.0-rc1"),
        entries,
        [("acme/example", run, jobs)],
        [(_pull(4), _review("bob", 300))],
        now,
    )
    assert (doc["release"], doc["kind"], doc["ledger"]) == ("v1.3.0-rc1", "rc", True)
    assert (doc["start"], doc["end"]) == (at(0), at(1800))
    assert doc["totals"] == {
        "duration_seconds": 1800,
        "stage_seconds": 120 + 120 + 60,
        "ci_seconds": 240,
        "ci_queue_seconds": 48,
        "people_seconds": 300 + 900,  # the approval since start; the re-run since the failure
        "reruns": 1,
        "stage_retries": 1,
    }
    assert doc["build"] == {
        "workflows": ["build.yml"],
        "attempts": 2,
        "median_seconds": 120,
        "median_queue_seconds": 24,
        "success_rate": 0.5,
    }
    # The chart's rows: stage runs, then jobs per attempt (queue then run), then people.
    chart = rows(doc, now)
    runs = [r for r in chart if r.group == "stages" and not r.indent]
    assert [[s.kind for s in r.segments] for r in runs] == [
        ["stage"],
        ["stage"],
        ["stage-stopped"],
        ["stage"],
        ["stage"],
    ]
    assert runs[2].attrs == {"stage": "build", "attempt": "1"}
    assert [r.label for r in runs] == ["start #1", "tag #1", "build #1", "build #2", "next #1"]
    kinds = [[s.kind for s in r.segments] for r in chart if r.group != "stages"]
    assert kinds == [["queue", "run-failed"], ["queue", "run"], ["people"], ["people"]]


def test_a_release_without_a_ledger_still_has_its_ci_figures(config: Config) -> None:
    run = WorkflowRun.from_json(run_json(1, "success", 0, 0))
    jobs = [Job.from_json(job_json(1, "success", 0, 30, 330))]
    doc = assemble(
        config,
        Version.parse("1.1.0"),
        [],
        [("acme/example", run, jobs)],
        [],
        T0 + timedelta(hours=1),
    )
    assert doc["ledger"] is False and doc["stages"] == [] and doc["drivers"] == []
    assert doc["totals"]["duration_seconds"] == 330 and doc["totals"]["ci_seconds"] == 330
    assert doc["build"]["median_queue_seconds"] == 30


def test_durations_and_terminal_bars() -> None:
    assert [duration(s) for s in (None, 0, 48, 245, 3720, 90000)] == [
        "-",
        "0s",
        "48s",
        "4m05s",
        "1h02m",
        "25h00m",
    ]
    entries = [stage("build", 0, 100), stage("publish", 100, 100)]
    doc_rows = rows({"stages": stage_runs(entries), "workflows": [], "people": []})
    console = Console(width=80, color_system="truecolor", force_terminal=True)
    with console.capture() as capture:
        console.print(bar(doc_rows[0], T0, 200, width=10))
        console.print(bar(doc_rows[1], T0, 200, width=10))
    first, second = capture.get().splitlines()
    assert first.count("█") == 5 and second.count("█") == 1  # an instant still shows
    green = COLORS["stage"].lstrip("#")
    rgb = ";".join(str(int(green[i : i + 2], 16)) for i in (0, 2, 4))
    assert f"38;2;{rgb}m" in first
