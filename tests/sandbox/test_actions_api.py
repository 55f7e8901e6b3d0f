"""GitHub Actions in the sandbox forge: workflows, runs in time, effects, checks, admin.

Runs are short (a few tenths of a second, set in the workflows' ``x-sandbox`` or through the
admin API) and run on the sandbox clock, which these tests freeze and advance: a run is queued
until the test moves time on, so nothing here races the wall clock. Every JSON body is validated
against GitHub's published response schemas.
"""

from __future__ import annotations

import io
import shutil
import socket
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from github import Github

from releaser.sandbox.admin_client import SandboxAdmin
from releaser.sandbox.server import SandboxServer
from tests.sandbox.helpers import api, authed_git_url, git_env, make_repo, sandbox_github
from tests.sandbox.schemas import validate

REPO = "release-bot/svc"

RELEASE_YML = """\
name: Release
on:
  push:
    tags: ["v*", "!v*-skip"]
  workflow_dispatch:
    inputs:
      channel: {description: Channel, default: stable}
      tag: {description: Tag to build}
jobs:
  build:
    name: Build and publish
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: Build
        run: make dist
x-sandbox:
  duration: 0.4
  log: ["Building {tag} (version {version}) on {inputs.channel}"]
  effects:
    artifacts:
      - name: "dist-{version}"
        files: {"svc-{version}.txt": "svc {tag} at {sha}"}
    release_assets:
      files: {"svc-{version}.tar.gz": "tarball of {tag}"}
"""

CI_YML = """\
name: CI
on:
  push:
    branches: [main]
jobs:
  test: {runs-on: ubuntu-latest, steps: [{run: make test}]}
x-sandbox: {duration: 0.2}
"""

NIGHTLY_YML = """\
name: Nightly
on: {schedule: [{cron: "0 3 * * *"}]}
jobs:
  nightly: {runs-on: ubuntu-latest, steps: [{run: make nightly}]}
"""


def github(sandbox: SandboxServer) -> Github:
    return sandbox_github(sandbox, seconds_between_requests=None, seconds_between_writes=None)


RUN_BUDGET = 60  # seconds of sandbox time that finish any run of these tests


@pytest.fixture
def clock(sandbox: SandboxServer) -> Iterator[SandboxAdmin]:
    """The sandbox's admin client, its clock frozen."""
    with SandboxAdmin(sandbox.info()["admin_url"]) as admin_client:
        admin_client.freeze()
        yield admin_client


@pytest.fixture
def repo(sandbox: SandboxServer, clock: SandboxAdmin) -> str:
    return make_repo(
        sandbox,
        REPO,
        {
            "README.md": "# svc\n",
            ".github/workflows/release.yml": RELEASE_YML,
            ".github/workflows/ci.yml": CI_YML,
            ".github/workflows/nightly.yml": NIGHTLY_YML,
        },
    )


def get_run(client: httpx.Client, repo: str, run_id: int) -> dict[str, Any]:
    return dict(client.get(f"repos/{repo}/actions/runs/{run_id}").raise_for_status().json())


def finish(clock: SandboxAdmin, client: httpx.Client, repo: str, run_id: int) -> dict[str, Any]:
    """Move sandbox time past the run's end; the completed run."""
    clock.advance(RUN_BUDGET)
    run = get_run(client, repo, run_id)
    assert run["status"] == "completed", run
    return run


def runs(client: httpx.Client, repo: str, **params: str) -> list[dict[str, Any]]:
    resp = client.get(f"repos/{repo}/actions/runs", params=params).raise_for_status()
    validate("actions/list-workflow-runs-for-repo", 200, resp.json())
    return list(resp.json()["workflow_runs"])


def admin(sandbox: SandboxServer, **body: Any) -> dict[str, Any]:
    resp = httpx.post(f"{sandbox.info()['admin_url']}/actions", json=body)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def push_tag(client: httpx.Client, repo: str, tag: str) -> str:
    sha = client.get(f"repos/{repo}/git/ref/heads/main").json()["object"]["sha"]
    client.post(
        f"repos/{repo}/git/refs", json={"ref": f"refs/tags/{tag}", "sha": sha}
    ).raise_for_status()
    return str(sha)


