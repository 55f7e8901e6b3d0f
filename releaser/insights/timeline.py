"""One release's timeline, from its ledger and the forge (the ``release`` object of
docs/report.md).

- **Stage runs** are the ledger's ``stage`` entries: who ran which stage from where, when,
  how it ended, when each step ran (``times``) and the step that stopped it (``stopped``).
  A stage run more than once has attempts 1, 2, ...
- **Workflow runs** are those whose branch is the release tag (what the tag push started,
  what was dispatched on the tag), plus the configured workflows dispatched on another ref
  or repository during the release; each with every attempt (a re-run is an attempt) and
  every job's queue time (created to started) and run time (started to completed).
- **Waiting on people**: an operator's answer, an approval of the release pull request, a
  re-run of a failed workflow. Each ends a wait that began when the last stage run before it
  ended (a re-run: when the failed attempt ended), within the release.
- **Totals**: the release lasted from its first ledger record (or workflow run) to its last;
  time waiting on CI is the union of its workflow attempts, on people the union of the waits
  above, so overlapping waits count once.

All reads go through the forge facade (memoised, conditional GETs) and one ledger read per
release: a report over many releases costs a handful of requests per release.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from releaser.models import Job, PullRequest, Review, WorkflowRun
from releaser.stages import STAGES

if TYPE_CHECKING:
    from releaser.clients.github import GitHubAPI
    from releaser.config import Config
    from releaser.forge import Forge
    from releaser.version import Version

FAILED = ("failure", "cancelled", "timed_out", "startup_failure")
Interval = tuple[datetime, datetime]


# -- time --------------------------------------------------------------------------------


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(text: Any) -> datetime | None:
    """A ledger or API time (``2026-01-31T12:00:00Z``) as an aware datetime, or None."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, round((end - start).total_seconds()))


def union_seconds(intervals: Iterable[Interval]) -> int:
    """How long at least one of ``intervals`` was open (overlaps count once)."""
    total = 0.0
    current: Interval | None = None
    for start, end in sorted(i for i in intervals if i[1] >= i[0]):
        if current is None or start > current[1]:
            if current is not None:
                total += (current[1] - current[0]).total_seconds()
            current = (start, end)
        elif end > current[1]:
            current = (current[0], end)
    if current is not None:
        total += (current[1] - current[0]).total_seconds()
    return round(total)


def median(values: list[int]) -> int | None:
    return round(statistics.median(values)) if values else None


# -- reading -------------------------------------------------------------------------------


@dataclass
class Reader:
    """The reads of a report: the ledger of a release, and the forge through its facade."""

    config: Config
    forge: Forge
    api: GitHubAPI
    step_order: tuple[str, ...] = ()  # every step's name in release order (steps.PLANS)

    def ledger(self, tag: str) -> list[dict[str, Any]]:
        """The release's ledger entries (two GETs; none when it has no ledger)."""
        from releaser.ledger_store import ForgeRefStore

        store = ForgeRefStore(self.api, self.forge.repo, f"releaser/{tag}")
        _, doc = store.read()
        return [e for e in doc.get("entries", []) if isinstance(e, dict)]

    def runs(
        self, version: Version, tag: str, window: Interval | None
    ) -> list[tuple[str, WorkflowRun]]:
        """(repo, run) of every workflow run of the release, oldest first."""
        found = [
            (self.forge.repo, r) for r in self.forge.runs_of(branch=tag) if r.head_branch == tag
        ]
        seen = {(repo, r.id) for repo, r in found}
        for w in getattr(self.config.build, "workflows", None) or []:
            if not w.applies(version):
                continue
            repo = str(w.get("repo") or self.forge.repo)
            ref = self.config.render(str(w.ref), version) if w.get("ref") else tag
            if (repo == self.forge.repo and ref == tag) or window is None:
                continue  # the tag's runs are listed above; others need the release's window
            begin = window[0] - timedelta(seconds=60)
            during = f"{iso(begin)}..{iso(window[1])}"
            for r in self.forge.other(repo).runs(str(w.file), branch=ref, created=during):
                created = r.created_at
                if created is None or (repo, r.id) in seen:
                    continue
                if begin <= created <= window[1]:
                    found.append((repo, r))
                    seen.add((repo, r.id))
        return sorted(found, key=lambda pair: (pair[1].created_at or _EPOCH, pair[1].id))

    def jobs(self, repo: str, run: WorkflowRun) -> list[Job]:
        return self.forge.other(repo).jobs(run.id, all_attempts=True)

    def approvals(self, version: Version) -> list[tuple[PullRequest, Review]]:
        """Approving reviews of the pull requests from the release's version branch."""
        project = self.config.project
        branch = self.config.version_branch_for(version)
        bases = [str(project.default_branch)]
        if project.release_branch:
            bases.insert(0, self.config.render(str(project.release_branch), version))
        found = []
        for base in dict.fromkeys(bases):
            for pull in self.forge.pulls(branch, base):
                for review in self.forge.reviews(pull.number):
                    if review.state == "APPROVED" and review.submitted_at is not None:
                        found.append((pull, review))
        return found


