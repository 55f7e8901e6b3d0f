"""Fixtures for sandbox-forge tests: ``sandbox`` is a started forge on a fresh root."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from releaser.sandbox.server import SandboxServer
from tests.sandbox.helpers import api, git_env, make_repo, sandbox_github

__all__ = ["api", "git_env", "make_repo", "sandbox_github"]


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    server = SandboxServer(tmp_path / "forge").start()
    try:
        yield server
    finally:
        server.stop()