def test_workflows_listed_with_stable_ids(sandbox: SandboxServer, repo: str) -> None:
    with api(sandbox) as client:
        listed = client.get(f"repos/{repo}/actions/workflows")
        validate("actions/list-repo-workflows", 200, listed.json())
        by_path = {w["path"]: w for w in listed.json()["workflows"]}
        assert sorted(by_path) == [
            ".github/workflows/ci.yml",
            ".github/workflows/nightly.yml",
            ".github/workflows/release.yml",
        ]
        release = by_path[".github/workflows/release.yml"]
        assert release["name"] == "Release" and release["state"] == "active"
        one = client.get(f"repos/{repo}/actions/workflows/release.yml")
        validate("actions/get-workflow", 200, one.json())
        assert one.json()["id"] == release["id"]
        assert client.get(f"repos/{repo}/actions/workflows/{release['id']}").json() == one.json()
        assert client.get(f"repos/{repo}/actions/workflows/none.yml").status_code == 404
    workflow = github(sandbox).get_repo(repo).get_workflow("release.yml")
    assert workflow.id == release["id"]
    assert workflow.path == ".github/workflows/release.yml"


def test_branch_push_starts_matching_workflows_only(
    sandbox: SandboxServer, repo: str, clock: SandboxAdmin
) -> None:
    with api(sandbox) as client:
        # creating main (make_repo) was a push of a branch: CI only
        first = runs(client, repo)
        assert [(r["name"], r["event"], r["head_branch"]) for r in first] == [
            ("CI", "push", "main")
        ]
        run = finish(clock, client, repo, first[0]["id"])
        validate("actions/get-workflow-run", 200, run)
        assert run["conclusion"] == "success"
        assert run["display_title"] == "Initial commit"
        assert run["head_commit"]["message"] == "Initial commit"
        push_tag(client, repo, "v0.1-skip")  # excluded by "!v*-skip"
        assert len(runs(client, repo)) == 1


