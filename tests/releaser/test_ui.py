"""Wording of the UI's plan display."""

from __future__ import annotations

import io
import re

from releaser.step import Action
from releaser.ui import UI


def test_an_empty_plan_reads_as_a_sentence() -> None:
    out = io.StringIO()
    ui = UI(out=out, err=out)
    ui.plan([])
    ui.plan([], heading="will")
    assert out.getvalue().splitlines() == ["  would write nothing", "  will write nothing"]
    assert "(no writes)" not in out.getvalue()


def test_a_plan_lists_each_write() -> None:
    out = io.StringIO()
    UI(out=out, err=out).plan([Action("create", "branch release-v1.2 at 3f2a1c0")])
    assert out.getvalue() == "  would create branch release-v1.2 at 3f2a1c0\n"


def test_a_board_off_a_terminal_prints_one_line_per_change() -> None:
    out = io.StringIO()
    ui = UI(out=out, err=out)
    board = ui.board("dependents of v1.2.0", ["acme/a", "acme/b"])
    board.update("acme/a", "reading")
    board.update("acme/a", "reading")  # no change: no line
    board.update("acme/b", "PR open", "https://forge/acme/b/pull/1")
    assert ui.board("dependents of v1.2.0", ["acme/c"]) is board  # one board per title
    board.update("acme/c", "failed", "no such file")
    ui.close_boards()
    assert out.getvalue().splitlines() == [
        "  · acme/a: reading",
        "  · acme/b: PR open https://forge/acme/b/pull/1",
        "  · acme/c: failed no such file",
    ]


def test_a_board_on_a_terminal_is_a_live_table_updated_from_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from rich.console import Console

    out = io.StringIO()
    ui = UI(out=out, err=out)
    # what a terminal gets: a live table, redrawn in place
    ui.console = Console(file=out, force_terminal=True, width=100, color_system=None)
    items = [f"acme/dep{i}" for i in range(10)]
    board = ui.board("dependents of v1.2.0", items)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda item: board.update(item, "PR open", f"{item}#1"), items))
    ui.close_boards()
    text = out.getvalue()
    assert "dependents of v1.2.0" in text
    last = text[text.rfind("dependents of v1.2.0") :]  # the final frame
    assert all(re.search(rf"{item}\s+PR open\s+{item}#1", last) for item in items)
    assert "·" not in text  # no plain lines on a terminal
