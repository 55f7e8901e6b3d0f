"""Requests per minute while `releaser build` waits on a long build, against naive polling.

Two copies of the example project on one sandbox forge, each with a build of BUILD_S
seconds (the sandbox's workflow ``duration``). The sandbox's clock is frozen and the engine's
sleep advances it instead of sleeping, so a half-hour build is waited for in seconds of
wall time with the forge's answers exactly as they would be at each moment:

- releaser: ``poll_interval = 5``, each interval half as long again as the last up to
  ``poll_max_interval`` (120 s), and conditional GETs: a read unchanged since the last check
  is answered 304, which GitHub doesn't count against the rate limit;
- naive: a check every 5 s, each request answered in full (the HTTP client's ETag cache
  switched off, as a script without one would be).

Last line:
    wait: X requests/min (Y counted against the rate limit), naive Z, ratio W
(Z: naive requests per minute, all counted; W = Z / Y.)
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

BUILD_S = 1800
POLL_S = 5
VERSION = "v1.2.0-rc1"


def main() -> None:
    import releaser.clients.http as http
    import releaser.engine as engine
    from releaser.commands import make_context
    from releaser.commands.stage import run_stages
    from releaser.config import load_config
    from releaser.context import Options
    from releaser.sandbox.seed import seed_example_project, write_example_config
    from releaser.secrets import Secrets
    from releaser.ui import UI
    from releaser.version import Version

    base = Path(tempfile.mkdtemp(prefix="bench-wait-"))
    os.environ["XDG_CACHE_HOME"] = str(base / "cache")
    server = subprocess.Popen(
        [sys.executable, "-m", "releaser.sandbox.server", "--root", str(base / "forge")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    info = json.loads(server.stdout.readline())
    admin = info["admin_url"]

    def post(path: str, body: Any) -> Any:
        answer = httpx.post(f"{admin}/{path}", json=body, timeout=30)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def log(since: int = 0) -> list[dict[str, Any]]:
        return list(httpx.get(f"{admin}/requests", params={"since": since}, timeout=60).json())

    waited = [0.0]

    def advance(seconds: float) -> None:  # the engine's sleep: the forge's time moves
        waited[0] += seconds
        post("clock", {"advance": seconds})

    original_init = engine.Engine.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.sleep = advance

    engine.Engine.__init__ = init  # type: ignore[method-assign]

    def wait_on_build(repo: str, extra: str, conditional: bool) -> tuple[int, int, float]:
        """(requests, counted, minutes) of `releaser build` waiting on a BUILD_S build."""
        seed = seed_example_project(
            info["api_url"], info["git_url"], info["token"], full_name=repo, work=base
        )
        forge = {"api_url": info["api_url"], "git_url": info["git_url"], "token_env": "T"}
        config = write_example_config(base / repo, seed, forge, extra=extra)
        post("actions", {"repo": repo, "workflow": "build.yml", "duration": BUILD_S})

        def run(stages: list[str]) -> None:
            ui = UI(out=io.StringIO(), err=io.StringIO())
            ctx = make_context(
                load_config(config),
                Version.parse(VERSION),
                Options(non_interactive=True, yes=True, driver="bench"),
                ui,
                Secrets(ui.redactor, environ={"T": info["token"]}),
            )
            try:
                run_stages(ctx, stages)  # type: ignore[arg-type]
            finally:
                ctx.close()

        run(["start", "prepare", "tag"])  # the tag push starts the build
        original = http.HTTPClient.__init__

        def client_init(self: Any, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            self.conditional = self.conditional and conditional

        http.HTTPClient.__init__ = client_init  # type: ignore[method-assign]
        mark, waited[0] = len(log()), 0.0
        try:
            run(["build"])
        finally:
            http.HTTPClient.__init__ = original  # type: ignore[method-assign]
        entries = log(mark)
        counted = sum(1 for e in entries if e.get("status") != 304)
        return len(entries), counted, max(waited[0], BUILD_S) / 60

    post("clock", {"mode": "manual"})
    try:
        ours = wait_on_build(
            "acme/patient",
            f"\n[engine]\npoll_interval = {POLL_S}\npoll_max_interval = 120\n"
            f"wait_timeout = {4 * BUILD_S}\n",
            conditional=True,
        )
        naive = wait_on_build(
            "acme/naive",
            f"\n[engine]\npoll_interval = {POLL_S}\npoll_max_interval = {POLL_S}\n"
            f"wait_timeout = {4 * BUILD_S}\n",
            conditional=False,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    for name, (total, counted, minutes) in (("releaser", ours), ("naive", naive)):
        print(f"{name}: {total} requests ({counted} counted) over {minutes:.1f} min of build")
    rate, counted_rate = ours[0] / ours[2], ours[1] / ours[2]
    naive_rate = naive[1] / naive[2]
    print(
        f"wait: {rate:.1f} requests/min ({counted_rate:.1f} counted against the rate limit), "
        f"naive {naive_rate:.1f}, ratio {naive_rate / counted_rate:.1f}"
    )


if __name__ == "__main__":
    main()
