"""The command line. Thin: arguments -> Context -> engine; all output through ``releaser.ui``.

Start-up stays light: PyGithub, dulwich, questionary, nio and praw are imported inside the
functions that need them, never here (``releaser --help`` is checked for it).
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from releaser import __version__
from releaser.errors import EXIT_INTERRUPTED, ReleaserError

app = typer.Typer(
    name="releaser",
    help="Drive a release: idempotent, resumable stage commands (see `releaser plan VERSION`).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
sandbox_app = typer.Typer(help="The local GitHub-compatible sandbox forge.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")


@dataclass
class Globals:
    config: Path | None = None
    dry_run: bool = False
    yes: bool = False
    non_interactive: bool = False
    verbose: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"releaser {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", help="releaser.toml (default: found upwards)")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="Check and show every write; make none.")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Confirm dangerous steps without asking.")
    ] = False,
    non_interactive: Annotated[
        bool, typer.Option("--non-interactive", help="Never prompt: a question exits 3.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show HTTP requests and git commands.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Print it."),
    ] = False,
) -> None:
    ctx.obj = Globals(config, dry_run, yes, non_interactive, verbose)


# -- error handling ------------------------------------------------------------------------


def _make_ui(verbose: bool) -> Any:
    from releaser.ui import UI

    return UI(verbose=verbose)


@contextmanager
def handled(ui: Any) -> Iterator[None]:
    """Expected errors: one message and a hint, the documented exit code, no traceback."""
    debug = ui.verbose or os.environ.get("RELEASER_DEBUG") == "1"
    try:
        yield
    except ReleaserError as exc:
        if debug:
            import traceback

            ui.debug(traceback.format_exc())
        ui.error(exc.message, exc.hint)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        ui.error("interrupted", "re-run the same command: every step re-checks before writing")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        # A client library failed outside a step (a claim, a summary): one message, no
        # traceback unless -v; a refused token or scope is a usage error (exit 2).
        from releaser.errors import describe_exception

        if debug:
            import traceback

            ui.debug(traceback.format_exc())
        ui.error(
            describe_exception(exc),
            "this is a bug in releaser or an answer it did not expect; -v shows the details",
        )
        raise typer.Exit(1) from None


def _globals(ctx: typer.Context) -> Globals:
    return ctx.obj if isinstance(ctx.obj, Globals) else Globals()


# -- offline commands ----------------------------------------------------------------------


@app.command()
def plan(
    ctx: typer.Context, version: Annotated[str, typer.Argument(help="e.g. v1.2.0-rc1")]
) -> None:
    """Print, offline, every stage and step that applies to VERSION."""
    g = _globals(ctx)
    ui = _make_ui(g.verbose)
    with handled(ui):
        from releaser.commands.plan import print_plan

        print_plan(_context(g, version, ui, {}))


@app.command()
def docs(
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 when the files are stale.")
    ] = False,
    output: Annotated[Path, typer.Option(help="Where the docs live.")] = Path("docs"),
) -> None:
    """Regenerate docs/runbook.md (from the steps) and docs/configuration.md (from the schema)."""
    ui = _make_ui(False)
    with handled(ui):
        from releaser.commands.docs import write_docs

        stale = write_docs(output, check=check, ui=ui)
        if check and stale:
            raise typer.Exit(1)


@app.command()
def init(
    force: Annotated[bool, typer.Option("--force", help="Overwrite releaser.toml.")] = False,
) -> None:
    """Write a commented releaser.toml for the git repository here."""
    ui = _make_ui(False)
    with handled(ui):
        from releaser.init import init_config

        path = init_config(Path.cwd(), force=force)
        ui.print(f"wrote {path}: review it, then `releaser plan VERSION`")


@app.command()
def env(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option(help="Where to write the template.")] = Path(".env"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a .env template naming every credential the config needs, and its scopes."""
    g = _globals(ctx)
    ui = _make_ui(g.verbose)
    with handled(ui):
        from releaser.commands.env import write_env_template
        from releaser.config import load_config

        write_env_template(load_config(g.config, Path.cwd()), output, force=force, ui=ui)


@app.command()
def doctor(ctx: typer.Context) -> None:
    """Check tools, credentials, token scopes, the GPG key and access to every service."""
    g = _globals(ctx)
    ui = _make_ui(g.verbose)
    with handled(ui):
        from releaser.commands.doctor import run_doctor

        rctx = _context(g, "0.0.0", ui, {})
        try:
            if not run_doctor(rctx):
                raise typer.Exit(1)
        finally:
            rctx.close()


# -- stage commands ------------------------------------------------------------------------

OnlyOpt = Annotated[list[str] | None, typer.Option("--only", help="Run only this step (repeat).")]
SkipOpt = Annotated[list[str] | None, typer.Option("--skip", help="Skip this step (repeat).")]
NoWaitOpt = Annotated[bool, typer.Option("--no-wait", help="Exit 4 instead of waiting.")]
TakeOverOpt = Annotated[bool, typer.Option("--take-over", help="Take the claim of another driver.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", "-n", help="Show every write; make none.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Confirm dangerous steps.")]
VersionArg = Annotated[str, typer.Argument(help="The release, e.g. v1.2.0-rc1")]


