"""`releaser status` over a full release with injected latency: concurrent checks against
``[engine] concurrency = 1``, side by side in one run.

A sandbox forge is seeded with the example project and a whole release (every stage that has
steps) is driven through it. Then every GET the forge serves (REST and git) is delayed by
DELAY_MS, as a far-away GitHub would be, and ``status`` is collected from a fresh machine
(a new Context, an empty cache directory) alternately with the default pool and with one
worker, RUNS times each. Last line:
    status: concurrent X ms, sequential Y ms, ratio Z
(ratio = sequential / concurrent: how many times faster the pool makes it).
"""

from __future__ import annotations

import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

VERSION = "v1.2.0-rc1"
DELAY_MS = 50
RUNS = 3
ENGINE = "\n[engine]\npoll_interval = 0.3\nwait_timeout = 120\nconcurrency = {workers}\n"


def context(config: Path, cache: Path, token: str) -> object:
    import os

    from releaser.commands import make_context
    from releaser.config import load_config
    from releaser.context import Options
    from releaser.secrets import Secrets
    from releaser.ui import UI
    from releaser.version import Version

    os.environ["XDG_CACHE_HOME"] = str(cache)
    ui = UI(out=io.StringIO(), err=io.StringIO())
    return make_context(
        load_config(config),
        Version.parse(VERSION),
        Options(non_interactive=True, yes=True, driver="bench"),
        ui,
        Secrets(ui.redactor, environ={"SANDBOX_TOKEN": token}),
    )


def main() -> None:
    from releaser.commands.stage import run_stages
    from releaser.commands.status import collect
    from releaser.sandbox.seed import seed_example_project, write_example_config
    from releaser.sandbox.server import SandboxServer
    from steps import PLANS, STAGES

    base = Path(tempfile.mkdtemp(prefix="bench-status-"))
    server = SandboxServer(base / "forge").start()
    try:
        info = server.info()
        token = info["token"]
        seed = seed_example_project(info["api_url"], info["git_url"], token, work=base)
        forge = {
            "api_url": info["api_url"],
            "git_url": info["git_url"],
            "token_env": "SANDBOX_TOKEN",
        }
        configs = {
            workers: write_example_config(
                base / f"work-{workers}", seed, forge, extra=ENGINE.format(workers=workers)
            )
            for workers in (8, 1)
        }
        stages = [s for s in STAGES if PLANS[s]]
        started = time.perf_counter()
        ctx = context(configs[8], base / "cache-driver", token)
        run_stages(ctx, stages)  # type: ignore[arg-type]
        print(f"released {VERSION} ({', '.join(stages)}) in {time.perf_counter() - started:.1f}s")

        admin = info["admin_url"]
        rule = {"method": "GET", "path": "", "action": "delay", "ms": DELAY_MS}
        httpx.post(f"{admin}/faults", json={"rules": [rule]}, timeout=30).raise_for_status()
        timings: dict[int, list[float]] = {8: [], 1: []}
        requests: dict[int, int] = {}
        checked: dict[int, list[str]] = {}
        for run in range(RUNS):
            for workers in (8, 1):
                mark = len(httpx.get(f"{admin}/requests", timeout=30).json())
                ctx = context(configs[workers], base / f"cache-{workers}-{run}", token)
                t0 = time.perf_counter()
                data = collect(ctx)  # type: ignore[arg-type]
                timings[workers].append((time.perf_counter() - t0) * 1000)
                log = httpx.get(f"{admin}/requests", params={"since": mark}, timeout=30).json()
                requests[workers] = len(log)
                checked[workers] = [
                    f"{row['step']}={row['status']}"
                    for stage in data["stages"]
                    for row in stage["steps"]
                ]
        httpx.delete(f"{admin}/faults", timeout=30)
    finally:
        server.stop()
    if checked[8] != checked[1]:
        sys.exit(f"the two modes disagree: {checked[8]} vs {checked[1]}")
    steps = len(checked[8])
    done = sum(1 for c in checked[8] if c.endswith("=done"))
    print(f"{steps} steps checked ({done} done), {DELAY_MS} ms added to every GET")
    print(f"requests per status: concurrent {requests[8]}, sequential {requests[1]}")
    for workers in (8, 1):
        runs = ", ".join(f"{t:.0f}" for t in timings[workers])
        print(f"  concurrency={workers}: {runs} ms")
    a, b = statistics.median(timings[8]), statistics.median(timings[1])
    print(f"status: concurrent {a:.0f} ms, sequential {b:.0f} ms, ratio {b / a:.2f}")


if __name__ == "__main__":
    main()
