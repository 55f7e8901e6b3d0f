"""The command line. Thin: arguments -> Context -> engine; all output through ``releaser.ui``.

Start-up stays light: PyGithub, dulwich, questionary, nio and praw are imported inside the
functions that need them, never here (``releaser --help`` is checked for it).
"""

from __future__ import annotations

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


def _show_usage_error(self: Any, file: Any = None) -> None:
    """Click's usage errors (an unknown option or command, a missing argument) in releaser's
    own form: one ``error:`` line, one ``hint:`` naming where the usage is (exit 2)."""
    from typer._click.utils import echo  # typer vendors click

    where = f"{self.ctx.command_path} --help" if self.ctx is not None else "releaser --help"
    echo(f"error: {self.format_message()}", file=file, err=True)
    echo(f"hint: `{where}` shows the usage", file=file, err=True)


def _install_usage_errors() -> None:
    from typer._click.exceptions import UsageError

    UsageError.show = _show_usage_error  # type: ignore[method-assign]


_install_usage_errors()


# -- arguments and options, declared once each with their help ----------------------------

# The stage commands take these as typed parameters and hand them over as one StageOptions,
# built explicitly; --dry-run and --yes also work before the command (`releaser -n ...`).
VersionArg = Annotated[str, typer.Argument(metavar="VERSION", help="The release, e.g. v1.2.0-rc1.")]
OnlyOpt = Annotated[
    list[str] | None,
    typer.Option("--only", metavar="STEP", help="Run only this step (repeat for more)."),
]
SkipOpt = Annotated[
    list[str] | None,
    typer.Option("--skip", metavar="STEP", help="Skip this step (repeat for more)."),
]
NoWaitOpt = Annotated[
    bool,
    typer.Option("--no-wait", help="Exit 4 instead of waiting for remote work (re-run later)."),
]
TakeOverOpt = Annotated[
    bool,
    typer.Option("--take-over", help="Take the claim of another driver (asks unless --yes)."),
]
AllowOlderOpt = Annotated[
    bool,
    typer.Option(
        "--allow-older",
        help="Release a version below the latest of its X.Y line on purpose (asks unless --yes).",
    ),
]
AdoptOpt = Annotated[
    bool,
    typer.Option(
        "--adopt",
        help="The version was tagged outside releaser: run only the steps that follow a tag.",
    ),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", "-n", help="Check and show every write; make none.")
]
YesOpt = Annotated[
    bool, typer.Option("--yes", "-y", help="Confirm dangerous steps without asking.")
]
ReplaceAssetsOpt = Annotated[
    bool,
    typer.Option(
        "--replace-assets", help="Replace release assets whose content differs from the build."
    ),
]
# The stage commands that publish release assets, the only ones taking --replace-assets.
ASSET_COMMANDS = ("publish", "release")


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
        Path | None,
        typer.Option("--config", metavar="FILE", help="releaser.toml (default: found upwards)"),
    ] = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
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
    ctx: typer.Context,
    version: VersionArg,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Also check, read-only, that the forge and services have what the config "
            "names (workflows, repositories, rooms) and take its credentials.",
        ),
    ] = False,
) -> None:
    """Print, offline, every stage and step that applies to VERSION."""
    with _opened(ctx, version) as rctx:
        from releaser.commands.plan import print_plan

        print_plan(rctx, typed=version)
        if check:
            from releaser.commands.preflight import check_remote_config
            from releaser.stages import STAGES

            check_remote_config(rctx, list(STAGES), services=True)
            rctx.ui.print("[green]check: the forge and services have what the config names[/green]")


@app.command()
def runbook(
    ctx: typer.Context,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write it to this file (default: print it)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite a file `releaser runbook` did not write.")
    ] = False,
) -> None:
    """Print (or write) the runbook of this project's release, from releaser.toml."""
    g = _globals(ctx)
    ui = _make_ui(g.verbose)
    with handled(ui):
        from releaser.commands.runbook import render_runbook, write_runbook
        from releaser.config import load_config

        text = render_runbook(load_config(g.config, Path.cwd()))
        if output is None:
            ui.console.file.write(text)  # as is: no markup, emoji or wrapping; still redacted
        else:
            write_runbook(text, output, force=force, ui=ui)