def test_tag_push_run_completes_with_effects(
    sandbox: SandboxServer, repo: str, clock: SandboxAdmin
) -> None:
    gh_repo = github(sandbox).get_repo(repo)
    with api(sandbox) as client:
        release = client.post(f"repos/{repo}/releases", json={"tag_name": "v1.2.0"}).json()
        sha = client.get(f"repos/{repo}/git/ref/tags/v1.2.0").json()["object"]["sha"]
        tag_runs = runs(client, repo, event="push", branch="v1.2.0")
        assert len(tag_runs) == 1
        started = tag_runs[0]
        assert (started["status"], started["conclusion"]) == ("queued", None)
        assert started["head_sha"] == sha
        assert started["path"] == ".github/workflows/release.yml"
        clock.advance(0.1)  # past 20% of its 0.4 s
        running = get_run(client, repo, started["id"])
        assert (running["status"], running["conclusion"]) == ("in_progress", None)
        assert running["run_started_at"] == started["run_started_at"]
        assert [r["id"] for r in runs(client, repo, status="completed", branch="v1.2.0")] == []
        in_progress = runs(client, repo, status="in_progress", branch="v1.2.0")
        assert [r["id"] for r in in_progress] == [started["id"]]
        run = finish(clock, client, repo, started["id"])
        assert (run["status"], run["conclusion"]) == ("completed", "success")
        assert [
            r["id"] for r in runs(client, repo, status="success", head_sha=sha, branch="v1.2.0")
        ] == [run["id"]]

        # artifact: listed, zip downloadable through the redirect
        arts = client.get(f"repos/{repo}/actions/runs/{run['id']}/artifacts")
        validate("actions/list-workflow-run-artifacts", 200, arts.json())
        (artifact,) = arts.json()["artifacts"]
        assert artifact["name"] == "dist-1.2.0"
        redirect = client.get(artifact["archive_download_url"])
        assert redirect.status_code == 302
        data = httpx.get(redirect.headers["location"]).content
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            assert zf.namelist() == ["svc-1.2.0.txt"]
            assert zf.read("svc-1.2.0.txt").decode() == f"svc v1.2.0 at {sha}"
        assert artifact["size_in_bytes"] == len(data)

        # release asset attached by the run
        assets = client.get(f"repos/{repo}/releases/{release['id']}/assets").json()
        assert [a["name"] for a in assets] == ["svc-1.2.0.tar.gz"]
        assert httpx.get(assets[0]["browser_download_url"]).content == b"tarball of v1.2.0"

        # jobs and logs
        jobs = client.get(f"repos/{repo}/actions/runs/{run['id']}/jobs")
        validate("actions/list-jobs-for-workflow-run", 200, jobs.json())
        (job,) = jobs.json()["jobs"]
        assert job["name"] == "Build and publish"
        assert [s["name"] for s in job["steps"]] == [
            "Set up job",
            "actions/checkout@v4",
            "Build",
            "Complete job",
        ]
        assert {s["conclusion"] for s in job["steps"]} == {"success"}
        log_redirect = client.get(f"repos/{repo}/actions/jobs/{job['id']}/logs")
        assert log_redirect.status_code == 302
        log = httpx.get(log_redirect.headers["location"]).text
        assert "Building v1.2.0 (version 1.2.0) on {inputs.channel}" in log
        assert "Attached svc-1.2.0.tar.gz" in log
        run_logs = client.get(f"repos/{repo}/actions/runs/{run['id']}/logs", follow_redirects=True)
        with zipfile.ZipFile(io.BytesIO(run_logs.content)) as zf:
            assert zf.namelist() == ["0_Build and publish.txt"]

        # checks of the tagged commit; Actions writes check runs, not commit statuses
        checks = client.get(f"repos/{repo}/commits/v1.2.0/check-runs")
        validate("checks/list-for-ref", 200, checks.json())
        names = {c["name"]: c for c in checks.json()["check_runs"]}
        assert names["Build and publish"]["conclusion"] == "success"
        suites = client.get(f"repos/{repo}/commits/{sha}/check-suites")
        validate("checks/list-suites-for-ref", 200, suites.json())
        status = client.get(f"repos/{repo}/commits/{sha}/status")
        validate("repos/get-combined-status-for-ref", 200, status.json())
        assert (status.json()["state"], status.json()["total_count"]) == ("pending", 0)

    # the same through PyGithub
    gh_run = gh_repo.get_workflow_run(run["id"])
    assert gh_run.status == "completed" and gh_run.conclusion == "success"
    assert gh_run.html_url == f"{sandbox.url}/{repo}/actions/runs/{run['id']}"
    (gh_job,) = list(gh_run.jobs())
    assert gh_job.conclusion == "success"
    assert gh_job.logs_url().endswith(f"/actions/jobs/{gh_job.id}/logs.txt")
    assert [a.name for a in gh_run.get_artifacts()] == ["dist-1.2.0"]
    workflow = gh_repo.get_workflow("release.yml")
    assert [r.id for r in workflow.get_runs(branch="v1.2.0", event="push", head_sha=sha)] == [
        run["id"]
    ]
    commit = gh_repo.get_commit(sha)
    # the tag points at the initial commit, which CI ran on too
    assert sorted(c.name for c in commit.get_check_runs()) == ["Build and publish", "test"]
    assert {c.conclusion for c in commit.get_check_runs()} == {"success"}
    assert commit.get_combined_status().state == "pending"  # no commit status was posted


def test_git_push_of_annotated_tag_starts_a_run(
    sandbox: SandboxServer, repo: str, tmp_path: Path
) -> None:
    env = git_env(tmp_path)
    work = tmp_path / "work"

    def git(*args: str) -> str:
        proc = subprocess.run(
            ["git", *args], cwd=work, env=env, capture_output=True, text=True, check=True
        )
        return proc.stdout.strip()

    subprocess.run(
        ["git", "clone", "--quiet", authed_git_url(sandbox, repo), str(work)],
        env=env,
        check=True,
        capture_output=True,
    )
    (work / "CHANGELOG.md").write_text("## 5.0.0\n")
    git("add", "CHANGELOG.md")
    git("commit", "--quiet", "-m", "Release 5.0.0")
    git("tag", "-a", "v5.0.0", "-m", "Version 5.0.0")
    git("push", "--quiet", "origin", "main", "v5.0.0")
    commit = git("rev-parse", "HEAD")
    with api(sandbox) as client:
        tag_runs = runs(client, repo, branch="v5.0.0")
        assert [(r["name"], r["event"], r["head_sha"]) for r in tag_runs] == [
            ("Release", "push", commit)
        ]
        main_runs = runs(client, repo, branch="main", head_sha=commit)
        assert [r["name"] for r in main_runs] == ["CI"]
        assert main_runs[0]["display_title"] == "Release 5.0.0"


