"""`releaser report` on the sandbox, after the demo plus two more releases: the timeline of
a release (stages, durations, the re-run), trends across releases, the JSON schema of
docs/report.md, the HTML page in headless Chromium, and the docs' command lines (slow); a
release in progress, from another machine (fast).

The history of the slow tests (built once for the module):

- the demo (`releaser demo`: v1.2.0-rc1 and v1.2.0, on the system clock);
- v1.2.1 on a frozen sandbox clock: `start` at T0, `prepare` 600 s later, `release` 1800 s
  after that; the build workflow takes 300 s (queued 60 s);
- v1.3.0-rc1 from T1: `start` and `prepare`; bob approves the release PR 1500 s later; 300 s
  later `release`: the build workflow fails after 120 s (queued 24 s) and the command stops;
  900 s later bob re-runs the failed job (now succeeding), and `release` goes on to the end.

Waits move the sandbox's clock instead of sleeping (the engine's ``sleep`` advances it), so
every duration is exact and nothing races the wall clock. The drivers read the forge's clock
from the admin API rather than from ``Date`` headers: those have one-second resolution and
the client extrapolates them with the machine's own clock, so on a loaded machine a stage's
recorded time could drift by a second from the forge's.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import shlex
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from typer.testing import CliRunner, Result

from releaser.cli import app
from releaser.sandbox.admin_client import SandboxAdmin
from releaser.sandbox.server import SandboxServer
from tests.machines import Machine
from tests.steps.conftest import Project

ROOT = Path(__file__).resolve().parents[3]
REPO = "acme/example"
TOKEN_ENV = "SANDBOX_TOKEN"
PATCH, RC = "v1.2.1", "v1.3.0-rc1"
STAGES = ["start", "prepare", "tag", "build", "publish", "promote", "downstream", "merge", "next"]


def report_schema() -> dict[str, Any]:
    """The JSON Schema in docs/report.md (the one ```json block of its "JSON" section)."""
    text = (ROOT / "docs" / "report.md").read_text()
    (block,) = re.findall(r"```json\n(.*?)```", text.split("## JSON", 1)[1], re.S)
    schema: dict[str, Any] = json.loads(block)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def at(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class History:
    base: Path
    work: Path
    admin: SandboxAdmin
    info: dict[str, str]
    t0: float  # v1.2.1's start
    t1: float  # v1.3.0-rc1's start
    demo_output: str

    def cli(self, *args: str) -> Result:
        with contextlib.chdir(self.work):
            return CliRunner().invoke(
                app,
                list(args),
                env={
                    TOKEN_ENV: self.info["token"],
                    "RELEASER_DRIVER": "tester",
                    "RELEASER_HOST": "ci-box",
                },
            )

    def ok(self, *args: str) -> Result:
        result = self.cli("--non-interactive", *args)
        assert result.exit_code == 0, (args, result.output[-3000:])
        return result

    def api(self, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        headers = {"Authorization": f"token {token or self.info['token']}"}
        response = httpx.request(
            method, self.info["api_url"] + path, headers=headers, timeout=30, **kw
        )
        response.raise_for_status()
        return response.json() if response.content else None

    def actions(self, **values: Any) -> None:
        body = {"repo": REPO, "workflow": "build.yml", **values}
        httpx.post(self.info["admin_url"] + "/actions", json=body, timeout=30).raise_for_status()

    def report(self, *args: str) -> dict[str, Any]:
        result = self.cli("report", *args, "--json")
        assert result.exit_code == 0, result.output[-3000:]
        data: dict[str, Any] = json.loads(result.stdout)
        return data


def _use_sandbox(config: Path, info: dict[str, str]) -> None:
    """The demo's releaser.toml, on the forge this test serves, polling every 30 s."""
    text = config.read_text()
    forge = (
        f'api_url = "{info["api_url"]}"\ngit_url = "{info["git_url"]}"\ntoken_env = "{TOKEN_ENV}"\n'
    )
    text = text.replace('sandbox = "../forge"\n', forge)
    base = info["api_url"].split("/api/")[0]  # the services' URLs on the host `sandbox`
    text = text.replace("http://sandbox", base)
    # polls every 30 s exactly (no backoff), so the timeline's figures are exact
    text = re.sub(r"poll_interval = .*", "poll_interval = 30\npoll_max_interval = 30", text)
    text = re.sub(r"wait_timeout = .*", "wait_timeout = 3600", text)
    config.write_text(text)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    from releaser.clients.github import GitHubAPI
    from releaser.commands import stage as stage_module
    from releaser.demo import run_demo
    from releaser.engine import Engine
    from releaser.ui import UI

    base = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(base / "cache"))
        mp.delenv("CI", raising=False)
        out = io.StringIO()
        run_demo(base, keep=False, ui=UI(out=out, err=out))
        server = SandboxServer(base / "forge").start()
        admin = SandboxAdmin(server.info()["admin_url"])
        try:
            info = server.info()
            work = base / "work"
            _use_sandbox(work / "releaser.toml", info)

            with pytest.MonkeyPatch.context() as clock:  # while building the history

                class ClockedEngine(Engine):
                    """Waits by moving the sandbox's clock (whole seconds) instead of sleeping."""

                    def __init__(self, ctx: Any) -> None:
                        super().__init__(ctx)
                        self.sleep = lambda seconds: admin.advance(math.ceil(seconds))

                clock.setattr(stage_module, "Engine", ClockedEngine)
                clock.setattr(GitHubAPI, "now", lambda self: float(admin.clock()["now"]))
                t0 = float(math.ceil(admin.clock()["now"]) + 60)
                admin.freeze(at=t0)
                history = History(base, work, admin, info, t0, 0.0, out.getvalue())

                # v1.2.1: start, prepare 10 min later, the rest 30 min after that.
                history.actions(duration=300, conclusion="success")
                history.ok("--yes", "start", PATCH)
                admin.advance(600)
                history.ok("--yes", "prepare", PATCH)
                admin.advance(1800)
                history.ok("--yes", "release", PATCH)

                # v1.3.0-rc1: an approval, a failed build, a re-run.
                bob = admin.create_user("bob")
                admin.add_collaborator(REPO, "bob", "write")
                history.actions(duration=120, conclusion="failure")
                history.t1 = admin.advance(3600)
                history.ok("--yes", "start", RC)
                history.ok("--yes", "prepare", RC)
                admin.advance(1500)
                (pull,) = history.api(
                    "GET",
                    f"/repos/{REPO}/pulls",
                    params={"head": "acme:release-v1.3", "state": "all"},
                )
                history.api(
                    "POST",
                    f"/repos/{REPO}/pulls/{pull['number']}/reviews",
                    token=bob["token"],
                    json={"event": "APPROVE", "body": "looks right"},
                )
                admin.advance(300)
                failed = history.cli("--non-interactive", "--yes", "release", RC)
                assert failed.exit_code == 1, failed.output[-3000:]
                assert "concluded failure" in failed.output
                admin.advance(900)
                history.actions(conclusion="success")
                (run,) = history.api("GET", f"/repos/{REPO}/actions/runs", params={"branch": RC})[
                    "workflow_runs"
                ]
                history.api(
                    "POST",
                    f"/repos/{REPO}/actions/runs/{run['id']}/rerun-failed-jobs",
                    bob["token"],
                )
                history.ok("--yes", "release", RC)
            yield history
        finally:
            admin.close()
            server.stop()


@pytest.mark.slow
def test_report_shows_the_stages_durations_and_the_rerun(history: History) -> None:
    t1 = history.t1
    data = history.report(RC)
    jsonschema.validate(data, report_schema())
    assert (data["format"], data["repo"], data["trends"]) == (1, REPO, None)
    release = data["release"]
    assert (release["release"], release["kind"], release["ledger"]) == (RC, "rc", True)
    assert (release["start"], release["end"]) == (at(t1), at(t1 + 2940))
    assert release["drivers"] == ["tester"]

    stages = {s["stage"]: s["runs"] for s in release["stages"]}
    assert [s["stage"] for s in release["stages"]] == STAGES
    for name in ("start", "prepare"):
        (run,) = stages[name]
        assert (run["start"], run["end"], run["outcome"]) == (at(t1), at(t1), "done")
    assert [s["step"] for s in stages["prepare"][0]["steps"]][:2] == [
        "version-branch",
        "version-bump",
    ]
    (tag,) = stages["tag"]
    assert (tag["start"], tag["seconds"], tag["by"], tag["host"]) == (
        at(t1 + 1800),
        0,
        "tester",
        "ci-box",
    )
    first, second = stages["build"]
    assert (first["attempt"], first["outcome"], first["stopped"]) == (
        1,
        "failed",
        "build-workflows",
    )
    assert (first["start"], first["end"], first["seconds"]) == (at(t1 + 1800), at(t1 + 1920), 120)
    assert first["steps"] == [
        {
            "step": "build-workflows",
            "status": "failed",
            "start": at(t1 + 1800),
            "end": at(t1 + 1920),
            "seconds": 120,
        }
    ]
    assert (second["attempt"], second["outcome"], second["stopped"]) == (2, "done", None)
    assert (second["start"], second["end"], second["seconds"]) == (
        at(t1 + 2820),
        at(t1 + 2940),
        120,
    )
    assert [(s["step"], s["status"], s["seconds"]) for s in second["steps"]] == [
        ("build-workflows", "done", 120)
    ]
    for name in ("publish", "promote", "merge", "next"):
        assert [(r["start"], r["seconds"]) for r in stages[name]] == [(at(t1 + 2940), 0)]

    (workflow,) = release["workflows"]
    assert (workflow["workflow"], workflow["event"], workflow["ref"]) == ("build.yml", "push", RC)
    assert (workflow["conclusion"], workflow["reruns"]) == ("success", 1)
    attempts = [
        (a["attempt"], a["conclusion"], a["created"], a["queue_seconds"], a["run_seconds"])
        for a in workflow["attempts"]
    ]
    assert attempts == [
        (1, "failure", at(t1 + 1800), 24, 96),
        (2, "success", at(t1 + 2820), 24, 96),
    ]
    assert workflow["attempts"][1]["triggered_by"] == "bob"
    assert [(j["name"], j["conclusion"]) for j in workflow["attempts"][0]["jobs"]] == [
        ("build", "failure")
    ]

    assert [
        (p["kind"], p["who"], p["start"], p["end"], p["seconds"]) for p in release["people"]
    ] == [
        ("approval", "bob", at(t1), at(t1 + 1500), 1500),
        ("rerun", "bob", at(t1 + 1920), at(t1 + 2820), 900),
    ]
    assert release["totals"] == {
        "duration_seconds": 2940,
        "stage_seconds": 240,
        "ci_seconds": 240,
        "ci_queue_seconds": 48,
        "people_seconds": 2400,
        "reruns": 1,
        "stage_retries": 1,
    }
    assert release["build"] == {
        "workflows": ["build.yml"],
        "attempts": 2,
        "median_seconds": 120,
        "median_queue_seconds": 24,
        "success_rate": 0.5,
    }

    patch = history.report(PATCH)["release"]
    t0 = history.t0
    # It ends 30 s after publish: the downstream stage waits one poll for the dependent's
    # tests (acme/example-app, dispatched by the demo's [[downstream]]).
    assert (patch["start"], patch["end"], patch["kind"]) == (at(t0), at(t0 + 2730), "patch")
    runs = {s["stage"]: s["runs"] for s in patch["stages"]}
    assert [(r["start"], r["end"]) for r in runs["prepare"]] == [(at(t0 + 600), at(t0 + 600))]
    assert [(r["start"], r["seconds"]) for r in runs["build"]] == [(at(t0 + 2400), 300)]
    (attempt,) = patch["workflows"][0]["attempts"]
    assert (attempt["queue_seconds"], attempt["run_seconds"]) == (60, 240)
    assert patch["people"] == [] and patch["totals"]["reruns"] == 0
    assert patch["totals"]["ci_seconds"] == 300 and patch["totals"]["duration_seconds"] == 2730

    # The terminal: the same rows, as a table with bars.
    shown = history.cli("report", RC)
    assert shown.exit_code == 0, shown.output
    text = shown.output
    for line in ("build #1", "build #2", "build.yml #1 build", "build.yml #2 build"):
        assert line in text
    assert "re-ran build.yml (attempt 2)," in text and "after 15m00s" in text  # may wrap
    assert "approved PR #" in text and "after 25m00s" in text
    assert "failure: queued 24s, ran 1m36s" in text and "success: queued 24s, ran 1m36s" in text
    assert "total 49m00s" in text and "1 workflow re-run(s), 1 stage retry(ies)" in text
    assert "2 attempt(s), median 2m00s, queued 24s, 50% succeeded" in text


@pytest.mark.slow
def test_since_shows_three_releases_with_their_ci_figures(history: History) -> None:
    data = history.report("--since", "v1.2.0")
    jsonschema.validate(data, report_schema())
    assert data["release"] is None
    trends = data["trends"]
    assert trends["since"] == "v1.2.0"
    rows = {r["release"]: r for r in trends["releases"]}
    assert list(rows) == ["v1.2.0", PATCH, RC]
    demo = rows["v1.2.0"]  # made by the demo on the system clock: figures, not exact ones
    assert demo["ledger"] and demo["build"]["attempts"] == 1
    assert demo["build"]["success_rate"] == 1.0 and demo["reruns"] == 0
    assert demo["published"] is not None
    patch, rc = rows[PATCH], rows[RC]
    assert (patch["duration_seconds"], patch["ci_seconds"], patch["people_seconds"]) == (
        2730,  # with the dependent's tests (one poll)
        300,
        0,
    )
    assert patch["build"] == {
        "workflows": ["build.yml"],
        "attempts": 1,
        "median_seconds": 300,
        "median_queue_seconds": 60,
        "success_rate": 1.0,
    }
    assert (rc["duration_seconds"], rc["ci_seconds"], rc["ci_queue_seconds"]) == (2940, 240, 48)
    assert (rc["people_seconds"], rc["reruns"], rc["stage_retries"]) == (2400, 1, 1)
    assert rc["build"]["median_seconds"] == 120 and rc["build"]["success_rate"] == 0.5

    shown = history.cli("-v", "report", "--since", "v1.2.0")
    assert shown.exit_code == 0, shown.output
    table = shown.stdout
    assert "releases since v1.2.0" in table
    cells = {
        row[0]: row[1:]
        for line in table.splitlines()
        if line.startswith("│")
        for row in [[c.strip() for c in line.strip("│").split("│")]]
    }
    assert list(cells) == ["v1.2.0", PATCH, RC], table
    figures = ["45m30s", "5m00s", "1m00s", "0s", "0", "5m00s", "1m00s", "100%"]
    assert cells[PATCH][:8] == figures
    assert cells[RC][:8] == ["49m00s", "4m00s", "48s", "40m00s", "1", "2m00s", "24s", "50%"]
    assert cells[RC][8].count("█") > cells[PATCH][8].count("█") > 0  # bars to scale
    # Requests, printed with -v: the repository, its releases and tags, then per release its
    # ledger (2), the tag's runs, each run's jobs (every attempt at once), and once per
    # version branch its pull requests and their reviews. Measured: 20 for these 3.
    (count,) = re.findall(r"forge requests: (\d+)", shown.stderr)
    assert 12 <= int(count) <= 3 + 7 * 3, shown.stderr


@pytest.mark.slow
def test_html_page_renders_in_headless_chromium(history: History, tmp_path: Path) -> None:
    from PIL import Image

    from releaser.insights.gantt import COLORS

    page = tmp_path / "report.html"
    result = history.cli("report", RC, "--since", "v1.2.0", "--html", str(page))
    assert result.exit_code == 0, result.output
    assert f"wrote {page}" in result.output
    html = page.read_text()
    # Self-contained: no script, nothing to fetch, a policy that forbids fetching anyway.
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert not re.search(r"""(src|href)=["']?(https?:)?//|url\(|@import""", html)
    assert "default-src 'none'" in html
    for stage in STAGES:
        assert re.search(rf'<rect class="seg stage[^"]*"[^>]*data-stage="{stage}"', html), stage
    assert html.count('data-stage="build" data-attempt="2"') >= 1
    assert 'class="seg run-failed"' in html and 'class="seg people"' in html
    for release in ("v1.2.0", PATCH, RC):
        assert f'<g class="trend" data-release="{release}">' in html

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        from tests.services.process import missing

        missing("chromium", "apt-get install chromium")
    shot = tmp_path / "shot.png"
    profile = tmp_path / "profile"
    proc = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--screenshot={shot}",
            "--window-size=1400,900",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert shot.exists(), proc.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1400, 900)
    raw = image.tobytes()
    counts = Counter(zip(raw[0::3], raw[1::3], raw[2::3], strict=True))
    white = sum(n for (r, g, b), n in counts.items() if min(r, g, b) >= 245)
    assert white < 0.97 * 1400 * 900 and len(counts) > 50  # not blank: text, lines, bars

    def pixels(color: str) -> int:
        want = tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))
        return sum(
            n
            for rgb, n in counts.items()
            if all(abs(a - b) <= 6 for a, b in zip(rgb, want, strict=True))
        )

    # Every kind of bar is drawn (only the chart's bars have these exact colours: the
    # legends' swatches are translucent, the trends chart uses other shades).
    drawn = {kind: pixels(color) for kind, color in COLORS.items()}
    for kind, count in drawn.items():
        assert count >= 30, (kind, drawn)
    # The two 120 s build attempts and the 1500 s approval wait are to scale: the approval's
    # bar is longer than both attempts' run segments together.
    assert drawn["people"] > drawn["run"] + drawn["run-failed"], drawn


@pytest.mark.slow
def test_the_docs_report_command_lines_run(history: History) -> None:
    lines = []
    for doc in ("docs/report.md", "README.md"):
        for block in re.findall(r"```sh\n(.*?)```", (ROOT / doc).read_text(), re.S):
            for line in block.splitlines():
                command = line.split("#", 1)[0].strip()
                if command.startswith("releaser ") and " report" in command:
                    lines.append(command)
    assert len(lines) >= 5, lines
    for line in lines:
        result = history.cli(*shlex.split(line)[1:])
        assert result.exit_code == 0, (line, result.output[-2000:])
    assert (history.work / "report.html").exists()


@pytest.mark.slow
def test_demo_ends_with_the_report_of_its_release(history: History) -> None:
    path = history.base / "report-v1.2.0.html"
    assert f"Report of v1.2.0 (timeline, CI and people, trends): {path}" in history.demo_output
    html = path.read_text()
    assert '<section class="release" data-release="v1.2.0">' in html
    assert '<g class="trend" data-release="v1.2.0-rc1">' in html


@pytest.mark.slow
def test_a_release_with_nothing_recorded_is_a_usage_error(history: History) -> None:
    result = history.cli("report", "v9.9.9")
    assert result.exit_code == 2
    assert "nothing recorded for v9.9.9" in result.output and "Traceback" not in result.output
    assert history.cli("report").exit_code == 2


def test_a_release_in_progress_from_another_machine(project: Project, tmp_path: Path) -> None:
    """Fast: two stages run by alice; carol, who ran nothing, reads the report."""
    alice = Machine(project, "a", "alice", "laptop-a")
    carol = Machine(project, "c", "carol", "laptop-c")
    for stage in ("start", "prepare"):
        assert alice.cli("--yes", stage, "v1.2.0-rc1").exit_code == 0
    mark = len(project.requests())
    page = tmp_path / "page.html"
    result = carol.cli("-v", "report", "v1.2.0-rc1", "--json", "--html", str(page))
    assert result.exit_code == 0, result.output[-2000:]
    assert project.writes_since(mark) == []  # a report only reads
    data = json.loads(result.stdout)
    jsonschema.validate(data, report_schema())
    release = data["release"]
    assert [s["stage"] for s in release["stages"]] == ["start", "prepare"]
    assert release["drivers"] == ["alice"] and release["workflows"] == []
    (prepare,) = release["stages"][1]["runs"]
    assert (prepare["by"], prepare["host"], prepare["outcome"]) == ("alice", "laptop-a", "done")
    assert [s["step"] for s in prepare["steps"]][:2] == ["version-branch", "version-bump"]
    assert all(s["start"] and s["end"] for s in prepare["steps"])
    assert release["totals"]["reruns"] == 0 and release["build"]["attempts"] == 0
    assert f"wrote {page}" in result.stderr  # stdout is the JSON alone
    assert re.search(r"forge requests: \d+ \(\d+ answered 304", result.stderr)
    html = page.read_text()
    assert 'data-stage="start"' in html and 'data-stage="prepare"' in html

    assert carol.cli("report").exit_code == 2
    bad = carol.cli("report", "1.2")
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_a_workflow_dispatched_on_another_ref_is_found_in_the_release_s_window(
    make_project: Any,
) -> None:
    from tests.steps.release_helpers import make_version_branch

    extra = (
        '\n[[build.workflows]]\nfile = "build.yml"\non = "dispatch"\nref = "main"\n'
        "\n[engine]\npoll_interval = 1\nwait_timeout = 60\n"
    )
    project = make_project(extra=extra)
    make_version_branch(project)
    project.run_stage("v1.2.0-rc1", "tag")
    project.run_stage("v1.2.0-rc1", "build")
    result = project.cli("report", "v1.2.0-rc1", "--json")
    assert result.exit_code == 0, result.output[-2000:]
    release = json.loads(result.stdout)["release"]
    found = sorted((w["event"], w["ref"], w["conclusion"]) for w in release["workflows"])
    assert found == [("push", "v1.2.0-rc1", "success"), ("workflow_dispatch", "main", "success")]
    assert [s["stage"] for s in release["stages"]] == ["tag", "build"]
    assert release["build"]["attempts"] == 2 and release["build"]["success_rate"] == 1.0
