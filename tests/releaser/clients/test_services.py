"""The test-server fixtures themselves: a missing server skips on a developer's machine and
fails under CI; a server that dies before it is ready is reported with its log."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from tests.services.process import Server, clean_env, free_port, missing


def test_missing_software_skips_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="scripts/test"):
        missing("docker-registry", "apt-get install docker-registry")


def test_missing_software_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI: docker-registry is not installed"):
        missing("docker-registry", "apt-get install docker-registry")


def test_a_server_that_exits_early_is_reported_with_its_log(tmp_path):
    argv = [sys.executable, "-c", "import sys; print('bad config: no port'); sys.exit(3)"]
    server = Server("broken", argv, tmp_path, clean_env())
    with pytest.raises(RuntimeError, match="exited with 3") as info:
        server.wait_ready(f"http://127.0.0.1:{free_port()}/", lambda r: True)
    assert "bad config: no port" in str(info.value)
    server.stop()


def test_stop_ends_the_server_and_its_children(tmp_path):
    argv = ["sh", "-c", "sleep 300 & echo $! > child.pid; wait"]
    server = Server("parent", argv, tmp_path, clean_env())
    deadline = time.monotonic() + 30
    pid_file = tmp_path / "child.pid"
    while not (pid_file.exists() and pid_file.read_text().strip()):
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.02)
    child = int(pid_file.read_text())
    server.stop()
    assert server.proc.poll() is not None
    while alive(child):
        assert time.monotonic() < deadline, "the server's child outlived stop()"
        time.sleep(0.02)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in state  # a zombie has ended
