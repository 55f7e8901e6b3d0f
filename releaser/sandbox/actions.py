"""The sandbox forge's GitHub Actions model: workflows and the life cycle of simulated runs.

Workflows are the ``.github/workflows/*.yml`` files of a commit. A top-level ``x-sandbox``
mapping in a workflow (ignored by GitHub) tunes its simulated runs::

    x-sandbox:
      duration: 2            # seconds from creation to completion (queued for the first 20%)
      conclusion: success    # or failure / cancelled
      log: ["Building {tag}", "inputs: {inputs.channel}"]
      effects:
        artifacts: [{name: "dist-{version}", files: {"app-{version}.txt": "built {tag}"}}]
        release_assets: {files: {"app-{version}.tar.gz": "payload {tag}"}}
        oci_push: {registry: "http://127.0.0.1:5000", repository: "o/app", tag: "{version}"}

``POST /_admin/actions`` overrides any of these per repository and workflow (see
:mod:`releaser.sandbox.api_actions`). A run's state is computed from the clock on every
read; a run that is due is completed (effects applied exactly once, under ``forge.lock``,
recorded in the run document so a restart never repeats them) by whichever comes first: a
read of the run or the tick hook that runs before every request. The effects belong to
:mod:`releaser.sandbox.effects`, which applies them from the forge's run hook; this module
starts runs from the forge's push and release hooks.

Documents: ``workflow`` (path, name, created_at: stable ids), ``run`` (see ``start_run``);
artifacts are in :mod:`releaser.sandbox.runs`.
"""

from __future__ import annotations

import io
import re
import sys
import traceback
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml

from releaser.sandbox import render
from releaser.sandbox.forge import PUSH_HOOKS, RELEASE_HOOKS, TICK_HOOKS, Forge
from releaser.sandbox.http import ApiError
from releaser.sandbox.runs import expand, iso, placeholders, short_ref, zip_info

ZERO = "0" * 40
WORKFLOW_DIR = ".github/workflows"
DEFAULTS: dict[str, Any] = {"duration": 2.0, "conclusion": "success", "log": [], "effects": {}}
CONCLUSIONS = ("success", "failure", "cancelled", "skipped", "neutral", "timed_out")
OVERRIDES_SETTING = "actions_overrides"


# ---- workflows ----------------------------------------------------------------------------


@dataclass
class Workflow:
    path: str
    name: str
    on: dict[str, Any]
    jobs: list[tuple[str, list[str]]]
    sandbox: dict[str, Any] = field(default_factory=dict)

    @property
    def file(self) -> str:
        return self.path.rsplit("/", 1)[-1]


def normalize_on(raw: Any) -> dict[str, Any]:
    """``on:`` as a mapping event -> config (PyYAML reads the bare key ``on`` as True)."""
    if isinstance(raw, str):
        return {raw: {}}
    if isinstance(raw, list):
        return {str(e): {} for e in raw}
    if isinstance(raw, dict):
        return {str(k): (v if isinstance(v, dict) else {}) for k, v in raw.items()}
    return {}


def parse_jobs(raw: Any) -> list[tuple[str, list[str]]]:
    jobs: list[tuple[str, list[str]]] = []
    if isinstance(raw, dict):
        for key, job in raw.items():
            job = job if isinstance(job, dict) else {}
            steps = []
            for i, step in enumerate(job.get("steps") or [], start=1):
                step = step if isinstance(step, dict) else {}
                run = str(step.get("run") or "").strip().split("\n", 1)[0]
                steps.append(str(step.get("name") or step.get("uses") or run or f"Step {i}"))
            jobs.append((str(job.get("name") or key), steps or ["Run"]))
    return jobs or [("build", ["Run"])]


def parse_workflow(path: str, text: str) -> Workflow:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    if not isinstance(data, dict):
        return Workflow(path, path, {}, [("build", ["Run"])])
    raw_on = data.get("on", data.get(True))
    sandbox = data.get("x-sandbox")
    return Workflow(
        path=path,
        name=str(data.get("name") or path),
        on=normalize_on(raw_on),
        jobs=parse_jobs(data.get("jobs")),
        sandbox=sandbox if isinstance(sandbox, dict) else {},
    )


