"""What a newcomer hit releasing their own project, each kept from coming back.

Each test names the defect it guards (the first release of one's own project on a sandbox
forge: verbose output, exact dry runs, status from any machine, a moved forge, the final's
release PR, identities, an unreachable forge).
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

from releaser.sandbox.server import SandboxServer
from tests.steps.conftest import Project

FAST = "\n[engine]\npoll_interval = 0.5\nwait_timeout = 60\n"
RC, FINAL = "v1.2.0-rc1", "v1.2.0"


def release(project: Project, version: str, *args: str) -> Any:
    result = project.cli("--yes", "release", version, *args)
    assert result.exit_code == 0, result.output[-3000:]
    return result


# -- -v shows the tool's narration, one line per request --------------------------------------


def test_verbose_status_is_one_narrated_line_per_request(make_project) -> None:
    project = make_project(extra=FAST)
    release(project, RC)
    mark = len(project.requests())
    result = project.cli("-v", "status", RC)
    assert result.exit_code == 0, result.output[-2000:]
    made = project.requests()[mark:]
    narrated = [line for line in result.output.splitlines() if " -> " in line]
    api = [line for line in narrated if "/api/" in line]
    assert len(api) == len([r for r in made if r["path"].startswith("/api/")])
    port = project.info["api_url"].rsplit(":", 1)[1].split("/", 1)[0]
    for line in api:
        assert re.search(rf"· (GET|POST|PATCH|PUT|DELETE) http://127\.0\.0\.1:{port}/\S+ -> ", line)
    assert "{" not in result.output.split("releaser status")[0]  # no JSON bodies dumped
    assert "Authorization" not in result.output and "X-GitHub" not in result.output
    assert len(result.output) < 20_000
    # every lookup is made once per command: no path is read twice
    reads = Counter((r["method"], r["path"], r.get("query")) for r in made if r["method"] == "GET")
    assert max(reads.values()) == 1, [k for k, n in reads.items() if n > 1]


# -- a dry run is exact, and exits 1 on a real blocker -----------------------------------------


def test_final_dry_run_names_the_commit_to_come_never_the_rcs(make_project) -> None:
    project = make_project(extra=FAST)
    release(project, RC)
    rc_commit = project.repo.get_git_ref("tags/v1.2.0-rc1").object.sha
    rc_sha = project.repo.get_git_tag(rc_commit).object.sha
    mark = len(project.requests())
    result = project.cli("release", FINAL, "-n")
    assert project.writes_since(mark) == []
    out = result.output
    assert "would push tag v1.2.0 on the commit changelog would make" in out, out[-4000:]
    assert rc_sha not in out.split("▸ push-tag", 1)[1].split("▸", 1)[0]
    assert result.exit_code == 0, out[-2000:]


def test_dry_run_exits_1_on_a_real_blocker(make_project) -> None:
    project = make_project(extra=FAST)
    config = project.config_path.read_text()
    config = config.replace('assets_from = "artifacts"', 'assets_from = "dir"\nassets_dir = "dist"')
    project.config_path.write_text(config)
    mark = len(project.requests())
    result = project.cli("release", RC, "-n")
    assert project.writes_since(mark) == []
    assert result.exit_code == 1, result.output[-3000:]
    assert "release-assets blocked" in result.output
    assert "dist doesn't exist" in result.output


# -- status reads the forge and the ledger only ---------------------------------------------------


def test_status_from_a_directory_without_the_build_outputs(make_project, tmp_path: Path) -> None:
    project = make_project(extra=FAST)
    config = project.config_path.read_text()
    config = config.replace('assets_from = "artifacts"', 'assets_from = "dir"\nassets_dir = "dist"')
    project.config_path.write_text(config)
    dist = project.work / "dist"
    dist.mkdir()
    (dist / "example-1.2.0rc1.tar.gz").write_bytes(b"the sdist")
    release(project, RC)
    (dist / "example-1.2.0rc1.tar.gz").unlink()
    dist.rmdir()
    result = project.cli("status", RC, "--json")
    assert result.exit_code == 0
    import json

    data = json.loads(result.stdout)
    rows = {row["step"]: row for stage in data["stages"] for row in stage["steps"]}
    assert rows["release-assets"]["status"] == "done", rows["release-assets"]
    assert data["next"] is None


# -- a finished release stays done when the forge moves ------------------------------------------


def test_a_finished_release_stays_done_on_another_port(make_project) -> None:
    project = make_project(extra=FAST)
    release(project, RC)
    project.server.stop()
    with socket.socket() as sock:  # a port the forge did not use before
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    project.server = SandboxServer(project.root / "forge", port=port).start()
    info = project.server.info()
    assert info["api_url"] != project.info["api_url"]
    config = project.config_path.read_text()
    config = config.replace(project.info["api_url"], info["api_url"])
    config = config.replace(project.info["git_url"], info["git_url"])
    project.config_path.write_text(config)
    project.info = info
    result = project.cli("status", RC)
    assert result.exit_code == 0
    assert " todo " not in result.output, result.output[-3000:]
    mark = len(project.requests())
    release(project, RC)
    assert project.writes_since(mark) == []


def test_sandbox_serve_reuses_its_last_port(tmp_path: Path) -> None:
    first = SandboxServer(tmp_path / "forge").start()
    port = first.info()["api_url"]
    first.stop()
    again = SandboxServer(tmp_path / "forge").start()
    try:
        assert again.info()["api_url"] == port
    finally:
        again.stop()


# -- the final's release PR -----------------------------------------------------------------


def test_the_final_retitles_the_rcs_release_pr_and_marks_it_ready(make_project) -> None:
    project = make_project(extra=FAST)
    project.run_stage(RC, "prepare")
    [pull] = [p for p in project.repo.get_pulls(state="all") if p.head.ref == "release-v1.2"]
    assert pull.draft and pull.title == "Release v1.2.0-rc1"
    project.run_stage(FINAL, "prepare")
    pull = project.repo.get_pull(pull.number)
    assert pull.title == "Release v1.2.0" and not pull.draft
    assert (
        len([p for p in project.repo.get_pulls(state="all") if p.head.ref == "release-v1.2"]) == 1
    )


# -- identities: the driver's, from the repository's git config ---------------------------------


def test_commits_and_tags_carry_the_repositorys_git_identity(make_project) -> None:
    project = make_project(extra=FAST)
    work = project.work
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    for key, value in (("user.name", "Dana Driver"), ("user.email", "dana@example.org")):
        subprocess.run(["git", "-C", str(work), "config", key, value], check=True)
    for stage in ("start", "prepare", "tag"):
        project.run_stage(RC, stage)
    head = project.repo.get_branch("release-v1.2").commit.commit
    assert (head.author.name, head.author.email) == ("Dana Driver", "dana@example.org")
    tag_sha = project.repo.get_git_ref("tags/v1.2.0-rc1").object.sha
    tag = project.repo.get_git_tag(tag_sha)
    assert (tag.tagger.name, tag.tagger.email) == ("Dana Driver", "dana@example.org")


# -- an unreachable forge: a few seconds, one clear line ---------------------------------------


def test_an_unreachable_forge_is_said_plainly_and_quickly(make_project) -> None:
    project = make_project(extra=FAST)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens there
    config = project.config_path.read_text().replace(
        project.info["api_url"], f"http://127.0.0.1:{port}/api/v3"
    )
    project.config_path.write_text(config)
    started = time.monotonic()
    result = project.cli("status", RC)
    assert time.monotonic() - started < 8
    assert result.exit_code == 1
    assert f"cannot reach http://127.0.0.1:{port}/api/v3 (connection refused)" in result.output
    assert "check [forge] api_url or your network" in result.output
    assert "Traceback" not in result.output and "HTTPConnectionPool" not in result.output
