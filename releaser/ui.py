"""The only console: narration, plans, progress, summaries, errors, with secret redaction.

Everything the tool prints goes through one ``UI`` object. Its streams are wrapped so any
registered secret value is replaced by ``***`` before it reaches the terminal, whatever
printed it (a rich table, an exception message, a verbose HTTP line).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from releaser.redact import Redactor

if TYPE_CHECKING:
    from releaser.step import Action, StepResult

STATUS_STYLE = {
    "done": "green",
    "todo": "yellow",
    "running": "cyan",
    "blocked": "red",
    "failed": "bold red",
    "unknown": "magenta",
    "skipped": "dim",
    "planned": "blue",
}


class RedactingStream:
    """A text stream that redacts secrets on the way to the real one."""

    def __init__(self, target: IO[str], redactor: Redactor) -> None:
        self._target = target
        self._redactor = redactor

    def write(self, text: str) -> int:
        self._target.write(self._redactor.redact(text))
        return len(text)

    def flush(self) -> None:
        self._target.flush()

    def isatty(self) -> bool:
        return self._target.isatty()

    def fileno(self) -> int:
        return self._target.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self._target, "encoding", "utf-8") or "utf-8"


class UI:
    def __init__(
        self,
        verbose: bool = False,
        out: IO[str] | None = None,
        err: IO[str] | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.verbose = verbose
        self.redactor = redactor or Redactor()
        self._out_target = out
        self._err_target = err
        width = 120 if os.environ.get("CI") or not sys.stdout.isatty() else None
        self.console = Console(
            file=RedactingStream(out or sys.stdout, self.redactor),  # type: ignore[arg-type]
            highlight=False,
            soft_wrap=True,
            width=width,
        )
        self.err = Console(
            file=RedactingStream(err or sys.stderr, self.redactor),  # type: ignore[arg-type]
            highlight=False,
            soft_wrap=True,
            width=width,
        )

    # -- plain output ------------------------------------------------------------------

    def print(self, *objects: Any, **kwargs: Any) -> None:
        self.console.print(*objects, **kwargs)

    def text(self, text: str) -> None:
        """Print text as is (no markup)."""
        self.console.print(text, markup=False)

    def debug(self, text: str) -> None:
        """A line shown with ``-v`` only: HTTP requests, git commands."""
        if self.verbose:
            self.err.print(f"[dim]  · {escape(self.redactor.redact(text))}[/dim]")

    def error(self, message: str, hint: str | None = None) -> None:
        self.err.print(f"[bold red]error:[/bold red] {escape(message)}")
        if hint:
            self.err.print(f"[yellow]hint:[/yellow] {escape(hint)}")

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/yellow] {escape(message)}")

    def notice(self, message: str) -> None:
        """A line shown without ``-v``: a long wait and its reason, a fallback taken."""
        self.err.print(f"[cyan]{escape(self.redactor.redact(message))}[/cyan]")

    # -- narration ---------------------------------------------------------------------

    def stage(self, stage: str, version: str, dry_run: bool) -> None:
        mode = " [blue](dry run: nothing will be written)[/blue]" if dry_run else ""
        self.console.rule(f"[bold]{escape(stage)}[/bold] {escape(version)}{mode}", align="left")

    def step(self, name: str, line: str) -> None:
        self.console.print(f"[bold]▸ {escape(name)}[/bold]: {escape(line)}")

    def outcome(self, status: str, detail: str, evidence: str | None = None) -> None:
        style = STATUS_STYLE.get(status, "")
        tail = f" [dim]({escape(evidence)})[/dim]" if evidence else ""
        self.console.print(f"  [{style}]{status}[/{style}] {escape(detail)}{tail}")

    def plan(self, actions: Iterable[Action], heading: str = "would") -> None:
        actions = list(actions)
        if not actions:
            self.console.print(f"  [blue]{heading}[/blue] write nothing")
        for action in actions:
            self.console.print(f"  [blue]{heading}[/blue] {escape(str(action))}")
            if action.detail:
                for line in action.detail.rstrip().splitlines():
                    self.console.print(f"      [dim]│[/dim] {escape(line)}")

    def manual(self, by_hand: str) -> None:
        self.console.print("  [magenta]by hand:[/magenta]")
        for line in by_hand.splitlines():
            self.console.print(f"      {escape(line)}")

    def summary(self, title: str, results: list[StepResult]) -> None:
        table = Table(title=title, title_justify="left", show_lines=False)
        table.add_column("step")
        table.add_column("status")
        table.add_column("detail", overflow="fold")
        table.add_column("evidence", overflow="fold")
        for r in results:
            status = str(r.status)
            style = STATUS_STYLE.get(status, "")
            acted = " ✎" if r.acted else ""
            table.add_row(
                r.step, f"[{style}]{status}{acted}[/{style}]", escape(r.detail), r.evidence or ""
            )
        self.console.print(table)

    # -- waiting -----------------------------------------------------------------------

    @contextmanager
    def waiting(self, description: str, timeout: float) -> Iterator[WaitDisplay]:
        """A progress display for a wait; a plain line every 30 s when not on a terminal."""
        display = WaitDisplay(self, description, timeout)
        if self.console.is_terminal:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            with Progress(
                TextColumn("  {task.description}"),
                BarColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            ) as progress:
                display.attach(progress, progress.add_task(description, total=timeout))
                yield display
        else:
            self.console.print(f"  [cyan]waiting[/cyan] {escape(description)}")
            yield display


class WaitDisplay:
    def __init__(self, ui: UI, description: str, timeout: float) -> None:
        self.ui = ui
        self.description = description
        self.timeout = timeout
        self.started = time.monotonic()
        self._last_line = self.started
        self._progress: Any = None
        self._task: Any = None

    def attach(self, progress: Any, task: Any) -> None:
        self._progress, self._task = progress, task

    def update(self, detail: str) -> None:
        elapsed = time.monotonic() - self.started
        if self._progress is not None:
            self._progress.update(
                self._task, completed=elapsed, description=f"{self.description}: {detail}"
            )
        elif time.monotonic() - self._last_line >= 30:
            self._last_line = time.monotonic()
            self.ui.console.print(f"  [cyan]still waiting[/cyan] ({elapsed:.0f}s) {escape(detail)}")
