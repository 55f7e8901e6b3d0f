"""Starting and stopping a real server for the tests: free port, temp dir, readiness, stop by PID.

A server's software may be missing on a developer's machine: the fixture then skips, naming
what to install. Under ``CI`` (where ``scripts/test`` installed everything) a missing server is
an error, so a broken install can never turn into a green run of skipped tests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

import httpx
import pytest

READY_DEADLINE = 60.0  # seconds a server may take to answer (generous: a loaded 2-core CI)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def missing(what: str, install: str) -> NoReturn:
    """Skip (a developer's machine) or fail (CI) because ``what`` is not installed."""
    message = f"{what} is not installed: {install} (`bash scripts/test` installs it)"
    if os.environ.get("CI"):
        pytest.fail(f"CI: {message}", pytrace=False)
    pytest.skip(message)


def find_program(name: str, install: str, extra_dirs: Sequence[Path] = ()) -> str:
    """The path of ``name`` on PATH or in ``extra_dirs`` (e.g. the venv's bin), or skip/fail."""
    for folder in extra_dirs:
        candidate = folder / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        missing(name, install)
    return found


class Server:
    """A started server process: its log, and stop() by PID (SIGTERM, then SIGKILL)."""

    def __init__(self, name: str, argv: Sequence[str], cwd: Path, env: dict[str, str]) -> None:
        self.name = name
        self.log_path = cwd / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends its children too
        )
        self.started = time.monotonic()
        self.ready_after = 0.0  # seconds from start until it answered

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, lines: int = 30) -> str:
        if not self._log.closed:
            self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def wait_ready(self, url: str, ready: Callable[[httpx.Response], bool]) -> None:
        """Poll ``url`` until ``ready(response)``; fail with the server's log otherwise."""
        deadline = self.started + READY_DEADLINE
        delay = 0.02
        with httpx.Client(timeout=5.0) as client:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited with {self.proc.returncode} before it was ready:\n"
                        f"{self.log_tail()}"
                    )
                try:
                    if ready(client.get(url)):
                        self.ready_after = time.monotonic() - self.started
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"{self.name} did not answer {url} within {READY_DEADLINE:.0f} s:\n"
                        f"{self.log_tail()}"
                    )
                time.sleep(delay)
                delay = min(delay * 1.5, 0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment less what could point a server at real services."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("NPM_CONFIG_", "PIP_", "TWINE_", "HTTP_PROXY", "HTTPS_PROXY"))
    }
    env.update(extra)
    return env
