"""GitHub Actions REST endpoints of the sandbox forge (model in :mod:`.actions`).

Also the admin endpoints ``GET/POST/DELETE /_admin/actions`` that override a workflow's
simulated behaviour::

    POST /_admin/actions {"repo": "o/r", "workflow": "build.yml", "duration": 0.5,
                          "conclusion": "failure", "log": ["..."], "effects": {...},
                          "registry": "http://127.0.0.1:5000"}

``workflow`` may be ``"*"`` (every workflow of the repository). Settings are read when a run
(or a re-run) starts.

Log and artifact downloads redirect (302) to unauthenticated URLs under the web root:
``{html_url}/O/R/actions/jobs/ID/logs.txt``, ``.../actions/runs/ID/logs.zip``,
``.../actions/artifacts/ID.zip``.
"""

from __future__ import annotations

from typing import Any

from releaser.sandbox import actions, render
from releaser.sandbox.actions import JobState
from releaser.sandbox.forge import Forge
from releaser.sandbox.http import (
    ROUTER,
    ApiError,
    Request,
    Response,
    body_dict,
    full_name,
    not_found,
    paginate,
    require_str,
    validation_failed,
)
from releaser.sandbox.runs import artifact_path, iso

STATUSES = ("queued", "in_progress", "completed", "waiting", "requested", "pending")


def repo_doc(forge: Forge, full: str) -> dict[str, Any]:
    return forge.repo(*full.split("/", 1))


# ---- rendering ----------------------------------------------------------------------------


def workflow_json(forge: Forge, full: str, doc: dict[str, Any]) -> dict[str, Any]:
    branch = actions.default_branch(forge, full)
    file = doc["path"].rsplit("/", 1)[-1]
    return {
        "id": doc["id"],
        "node_id": f"W_{doc['id']}",
        "name": doc["name"],
        "path": doc["path"],
        "state": "active",
        "created_at": doc["created_at"],
        "updated_at": doc.get("updated_at") or doc["created_at"],
        "url": f"{forge.repo_api(full)}/actions/workflows/{doc['id']}",
        "html_url": f"{forge.repo_html(full)}/blob/{branch}/{doc['path']}",
        "badge_url": f"{forge.repo_html(full)}/workflows/{file}/badge.svg",
    }


def run_json(forge: Forge, full: str, run: dict[str, Any]) -> dict[str, Any]:
    status, conclusion = actions.run_status(run, forge.clock.now())
    api = f"{forge.repo_api(full)}/actions/runs/{run['id']}"
    repo = render.repo_json(forge, repo_doc(forge, full))
    started = float(run["attempt_ts"])
    updated = run.get("completed_ts") if run["done"] else started
    attempt = int(run["run_attempt"])
    actor = forge.user_json(run.get("actor"))
    return {
        "id": run["id"],
        "name": run["name"],
        "node_id": f"WFR_{run['id']}",
        "head_branch": run["head_branch"],
        "head_sha": run["head_sha"],
        "path": run["path"],
        "display_title": run["display_title"],
        "run_number": run["run_number"],
        "event": run["event"],
        "status": status,
        "conclusion": conclusion,
        "workflow_id": run["workflow_id"],
        "check_suite_id": run["id"],
        "check_suite_node_id": f"CS_{run['id']}",
        "url": api,
        "html_url": f"{forge.repo_html(full)}/actions/runs/{run['id']}",
        "pull_requests": [],
        "created_at": iso(float(run["created_ts"])),
        "updated_at": iso(float(updated or started)),
        "actor": actor,
        "run_attempt": attempt,
        "referenced_workflows": [],
        "run_started_at": iso(started),
        "triggering_actor": forge.user_json(run.get("triggering_actor") or run.get("actor")),
        "jobs_url": f"{api}/jobs",
        "logs_url": f"{api}/logs",
        "check_suite_url": f"{forge.repo_api(full)}/check-suites/{run['id']}",
        "artifacts_url": f"{api}/artifacts",
        "cancel_url": f"{api}/cancel",
        "rerun_url": f"{api}/rerun",
        "previous_attempt_url": f"{api}/attempts/{attempt - 1}" if attempt > 1 else None,
        "workflow_url": f"{forge.repo_api(full)}/actions/workflows/{run['workflow_id']}",
        "head_commit": run["head_commit"],
        "repository": repo,
        "head_repository": repo,
        "head_repository_id": repo["id"],
    }