def test_release_event_starts_release_workflows(
    sandbox: SandboxServer, clock: SandboxAdmin
) -> None:
    publish = (
        "name: Publish\non:\n  release:\n    types: [published]\n"
        "jobs:\n  publish: {runs-on: ubuntu-latest, steps: [{run: make publish}]}\n"
        "x-sandbox: {duration: 0.1}\n"
    )
    repo = make_repo(sandbox, "release-bot/pub", {".github/workflows/publish.yml": publish})
    with api(sandbox) as client:
        draft = client.post(f"repos/{repo}/releases", json={"tag_name": "v1.0.0", "draft": True})
        assert runs(client, repo) == []
        client.patch(f"repos/{repo}/releases/{draft.json()['id']}", json={"draft": False})
        (run,) = runs(client, repo)
        assert (run["event"], run["head_branch"]) == ("release", "v1.0.0")
        assert finish(clock, client, repo, run["id"])["conclusion"] == "success"


def test_dispatch_inputs_and_errors(sandbox: SandboxServer, repo: str, clock: SandboxAdmin) -> None:
    gh_repo = github(sandbox).get_repo(repo)
    workflow = gh_repo.get_workflow("release.yml")
    assert workflow.create_dispatch("main", {"channel": "beta"}) is True
    with api(sandbox) as client:
        dispatched = runs(client, repo, event="workflow_dispatch")
        assert len(dispatched) == 1
        run = finish(clock, client, repo, dispatched[0]["id"])
        assert run["head_branch"] == "main"
        assert run["display_title"] == "Release"
        # not a tag: the release_assets effect has nothing to attach to
        assert run["conclusion"] == "failure"
        job = client.get(f"repos/{repo}/actions/runs/{run['id']}/jobs").json()["jobs"][0]
        log = client.get(f"repos/{repo}/actions/jobs/{job['id']}/logs", follow_redirects=True)
        assert "on beta" in log.text
        assert "##[error]release_assets: the run is not for a tag" in log.text

        details = client.post(
            f"repos/{repo}/actions/workflows/release.yml/dispatches",
            json={"ref": "main", "return_run_details": True, "inputs": {"tag": "v9.9.9"}},
        )
        assert details.status_code == 200
        validate("actions/create-workflow-dispatch", 200, details.json())
        rid = details.json()["workflow_run_id"]
        assert client.get(details.json()["run_url"]).json()["event"] == "workflow_dispatch"
        finished = finish(clock, client, repo, rid)
        assert finished["conclusion"] == "failure"  # no release for v9.9.9
        no_trigger = client.post(
            f"repos/{repo}/actions/workflows/ci.yml/dispatches", json={"ref": "main"}
        )
        assert no_trigger.status_code == 422
        assert "workflow_dispatch" in no_trigger.json()["message"]
        unknown = client.post(
            f"repos/{repo}/actions/workflows/release.yml/dispatches",
            json={"ref": "main", "inputs": {"nope": "x"}},
        )
        assert unknown.status_code == 422
        bad_ref = client.post(
            f"repos/{repo}/actions/workflows/release.yml/dispatches", json={"ref": "nope"}
        )
        assert bad_ref.status_code == 422
        per_workflow = client.get(f"repos/{repo}/actions/workflows/release.yml/runs")
        validate("actions/list-workflow-runs", 200, per_workflow.json())
        assert per_workflow.json()["total_count"] == 2
        numbers = [r["run_number"] for r in per_workflow.json()["workflow_runs"]]
        assert numbers == [2, 1]
    gh_run = workflow.create_dispatch("main", {"tag": "v1"}, return_run_details=True)
    assert gh_run.event == "workflow_dispatch"  # completed lazily from the run's url
    assert gh_run.run_number == 3


