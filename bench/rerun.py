"""Requests per re-run: a whole release, then the same command again, side by side.

A re-run after success must make zero writes and should cost a fraction of the first run's
reads. Both runs go against the same sandbox forge in this one process; the request log
counts them. Last line:
    rerun: first run N requests (W writes), re-run M requests (0 writes), ratio R
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

import httpx


def main() -> None:
    from releaser.commands import make_context
    from releaser.commands.stage import run_stages
    from releaser.config import load_config
    from releaser.context import Options
    from releaser.sandbox.seed import seed_example_project, write_example_config
    from releaser.sandbox.server import SandboxServer
    from releaser.secrets import Secrets
    from releaser.ui import UI
    from releaser.version import Version
    from steps import STAGES

    root = Path(tempfile.mkdtemp(prefix="bench-rerun-"))
    server = SandboxServer(root / "forge").start()
    info = server.info()
    seed = seed_example_project(info["api_url"], info["git_url"], info["token"], work=root)
    forge = {"api_url": info["api_url"], "git_url": info["git_url"], "token_env": "SANDBOX_TOKEN"}
    config_path = write_example_config(
        root / "work", seed, forge, extra="[engine]\npoll_interval = 0.2\n"
    )

    def log() -> list[dict[str, object]]:
        return list(httpx.get(info["admin_url"] + "/requests", timeout=30).json())

    def release() -> None:
        ui = UI(out=io.StringIO(), err=io.StringIO())
        ctx = make_context(
            load_config(config_path),
            Version.parse("v1.2.0-rc1"),
            Options(non_interactive=True, yes=True, driver="bench"),
            ui,
            Secrets(ui.redactor, environ={"SANDBOX_TOKEN": info["token"]}),
        )
        try:
            run_stages(ctx, list(STAGES))
        finally:
            ctx.close()

    start = len(log())
    release()
    middle = len(log())
    release()
    entries = log()
    first, again = entries[start:middle], entries[middle:]
    server.stop()
    # Polls of a running build are waiting, not work: count them apart.
    first_writes = sum(1 for e in first if e.get("write"))
    again_writes = sum(1 for e in again if e.get("write"))
    ratio = len(again) / len(first)
    print(
        f"rerun: first run {len(first)} requests ({first_writes} writes), "
        f"re-run {len(again)} requests ({again_writes} writes), ratio {ratio:.2f}"
    )
    if again_writes:
        sys.exit(1)


if __name__ == "__main__":
    main()
