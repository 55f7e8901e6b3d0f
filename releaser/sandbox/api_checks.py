"""Check runs and check suites, derived from workflow runs.

Every workflow run on a commit is a check suite (id = run id) made of one check run per job
of its current attempt (id = job id, so a job's ``check_run_url`` resolves), named after the
job. A check run is red when its run concludes otherwise than success/neutral/skipped (make
one so with ``POST /_admin/actions {"conclusion": "failure"}``). Commit statuses, which are
not check runs, are in ``api_statuses``; which runs a commit has is :mod:`.checks`'s.
"""

from __future__ import annotations

from typing import Any

from releaser.sandbox import actions, render
from releaser.sandbox.actions import JobState
from releaser.sandbox.checks import latest_per_workflow, runs_on
from releaser.sandbox.forge import Forge
from releaser.sandbox.http import ROUTER, Request, Response, full_name, not_found, paginate
from releaser.sandbox.runs import iso

APP_ID = 15368
APP_CREATED = "2018-07-30T09:30:17Z"


def app_json(forge: Forge) -> dict[str, Any]:
    owner = forge.user_json("github")
    owner["type"] = "Organization"
    return {
        "id": APP_ID,
        "slug": "github-actions",
        "node_id": "MDM6QXBwMTUzNjg=",
        "owner": owner,
        "name": "GitHub Actions",
        "description": "Automate your workflow from idea to production",
        "external_url": "https://help.github.com/en/actions",
        "html_url": f"{forge.html_url}/apps/github-actions",
        "created_at": APP_CREATED,
        "updated_at": APP_CREATED,
        "permissions": {
            "actions": "write",
            "checks": "write",
            "contents": "write",
            "metadata": "read",
        },
        "events": ["check_run", "check_suite", "push", "workflow_dispatch"],
    }


def resolve_sha(forge: Forge, full: str, ref: str) -> str:
    sha = forge.resolve(full, ref)
    if sha is None:
        raise not_found()
    return sha


def check_run_json(forge: Forge, full: str, run: dict[str, Any], job: JobState) -> dict[str, Any]:
    jid = actions.job_id(run, job.index)
    html = f"{forge.repo_html(full)}/actions/runs/{run['id']}/job/{jid}"
    url = f"{forge.repo_api(full)}/check-runs/{jid}"
    summary = run.get("failure") if job.conclusion == "failure" else None
    return {
        "id": jid,
        "head_sha": run["head_sha"],
        "node_id": f"CR_{jid}",
        "external_id": f"sandbox-{jid}",
        "url": url,
        "html_url": html,
        "details_url": html,
        "status": job.status,
        "conclusion": job.conclusion,
        "started_at": iso(job.started_ts),
        "completed_at": iso(job.completed_ts) if job.completed_ts is not None else None,
        "output": {
            "title": None if summary is None else f"{job.name} failed",
            "summary": summary,
            "text": None,
            "annotations_count": 0,
            "annotations_url": f"{url}/annotations",
        },
        "name": job.name,
        "check_suite": {"id": run["id"]},
        "app": app_json(forge),
        "pull_requests": [],
    }


def check_suite_json(forge: Forge, full: str, run: dict[str, Any]) -> dict[str, Any]:
    status, conclusion = actions.run_status(run, forge.clock.now())
    repo = forge.repo(*full.split("/", 1))
    return {
        "id": run["id"],
        "node_id": f"CS_{run['id']}",
        "head_branch": run["head_branch"],
        "head_sha": run["head_sha"],
        "status": status,
        "conclusion": conclusion,
        "url": f"{forge.repo_api(full)}/check-suites/{run['id']}",
        "before": None,
        "after": run["head_sha"],
        "pull_requests": [],
        "app": app_json(forge),
        "repository": render.repo_json(forge, repo),
        "created_at": iso(float(run["created_ts"])),
        "updated_at": iso(float(run.get("completed_ts") or run["attempt_ts"])),
        "head_commit": run["head_commit"],
        "latest_check_runs_count": len(run["jobs"]),
        "check_runs_url": f"{forge.repo_api(full)}/check-suites/{run['id']}/check-runs",
        "rerequestable": True,
        "runs_rerequestable": True,
    }


@ROUTER.route("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs")
def list_check_runs(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    sha = resolve_sha(forge, full, req.params["ref"])
    runs = runs_on(forge, full, sha)
    if req.query.get("filter", "latest") == "latest":
        runs = latest_per_workflow(runs)
    items = []
    for run in runs:
        for job in actions.job_states(run, forge.clock.now()):
            items.append(check_run_json(forge, full, run, job))
    if req.query.get("check_name"):
        items = [i for i in items if i["name"] == req.query["check_name"]]
    if req.query.get("status"):
        items = [i for i in items if i["status"] == req.query["status"]]
    return paginate(forge, req, items, key="check_runs")


@ROUTER.route("GET", "/repos/{owner}/{repo}/commits/{ref}/check-suites")
def list_check_suites(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    sha = resolve_sha(forge, full, req.params["ref"])
    suites = [check_suite_json(forge, full, r) for r in runs_on(forge, full, sha)]
    return paginate(forge, req, suites, key="check_suites")


@ROUTER.route("GET", "/repos/{owner}/{repo}/check-runs/{check_run_id}")
def get_check_run(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    try:
        run_id, attempt, index = actions.split_job_id(int(req.params["check_run_id"]))
    except ValueError:
        raise not_found() from None
    run = actions.settle(forge, full, forge.get("run", run_id, repo=full))
    jobs = actions.job_states(run, forge.clock.now())
    if attempt != int(run["run_attempt"]) or not 0 <= index < len(jobs):
        raise not_found()
    return check_run_json(forge, full, run, jobs[index])


@ROUTER.route("GET", "/repos/{owner}/{repo}/check-suites/{check_suite_id}")
def get_check_suite(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    run = actions.settle(forge, full, forge.get("run", req.params["check_suite_id"], repo=full))
    return check_suite_json(forge, full, run)
