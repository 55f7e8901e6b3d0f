"""`releaser demo`: a whole rehearsal from nothing, then again on the same directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from releaser.cli import app


def test_demo_releases_then_converges_on_a_rerun(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CI", raising=False)
    first = CliRunner().invoke(app, ["demo", "--dir", str(tmp_path)])
    assert first.exit_code == 0, first.output
    out = first.output
    assert "Released v1.2.0" in out
    for stage in ("start", "prepare", "tag", "build", "publish", "merge", "next"):
        assert f"{stage} v1.2.0-rc1" in out and f"{stage} v1.2.0" in out
    assert "example-1.2.0.tar.gz" in out and "SHA256SUMS" in out
    assert "(closed)" in out  # the tracking issue
    assert "downstream v1.2.0" in out  # the dependent, updated at the final only
    assert "acme/example-app PR #1: Update example to v1.2.0 (open)" in out
    assert "acme/example-app tests on update-to-v1.2.0: success" in out
    assert "acme/example-app: PR open" in out and "acme/example-app: passed" in out  # progress
    assert f"cd {tmp_path / 'work'} && releaser status v1.2.0" in out

    log = tmp_path / "forge" / "requests.log"
    before = len(log.read_text().splitlines())
    again = CliRunner().invoke(app, ["demo", "--dir", str(tmp_path)])
    assert again.exit_code == 0, again.output
    assert "from an earlier demo" in again.output
    entries = [json.loads(line) for line in log.read_text().splitlines()[before:]]
    assert entries  # the second run read the forge
    assert [e for e in entries if e["write"]] == []  # and wrote nothing


def test_demo_keep_serves_the_forge_until_stopped(tmp_path: Path) -> None:
    """`--keep` leaves the sandbox serving, prints its URLs (not its token), stops on SIGTERM."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("CI", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "releaser", "demo", "--dir", str(tmp_path), "--keep"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    info = None
    for line in proc.stdout:
        if line.startswith("{") and "api_url" in line:
            info = json.loads(line)
            break
        assert time.monotonic() < deadline
    assert info is not None and "token" not in info
    token = (tmp_path / "forge" / "token").read_text().strip()
    answer = httpx.get(
        info["api_url"] + "/repos/acme/example/releases/latest",
        headers={"Authorization": f"token {token}"},
        timeout=30,
    )
    assert answer.status_code == 200 and answer.json()["tag_name"] == "v1.2.0"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
