"""`releaser status VERSION [--json]`: the live state of a release, from any machine.

Nothing local is consulted: every step that applies to this release is checked (read-only)
against the forge and the services, every check started at once (at most ``[engine]
concurrency`` requests in flight to the forge; with ``concurrency = 1`` one check after
another), and the ledger (``refs/releaser/<tag>``) is read once for operator answers, the
claim and the last entries. It writes nothing, so it is safe to
run any time, anywhere.

``--json`` prints one JSON object. This docstring is its reference; the format is stable:
keys are only ever added (``format`` changes if one is renamed or removed)::

    {
      "format": 1,
      "release": "v1.2.0-rc1",            # the tag
      "version": "1.2.0-rc1",
      "kind": "rc",                       # rc | final | patch
      "repo": "acme/example",
      "checked_at": "2026-01-31T12:00:00Z",
      "claim": null | {                   # the live claim (null: nobody is driving)
        "driver": "alice", "host": "laptop", "stage": "build",
        "since": "2026-01-31T11:50:00Z", "expires": "2026-01-31T12:05:00Z",
        "login": "alice-gh"               # the forge identity owning it
      },
      "stale_claim": null | { ... },      # a claim whose lease expired, not released
      "stages": [                         # release order; stages with applicable steps
        {
          "stage": "prepare",
          "command": "releaser prepare v1.2.0-rc1",
          "steps": [
            {
              "step": "release-pr",       # the step's stable name
              "status": "done",           # done | todo | running | blocked | failed | unknown
              "detail": "PR #4 (open)",   # one line: what the check found
              "evidence": "https://..." | null,   # URL, sha or id
              "answer": null | {          # set when done because an operator confirmed it
                "by": "bob", "host": "desk", "at": "2026-01-31T11:00:00Z"
              }
            }
          ]
        }
      ],
      "ledger": [ ... ],                  # the last 10 ledger entries, oldest first, as
                                          # stored (see releaser.ledger: type, by, host, at...)
      "approvals": [                      # steps of [gates] approve that apply (release order)
        {
          "step": "push-tag", "stage": "tag",
          "state": "pending",             # given | pending | done (done without one)
          "subject": "tag v1.2.0-rc1 on 3f2a..." | null,   # what an approval must name now
                                          # (null: the step has none, or it isn't known yet)
          "approvers": ["@acme/release"], # [gates] approvers (empty: write access suffices)
          "who": "a member of @acme/release",              # the same, in words
          "command": "releaser approve 1.2.0-rc1 push-tag",
          "given": [                      # every recorded approval, newest first
            {"login": "bob", "subject": "...", "at": "...", "host": "desk",
             "counts": true, "reason": "member of @acme/release"}   # reason: as what it
          ]                               # counts, or why not (another subject, no right)
        }
      ],
      "next": "releaser tag 1.2.0-rc1" | "releaser confirm 1.2.0-rc1 STEP --evidence URL"
              | "releaser approve 1.2.0-rc1 STEP"
              | null                      # null: every step is done
    }

An approval by the driver themselves never counts when they run the step; ``counts`` here
takes the release's last driver (the forge user of the ledger's latest claim) as the driver.

Exit code 0 whatever the release's state (the state is the output); 1 when the forge can't
be read at all.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from rich.markup import escape
from rich.table import Table

from releaser import approvals
from releaser.errors import ReleaserError, describe_exception
from releaser.ledger import Answer, iso, last_claim, live_claim, utcnow
from releaser.step import Outcome, Pending, Status, Step, skip_reason

if TYPE_CHECKING:
    from releaser.context import Context

FORMAT = 1
TOP_KEYS = (
    "format",
    "release",
    "version",
    "kind",
    "repo",
    "checked_at",
    "claim",
    "stale_claim",
    "stages",
    "ledger",
    "next",
    "approvals",
)
STEP_KEYS = ("step", "status", "detail", "evidence", "answer")
RECENT = 10
T = TypeVar("T")


def _check(ctx: Context, step: Step) -> Outcome:
    try:
        with ctx.running(step):
            return step.check(ctx)
    except Pending as pending:  # not in status (nothing is planned), but be safe
        return Outcome.blocked(f"waits for {pending.by}")
    except ReleaserError as exc:
        return Outcome.failed(exc.message)
    except Exception as exc:
        return Outcome.failed(f"checking failed: {describe_exception(exc)}")


def _answers(entries: list[dict[str, Any]]) -> dict[str, Answer]:
    """The latest "done" answer of every step."""
    found: dict[str, Answer] = {}
    for e in entries:
        if e.get("type") == "answer":
            step = str(e.get("step"))
            if e.get("answer") == "done":
                found[step] = Answer(
                    step, "done", e.get("evidence"), e["by"], e["at"], e.get("host", "")
                )
            else:
                found.pop(step, None)
    return found


def collect(ctx: Context) -> dict[str, Any]:
    """The whole status document (see the module docstring)."""
    plans = ctx.plans
    forge, ledger, _ = ctx.forge, ctx.ledger, ctx.services  # made before the pool shares them
    ledger.frozen = True  # read once, by whichever thread asks first
    work = [
        (stage, step)
        for stage, steps in plans.items()
        for step in steps
        if skip_reason(step, ctx) is None
    ]
    workers = max(1, int(ctx.config.engine.concurrency))
    if workers > 1:
        # Every check starts at once: most of them spend their time waiting on a shared
        # result another check is computing (the memo's lock), not on a request of their own,
        # so a smaller pool would only queue checks whose inputs are already known.
        workers = max(workers, len(work) + 2)
    go = threading.Event()

    def when_all_started(read: Callable[..., T], *args: Any) -> T:
        go.wait()
        return read(*args)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="status") as pool:
        # the repository, the ledger and every check at once: the checks that need the
        # repository wait for that one read (the memo), the others don't. The threads are
        # all started before any works: a thread started while others run waits for the
        # interpreter's lock, and the last check would start long after the first.
        repository = pool.submit(when_all_started, forge.repository)
        entries_future: Future[list[dict[str, Any]]] = pool.submit(
            when_all_started, ledger.snapshot
        )
        futures = [pool.submit(when_all_started, _check, ctx, step) for _, step in work]
        go.set()
        repository.result()  # the forge can't be read at all: the error, not a table of them
        entries = entries_future.result()
        outcomes = [f.result() for f in futures]
    answers = _answers(entries)
    stages: dict[str, list[dict[str, Any]]] = {stage: [] for stage in plans}
    next_command = None
    for (stage, step), outcome in zip(work, outcomes, strict=True):
        answer = answers.get(step.name) if outcome.status is Status.UNKNOWN else None
        if answer is not None:
            outcome = Outcome.done(f"confirmed by {answer.by} at {answer.at}", answer.evidence)
        stages[stage].append(
            {
                "step": step.name,
                "status": outcome.status.value,
                "detail": outcome.detail,
                "evidence": outcome.evidence,
                "answer": (
                    {"by": answer.by, "host": answer.host, "at": answer.at} if answer else None
                ),
            }
        )
        if next_command is None and outcome.status is not Status.DONE:
            if outcome.status is Status.UNKNOWN:
                next_command = f"releaser confirm v{ctx.version} {step.name} --evidence URL"
            else:
                next_command = f"releaser {stage} v{ctx.version}"
    gated = _approvals(ctx, work, outcomes)
    first_open = next(
        (step for (_, step), o in zip(work, outcomes, strict=True) if o.status is not Status.DONE),
        None,
    )
    for row in gated:
        if first_open is not None and row["step"] == first_open.name and row["state"] == "pending":
            next_command = row["command"]
    now = utcnow(ctx.now)
    holder = live_claim(entries, now)
    stale = last_claim(entries) if holder is None else None
    return {
        "format": FORMAT,
        "release": ctx.tag,
        "version": str(ctx.version),
        "kind": ctx.version.kind,
        "repo": ctx.repo_name,
        "checked_at": iso(utcnow(ctx.now)),
        "claim": holder.as_json() if holder else None,
        "stale_claim": stale.as_json() if stale is not None else None,
        "stages": [
            {"stage": s, "command": f"releaser {s} v{ctx.version}", "steps": rows}
            for s, rows in stages.items()
            if rows
        ],
        "ledger": entries[-RECENT:],
        "approvals": gated,
        "next": next_command,
    }


def _approvals(
    ctx: Context, work: list[tuple[str, Step]], outcomes: list[Outcome]
) -> list[dict[str, Any]]:
    """The approvals of the steps ``[gates] approve`` names (see the module docstring)."""
    rows = []
    for (stage, step), outcome in zip(work, outcomes, strict=True):
        if not approvals.required(ctx, step):
            continue
        try:
            subject = approvals.subject_of(ctx, step)
        except (ReleaserError, Pending):
            subject = None  # nothing to approve yet (the tag's commit isn't known, say)
        verdicts = approvals.judge(ctx, step, subject, ctx.ledger.last_driver_login())
        if any(v.counts for v in verdicts):
            state = "given"
        else:
            state = "done" if outcome.status is Status.DONE else "pending"
        rows.append(
            {
                "step": step.name,
                "stage": stage,
                "state": state,
                "subject": subject,
                "approvers": approvals.approvers(ctx),
                "who": approvals.who_may_approve(ctx),
                "command": approvals.approve_command(ctx, step),
                "given": [v.as_json() for v in verdicts],
            }
        )
    return rows


def describe_entry(e: dict[str, Any]) -> str:
    """One line for a ledger entry (the text view)."""
    kind = str(e.get("type", "?"))
    who = f"{e.get('by', e.get('driver', '?'))}@{e.get('host', '?')}"
    if kind == "stage":
        what = f"ran {e.get('stage')}: {e.get('outcome')} ({e.get('start')} -> {e.get('end')})"
    elif kind == "claim":
        taken = f", took it over from {e['took_over_from']}" if e.get("took_over_from") else ""
        what = f"claimed the release ({e.get('stage')}) until {e.get('expires')}{taken}"
    elif kind == "unclaim":
        what = f"released the claim ({e.get('stage', '')})"
    elif kind == "answer":
        evidence = f" ({e['evidence']})" if e.get("evidence") else ""
        what = f"confirmed {e.get('step')}: {e.get('answer')}{evidence}"
    elif kind == "intent":
        what = f"about to {e.get('detail')} ({e.get('step')})"
    elif kind == "result":
        what = f"did {e.get('key')} ({e.get('step')}): {e.get('evidence') or 'no evidence'}"
    elif kind == "approval":
        what = f"{e.get('login')} approved {e.get('step')}: {e.get('subject') or 'the step'}"
    else:
        what = kind
    return f"{e.get('at', '')} {who} {what}"


def show_status(ctx: Context, as_json: bool) -> None:
    data = collect(ctx)
    ui = ctx.ui
    if as_json:
        ui.text(json.dumps(data, indent=2, sort_keys=True))
        return
    table = Table(
        title=f"{data['release']} ({data['kind']}) in {data['repo']}", title_justify="left"
    )
    for column in ("stage", "step", "status", "detail", "evidence"):
        table.add_column(column, overflow="fold")
    from releaser.ui import STATUS_STYLE

    for stage in data["stages"]:
        for i, row in enumerate(stage["steps"]):
            style = STATUS_STYLE.get(row["status"], "")
            table.add_row(
                stage["stage"] if i == 0 else "",
                row["step"],
                f"[{style}]{row['status']}[/{style}]",
                escape(row["detail"] or ""),
                escape(row["evidence"] or ""),
            )
    ui.print(table)
    claim = data["claim"]
    if claim:
        ui.print(
            f"claim: {escape(claim['driver'])} on {escape(claim['host'])} ({claim['stage']}) "
            f"since {claim['since']}, until {claim['expires']} unless renewed"
        )
    elif data.get("stale_claim"):
        stale = data["stale_claim"]
        ui.print(
            f"claim: stale: {escape(stale['driver'])} on {escape(stale['host'])} "
            f"({stale['stage']}) since {stale['since']}; its lease expired at "
            f"{stale['expires']} (that run stopped): the next driver proceeds"
        )
    else:
        ui.print("claim: nobody is driving this release right now")
    for row in data["approvals"]:
        of = f" ({escape(row['subject'])})" if row["subject"] else ""
        if row["state"] == "pending":
            ui.print(
                f"approval of {row['step']}{of}: [yellow]pending[/yellow], by "
                f"{escape(row['who'])}: `{row['command']}`"
            )
        else:
            ui.print(f"approval of {row['step']}{of}: {row['state']}")
        for given in row["given"]:
            mark = "[green]counts[/green]" if given["counts"] else "[dim]doesn't count[/dim]"
            ui.print(
                f"  {escape(given['login'])} at {given['at']}: {mark} ({escape(given['reason'])})"
            )
    if data["ledger"]:
        ui.print("last ledger entries:")
        for e in data["ledger"]:
            ui.print(f"  {escape(describe_entry(e))}")
    ui.print(f"next: [bold]{data['next']}[/bold]" if data["next"] else "[green]all done[/green]")
