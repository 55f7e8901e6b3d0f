"""Commands built when they run, not at start-up.

Typer turns every command's function into a click command (its signature, its type hints,
its options) before it parses the command line: some 25 ms for releaser's twenty commands,
a third of ``releaser --help``. A listing needs only each command's name and help, so each
command is a ``LazyCommand`` holding those, and the real one is built by the first thing
that needs more (parsing its arguments, its own ``--help``, completion).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import typer.main
from typer.core import TyperCommand


class LazyCommand(TyperCommand):
    """A command's name and help; everything else from the real command, built once."""

    def __init__(self, info: Any, build: Callable[[], Any]) -> None:
        help_text = info.help
        help_text = (
            inspect.getdoc(info.callback) if help_text is None else inspect.cleandoc(help_text)
        )
        super().__init__(
            name=info.name or typer.main.get_command_name(info.callback.__name__),
            help=help_text,
            short_help=info.short_help,
            hidden=info.hidden,
            deprecated=info.deprecated,
        )
        self._build = build
        self._real: Any = None

    @property
    def real(self) -> Any:
        if self._real is None:
            self._real = self._build()
        return self._real

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        return self.real.make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        return self.real.invoke(ctx)

    def get_params(self, ctx: Any) -> Any:
        return self.real.get_params(ctx)

    def shell_complete(self, ctx: Any, incomplete: str) -> Any:
        return self.real.shell_complete(ctx, incomplete)


def build_commands_lazily() -> None:
    """Make typer build each command when it is used (call before ``app()``)."""
    eager = typer.main.get_command_from_info
    if getattr(eager, "lazy", False):
        return

    def lazy(command_info: Any, **kwargs: Any) -> Any:
        return LazyCommand(command_info, lambda: eager(command_info, **kwargs))

    lazy.lazy = True  # type: ignore[attr-defined]
    typer.main.get_command_from_info = lazy