def load_workflows(forge: Forge, full: str, rev: str) -> list[Workflow]:
    """The workflows in ``.github/workflows`` at ``rev`` (a branch, tag or sha)."""
    try:
        listing = forge.git(full, "ls-tree", "--name-only", f"{rev}:{WORKFLOW_DIR}")
    except ApiError:
        return []
    out = []
    for name in sorted(listing.split()):
        if not name.endswith((".yml", ".yaml")):
            continue
        path = f"{WORKFLOW_DIR}/{name}"
        try:
            text = forge.git(full, "show", f"{rev}:{path}")
        except ApiError:
            continue
        out.append(parse_workflow(path, text))
    return out


def default_branch(forge: Forge, full: str) -> str:
    return str(forge.repo(*full.split("/", 1)).get("default_branch", "main"))


def workflow_doc(forge: Forge, full: str, wf: Workflow) -> dict[str, Any]:
    """The stored document of a workflow file (created on first sight: its id is stable)."""
    with forge.lock:
        doc = forge.find_one("workflow", full, path=wf.path)
        if doc is None:
            stamp = forge.now_iso()
            doc = forge.insert(
                "workflow", full, {"path": wf.path, "name": wf.name, "created_at": stamp}
            )
            doc["updated_at"] = stamp
        elif doc.get("name") != wf.name:
            doc = forge.update(
                "workflow", int(doc["id"]), {"name": wf.name, "updated_at": forge.now_iso()}
            )
        return doc


def find_workflow(forge: Forge, full: str, key: str, rev: str | None = None) -> Workflow | None:
    """The workflow named by id or file name at ``rev`` (default branch by default)."""
    workflows = load_workflows(forge, full, rev or default_branch(forge, full))
    for wf in workflows:
        if key in (wf.file, wf.path):
            return wf
    if key.isdigit():
        doc = forge.find_one("workflow", full, id=int(key))
        if doc is not None:
            for wf in workflows:
                if wf.path == doc["path"]:
                    return wf
    return None


# ---- trigger filters ----------------------------------------------------------------------


def glob_regex(pattern: str) -> re.Pattern[str]:
    """GitHub's filter pattern syntax: ``*`` (no ``/``), ``**``, ``?``/``+`` (of the previous
    character), ``[...]``."""
    out = ""
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        if c == "*":
            out += "[^/]*"
        elif c in "?+" and out:
            out += c
        elif c == "[":
            end = pattern.find("]", i)
            if end < 0:
                out += re.escape(c)
            else:
                out += pattern[i : end + 1]
                i = end
        else:
            out += re.escape(c)
        i += 1
    return re.compile(f"^{out}$")


def filter_match(patterns: Any, name: str) -> bool:
    if isinstance(patterns, str):
        patterns = [patterns]
    result = False
    for pattern in patterns or []:
        pattern = str(pattern)
        if pattern.startswith("!"):
            if glob_regex(pattern[1:]).match(name):
                result = False
        elif glob_regex(pattern).match(name):
            result = True
    return result


def push_triggers(wf: Workflow, ref: str) -> bool:
    """Whether a push of ``ref`` (``refs/tags/X`` or ``refs/heads/X``) starts ``wf``."""
    if "push" not in wf.on:
        return False
    cfg = wf.on["push"] or {}
    is_tag = ref.startswith("refs/tags/")
    name = ref.split("/", 2)[2] if ref.count("/") >= 2 else ref
    kind, other = ("tags", "branches") if is_tag else ("branches", "tags")
    if kind in cfg:
        return filter_match(cfg[kind], name)
    if f"{kind}-ignore" in cfg:
        return not filter_match(cfg[f"{kind}-ignore"], name)
    # a filter only for the other kind of ref excludes this kind entirely
    return other not in cfg and f"{other}-ignore" not in cfg


# ---- settings -----------------------------------------------------------------------------


def overrides(forge: Forge) -> dict[str, dict[str, dict[str, Any]]]:
    value = forge.setting(OVERRIDES_SETTING, {})
    return value if isinstance(value, dict) else {}


def set_override(forge: Forge, repo: str, workflow: str, values: dict[str, Any]) -> None:
    with forge.lock:
        current = overrides(forge)
        entry = current.setdefault(repo, {}).setdefault(workflow, {})
        entry.update(values)
        forge.set_setting(OVERRIDES_SETTING, current)


def clear_overrides(forge: Forge, repo: str | None = None) -> None:
    with forge.lock:
        current = overrides(forge)
        if repo is None:
            current = {}
        else:
            current.pop(repo, None)
        forge.set_setting(OVERRIDES_SETTING, current)


