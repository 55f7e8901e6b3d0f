"""The server itself: auth, GitHub's headers, HEAD, errors, restarts, the ``serve`` process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from github import Auth, BadCredentialsException, Github

from releaser.sandbox.forge import Forge
from releaser.sandbox.http import ROUTER, Request
from releaser.sandbox.server import SandboxServer
from tests.sandbox.helpers import api, make_repo, sandbox_github

ROOT = Path(__file__).resolve().parents[2]


@ROUTER.route("GET", "/_test/boom")
def _boom(forge: Forge, req: Request) -> None:
    raise RuntimeError("kaboom")


def test_auth_required_and_bad_credentials(sandbox: SandboxServer) -> None:
    url = sandbox.info()["api_url"]
    missing = httpx.get(f"{url}/user")
    assert missing.status_code == 401
    assert missing.json()["message"] == "Requires authentication"
    wrong = httpx.get(f"{url}/user", headers={"Authorization": "token nope"})
    assert wrong.status_code == 401
    assert wrong.json()["message"] == "Bad credentials"
    token = sandbox.forge.token
    for header in (f"Bearer {token}", f"token {token}"):
        assert httpx.get(f"{url}/user", headers={"Authorization": header}).status_code == 200
    assert httpx.get(f"{url}/user", auth=("release-bot", token)).status_code == 200
    with pytest.raises(BadCredentialsException):
        Github(base_url=url, auth=Auth.Token("nope"), retry=None).get_user().login  # noqa: B018


def test_github_headers_head_and_scopes(sandbox: SandboxServer) -> None:
    with api(sandbox) as client:
        resp = client.get("user")
        for name in (
            "X-OAuth-Scopes",
            "X-Accepted-OAuth-Scopes",
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
            "X-RateLimit-Reset",
            "X-RateLimit-Used",
            "X-RateLimit-Resource",
            "X-GitHub-Media-Type",
            "X-GitHub-Request-Id",
        ):
            assert name in resp.headers, name
        assert resp.headers["Content-Type"].startswith("application/json")
        assert int(resp.headers["Content-Length"]) == len(resp.content)
        assert "repo" in resp.headers["X-OAuth-Scopes"]
        head = client.head("user")
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["Content-Length"] == resp.headers["Content-Length"]
        httpx.post(f"{sandbox.info()['admin_url']}/settings", json={"scopes": "read:org"})
        assert client.get("user").headers["X-OAuth-Scopes"] == "read:org"


def test_unexpected_exception_is_a_500_and_server_survives(
    sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    base = sandbox.info()["admin_url"].rsplit("/_admin", 1)[0]
    with api(sandbox) as client:
        boom = client.get(f"{base}/api/v3/_test/boom")
        assert boom.status_code == 500
        assert "kaboom" in boom.json()["message"]
        assert client.get("user").status_code == 200
    assert "kaboom" in capsys.readouterr().err


def test_unknown_paths_and_methods(sandbox: SandboxServer) -> None:
    with api(sandbox) as client:
        assert client.get("no/such/thing").status_code == 404
        assert client.delete("user").status_code == 405
    base = sandbox.info()["admin_url"].rsplit("/_admin", 1)[0]
    assert httpx.get(f"{base}/some/page").status_code == 404


def test_restart_keeps_state_and_port(tmp_path: Path) -> None:
    root = tmp_path / "forge"
    with SandboxServer(root) as first:
        info = first.info()
        make_repo(first, "release-bot/keep", {"a.txt": "a\n"})
        doc_id = first.forge.insert("note", "release-bot/keep", {"text": "kept"})["id"]
    with SandboxServer(root) as second:
        assert second.info() == info
        r = sandbox_github(second).get_repo("release-bot/keep")
        assert r.clone_url.startswith(info["git_url"])
        assert r.get_contents("a.txt").decoded_content == b"a\n"  # type: ignore[union-attr]
        assert second.forge.get("note", doc_id)["text"] == "kept"


def test_port_taken_falls_back_to_another(tmp_path: Path) -> None:
    root = tmp_path / "forge"
    with SandboxServer(root) as first:
        port = first.info()["api_url"].split(":")[2].split("/")[0]
        with SandboxServer(root) as second:
            assert f":{port}/" not in second.info()["api_url"]


def test_serve_prints_one_json_line_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "releaser.sandbox.server", "--root", str(tmp_path / "f")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert {"api_url", "git_url", "token", "admin_url", "matrix_url"} <= set(info)
        auth = {"Authorization": f"token {info['token']}"}
        assert httpx.get(f"{info['api_url']}/user", headers=auth).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert proc.stdout.read() == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_conditional_gets_answer_304_and_cost_no_rate_limit(sandbox: SandboxServer) -> None:
    """As GitHub: a REST answer carries an ETag; the same GET with ``If-None-Match`` naming
    it is answered 304 with no body, and isn't counted in ``X-RateLimit-Used``."""
    with api(sandbox) as client:
        first = client.get("user")
        etag = first.headers["ETag"]
        used = int(first.headers["X-RateLimit-Used"])
        again = client.get("user", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["ETag"] == etag
        assert int(again.headers["X-RateLimit-Used"]) == used  # free
        other = client.get("user", headers={"If-None-Match": 'W/"something-else"'})
        assert other.status_code == 200 and other.json() == first.json()
        assert int(other.headers["X-RateLimit-Used"]) == used + 1
