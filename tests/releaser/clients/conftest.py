"""What the client tests share: a verbose UI whose every line is kept (to grep for secrets),
a recorder of the waits a client asked for, a flaky proxy, and a started sandbox with its
admin API for the clients of the sandbox's services."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from releaser.sandbox.server import SandboxServer
from releaser.ui import UI
from tests.sandbox.services.helpers import Admin
from tests.services.proxy import FlakyProxy


@dataclass
class Captured:
    ui: UI
    out: io.StringIO
    err: io.StringIO
    slept: list[float] = field(default_factory=list)

    def text(self) -> str:
        return self.out.getvalue() + self.err.getvalue()

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def assert_no_secret(self, *secrets: str | None, errors: tuple[BaseException, ...] = ()):
        """No secret in anything printed (with -v) nor in an error's message or hint."""
        shown = [self.text()]
        for error in errors:
            shown += [str(error), str(getattr(error, "hint", "") or "")]
        for secret in secrets:
            if secret:
                for text in shown:
                    assert secret not in text


@pytest.fixture
def captured() -> Captured:
    out, err = io.StringIO(), io.StringIO()
    return Captured(UI(verbose=True, out=out, err=err), out, err)


@pytest.fixture
def proxy_to() -> Iterator[object]:
    """proxy_to("http://127.0.0.1:PORT") -> a FlakyProxy in front of it (closed at the end)."""
    made: list[FlakyProxy] = []

    def make(url: str) -> FlakyProxy:
        host, _, port = url.split("://", 1)[1].rstrip("/").partition(":")
        proxy = FlakyProxy(host, int(port))
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.close()


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