@app.command()
def init(
    force: Annotated[bool, typer.Option("--force", help="Overwrite releaser.toml.")] = False,
) -> None:
    """Write a commented releaser.toml for the git repository here."""
    ui = _make_ui(False)
    with handled(ui):
        from releaser.init import init_config

        result = init_config(Path.cwd(), force=force)
        ui.text(f"wrote {result.path}: review it, then `releaser plan VERSION`")
        gitignore = result.path.parent / ".gitignore"
        if result.gitignore == "created":
            ui.text(f"created {gitignore} with .env in it: credentials never get committed")
        elif result.gitignore == "updated":
            ui.text(f"added .env to {gitignore}: credentials never get committed")
        for note in result.notes:
            ui.text(f"note: {note}")


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

        rctx = _context(g, "0.0.0", ui)
        try:
            if not run_doctor(rctx):
                raise typer.Exit(1)
        finally:
            rctx.close()


# -- stage commands ------------------------------------------------------------------------


@dataclass(frozen=True)
class StageOptions:
    """What a stage command was asked on its command line (after the version)."""

    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    no_wait: bool = False
    take_over: bool = False
    dry_run: bool = False
    yes: bool = False
    replace_assets: bool = False
    allow_older: bool = False
    adopt: bool = False


@contextmanager
def _opened(ctx: typer.Context, version: str) -> Iterator[Any]:
    """A command's release Context (``handled``: errors as one message), closed after."""
    g = _globals(ctx)
    ui = _make_ui(g.verbose)
    with handled(ui):
        rctx = _context(g, version, ui)
        try:
            yield rctx
        finally:
            rctx.close()


def _context(g: Globals, version: str, ui: Any, stage: StageOptions | None = None) -> Any:
    from releaser.commands import check_step_names, make_context
    from releaser.config import load_config
    from releaser.context import Options
    from releaser.secrets import Secrets
    from releaser.version import Version

    stage = stage or StageOptions()
    parsed = Version.for_release(version)
    config = load_config(g.config, Path.cwd())
    options = Options(
        dry_run=g.dry_run or stage.dry_run,
        yes=g.yes or stage.yes,
        non_interactive=g.non_interactive,
        verbose=g.verbose,
        only=stage.only,
        skip=stage.skip,
        no_wait=stage.no_wait,
        take_over=stage.take_over,
        replace_assets=stage.replace_assets,
        allow_older=stage.allow_older,
        adopt=stage.adopt,
        driver=os.environ.get("RELEASER_DRIVER"),
    )
    env_files = [config.root / ".env", Path.cwd() / ".env"]
    secrets = Secrets(ui.redactor, env_files, interactive=options.interactive)
    ctx = make_context(config, parsed, options, ui, secrets)
    check_step_names(ctx.plans, config, options)
    return ctx


def _run_stages(g: Globals, version: str, stages: list[str], stage: StageOptions) -> None:
    ui = _make_ui(g.verbose)
    with handled(ui):
        from releaser.commands.stage import run_stages

        ctx = _context(g, version, ui, stage)
        try:
            run_stages(ctx, stages)
        finally:
            ctx.close()


def _stage_command(stages: list[str]) -> Callable[..., None]:
    """The command running ``stages``: one stage, or all of them for ``release``."""

    def command(
        ctx: typer.Context,
        version: VersionArg,
        only: OnlyOpt = None,
        skip: SkipOpt = None,
        no_wait: NoWaitOpt = False,
        take_over: TakeOverOpt = False,
        dry_run: DryRunOpt = False,
        yes: YesOpt = False,
        allow_older: AllowOlderOpt = False,
        adopt: AdoptOpt = False,
    ) -> None:
        options = StageOptions(
            only=tuple(only or ()),
            skip=tuple(skip or ()),
            no_wait=no_wait,
            take_over=take_over,
            dry_run=dry_run,
            yes=yes,
            allow_older=allow_older,
            adopt=adopt,
        )
        _run_stages(_globals(ctx), version, stages, options)

    return command


