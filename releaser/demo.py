"""`releaser demo`: a full release rehearsal against a local sandbox forge, narrated.

DIR/forge is the sandbox (real bare git repos and a GitHub-compatible API), DIR/work holds
the example project's releaser.toml pointing at it with ``[forge] sandbox``. The demo drives
a release candidate, then the final, through every stage non-interactively, exactly as a
release driver would with ``releaser release VERSION --yes``. Re-running it on the same DIR
converges: every step finds its work done.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape

if TYPE_CHECKING:
    from releaser.context import Context
    from releaser.ui import UI

VERSIONS = ("v1.2.0-rc1", "v1.2.0")
DEMO_ENGINE = """
[promote.tracking_issue]
early_testers = ["@alice", "@bob"]

[engine]
poll_interval = 0.3
wait_timeout = 120
"""


def _context(config_path: Path, version: str, ui: UI) -> Context:
    from releaser.commands import make_context
    from releaser.config import load_config
    from releaser.context import Options
    from releaser.secrets import Secrets
    from releaser.version import Version

    config = load_config(config_path, config_path.parent)
    options = Options(non_interactive=True, yes=True, verbose=ui.verbose, driver="demo")
    secrets = Secrets(ui.redactor, [], environ={})
    return make_context(config, Version.parse(version), options, ui, secrets)


def _seed(base: Path, config_path: Path, ui: UI) -> None:
    from releaser.sandbox.seed import (
        DEPENDENT_CONFIG,
        seed_dependent,
        seed_example_project,
        write_example_config,
    )
    from releaser.sandbox.server import SandboxServer

    ui.print("[bold]1. A sandbox forge[/bold] with an example library: history, PRs, v1.1.0")
    server = SandboxServer(base / "forge").start()
    try:
        info = server.info()
        seed = seed_example_project(info["api_url"], info["git_url"], info["token"], work=base)
        dependent = seed_dependent(info["api_url"], info["token"])
    finally:
        server.stop()
    extra = DEMO_ENGINE + DEPENDENT_CONFIG
    write_example_config(config_path, seed, {"sandbox": "../forge"}, extra=extra)
    ui.print(f"   seeded {seed.full_name}: {len(seed.pulls)} merged PRs since {seed.previous_tag}")
    ui.print(f"   seeded {dependent}, which depends on it (updated by PR at the final)")
    ui.print(f"   wrote {config_path}")


def run_demo(directory: Path | None, keep: bool, ui: UI, verbose: bool = False) -> None:
    from releaser.commands.stage import run_stages
    from releaser.stages import STAGES

    started = time.monotonic()
    base = (directory or Path(tempfile.mkdtemp(prefix="releaser-demo-"))).resolve()
    base.mkdir(parents=True, exist_ok=True)
    config_path = base / "work" / "releaser.toml"
    ui.print(f"[bold]releaser demo[/bold]: a whole release, rehearsed in {escape(str(base))}\n")
    if config_path.exists():
        ui.print("[bold]1. The sandbox forge[/bold] from an earlier demo: continuing it")
    else:
        _seed(base, config_path, ui)

    for number, version in enumerate(VERSIONS, start=2):
        ui.print(f"\n[bold]{number}. releaser release {version} --yes[/bold]")
        ctx = _context(config_path, version, ui)
        try:
            run_stages(ctx, list(STAGES))
        finally:
            ctx.close()

    ctx = _context(config_path, VERSIONS[-1], ui)
    try:
        _summary(ctx, time.monotonic() - started)
    finally:
        ctx.close()
    if keep:
        _keep_serving(base, ui)


def _summary(ctx: Context, seconds: float) -> None:
    from releaser.checklist import find_tracking_issue
    from releaser.models import PullRequest

    ui = ctx.ui
    release = ctx.forge.release(ctx.tag)
    ui.print(f"\n[bold green]Released {ctx.tag}[/bold green] in {seconds:.0f}s")
    if release is not None:
        ui.print(f"  release:  {release.html_url}")
        ui.print(f"  assets:   {', '.join(a.name for a in ctx.forge.assets(release))}")
    pulls = ctx.api.paginate(f"/repos/{ctx.repo_name}/pulls", {"state": "all", "sort": "created"})
    for item in pulls:
        pull = PullRequest.from_json(item)
        ui.print(f"  PR #{pull.number}: {escape(pull.title)} ({pull.status})")
    issue = find_tracking_issue(ctx)
    if issue is not None:
        ui.print(f"  tracking issue: {issue.html_url} ({issue.state})")
    for down in ctx.config.downstream:
        repo = str(down.repo)
        for item in ctx.api.paginate(f"/repos/{repo}/pulls", {"state": "all"}):
            pull = PullRequest.from_json(item)
            ui.print(f"  {repo} PR #{pull.number}: {escape(pull.title)} ({pull.status})")
        if down.workflow:
            for run in ctx.forge.other(repo).runs(str(down.workflow), event="workflow_dispatch"):
                ui.print(f"  {repo} tests on {run.head_branch}: {run.conclusion or run.status}")
    work = ctx.config.root
    ui.print("\nLook around:")
    ui.print(f"  cd {work} && releaser status {ctx.tag}")
    ui.print(f"  cd {work} && releaser plan v1.2.1")
    ui.print(f"  releaser demo --dir {work.parent} --keep   # serve the forge, browse its API")


def _keep_serving(base: Path, ui: UI) -> None:
    import json
    import signal
    import threading

    from releaser.sandbox.server import SandboxServer

    server = SandboxServer(base / "forge").start()
    info = server.info()
    ui.print("\nThe sandbox forge keeps serving (Ctrl-C to stop):")
    shown = {k: v for k, v in info.items() if k != "token"}
    ui.text(json.dumps(shown))
    ui.print(f"  its token is in {base / 'forge' / 'token'}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
