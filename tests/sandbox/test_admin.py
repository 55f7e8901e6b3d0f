"""The admin API: request log and fault injection (on REST and git requests)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from releaser.sandbox.admin_client import SandboxAdmin
from releaser.sandbox.server import SandboxServer
from tests.sandbox.helpers import api, authed_git_url, git_env, make_repo

REPO = "release-bot/adm"


@pytest.fixture
def repo(sandbox: SandboxServer) -> str:
    return make_repo(sandbox, REPO, {"README.md": "x\n"})


def admin(sandbox: SandboxServer) -> httpx.Client:
    return httpx.Client(base_url=sandbox.info()["admin_url"] + "/", timeout=30)


def add_fault(sandbox: SandboxServer, **rule: Any) -> None:
    with admin(sandbox) as client:
        assert client.post("faults", json=rule).status_code == 201


def test_request_log(sandbox: SandboxServer, repo: str, tmp_path: Path) -> None:
    with admin(sandbox) as client:
        client.delete("requests")
        with api(sandbox) as gh:
            gh.get(f"repos/{REPO}", params={"x": "1"})
            gh.post(f"repos/{REPO}/git/blobs", json={"content": "a"})
        env = git_env(tmp_path)
        subprocess.run(
            ["git", "clone", "-q", authed_git_url(sandbox, REPO), str(tmp_path / "w")],
            env=env,
            check=True,
        )
        log = client.get("requests").json()
        assert log[0]["method"] == "GET"
        assert log[0]["path"] == f"/api/v3/repos/{REPO}"
        assert log[0]["query"] == "x=1"
        assert (log[0]["status"], log[0]["write"]) == (200, False)
        assert (log[1]["method"], log[1]["status"], log[1]["write"]) == ("POST", 201, True)
        git_lines = [e for e in log if e["path"].startswith("/git/")]
        assert git_lines
        assert all(e["write"] is False for e in git_lines)  # a fetch is a read
        assert any(e["path"].endswith("git-upload-pack") for e in git_lines)
        assert client.get("requests", params={"since": 1}).json() == log[1:]
        assert {"time", "method", "path", "status", "write"} <= set(log[0])
    lines = (sandbox.forge.root / "requests.log").read_text().splitlines()
    assert len(lines) == len(log)


def test_fault_error_before_the_handler(sandbox: SandboxServer, repo: str) -> None:
    add_fault(
        sandbox,
        method="POST",
        path=f"/api/v3/repos/{REPO}/git/refs$",
        nth=2,
        action="error",
        status=502,
    )
    with api(sandbox) as client:
        sha = client.get(f"repos/{REPO}/git/ref/heads/main").json()["object"]["sha"]
        first = client.post(f"repos/{REPO}/git/refs", json={"ref": "refs/heads/a", "sha": sha})
        second = client.post(f"repos/{REPO}/git/refs", json={"ref": "refs/heads/b", "sha": sha})
        third = client.post(f"repos/{REPO}/git/refs", json={"ref": "refs/heads/c", "sha": sha})
        assert [first.status_code, second.status_code, third.status_code] == [201, 502, 201]
        assert client.get(f"repos/{REPO}/git/ref/heads/b").status_code == 404
    with admin(sandbox) as adm:
        (rule,) = adm.get("faults").json()
        assert (rule["seen"], rule["fired"]) == (3, 1)
        assert adm.delete("faults").status_code == 204
        assert adm.get("faults").json() == []


def test_fault_error_after_applies_the_write(sandbox: SandboxServer, repo: str) -> None:
    add_fault(sandbox, method="POST", path="/git/refs$", action="error_after", status=500)
    with api(sandbox) as client:
        sha = client.get(f"repos/{REPO}/git/ref/heads/main").json()["object"]["sha"]
        resp = client.post(f"repos/{REPO}/git/refs", json={"ref": "refs/heads/x", "sha": sha})
        assert resp.status_code == 500
        assert client.get(f"repos/{REPO}/git/ref/heads/x").status_code == 200
        again = client.post(f"repos/{REPO}/git/refs", json={"ref": "refs/heads/x", "sha": sha})
        assert again.status_code == 500  # every match: no nth


def test_fault_delay_and_times(sandbox: SandboxServer, repo: str) -> None:
    add_fault(sandbox, method="GET", path="/user$", action="delay", ms=300, times=1)
    with api(sandbox) as client:
        start = time.monotonic()
        assert client.get("user").status_code == 200
        assert time.monotonic() - start >= 0.3  # a lower bound: true however busy the machine
        assert client.get("user").status_code == 200
    with admin(sandbox) as adm:
        (rule,) = adm.get("faults").json()
        assert (rule["seen"], rule["fired"]) == (2, 1)  # the second request was not delayed


def test_fault_drop(sandbox: SandboxServer, repo: str) -> None:
    add_fault(sandbox, path="/user$", action="drop", nth=1)
    with api(sandbox) as client:
        with pytest.raises(httpx.TransportError):
            client.get("user")
        assert client.get("user").status_code == 200
    with admin(sandbox) as adm:
        dropped = [e for e in adm.get("requests").json() if e.get("dropped")]
        assert dropped and dropped[0]["path"] == "/api/v3/user"


def test_fault_rate_limits(sandbox: SandboxServer, repo: str) -> None:
    add_fault(sandbox, path="/user$", action="rate_limit", nth=1, kind="primary", retry_after=30)
    add_fault(sandbox, path="/user$", action="rate_limit", nth=2, kind="secondary", retry_after=5)
    add_fault(sandbox, path="/user$", action="rate_limit", nth=3, status=429, retry_after=7)
    with SandboxAdmin(sandbox.info()["admin_url"]) as clock:
        now = clock.freeze()
    with api(sandbox) as client:
        primary = client.get("user")
        assert primary.status_code == 403
        assert primary.headers["X-RateLimit-Remaining"] == "0"
        assert int(primary.headers["X-RateLimit-Reset"]) == int(now) + 30
        assert "rate limit" in primary.json()["message"]
        secondary = client.get("user")
        assert secondary.status_code == 403
        assert "secondary rate limit" in secondary.json()["message"]
        assert secondary.headers["Retry-After"] == "5"
        too_many = client.get("user")
        assert too_many.status_code == 429
        assert too_many.headers["Retry-After"] == "7"
        assert client.get("user").status_code == 200


def test_faults_apply_to_git(sandbox: SandboxServer, repo: str, tmp_path: Path) -> None:
    add_fault(sandbox, method="POST", path="/git-upload-pack$", action="error", status=500)
    env = git_env(tmp_path)
    proc = subprocess.run(
        ["git", "clone", "-q", authed_git_url(sandbox, REPO), str(tmp_path / "w")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "500" in proc.stderr


def test_bad_fault_rules_are_refused(sandbox: SandboxServer) -> None:
    with admin(sandbox) as client:
        assert client.post("faults", json={"action": "explode"}).status_code == 422
        assert client.post("faults", json={"path": "(", "action": "error"}).status_code == 422
        many = client.post(
            "faults", json={"rules": [{"action": "delay", "ms": 1}, {"action": "drop", "nth": 99}]}
        )
        assert many.status_code == 201
        assert len(client.get("faults").json()) == 2