def test_failure_via_admin_then_rerun(
    sandbox: SandboxServer, repo: str, clock: SandboxAdmin
) -> None:
    admin(
        sandbox,
        repo=repo,
        workflow="release.yml",
        conclusion="failure",
        duration=0.2,
        log=["compiling {tag}"],
    )
    overrides = httpx.get(f"{sandbox.info()['admin_url']}/actions").json()["overrides"]
    assert overrides[repo]["release.yml"]["conclusion"] == "failure"
    with api(sandbox) as client:
        client.post(f"repos/{repo}/releases", json={"tag_name": "v2.0.0"}).raise_for_status()
        (started,) = runs(client, repo, branch="v2.0.0")
        run = finish(clock, client, repo, started["id"])
        assert run["conclusion"] == "failure"
        (job,) = client.get(f"repos/{repo}/actions/runs/{run['id']}/jobs").json()["jobs"]
        assert job["conclusion"] == "failure"
        assert [s["conclusion"] for s in job["steps"]][-2] == "failure"
        log = client.get(f"repos/{repo}/actions/jobs/{job['id']}/logs", follow_redirects=True)
        assert "compiling v2.0.0" in log.text
        assert "##[error]Process completed with exit code 1." in log.text
        assert (
            client.get(f"repos/{repo}/actions/runs/{run['id']}/artifacts").json()["artifacts"] == []
        )
        checks = client.get(f"repos/{repo}/commits/v2.0.0/check-runs").json()["check_runs"]
        assert {c["name"]: c["conclusion"] for c in checks}["Build and publish"] == "failure"
        assert [r["id"] for r in runs(client, repo, status="failure")] == [run["id"]]

        admin(sandbox, repo=repo, workflow="release.yml", conclusion="success")
        rerun = client.post(f"repos/{repo}/actions/runs/{run['id']}/rerun-failed-jobs")
        assert rerun.status_code == 201
        validate("actions/re-run-workflow-failed-jobs", 201, rerun.json())
        again = client.get(f"repos/{repo}/actions/runs/{run['id']}").json()
        assert again["run_attempt"] == 2
        assert (again["status"], again["conclusion"]) == ("queued", None)
        done = finish(clock, client, repo, run["id"])
        assert done["conclusion"] == "success"
        assert done["previous_attempt_url"].endswith("/attempts/1")
        # Jobs: the latest attempt's by default; filter=all: every attempt's, by its id too.
        jobs_url = f"repos/{repo}/actions/runs/{run['id']}/jobs"
        (latest,) = client.get(jobs_url).json()["jobs"]
        every = client.get(jobs_url, params={"filter": "all"}).json()
        validate("actions/list-jobs-for-workflow-run", 200, every)
        assert [(j["run_attempt"], j["conclusion"]) for j in every["jobs"]] == [
            (1, "failure"),
            (2, "success"),
        ]
        first = every["jobs"][0]
        assert every["jobs"][1] == latest and first["id"] != latest["id"]
        assert first["created_at"] <= first["started_at"] <= first["completed_at"]
        assert first["completed_at"] <= latest["created_at"]
        assert client.get(f"repos/{repo}/actions/jobs/{first['id']}").json() == first
        assert client.get(jobs_url, params={"filter": "some"}).status_code == 422
        rel = client.get(f"repos/{repo}/releases/tags/v2.0.0").json()
        assert [a["name"] for a in rel["assets"]] == ["svc-2.0.0.tar.gz"]
        checks = client.get(f"repos/{repo}/commits/v2.0.0/check-runs").json()["check_runs"]
        assert {c["name"]: c["conclusion"] for c in checks}["Build and publish"] == "success"
        assert (
            client.post(f"repos/{repo}/actions/runs/{run['id']}/rerun-failed-jobs").status_code
            == 403
        )


def test_missing_release_fails_the_run(
    sandbox: SandboxServer, repo: str, clock: SandboxAdmin
) -> None:
    admin(sandbox, repo=repo, workflow="*", duration=0.1)
    with api(sandbox) as client:
        push_tag(client, repo, "v3.0.0")
        (started,) = runs(client, repo, branch="v3.0.0")
        run = finish(clock, client, repo, started["id"])
        assert run["conclusion"] == "failure"
        job = client.get(f"repos/{repo}/actions/runs/{run['id']}/jobs").json()["jobs"][0]
        log = client.get(f"repos/{repo}/actions/jobs/{job['id']}/logs", follow_redirects=True)
        assert "##[error]release_assets: no release for tag v3.0.0" in log.text
        # the artifact effect came first and stays
        arts = client.get(f"repos/{repo}/actions/runs/{run['id']}/artifacts").json()
        assert [a["name"] for a in arts["artifacts"]] == ["dist-3.0.0"]
        assert runs(client, repo, created=f">={run['created_at'][:10]}")[0]["id"] == run["id"]
        assert runs(client, repo, created="<2000-01-01") == []


