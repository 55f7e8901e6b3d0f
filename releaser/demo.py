"""`releaser demo`: a full release rehearsal against a local sandbox forge, narrated.

DIR/forge is the sandbox (real bare git repos and a GitHub-compatible API, and the chat,
forum, Reddit and Discord services a release is announced on), DIR/work holds the example
project's releaser.toml pointing at it with ``[forge] sandbox``, and a ``.env`` with the
sandbox accounts' credentials (never the user's environment: the demo reads only that file).
The demo drives a release candidate, then the final, through every stage non-interactively,
exactly as a release driver would with ``releaser release VERSION --yes``. Re-running it on
the same DIR converges: every step finds its work done.
"""

from __future__ import annotations

import json
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape

if TYPE_CHECKING:
    from releaser.context import Context
    from releaser.step import StepResult
    from releaser.ui import UI

VERSIONS = ("v1.2.0-rc1", "v1.2.0")
DEMO_ENGINE = """
[promote.tracking_issue]
early_testers = ["@alice", "@bob"]

[engine]
poll_interval = 0.3
wait_timeout = 120
"""


def demo_pypi(python: str) -> str:
    """The example library on the sandbox's package index (its URLs on the host `sandbox`):
    the very wheel and sdist users download from the release; and the wheel smoke-tested as a
    user installs it, with ``python`` in a fresh venv."""
    smoke = (
        f"{shlex.quote(python)} -m venv venv && venv/bin/pip install --quiet --no-index "
        "--no-deps {file} && venv/bin/python -c 'import example; print(example.__version__)'"
    )
    return f"""
[publish.pypi]
project = "example"
dist_from = "release"
repository_url = "http://sandbox/pypi/legacy/"
index_url = "http://sandbox"
token_env = "SANDBOX_PYPI_TOKEN"

[[publish.smoke]]
assets = "*.whl"
command = {json.dumps(smoke)}
"""


def _context(config_path: Path, version: str, ui: UI) -> Context:
    from releaser.commands import make_context
    from releaser.config import load_config
    from releaser.context import Options
    from releaser.secrets import Secrets
    from releaser.version import Version

    config = load_config(config_path, config_path.parent)
    options = Options(non_interactive=True, yes=True, verbose=ui.verbose, driver="demo")
    # the sandbox's accounts only: never the user's environment
    secrets = Secrets(ui.redactor, [config_path.parent / ".env"], environ={})
    return make_context(config, Version.parse(version), options, ui, secrets)


def _seed(base: Path, config_path: Path, ui: UI) -> None:
    import os

    from releaser.sandbox.seed import (
        DEPENDENT_CONFIG,
        seed_channels,
        seed_dependent,
        seed_example_project,
        write_example_config,
    )
    from releaser.sandbox.server import SandboxServer

    ui.print("[bold]1. A sandbox forge[/bold] with an example library: history, PRs, v1.1.0")
    server = SandboxServer(base / "forge").start()
    try:
        info = server.info()
        seed = seed_example_project(
            info["api_url"], info["git_url"], info["token"], work=base, python_dists=True
        )
        pypi_token = _pypi_token(info["admin_url"])
        channels = seed_channels(info)
        dependent = seed_dependent(info["api_url"], info["token"])
    finally:
        server.stop()
    for value in [*channels.env.values(), pypi_token]:
        ui.redactor.add(value)
    dotenv = config_path.parent / ".env"
    dotenv.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(dotenv, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(channels.dotenv())
        out.write(f"SANDBOX_PYPI_TOKEN={pypi_token}\n")
    extra = channels.config + DEMO_ENGINE + demo_pypi(sys.executable) + DEPENDENT_CONFIG
    write_example_config(config_path, seed, {"sandbox": "../forge"}, extra=extra)
    ui.print(f"   seeded {seed.full_name}: {len(seed.pulls)} merged PRs since {seed.previous_tag}")
    ui.print(
        f"   and where it is announced: Matrix {channels.room}, a Discourse forum, "
        f"r/{channels.subreddit}, a Discord webhook"
    )
    ui.print(f"   seeded {dependent}, which depends on it (updated by PR at the final)")
    ui.print(f"   wrote {config_path} (credentials of the sandbox's accounts: {dotenv})")


def _pypi_token(admin_url: str) -> str:
    """An upload token of the sandbox's package index, scoped to the example project."""
    import httpx

    answer = httpx.post(f"{admin_url}/pypi/tokens", json={"project": "example"}, timeout=30)
    answer.raise_for_status()
    return str(answer.json()["token"])


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

    results: list[StepResult] = []
    for number, version in enumerate(VERSIONS, start=2):
        ui.print(f"\n[bold]{number}. releaser release {version} --yes[/bold]")
        ctx = _context(config_path, version, ui)
        try:
            results = run_stages(ctx, list(STAGES))
        finally:
            ctx.close()

    ctx = _context(config_path, VERSIONS[-1], ui)
    try:
        _summary(ctx, time.monotonic() - started, results)
        _report(ctx, base)
    finally:
        ctx.close()
    if keep:
        _keep_serving(base, ui)


def _summary(ctx: Context, seconds: float, results: list[StepResult]) -> None:
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
    promote = {step.name for step in ctx.plans.get("promote", [])}
    shown = {release.html_url if release is not None else ""}
    posts = []  # where each announcement landed (once per link: the pin step's is the topic)
    for result in results:
        if result.step in promote and result.evidence and result.evidence not in shown:
            shown.add(result.evidence)
            posts.append(result)
    if posts:
        ui.print("  announced:")
        width = max(len(r.step) for r in posts) + 1
        for result in posts:
            ui.print(f"    {result.step + ':':<{width}} {escape(result.evidence or '')}")
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

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # before saying it serves
    server = SandboxServer(base / "forge").start()
    info = server.info()
    ui.print("\nThe sandbox forge keeps serving (Ctrl-C to stop):")
    shown = {k: v for k, v in info.items() if k != "token"}
    ui.text(json.dumps(shown))
    ui.print(f"  its token is in {base / 'forge' / 'token'}")
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def _report(ctx: Context, base: Path) -> None:
    """Where the release's time went (`releaser report`), as an HTML page next to the forge."""
    from releaser.commands.report import build_report
    from releaser.insights.html import write_page
    from releaser.version import Version

    doc = build_report(ctx, ctx.version, Version.parse(VERSIONS[0]))
    path = write_page(doc, base / f"report-{ctx.tag}.html", ctx.ui.redactor.redact)
    ctx.ui.print(f"\nReport of {ctx.tag} (timeline, CI and people, trends): {path}")
    ctx.ui.print(f"  cd {ctx.config.root} && releaser report {ctx.tag} --since {VERSIONS[0]}")