def settings_for(forge: Forge, full: str, wf: Workflow) -> dict[str, Any]:
    """Defaults < the workflow's ``x-sandbox`` < admin overrides for ``*`` < for the file."""
    merged = dict(DEFAULTS)
    merged.update(wf.sandbox)
    repo_overrides = overrides(forge).get(full, {})
    for key in ("*", wf.path, wf.file):
        merged.update(repo_overrides.get(key, {}))
    try:
        merged["duration"] = max(0.0, float(merged.get("duration", 2.0)))
    except (TypeError, ValueError):
        merged["duration"] = 2.0
    if merged.get("conclusion") not in CONCLUSIONS:
        merged["conclusion"] = "success"
    if isinstance(merged.get("log"), str):
        merged["log"] = str(merged["log"]).splitlines()
    return merged


# ---- runs ---------------------------------------------------------------------------------


def commit_info(forge: Forge, full: str, sha: str) -> dict[str, Any]:
    info = render.read_commit(forge, full, sha)
    return {
        "id": info["sha"],
        "tree_id": info["tree"],
        "message": info["message"],
        "timestamp": info["committer"]["date"],
        "author": {"name": info["author"]["name"], "email": info["author"]["email"]},
        "committer": {"name": info["committer"]["name"], "email": info["committer"]["email"]},
    }