def _context(g: Globals, version: str, ui: Any, stage_opts: dict[str, Any]) -> Any:
    from releaser.commands import make_context
    from releaser.config import load_config
    from releaser.context import Options
    from releaser.secrets import Secrets
    from releaser.version import Version

    parsed = Version.parse(version)
    config = load_config(g.config, Path.cwd())
    options = Options(
        dry_run=g.dry_run or bool(stage_opts.get("dry_run")),
        yes=g.yes or bool(stage_opts.get("yes")),
        non_interactive=g.non_interactive,
        verbose=g.verbose,
        only=tuple(stage_opts.get("only") or ()),
        skip=tuple(stage_opts.get("skip") or ()),
        no_wait=bool(stage_opts.get("no_wait")),
        take_over=bool(stage_opts.get("take_over")),
        replace_assets=bool(stage_opts.get("replace_assets")),
        driver=os.environ.get("RELEASER_DRIVER"),
    )
    env_files = [config.root / ".env", Path.cwd() / ".env"]
    secrets = Secrets(ui.redactor, env_files, interactive=options.interactive)
    return make_context(config, parsed, options, ui, secrets)


def _run_stages(g: Globals, version: str, stages: list[str], stage_opts: dict[str, Any]) -> None:
    ui = _make_ui(g.verbose)
    with handled(ui):
        from releaser.commands.stage import run_stages

        ctx = _context(g, version, ui, stage_opts)
        try:
            run_stages(ctx, stages)
        finally:
            ctx.close()


ReplaceAssetsOpt = Annotated[
    bool, typer.Option("--replace-assets", help="Replace release assets whose content differs.")
]
# Stage commands that publish release assets also take --replace-assets.
ASSET_COMMANDS = ("publish", "release")


def _stage_command(name: str, stages: list[str], doc: str) -> Callable[..., None]:
    """The command running ``stages`` (one stage, or all of them for ``release``)."""

    def command(
        ctx: typer.Context,
        version: VersionArg,
        only: OnlyOpt = None,
        skip: SkipOpt = None,
        no_wait: NoWaitOpt = False,
        take_over: TakeOverOpt = False,
        dry_run: DryRunOpt = False,
        yes: YesOpt = False,
        replace_assets: ReplaceAssetsOpt = False,
    ) -> None:
        _run_stages(_globals(ctx), version, stages, locals())

    command.__doc__ = doc
    command.__name__ = name
    if name not in ASSET_COMMANDS:  # Typer reads options from the signature
        signature = inspect.signature(command)
        params = [p for p in signature.parameters.values() if p.name != "replace_assets"]
        command.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    return command


def _register_stages() -> None:
    from releaser.stages import STAGE_HELP, STAGES

    for stage in STAGES:
        app.command(name=stage)(_stage_command(stage, [stage], STAGE_HELP[stage]))
    release_doc = "Every stage in order, stopping where an operator is needed."
    app.command(name="release")(_stage_command("release", list(STAGES), release_doc))


@app.command()
def status(
    ctx: typer.Context,
    version: VersionArg,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable (stable).")] = False,
) -> None:
    """Live state of every step, who holds the claim, and the next command to run."""
    g = _globals(ctx)
    ui = _make_ui(g.verbose)
    with handled(ui):
        from releaser.commands.status import show_status

        rctx = _context(g, version, ui, {})
        try:
            show_status(rctx, as_json=as_json)
        finally:
            rctx.close()


@app.command()
def confirm(
    ctx: typer.Context,
    version: VersionArg,
    step: Annotated[str, typer.Argument(help="The step's name, as `releaser plan` shows it.")],
    evidence: Annotated[
        str | None, typer.Option("--evidence", help="A URL showing it is done.")
    ] = None,
) -> None:
    """Record a manual step as done (in the release's ledger, for every machine)."""
    g = _globals(ctx)
    ui = _make_ui(g.verbose)
    with handled(ui):
        from releaser.commands.confirm import confirm_step

        rctx = _context(g, version, ui, {})
        try:
            confirm_step(rctx, step, evidence)
        finally:
            rctx.close()


# -- sandbox and demo ----------------------------------------------------------------------


@sandbox_app.command("serve")
def sandbox_serve(
    root: Annotated[Path, typer.Option("--root", help="Where the forge keeps its state.")],
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: the last one used, or any free one).")] = 0,
) -> None:
    """Serve the sandbox forge; prints one JSON line with its URLs and token when ready."""
    from releaser.sandbox.server import serve

    serve(root, host, port)


@app.command()
def demo(
    ctx: typer.Context,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where to rehearse (default: a temp dir).")
    ] = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the sandbox serving afterwards.")
    ] = False,
) -> None:
    """Rehearse a whole release against a local sandbox forge, narrated."""
    g = _globals(ctx)
    ui = _make_ui(g.verbose)
    with handled(ui):
        from releaser.demo import run_demo

        run_demo(directory, keep=keep, ui=ui, verbose=g.verbose)


_register_stages()

# `releaser --help` lists commands in the order a release uses them (DESIGN §6).
ORDER = [
    *("init", "env", "doctor", "plan", "docs", "start", "status", "prepare", "tag", "build"),
    *("publish", "promote", "downstream", "merge", "next", "release", "confirm", "demo"),
]


def _order(command: Any) -> int:
    name = command.name or getattr(command.callback, "__name__", "")
    return ORDER.index(name) if name in ORDER else len(ORDER)


app.registered_commands.sort(key=_order)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: re-run the same command, it is safe\n")
        sys.exit(EXIT_INTERRUPTED)