def job_json(forge: Forge, full: str, run: dict[str, Any], job: JobState) -> dict[str, Any]:
    jid = actions.job_id(run, job.index)
    run_api = f"{forge.repo_api(full)}/actions/runs/{run['id']}"
    return {
        "id": jid,
        "run_id": run["id"],
        "run_url": run_api,
        "run_attempt": run["run_attempt"],
        "node_id": f"CR_{jid}",
        "head_sha": run["head_sha"],
        "head_branch": run["head_branch"],
        "url": f"{forge.repo_api(full)}/actions/jobs/{jid}",
        "html_url": f"{forge.repo_html(full)}/actions/runs/{run['id']}/job/{jid}",
        "status": job.status,
        "conclusion": job.conclusion,
        "created_at": iso(float(run["attempt_ts"])),
        "started_at": iso(job.started_ts),
        "completed_at": iso(job.completed_ts) if job.completed_ts is not None else None,
        "name": job.name,
        "steps": job.steps,
        "check_run_url": f"{forge.repo_api(full)}/check-runs/{jid}",
        "labels": ["ubuntu-latest"],
        "runner_id": 1 if job.status != "queued" else None,
        "runner_name": "sandbox-runner" if job.status != "queued" else None,
        "runner_group_id": 1 if job.status != "queued" else None,
        "runner_group_name": "Default" if job.status != "queued" else None,
        "workflow_name": run["name"],
    }


def artifact_json(forge: Forge, full: str, doc: dict[str, Any]) -> dict[str, Any]:
    url = f"{forge.repo_api(full)}/actions/artifacts/{doc['id']}"
    run = forge.get("run", doc["run_id"])
    repo_id = repo_doc(forge, full)["id"]
    return {
        "id": doc["id"],
        "node_id": f"MDg6QXJ0aWZhY3Q{doc['id']}",
        "name": doc["name"],
        "size_in_bytes": doc["size_in_bytes"],
        "url": url,
        "archive_download_url": f"{url}/zip",
        "expired": False,
        "digest": doc.get("digest"),
        "created_at": doc["created_at"],
        "updated_at": doc["created_at"],
        "expires_at": doc["expires_at"],
        "workflow_run": {
            "id": run["id"],
            "repository_id": repo_id,
            "head_repository_id": repo_id,
            "head_branch": run["head_branch"],
            "head_sha": run["head_sha"],
        },
    }


# ---- lookups ------------------------------------------------------------------------------


def get_run(forge: Forge, full: str, run_id: str | int) -> dict[str, Any]:
    """The run (settled: completed first if due), or 404."""
    return actions.settle(forge, full, forge.get("run", run_id, repo=full))


def current_workflows(forge: Forge, full: str) -> list[dict[str, Any]]:
    branch = actions.default_branch(forge, full)
    return [
        actions.workflow_doc(forge, full, wf) for wf in actions.load_workflows(forge, full, branch)
    ]


def workflow_by_key(forge: Forge, full: str, key: str) -> dict[str, Any]:
    for doc in current_workflows(forge, full):
        if key in (str(doc["id"]), doc["path"], doc["path"].rsplit("/", 1)[-1]):
            return doc
    raise not_found()


def created_filter(value: str, created: str) -> bool:
    """GitHub's ``created`` search syntax: ``>=D``, ``<D``, ``A..B``, or ``D`` (one day)."""
    if ".." in value:
        low, high = value.split("..", 1)
        return (low in ("", "*") or created >= low) and (
            high in ("", "*") or created[: len(high)] <= high
        )
    for op in (">=", "<=", ">", "<"):
        if value.startswith(op):
            bound = value[len(op) :]
            head = created[: len(bound)]
            return {
                ">=": head >= bound,
                "<=": head <= bound,
                ">": head > bound,
                "<": head < bound,
            }[op]
    return created.startswith(value)


