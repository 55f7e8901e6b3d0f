"""Fixtures for the sandbox's other services: a started sandbox and its admin API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from releaser.sandbox.server import SandboxServer
from tests.sandbox.services.helpers import Admin


@pytest.fixture
def admin(sandbox: SandboxServer) -> Iterator[Admin]:
    adm = Admin(sandbox)
    try:
        yield adm
    finally:
        adm.close()
