"""What the registry-client tests share: a verbose UI whose every line is kept, to grep for
secrets, and a recorder of the waits a client asked for."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from releaser.ui import UI
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
