"""Wording of the UI's plan display."""

from __future__ import annotations

import io

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
