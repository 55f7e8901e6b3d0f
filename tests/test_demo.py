"""`releaser demo`: a whole rehearsal from nothing, then again on the same directory."""

from __future__ import annotations

import json
import os
import re
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
    # the user's environment is never used for the demo's accounts
    monkeypatch.setenv("SANDBOX_MATRIX_TOKEN", "syt_from_the_users_environment_0123456789")
    first = CliRunner().invoke(app, ["demo", "--dir", str(tmp_path)])
    assert first.exit_code == 0, first.output
    out = first.output
    assert "Released v1.2.0" in out
    for stage in ("start", "prepare", "tag", "build", "publish", "merge", "next"):
        assert f"{stage} v1.2.0-rc1" in out and f"{stage} v1.2.0" in out
    assert "example-1.2.0.tar.gz" in out and "SHA256SUMS" in out
    # publish verifies the assets as a user downloads them, smoke-tests the wheel in a fresh
    # venv (it prints the bumped version), and puts the same files on the sandbox's index
    assert "verify-artifacts" in out and "2 asset(s) match SHA256SUMS" in out
    assert "smoke: example-1.2.0rc1-py3-none-any.whl printed 1.2.0-rc1" in out
    assert "smoke: example-1.2.0-py3-none-any.whl printed 1.2.0" in out
    assert "2 file(s) of example 1.2.0rc1 on the index, each with our sha256" in out
    assert "release-verified" in out  # promote checked the downloads again
    assert "(closed)" in out  # the tracking issue
    assert "downstream v1.2.0" in out  # the dependent, updated at the final only
    assert "acme/example-app PR #1: Update example to v1.2.0 (open)" in out
    assert "acme/example-app tests on update-to-v1.2.0: success" in out
    assert "acme/example-app: PR open" in out and "acme/example-app: passed" in out  # progress
    assert f"cd {tmp_path / 'work'} && releaser status v1.2.0" in out
    # announced on every channel, and where each message landed
    summary = out.split("Released v1.2.0", 1)[1]
    assert re.search(r"announce-on-matrix: +https://matrix\.to/#/%21\S+%3Asandbox/%24\S+", summary)
    assert re.search(
        r"announce-on-discourse: +http://\S+/discourse/t/example-v1-2-0-is-out/\d+", summary
    )
    assert re.search(r"announce-on-reddit: +http://\S+/reddit/r/example/comments/\w+/", summary)
    assert re.search(r"announce-on-discord: +http://\S+/discord/channels/\d+/\d+/\d+", summary)
    assert "announce-on-tracking-issue: http" in summary
    # with the sandbox's credentials, never the user's environment, and never shown
    dotenv = (tmp_path / "work" / ".env").read_text()
    assert oct((tmp_path / "work" / ".env").stat().st_mode & 0o777) == "0o600"
    secrets = [
        v for k, v in (line.split("=", 1) for line in dotenv.splitlines()) if "USERNAME" not in k
    ]
    assert len(secrets) == 7  # the channels' six credentials and the index's upload token
    log_text = (tmp_path / "forge" / "requests.log").read_text()
    for secret in secrets:
        assert secret not in out and secret not in log_text

    log = tmp_path / "forge" / "requests.log"
    before = len(log.read_text().splitlines())
    again = CliRunner().invoke(app, ["demo", "--dir", str(tmp_path)])
    assert again.exit_code == 0, again.output
    assert "from an earlier demo" in again.output
    entries = [json.loads(line) for line in log.read_text().splitlines()[before:]]
    assert entries  # the second run read the forge
    assert [e for e in entries if e["write"]] == []  # and wrote nothing
    uploads = [json.loads(line) for line in log.read_text().splitlines()]
    posts = [e for e in uploads if e["method"] == "POST" and e["path"].startswith("/pypi/")]
    posts = [e for e in posts if e["write"]]  # not the token's probes (uploads without a file)
    assert len(posts) == 4  # a wheel and an sdist per version, each uploaded once

    from releaser.sandbox.server import SandboxServer

    server = SandboxServer(tmp_path / "forge").start()
    try:
        index = httpx.get(f"{server.info()['pypi_url']}/pypi/example/1.2.0/json", timeout=30)
    finally:
        server.stop()
    files = {f["filename"] for f in index.json()["urls"]}
    assert files == {"example-1.2.0-py3-none-any.whl", "example-1.2.0.tar.gz"}


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
