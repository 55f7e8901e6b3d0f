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


def documented(name: str) -> str:
    """The bench's last line as docs/performance.md records it (the latest figures)."""
    text = (ROOT / "docs" / "performance.md").read_text()
    m = re.search(rf"^    ({name}: .*)$", text, re.MULTILINE)
    assert m, f"docs/performance.md lacks the {name} line"
    return m.group(1)


STATUS = (
    r"status: steps (\d+), requests (\d+), concurrent (\d+) ms, sequential (\d+) ms, "
    r"ratio ([\d.]+), rounds (\d+)"
)


@pytest.mark.slow  # a whole Kubo-size release, then status six times with 50 ms latency
def test_status_at_kubos_size_makes_no_more_requests_than_documented() -> None:
    line = last_line("status.py")
    m = re.fullmatch(STATUS, line)
    assert m, line
    known = re.fullmatch(STATUS, documented("status"))
    assert known, documented("status")
    assert int(m.group(1)) >= 35  # Kubo's size
    # the bench's last count plus 10%: a change that makes status ask more is seen here
    assert int(m.group(2)) <= int(known.group(2)) * 1.1, (line, known.group(0))


@pytest.mark.slow  # a whole Kubo-size release, twice
def test_rerun_bench_shows_a_rerun_makes_no_writes() -> None:
    line = last_line("rerun.py")
    m = re.fullmatch(r"rerun: steps (\d+), requests (\d+), per step ([\d.]+), writes (\d+)", line)
    assert m, line
    assert int(m.group(1)) >= 35 and int(m.group(4)) == 0
    assert int(m.group(2)) > 0


@pytest.mark.slow  # two releases up to a half-hour build, in sandbox time
def test_wait_bench_polls_less_and_mostly_free() -> None:
    line = last_line("wait.py")
    m = re.fullmatch(
        r"wait: ([\d.]+) requests/min \(([\d.]+) counted against the rate limit\), "
        r"naive ([\d.]+), ratio ([\d.]+)",
        line,
    )
    assert m, line
    assert float(m.group(2)) < float(m.group(1))  # some answers were 304s
    assert float(m.group(4)) >= 5


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
