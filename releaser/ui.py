"""The only console: narration, plans, progress, summaries, errors, with secret redaction.

Everything the tool prints goes through one ``UI`` object. Its streams are wrapped so any
registered secret value is replaced by ``***`` before it reaches the terminal, whatever
printed it (a rich table, an exception message, a verbose HTTP line).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
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
        self._boards: dict[str, Board] = {}
        self._boards_lock = threading.Lock()

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

    # -- progress boards ---------------------------------------------------------------

    def board(self, title: str, items: Sequence[str]) -> Board:
        """The board titled ``title`` (made on first use; later calls add their items)."""
        with self._boards_lock:
            board = self._boards.get(title)
            if board is None:
                board = self._boards[title] = Board(self, title, items)
            else:
                board.add(items)
            return board

    def close_boards(self) -> None:
        """Stop every live board (the engine does, at the end of a stage)."""
        with self._boards_lock:
            boards, self._boards = list(self._boards.values()), {}
        for board in boards:
            board.close()

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


# -- progress boards ------------------------------------------------------------------------

BOARD_STYLES = (  # the first word found in a state picks its colour
    ("fail", "bold red"),
    ("error", "bold red"),
    ("pass", "green"),
    ("done", "green"),
    ("up to date", "green"),
    ("merged", "green"),
    ("open", "green"),
    ("running", "cyan"),
    ("closed", "magenta"),
)


def board_style(state: str) -> str:
    lowered = state.lower()
    return next((style for word, style in BOARD_STYLES if word in lowered), "yellow")


class Board:
    """The state of several items of one piece of work, one row each (``ctx.progress``).

    On a terminal it is a live table (rich) that stays on screen, below or above other live
    displays (the engine's wait); elsewhere each change of an item's state is one plain line,
    and an update that changes nothing prints nothing. Thread-safe: steps update it from their
    worker threads.
    """

    def __init__(self, ui: UI, title: str, items: Sequence[str]) -> None:
        self.ui = ui
        self.title = title
        self._rows: dict[str, tuple[str, str]] = {item: ("waiting", "") for item in items}
        self._lock = threading.Lock()
        self._live: Any = None
        if ui.console.is_terminal:
            from rich.live import Live

            self._live = Live(
                get_renderable=self._table,
                console=ui.console,
                refresh_per_second=4,
                transient=False,
            )
            self._live.start(refresh=True)

    def add(self, items: Sequence[str]) -> None:
        with self._lock:
            for item in items:
                self._rows.setdefault(item, ("waiting", ""))

    def update(self, item: str, state: str, detail: str = "") -> None:
        """Set ``item``'s state ("reading", "PR open", "tests running", "failed"...)."""
        with self._lock:
            if self._rows.get(item) == (state, detail):
                return
            self._rows[item] = (state, detail)
            if self._live is None:
                style = board_style(state)
                tail = f" [dim]{escape(detail)}[/dim]" if detail else ""
                self.ui.console.print(
                    f"  [dim]·[/dim] {escape(item)}: [{style}]{escape(state)}[/{style}]{tail}"
                )
        if self._live is not None:
            self._live.refresh()

    def states(self) -> dict[str, tuple[str, str]]:
        with self._lock:
            return dict(self._rows)

    def _table(self) -> Table:
        table = Table(title=self.title, title_justify="left", box=None, padding=(0, 2))
        table.add_column("")
        table.add_column("state")
        table.add_column("", overflow="fold")
        for item, (state, detail) in self.states().items():
            style = board_style(state)
            table.add_row(escape(item), f"[{style}]{escape(state)}[/{style}]", escape(detail))
        return table

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


class QuietBoard:
    """A board nobody sees (``status`` checks steps without narrating them)."""

    def update(self, item: str, state: str, detail: str = "") -> None:
        return None
