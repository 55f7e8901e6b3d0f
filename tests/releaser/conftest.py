"""Fixtures for engine-level tests: a real Config and Context, an in-memory ledger."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from releaser.commands import make_context
from releaser.config import load_config
from releaser.context import Context, Options
from releaser.ledger import Ledger, MemoryStore
from releaser.secrets import Secrets
from releaser.ui import UI
from releaser.version import Version

MINIMAL_TOML = """\
[project]
name = "Example"
repo = "acme/example"

[engine]
wait_timeout = 5
poll_interval = 0.01
claim_ttl = 60
"""


class Harness:
    def __init__(self, tmp_path: Path, extra_toml: str = "") -> None:
        self.path = tmp_path / "releaser.toml"
        self.path.write_text(MINIMAL_TOML + extra_toml)
        self.config = load_config(self.path, tmp_path)
        self.store = MemoryStore()
        self.out = io.StringIO()

    def context(self, version: str = "v1.2.0", **options: Any) -> Context:
        options.setdefault("non_interactive", True)
        ui = UI(verbose=options.get("verbose", False), out=self.out, err=self.out)
        ctx = make_context(
            self.config,
            Version.parse(version),
            Options(**options),
            ui,
            Secrets(ui.redactor, environ={}),
        )
        ctx.__dict__["ledger"] = Ledger(self.store, ctx.tag, driver="tester", host="here")
        return ctx

    def output(self) -> str:
        return self.out.getvalue()


@pytest.fixture(autouse=True)
def no_forge_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """These engine tests have no forge: the stage commands' checks that read it (the release
    tags before the first step, the token's permissions before the first write) find nothing
    wrong. (tests/test_permissions.py and tests/reliability/ run them for real.)"""
    from releaser.commands import stage
    from releaser.permissions import Preflight

    monkeypatch.setattr(Preflight, "find_problem", lambda self, steps, more=(): (None, []))
    monkeypatch.setattr(Preflight, "service_probes", lambda self, steps: [])
    monkeypatch.setattr(stage, "check_release", lambda ctx, stages: ())


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


@pytest.fixture
def make_harness(tmp_path: Path) -> Callable[[str], Harness]:
    return lambda extra: Harness(tmp_path, extra)
