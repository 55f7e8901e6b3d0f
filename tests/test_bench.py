"""The benchmarks run and print their ratio lines (the figures themselves are read by people,
side by side in one run, not asserted as timings)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def last_line(script: str) -> str:
    proc = subprocess.run(
        [sys.executable, f"bench/{script}"], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip().splitlines()[-1]


def test_rerun_bench_shows_a_rerun_makes_no_writes() -> None:
    line = last_line("rerun.py")
    m = re.fullmatch(
        r"rerun: first run (\d+) requests \((\d+) writes\), re-run (\d+) requests "
        r"\((\d+) writes\), ratio ([\d.]+)",
        line,
    )
    assert m, line
    assert int(m.group(2)) > 0 and int(m.group(4)) == 0
    assert int(m.group(3)) < int(m.group(1))


def test_startup_bench_prints_the_ratio_line() -> None:
    line = last_line("startup.py")
    assert re.fullmatch(r"startup: releaser --help \d+ ms, import typer \d+ ms, ratio [\d.]+", line)


@pytest.mark.slow
def test_downstream_bench_makes_one_commit_per_repository() -> None:
    line = last_line("downstream.py")
    m = re.fullmatch(
        r"downstream: batched ([\d.]+) s, per-file ([\d.]+) s, ratio ([\d.]+), commits (\d+)",
        line,
    )
    assert m, line
    assert int(m.group(4)) == 10  # ten repositories, five files each: ten commits
    assert float(m.group(1)) > 0 and float(m.group(2)) > 0