def _asset_stage_command(stages: list[str]) -> Callable[..., None]:
    """Like :func:`_stage_command`, for the commands that publish assets (--replace-assets)."""

    def command(
        ctx: typer.Context,
        version: VersionArg,
        only: OnlyOpt = None,
        skip: SkipOpt = None,
        no_wait: NoWaitOpt = False,
        take_over: TakeOverOpt = False,
        dry_run: DryRunOpt = False,
        yes: YesOpt = False,
        allow_older: AllowOlderOpt = False,
        adopt: AdoptOpt = False,
        replace_assets: ReplaceAssetsOpt = False,
    ) -> None:
        options = StageOptions(
            only=tuple(only or ()),
            skip=tuple(skip or ()),
            no_wait=no_wait,
            take_over=take_over,
            dry_run=dry_run,
            yes=yes,
            allow_older=allow_older,
            adopt=adopt,
            replace_assets=replace_assets,
        )
        _run_stages(_globals(ctx), version, stages, options)

    return command


def _register_stages() -> None:
    from releaser.stages import STAGE_HELP, STAGES

    commands = [(stage, [stage], STAGE_HELP[stage]) for stage in STAGES]
    commands.append(
        ("release", list(STAGES), "Every stage in order, stopping where an operator is needed.")
    )
    for name, stages, doc in commands:
        make = _asset_stage_command if name in ASSET_COMMANDS else _stage_command
        app.command(name=name, help=doc)(make(stages))


@app.command()
def status(
    ctx: typer.Context,
    version: VersionArg,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable (stable).")] = False,
) -> None:
    """Live state of every step, who holds the claim, and the next command to run."""
    with _opened(ctx, version) as rctx:
        from releaser.commands.status import show_status

        show_status(rctx, as_json=as_json)


@app.command()
def report(
    ctx: typer.Context,
    version: Annotated[
        str | None,
        typer.Argument(metavar="[VERSION]", help="The release to show, e.g. v1.2.0."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="VERSION", help="Trends: every release from VERSION on."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="The report as JSON (schema: docs/report.md).")
    ] = False,
    html: Annotated[
        Path | None,
        typer.Option("--html", metavar="FILE", help="Also write a self-contained HTML page."),
    ] = None,
) -> None:
    """Where a release's time went (stages, CI, people), and trends across releases."""
    g = _globals(ctx)
    ui = _make_ui(g.verbose)
    with handled(ui):
        from releaser.commands.report import show_report
        from releaser.version import Version

        parsed = Version.parse(version) if version is not None else None
        first = Version.parse(since) if since is not None else None
        rctx = _context(g, version or since or "0.0.0", ui)
        try:
            show_report(rctx, parsed, first, as_json=as_json, html=html)
        finally:
            rctx.close()


@app.command()
def confirm(
    ctx: typer.Context,
    version: VersionArg,
    step: Annotated[
        str, typer.Argument(metavar="STEP", help="The step's name, as `releaser plan` shows it.")
    ],
    evidence: Annotated[
        str | None, typer.Option("--evidence", help="A URL showing it is done.")
    ] = None,
    retry: Annotated[
        bool,
        typer.Option(
            "--retry",
            help="It did not happen: let the step do it again on its next run (after a write "
            "whose result was lost).",
        ),
    ] = False,
) -> None:
    """Record a manual step as done (in the release's ledger, for every machine)."""
    with _opened(ctx, version) as rctx:
        from releaser.commands.confirm import confirm_step

        confirm_step(rctx, step, evidence, retry=retry)


@app.command()
def approve(
    ctx: typer.Context,
    version: VersionArg,
    step: Annotated[
        str, typer.Argument(metavar="STEP", help="The step to approve ([gates] approve).")
    ],
) -> None:
    """Approve what a gated step would do (as someone other than the driver)."""
    with _opened(ctx, version) as rctx:
        from releaser.commands.approve import approve_step

        approve_step(rctx, step)


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

# `releaser --help` lists commands in the order a release uses them
# (docs/architecture.md, "Commands").
ORDER = [
    *("init", "env", "doctor", "plan", "runbook", "start", "status", "prepare", "tag", "build"),
    *("publish", "promote", "downstream", "merge", "next", "release", "confirm", "approve"),
    "report",
    "demo",
]


def _order(command: Any) -> int:
    name = command.name or getattr(command.callback, "__name__", "")
    return ORDER.index(name) if name in ORDER else len(ORDER)


app.registered_commands.sort(key=_order)


def main() -> None:
    from releaser.cli_lazy import build_commands_lazily

    build_commands_lazily()
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: re-run the same command, it is safe\n")
        sys.exit(EXIT_INTERRUPTED)