def test_restart_keeps_runs_and_finishes_due_ones_once(tmp_path: Path) -> None:
    root = tmp_path / "forge"
    first = SandboxServer(root).start()
    try:
        with SandboxAdmin(first.info()["admin_url"]) as clock:
            frozen = clock.freeze()
        make_repo(first, REPO, {".github/workflows/release.yml": RELEASE_YML})
        admin(first, repo=REPO, workflow="release.yml", duration=0.5)
        with api(first) as client:
            client.post(f"repos/{REPO}/releases", json={"tag_name": "v1.0.0"}).raise_for_status()
            (started,) = runs(client, REPO, branch="v1.0.0")
            assert started["status"] == "queued"
        old = first.url
    finally:
        first.stop()
    first.forge.clock.advance(1)  # while no server runs: the run is due at the next start
    second = SandboxServer(root, port=free_port(avoid=old)).start()
    try:
        with SandboxAdmin(second.info()["admin_url"]) as clock:
            assert clock.clock()["mode"] == "manual"  # the clock survives the restart
            assert clock.clock()["now"] == pytest.approx(frozen + 1)
        with api(second) as client:
            run = client.get(f"repos/{REPO}/actions/runs/{started['id']}").json()
            assert (run["status"], run["conclusion"]) == ("completed", "success")
            assert run["url"].startswith(second.url)
            assert run["repository"]["url"].startswith(second.url)
            for _ in range(3):  # reads do not re-apply effects
                client.get(f"repos/{REPO}/actions/runs/{started['id']}")
            assets = client.get(f"repos/{REPO}/releases/tags/v1.0.0").json()["assets"]
            assert [a["name"] for a in assets] == ["svc-1.0.0.tar.gz"]
            arts = client.get(f"repos/{REPO}/actions/runs/{run['id']}/artifacts").json()
            assert arts["total_count"] == 1
            assert arts["artifacts"][0]["archive_download_url"].startswith(second.url)
    finally:
        second.stop()


def free_port(avoid: str = "") -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if not avoid.endswith(f":{port}"):
            return port


# ---- OCI push against a real registry (docker-registry from Debian) -----------------------


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.skip("docker-registry is not installed (apt-get install docker-registry)")
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: warn, accesslog: {disabled: true}}\n"
        f"storage: {{filesystem: {{rootdirectory: {tmp_path / 'registry'}}}, "
        "delete: {enabled: true}, maintenance: {uploadpurging: {enabled: false}}}\n"
        f"http: {{addr: 127.0.0.1:{port}, secret: sandbox-secret}}\n"
    )
    proc = subprocess.Popen(
        [binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30  # a real process starting: a generous deadline
        while True:
            try:
                if httpx.get(f"{url}/v2/").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("docker-registry did not start")
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_oci_push_effect(sandbox: SandboxServer, registry: str, clock: SandboxAdmin) -> None:
    workflow = RELEASE_YML.replace(
        '    release_assets:\n      files: {"svc-{version}.tar.gz": "tarball of {tag}"}\n',
        "    oci_push:\n"
        "      {registry: 'http://127.0.0.1:1', repository: release-bot/svc, tag: '{version}'}\n",
    )
    make_repo(sandbox, REPO, {".github/workflows/release.yml": workflow})
    admin(sandbox, repo=REPO, workflow="release.yml", duration=0.1, registry=registry)
    with api(sandbox) as client:
        push_tag(client, REPO, "v4.5.6")
        (started,) = runs(client, REPO, branch="v4.5.6")
        run = finish(clock, client, REPO, started["id"])
        assert run["conclusion"] == "success", client.get(
            f"repos/{REPO}/actions/runs/{run['id']}/logs", follow_redirects=True
        ).content
    tags = httpx.get(f"{registry}/v2/release-bot/svc/tags/list").json()
    assert tags["tags"] == ["4.5.6"]
    manifest = httpx.get(
        f"{registry}/v2/release-bot/svc/manifests/4.5.6",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert manifest.status_code == 200
    assert manifest.json()["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