def filter_runs(
    forge: Forge, full: str, req: Request, runs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    q = req.query
    runs = [actions.settle(forge, full, r) for r in runs]
    if q.get("branch"):
        runs = [r for r in runs if r["head_branch"] == q["branch"]]
    if q.get("event"):
        runs = [r for r in runs if r["event"] == q["event"]]
    if q.get("actor"):
        runs = [r for r in runs if r.get("actor") == q["actor"]]
    if q.get("head_sha"):
        runs = [r for r in runs if r["head_sha"] == q["head_sha"]]
    if q.get("check_suite_id"):
        runs = [r for r in runs if str(r["id"]) == q["check_suite_id"]]
    if q.get("status"):
        wanted = q["status"]
        key = 0 if wanted in STATUSES else 1
        runs = [r for r in runs if actions.run_status(r, forge.clock.now())[key] == wanted]
    if q.get("created"):
        runs = [r for r in runs if created_filter(q["created"], iso(float(r["created_ts"])))]
    runs.sort(key=lambda r: r["id"], reverse=True)
    return runs


# ---- workflows ----------------------------------------------------------------------------


@ROUTER.route("GET", "/repos/{owner}/{repo}/actions/workflows")
def list_workflows(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    docs = [workflow_json(forge, full, d) for d in current_workflows(forge, full)]
    return paginate(forge, req, docs, key="workflows")


@ROUTER.route("GET", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}")
def get_workflow(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    return workflow_json(forge, full, workflow_by_key(forge, full, req.params["workflow_id"]))


@ROUTER.route("POST", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches")
def dispatch(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    data = body_dict(req)
    ref = require_str(data, "ref", "WorkflowDispatch")
    doc = workflow_by_key(forge, full, req.params["workflow_id"])
    if ref.startswith("refs/"):
        full_ref = ref
    elif forge.resolve(full, f"refs/heads/{ref}") is not None:
        full_ref = f"refs/heads/{ref}"
    elif forge.resolve(full, f"refs/tags/{ref}") is not None:
        full_ref = f"refs/tags/{ref}"
    else:
        raise ApiError(422, f"No ref found for: {ref}")
    sha = forge.resolve(full, full_ref)
    if sha is None:
        raise ApiError(422, f"No ref found for: {ref}")
    wf = actions.find_workflow(forge, full, doc["path"], sha)
    if wf is None:
        raise ApiError(404, f"Not Found: workflow {doc['path']} does not exist at {ref}")
    if "workflow_dispatch" not in wf.on:
        raise ApiError(422, "Workflow does not have 'workflow_dispatch' trigger")
    inputs = check_inputs(wf.on["workflow_dispatch"] or {}, data.get("inputs") or {})
    run = actions.start_run(forge, full, wf, "workflow_dispatch", full_ref, sha, inputs, req.user)
    if data.get("return_run_details"):
        return Response(
            200,
            {
                "workflow_run_id": run["id"],
                "run_url": f"{forge.repo_api(full)}/actions/runs/{run['id']}",
                "html_url": f"{forge.repo_html(full)}/actions/runs/{run['id']}",
            },
        )
    return Response(204)


def check_inputs(config: dict[str, Any], given: Any) -> dict[str, Any]:
    """Apply a workflow_dispatch's declared inputs: defaults, required, unknown names."""
    if not isinstance(given, dict):
        raise validation_failed("WorkflowDispatch", "invalid", "inputs")
    declared = config.get("inputs") or {}
    unknown = sorted(k for k in given if k not in declared)
    if unknown:
        raise ApiError(422, f"Unexpected inputs provided: {unknown}")
    out: dict[str, Any] = {}
    for name, spec in declared.items():
        spec = spec if isinstance(spec, dict) else {}
        if name in given:
            out[name] = given[name]
        elif "default" in spec:
            out[name] = spec["default"]
        elif spec.get("required"):
            raise ApiError(422, f"Required input '{name}' not provided")
    return out


# ---- runs ---------------------------------------------------------------------------------


@ROUTER.route("GET", "/repos/{owner}/{repo}/actions/runs")
def list_runs(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    runs = filter_runs(forge, full, req, forge.find("run", full))
    return paginate(forge, req, [run_json(forge, full, r) for r in runs], key="workflow_runs")


@ROUTER.route("GET", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs")
def list_workflow_runs(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    key = req.params["workflow_id"]
    doc = next(
        (
            d
            for d in forge.find("workflow", full)
            if key in (str(d["id"]), d["path"], d["path"].rsplit("/", 1)[-1])
        ),
        None,
    )
    if doc is None:
        doc = workflow_by_key(forge, full, key)
    runs = filter_runs(forge, full, req, forge.find("run", full, workflow_id=doc["id"]))
    return paginate(forge, req, [run_json(forge, full, r) for r in runs], key="workflow_runs")


@ROUTER.route("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}")
def get_run_endpoint(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    return run_json(forge, full, get_run(forge, full, req.params["run_id"]))


@ROUTER.route("POST", "/repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs")
def rerun_failed(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    run = get_run(forge, full, req.params["run_id"])
    actions.rerun(forge, full, run, req.user)
    return Response(201, {})


@ROUTER.route("POST", "/repos/{owner}/{repo}/actions/runs/{run_id}/rerun")
def rerun_all(forge: Forge, req: Request) -> Response:
    return rerun_failed(forge, req)


@ROUTER.route("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs")
def list_jobs(forge: Forge, req: Request) -> Response:
    """The jobs of the latest attempt; ``filter=all``: of every attempt, oldest first."""
    full = full_name(forge, req)
    run = get_run(forge, full, req.params["run_id"])
    now = forge.clock.now()
    wanted = req.query.get("filter") or "latest"
    if wanted not in ("latest", "all"):
        raise validation_failed("Job", "invalid", "filter")
    attempts = [*actions.past_attempts(run), run] if wanted == "all" else [run]
    jobs = [
        job_json(forge, full, attempt, j)
        for attempt in attempts
        for j in actions.job_states(attempt, now)
    ]
    return paginate(forge, req, jobs, key="jobs")


def job_lookup(forge: Forge, full: str, job_id: str) -> tuple[dict[str, Any], JobState]:
    """A job of any attempt of its run, by id."""
    try:
        run_id, attempt, index = actions.split_job_id(int(job_id))
    except ValueError:
        raise not_found() from None
    run = get_run(forge, full, run_id)
    for candidate in [*actions.past_attempts(run), run]:
        if int(candidate["run_attempt"]) == attempt:
            jobs = actions.job_states(candidate, forge.clock.now())
            if 0 <= index < len(jobs):
                return candidate, jobs[index]
    raise not_found()


@ROUTER.route("GET", "/repos/{owner}/{repo}/actions/jobs/{job_id}")
def get_job(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    run, job = job_lookup(forge, full, req.params["job_id"])
    return job_json(forge, full, run, job)


@ROUTER.route("GET", "/repos/{owner}/{repo}/actions/jobs/{job_id}/logs")
def job_logs(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    job_lookup(forge, full, req.params["job_id"])
    location = f"{forge.repo_html(full)}/actions/jobs/{req.params['job_id']}/logs.txt"
    return Response(302, None, {"Location": location})


@ROUTER.route("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}/logs")
def run_logs(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    run = get_run(forge, full, req.params["run_id"])
    location = f"{forge.repo_html(full)}/actions/runs/{run['id']}/logs.zip"
    return Response(302, None, {"Location": location})


@ROUTER.route("GET", "/web/{owner}/{repo}/actions/jobs/{job_id}/logs.txt")
def web_job_log(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    run, job = job_lookup(forge, full, req.params["job_id"])
    text = actions.job_log(run, job).encode()
    return Response(200, text, content_type="text/plain; charset=utf-8")


@ROUTER.route("GET", "/web/{owner}/{repo}/actions/runs/{run_id}/logs.zip")
def web_run_logs(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    run = get_run(forge, full, req.params["run_id"])
    return Response(
        200, actions.run_logs_zip(run, forge.clock.now()), content_type="application/zip"
    )


# ---- artifacts ----------------------------------------------------------------------------


@ROUTER.route("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}/artifacts")
def list_run_artifacts(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    run = get_run(forge, full, req.params["run_id"])
    docs = forge.find("artifact", full, run_id=run["id"])
    if req.query.get("name"):
        docs = [d for d in docs if d["name"] == req.query["name"]]
    return paginate(forge, req, [artifact_json(forge, full, d) for d in docs], key="artifacts")


@ROUTER.route("GET", "/repos/{owner}/{repo}/actions/artifacts")
def list_artifacts(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    docs = forge.find("artifact", full)
    if req.query.get("name"):
        docs = [d for d in docs if d["name"] == req.query["name"]]
    docs.reverse()
    return paginate(forge, req, [artifact_json(forge, full, d) for d in docs], key="artifacts")


@ROUTER.route("GET", "/repos/{owner}/{repo}/actions/artifacts/{artifact_id}")
def get_artifact(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    return artifact_json(forge, full, forge.get("artifact", req.params["artifact_id"], repo=full))


@ROUTER.route("GET", "/repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}")
def download_artifact(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    doc = forge.get("artifact", req.params["artifact_id"], repo=full)
    if req.params["archive_format"] != "zip":
        raise not_found()
    location = f"{forge.repo_html(full)}/actions/artifacts/{doc['id']}.zip"
    return Response(302, None, {"Location": location})


@ROUTER.route("GET", "/web/{owner}/{repo}/actions/artifacts/{name}")
def web_artifact(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    name = req.params["name"]
    if not name.endswith(".zip"):
        raise not_found()
    doc = forge.get("artifact", name[: -len(".zip")], repo=full)
    path = artifact_path(forge, int(doc["id"]))
    if not path.exists():
        raise ApiError(410, "Artifact has expired")
    headers = {"Content-Disposition": f'attachment; filename="{doc["name"]}.zip"'}
    return Response(200, path.read_bytes(), headers, content_type="application/zip")


# ---- admin --------------------------------------------------------------------------------


@ROUTER.route("GET", "/_admin/actions")
def admin_get(forge: Forge, req: Request) -> dict[str, Any]:
    runs = [
        {
            "repo": r["repo"],
            "id": r["id"],
            "workflow": r["path"],
            "event": r["event"],
            "ref": r["ref"],
            "status": actions.run_status(r, forge.clock.now())[0],
            "conclusion": r["conclusion"],
        }
        for r in forge.find("run")
    ]
    return {"overrides": actions.overrides(forge), "runs": runs, "time": forge.clock.now()}


@ROUTER.route("POST", "/_admin/actions")
def admin_set(forge: Forge, req: Request) -> Response:
    data = body_dict(req)
    repo = data.get("repo")
    if not isinstance(repo, str) or "/" not in repo:
        raise validation_failed("Actions", "missing_field", "repo")
    full = str(forge.repo(*repo.split("/", 1))["full_name"])
    workflow = str(data.get("workflow") or "*")
    values: dict[str, Any] = {
        k: data[k] for k in ("duration", "conclusion", "log", "effects", "registry") if k in data
    }
    if "conclusion" in values and values["conclusion"] not in actions.CONCLUSIONS:
        raise validation_failed("Actions", "invalid", "conclusion")
    actions.set_override(forge, full, workflow, values)
    return Response(
        200, {"repo": full, "workflow": workflow, "overrides": actions.overrides(forge)[full]}
    )


@ROUTER.route("DELETE", "/_admin/actions")
def admin_clear(forge: Forge, req: Request) -> Response:
    repo = req.query.get("repo")
    actions.clear_overrides(forge, repo)
    return Response(204)