def start_run(
    forge: Forge,
    full: str,
    wf: Workflow,
    event: str,
    ref: str,
    sha: str,
    inputs: dict[str, Any] | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """Create a queued run of ``wf`` for ``sha``; settings are taken now."""
    settings = settings_for(forge, full, wf)
    head_commit = commit_info(forge, full, sha)
    now = forge.clock.now()
    with forge.lock:
        workflow = workflow_doc(forge, full, wf)
        number = forge.next_value(f"run_number:{full}:{wf.path}")
        title = head_commit["message"].split("\n", 1)[0] if event == "push" else wf.name
        return forge.insert(
            "run",
            full,
            {
                "repo": full,
                "workflow_id": workflow["id"],
                "path": wf.path,
                "name": wf.name,
                "jobs": [[name, steps] for name, steps in wf.jobs],
                "event": event,
                "ref": ref,
                "head_branch": short_ref(ref),
                "head_sha": sha,
                "head_commit": head_commit,
                "display_title": title,
                "run_number": number,
                "run_attempt": 1,
                "inputs": dict(inputs or {}),
                "actor": actor or forge.login,
                "created_ts": now,
                "attempt_ts": now,
                **_fresh_attempt(settings),
                "attempts": [],
            },
        )


def _fresh_attempt(settings: dict[str, Any]) -> dict[str, Any]:
    """The fields of a run attempt that starts now with the workflow's current settings."""
    return {
        "duration": settings["duration"],
        "planned": settings["conclusion"],
        "log": [str(line) for line in settings.get("log") or []],
        "effects": settings.get("effects") or {},
        "registry": settings.get("registry"),
        "done": False,
        "conclusion": None,
        "completed_ts": None,
        "failure": None,
        "effect_log": [],
    }


def rerun(forge: Forge, full: str, run: dict[str, Any], actor: str | None = None) -> dict[str, Any]:
    """Start a new attempt of a finished, unsuccessful run with the current settings
    (``actor``: who asked for it, the run's ``triggering_actor`` from now on)."""
    wf = find_workflow(forge, full, run["path"], run["head_sha"]) or Workflow(
        run["path"], run["name"], {}, [(n, s) for n, s in run["jobs"]]
    )
    settings = settings_for(forge, full, wf)
    with forge.lock:
        run = settle(forge, full, forge.get("run", run["id"]))
        if not run["done"] or run["conclusion"] == "success":
            raise ApiError(403, "This workflow run is not failed and cannot be re-run.")
        previous = {k: run[k] for k in ("run_attempt", "attempt_ts", "conclusion", "completed_ts")}
        return forge.update(
            "run",
            int(run["id"]),
            {
                "run_attempt": int(run["run_attempt"]) + 1,
                "attempt_ts": forge.clock.now(),
                **_fresh_attempt(settings),
                "attempts": [*run.get("attempts", []), previous],
                "triggering_actor": actor or run.get("triggering_actor") or run.get("actor"),
            },
        )


def run_status(run: dict[str, Any], now: float) -> tuple[str, str | None]:
    """(status, conclusion) of a run at sandbox time ``now`` from its stored times."""
    if run["done"]:
        return "completed", run["conclusion"]
    elapsed = now - float(run["attempt_ts"])
    duration = float(run["duration"])
    if elapsed < 0.2 * duration:
        return "queued", None
    if elapsed < duration:
        return "in_progress", None
    return "completed", None  # due: settle() completes it


def is_due(run: dict[str, Any], now: float) -> bool:
    return not run["done"] and now >= float(run["attempt_ts"]) + float(run["duration"])


def settle(forge: Forge, full: str, run: dict[str, Any]) -> dict[str, Any]:
    """The run, completed first if it is due."""
    if is_due(run, forge.clock.now()):
        return complete_run(forge, int(run["id"]))
    return run


def complete_run(forge: Forge, run_id: int) -> dict[str, Any]:
    """Finish a due run exactly once: apply its effects, record the conclusion."""
    with forge.lock:
        run = forge.get("run", run_id)
        if run["done"]:
            return run
        full = str(run["repo"])
        conclusion = str(run["planned"])
        failure: str | None = None
        effect_log: list[str] = []
        if conclusion == "success":
            failure = forge.run_succeeded(full, run, effect_log)
            if failure:
                conclusion = "failure"
        elif conclusion == "failure":
            failure = "The job failed: its conclusion is set to failure (x-sandbox / admin)."
        elif conclusion == "cancelled":
            failure = "The operation was canceled."
        return forge.update(
            "run",
            run_id,
            {
                "done": True,
                "conclusion": conclusion,
                "completed_ts": float(run["attempt_ts"]) + float(run["duration"]),
                "failure": failure,
                "effect_log": effect_log,
            },
        )


# ---- jobs and logs ------------------------------------------------------------------------


def job_id(run: dict[str, Any], index: int, attempt: int | None = None) -> int:
    return (int(run["id"]) * 100 + int(attempt or run["run_attempt"])) * 100 + index + 1


def split_job_id(value: int) -> tuple[int, int, int]:
    """(run id, attempt, job index) of a job id."""
    return value // 10000, (value // 100) % 100, value % 100 - 1


@dataclass
class JobState:
    index: int
    name: str
    steps: list[dict[str, Any]]
    status: str
    conclusion: str | None
    started_ts: float
    completed_ts: float | None


def job_states(run: dict[str, Any], now: float) -> list[JobState]:
    """The jobs of the run's current attempt at ``now``; the first job carries a failure."""
    status, conclusion = run_status(run, now)
    if status == "completed" and conclusion is None:
        status = "in_progress"  # due but not yet settled
    start = float(run["attempt_ts"])
    started = start + 0.2 * float(run["duration"])
    done_ts = run.get("completed_ts")
    out = []
    for index, (name, step_names) in enumerate(run["jobs"]):
        names = ["Set up job", *step_names, "Complete job"]
        if status == "completed":
            job_conclusion = conclusion
            if conclusion != "success" and index > 0:
                job_conclusion = "skipped" if conclusion == "failure" else conclusion
            steps = []
            for n, step in enumerate(names, start=1):
                step_conclusion = "success"
                if job_conclusion == "failure" and n == len(names) - 1:
                    step_conclusion = "failure"
                elif job_conclusion in ("skipped", "cancelled") and n > 1:
                    step_conclusion = str(job_conclusion)
                steps.append(step_json(step, n, "completed", step_conclusion, started, done_ts))
            out.append(JobState(index, name, steps, "completed", job_conclusion, started, done_ts))
        elif status == "in_progress":
            steps = [
                step_json(
                    step,
                    n,
                    "completed" if n == 1 else "in_progress" if n == 2 else "queued",
                    "success" if n == 1 else None,
                    started if n <= 2 else None,
                    started if n == 1 else None,
                )
                for n, step in enumerate(names, start=1)
            ]
            out.append(JobState(index, name, steps, "in_progress", None, started, None))
        else:
            steps = [step_json(s, n, "queued", None, None, None) for n, s in enumerate(names, 1)]
            out.append(JobState(index, name, steps, "queued", None, start, None))
    return out


def past_attempts(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The run as it was at each finished earlier attempt (oldest first): the fields
    :func:`job_states` reads, from what :func:`rerun` kept of the attempt."""
    out = []
    for previous in run.get("attempts") or []:
        start = float(previous["attempt_ts"])
        done = previous.get("completed_ts")
        duration = float(done) - start if done is not None else 0.0
        out.append({**run, **previous, "duration": duration, "done": True})
    return out


def step_json(
    name: str,
    number: int,
    status: str,
    conclusion: str | None,
    started: float | None,
    completed: float | None,
) -> dict[str, Any]:
    return {
        "name": name,
        "status": status,
        "conclusion": conclusion,
        "number": number,
        "started_at": iso(started) if started is not None else None,
        "completed_at": iso(completed) if completed is not None else None,
    }


def job_log(run: dict[str, Any], job: JobState) -> str:
    """The text log of a job, GitHub-style (timestamped lines, ``##[error]`` on failure)."""
    stamp = datetime.fromtimestamp(job.started_ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
    values = placeholders(run)
    lines = [
        "##[group]Set up job",
        "Current runner version: 'sandbox'",
        f"Workflow: {run['name']} ({run['path']}), run {run['id']} attempt {run['run_attempt']}",
        f"Event: {run['event']}, ref: {run['ref']}, sha: {run['head_sha']}",
        "##[endgroup]",
    ]
    if job.index > 0 and job.conclusion in ("skipped", "cancelled"):
        lines.append(f"Job {job.name} was {job.conclusion}.")
    else:
        lines += [expand(line, values) for line in run.get("log") or []]
        lines += list(run.get("effect_log") or [])
        if job.conclusion in ("failure", "cancelled") and job.index == 0:
            lines.append(f"##[error]{run.get('failure') or 'The job failed.'}")
            if job.conclusion == "failure":
                lines.append("##[error]Process completed with exit code 1.")
        elif job.status != "completed":
            lines.append("(in progress)")
    lines.append("Cleaning up orphan processes")
    return "".join(f"{stamp} {line}\n" for line in lines)


def run_logs_zip(run: dict[str, Any], now: float) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for job in job_states(run, now):
            safe = re.sub(r"[^A-Za-z0-9._ -]", "_", job.name)
            zf.writestr(zip_info(f"{job.index}_{safe}.txt"), job_log(run, job))
    return buf.getvalue()


# ---- hooks --------------------------------------------------------------------------------


def on_push(forge: Forge, full: str, updates: list[tuple[str, str, str]]) -> None:
    """Start a ``push`` run of every workflow (at the pushed commit) the ref matches.

    A failure here is reported and swallowed: it must never fail the push itself."""
    for ref, _old, new in updates:
        if new == ZERO or not ref.startswith(("refs/heads/", "refs/tags/")):
            continue
        try:
            sha = forge.resolve(full, new)
            if sha is None:
                continue
            for wf in load_workflows(forge, full, sha):
                if push_triggers(wf, ref):
                    start_run(forge, full, wf, "push", ref, sha)
        except Exception:
            traceback.print_exc(file=sys.stderr)


def on_release(forge: Forge, full: str, tag: str, events: set[str]) -> None:
    """Start a ``release`` run of every workflow whose ``on.release.types`` (default: all)
    include one of ``events`` (created, published, released, prereleased)."""
    sha = forge.resolve(full, f"refs/tags/{tag}")
    if sha is None:
        return
    try:
        for wf in load_workflows(forge, full, sha):
            if "release" not in wf.on:
                continue
            types = (wf.on["release"] or {}).get("types")
            wanted = {types} if isinstance(types, str) else set(types or events)
            if wanted & events:
                start_run(forge, full, wf, "release", f"refs/tags/{tag}", sha)
    except Exception:
        traceback.print_exc(file=sys.stderr)


def on_tick(forge: Forge) -> None:
    """Complete every due run (before each request)."""
    now = forge.clock.now()
    for run in forge.find("run"):
        if is_due(run, now):
            try:
                complete_run(forge, int(run["id"]))
            except Exception:
                traceback.print_exc(file=sys.stderr)


if on_push not in PUSH_HOOKS:
    PUSH_HOOKS.append(on_push)
if on_release not in RELEASE_HOOKS:
    RELEASE_HOOKS.append(on_release)
if on_tick not in TICK_HOOKS:
    TICK_HOOKS.append(on_tick)
