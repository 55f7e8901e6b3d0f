"""Fixtures for clients tested against the sandbox's services: a started sandbox, its admin
API, and a UI whose output the test reads."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from releaser.sandbox.server import SandboxServer
from releaser.ui import UI
from tests.sandbox.services.helpers import Admin


@dataclass
class Console:
    ui: UI
    out: io.StringIO
    err: io.StringIO

    def text(self) -> str:
        return self.out.getvalue() + self.err.getvalue()


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    server = SandboxServer(tmp_path / "forge").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def admin(sandbox: SandboxServer) -> Iterator[Admin]:
    adm = Admin(sandbox)
    try:
        yield adm
    finally:
        adm.close()


@pytest.fixture
def console() -> Console:
    out, err = io.StringIO(), io.StringIO()
    return Console(UI(verbose=True, out=out, err=err), out, err)