_EPOCH = datetime.fromtimestamp(0, UTC)


# -- the ledger's stage runs -----------------------------------------------------------------


def stage_runs(
    entries: list[dict[str, Any]], step_order: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """The stage runs of the ledger in release order (``stages`` of the document); steps
    in ``step_order`` (the ledger keeps them by name)."""
    rank = {name: i for i, name in enumerate(step_order)}
    attempts: Counter[str] = Counter()
    by_stage: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        if e.get("type") != "stage":
            continue
        start, end = parse(e.get("start")), parse(e.get("end"))
        if start is None or end is None:
            continue
        stage = str(e.get("stage") or "?")
        attempts[stage] += 1
        times: dict[str, Any] = e["times"] if isinstance(e.get("times"), dict) else {}
        steps = []
        for name, status in (e.get("steps") or {}).items():
            if status in ("skipped", "planned"):
                continue
            span = times.get(name) or [None, None]
            steps.append(_step(str(name), str(status), span[0], span[1]))
        steps.sort(key=lambda step: rank.get(step["step"], len(rank)))
        stopped: dict[str, Any] | None = (
            e["stopped"] if isinstance(e.get("stopped"), dict) else None
        )
        if stopped:
            status = str(stopped.get("status") or "failed")
            steps.append(
                _step(str(stopped.get("step")), status, stopped.get("start"), stopped.get("end"))
            )
        by_stage.setdefault(stage, []).append(
            {
                "attempt": attempts[stage],
                "by": str(e.get("by") or ""),
                "host": str(e.get("host") or ""),
                "start": iso(start),
                "end": iso(end),
                "seconds": seconds(start, end),
                "outcome": str(e.get("outcome") or ""),
                "stopped": str(stopped.get("step")) if stopped else None,
                "steps": steps,
            }
        )
    order = [s for s in STAGES if s in by_stage] + [s for s in by_stage if s not in STAGES]
    return [{"stage": s, "runs": by_stage[s]} for s in order]


def _step(name: str, status: str, start: Any, end: Any) -> dict[str, Any]:
    return {
        "step": name,
        "status": status,
        "start": start,
        "end": end,
        "seconds": seconds(parse(start), parse(end)),
    }


# -- workflow runs ---------------------------------------------------------------------------


def workflow_json(repo: str, run: WorkflowRun, jobs: list[Job]) -> dict[str, Any]:
    """A run with its attempts and their jobs (``workflows`` of the document)."""
    grouped: dict[int, list[Job]] = {}
    for job in jobs:
        if job.run_id in (0, run.id):
            grouped.setdefault(job.run_attempt, []).append(job)
    grouped.setdefault(run.run_attempt, [])
    attempts = [_attempt(run, n, grouped[n]) for n in sorted(grouped)]
    return {
        "workflow": run.path.rsplit("/", 1)[-1] or run.name,
        "name": run.name,
        "repo": repo,
        "run_id": run.id,
        "url": run.html_url,
        "event": run.event,
        "ref": run.head_branch,
        "status": run.status,
        "conclusion": run.conclusion,
        "created": iso(run.created_at),
        "reruns": len(attempts) - 1,
        "attempts": attempts,
    }


def _attempt(run: WorkflowRun, number: int, jobs: list[Job]) -> dict[str, Any]:
    latest = number == run.run_attempt
    created = min((j.created_at for j in jobs if j.created_at), default=None)
    if created is None:
        created = run.run_started_at if latest else (run.created_at if number == 1 else None)
    started_jobs = [j.started_at for j in jobs if j.started_at and j.status != "queued"]
    started = min(started_jobs, default=None)
    done = bool(jobs) and all(j.status == "completed" for j in jobs)
    completed = max((j.completed_at for j in jobs if j.completed_at), default=None)
    if latest and not run.active:
        done = True
        completed = completed or run.updated_at
    if not done:
        completed = None
    if latest:
        conclusion = run.conclusion if not run.active else None
    else:
        found = [j.conclusion for j in jobs if j.conclusion in FAILED]
        conclusion = found[0] if found else ("success" if done else None)
    return {
        "attempt": number,
        "conclusion": conclusion,
        "triggered_by": run.triggering_actor if latest else None,
        "created": iso(created),
        "started": iso(started),
        "completed": iso(completed),
        "queue_seconds": seconds(created, started),
        "run_seconds": seconds(started, completed),
        "jobs": [_job(j) for j in jobs],
    }


def _job(job: Job) -> dict[str, Any]:
    started = job.started_at if job.status != "queued" else None
    return {
        "name": job.name,
        "status": job.status,
        "conclusion": job.conclusion,
        "created": iso(job.created_at),
        "started": iso(started),
        "completed": iso(job.completed_at),
        "queue_seconds": seconds(job.created_at, started),
        "run_seconds": seconds(started, job.completed_at),
        "url": job.html_url,
    }


# -- waiting on people -----------------------------------------------------------------------


def people_waits(
    entries: list[dict[str, Any]],
    stages: list[dict[str, Any]],
    approvals: list[tuple[PullRequest, Review]],
    workflows: list[dict[str, Any]],
    window: Interval | None,
) -> list[dict[str, Any]]:
    """Answers, approvals and re-runs, each with the wait it ended (``people``)."""
    ends = sorted(t for s in stages for r in s["runs"] if (t := parse(r["end"])) is not None)
    begin = window[0] if window else None

    def since(moment: datetime) -> datetime:
        before = [t for t in ends if t <= moment]
        start = before[-1] if before else (begin or moment)
        return min(start, moment)

    waits: list[dict[str, Any]] = []

    def add(kind: str, who: str, what: str, start: datetime, end: datetime, url: Any) -> None:
        waits.append(
            {
                "kind": kind,
                "who": who,
                "what": what,
                "start": iso(start),
                "end": iso(end),
                "seconds": seconds(start, end),
                "url": str(url) if url else None,
            }
        )

    for e in entries:
        at = parse(e.get("at"))
        if e.get("type") != "answer" or at is None:
            continue
        step = str(e.get("step") or "?")
        what = f"confirmed {step}" if e.get("answer") == "done" else f"asked to redo {step}"
        add("answer", str(e.get("by") or ""), what, since(at), at, e.get("evidence"))
    for pull, review in approvals:
        at = review.submitted_at
        if at is None or window is None or not window[0] <= at <= window[1]:
            continue
        url = review.html_url or pull.html_url
        add("approval", review.user, f"approved PR #{pull.number}", since(at), at, url)
    for w in workflows:
        attempts = w["attempts"]
        for before, after in itertools.pairwise(attempts):
            failed, again = parse(before["completed"]), parse(after["created"])
            if failed is None or again is None or again < failed:
                continue
            what = f"re-ran {w['workflow']} (attempt {after['attempt']})"
            add("rerun", after["triggered_by"] or "", what, failed, again, w["url"])
    return sorted(waits, key=lambda x: (x["end"] or "", x["kind"]))


# -- the whole release -----------------------------------------------------------------------


def _window(entries: list[dict[str, Any]], workflows: list[dict[str, Any]]) -> Interval | None:
    moments = [parse(e.get(k)) for e in entries for k in ("at", "start", "end")]
    for w in workflows:
        for a in w["attempts"]:
            moments += [parse(a["created"]), parse(a["completed"])]
    found = [m for m in moments if m is not None]
    return (min(found), max(found)) if found else None


def build_figures(
    config: Config, version: Version, workflows: list[dict[str, Any]]
) -> dict[str, Any]:
    """The build workflows' figures over every attempt of this release (``build``)."""
    files = [
        str(w.file).rsplit("/", 1)[-1]
        for w in getattr(config.build, "workflows", None) or []
        if str(w.get("stage") or "build") == "build" and w.applies(version)
    ]
    chosen = [w for w in workflows if not files or w["workflow"] in files]
    attempts = [a for w in chosen for a in w["attempts"] if a["completed"]]
    durations = [seconds(parse(a["created"]), parse(a["completed"])) for a in attempts]
    queues = [a["queue_seconds"] for a in attempts if a["queue_seconds"] is not None]
    successes = sum(1 for a in attempts if a["conclusion"] == "success")
    return {
        "workflows": files or sorted({w["workflow"] for w in workflows}),
        "attempts": len(attempts),
        "median_seconds": median([d for d in durations if d is not None]),
        "median_queue_seconds": median(queues),
        "success_rate": round(successes / len(attempts), 3) if attempts else None,
    }


def release_report(reader: Reader, version: Version, now: datetime) -> dict[str, Any]:
    """The ``release`` object of the report document for ``version``, read from the forge."""
    tag = reader.config.tag_for(version)
    entries = reader.ledger(tag)
    runs = [
        (repo, run, reader.jobs(repo, run))
        for repo, run in reader.runs(version, tag, _window(entries, []))
    ]
    approvals = reader.approvals(version) if entries or runs else []
    return assemble(reader.config, version, entries, runs, approvals, now, reader.step_order)


def assemble(
    config: Config,
    version: Version,
    entries: list[dict[str, Any]],
    runs: list[tuple[str, WorkflowRun, list[Job]]],
    approvals: list[tuple[PullRequest, Review]],
    now: datetime,
    step_order: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The ``release`` object from what was read: the ledger's entries, the workflow runs
    with their jobs (every attempt), the approving reviews of the release's pull requests."""
    stages = stage_runs(entries, step_order)
    workflows = [workflow_json(repo, run, jobs) for repo, run, jobs in runs]
    window = _window(entries, workflows)
    people = people_waits(entries, stages, approvals, workflows, window)
    ci = [
        (c, parse(a["completed"]) or now)
        for w in workflows
        for a in w["attempts"]
        if (c := parse(a["created"])) is not None
    ]
    queued = [
        (c, s)
        for w in workflows
        for a in w["attempts"]
        if (c := parse(a["created"])) and (s := parse(a["started"]))
    ]
    waits = [
        (s, e) for p in people if (s := parse(p["start"])) is not None and (e := parse(p["end"]))
    ]
    stage_spans = [
        (s, e)
        for stage in stages
        for r in stage["runs"]
        if (s := parse(r["start"])) and (e := parse(r["end"]))
    ]
    drivers = sorted({r["by"] for stage in stages for r in stage["runs"] if r["by"]})
    return {
        "release": config.tag_for(version),
        "version": str(version),
        "kind": version.kind,
        "ledger": bool(entries),
        "start": iso(window[0]) if window else None,
        "end": iso(window[1]) if window else None,
        "drivers": drivers,
        "stages": stages,
        "workflows": workflows,
        "people": people,
        "totals": {
            "duration_seconds": seconds(*window) if window else None,
            "stage_seconds": union_seconds(stage_spans),
            "ci_seconds": union_seconds(ci),
            "ci_queue_seconds": union_seconds(queued),
            "people_seconds": union_seconds(waits),
            "reruns": sum(w["reruns"] for w in workflows),
            "stage_retries": sum(len(stage["runs"]) - 1 for stage in stages),
        },
        "build": build_figures(config, version, workflows),
    }
