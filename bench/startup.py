"""CLI start-up: `releaser --help` against `python -c "import typer"`, side by side.

Both are run alternately N times in this one process tree, so machine load affects both the
same way; the ratio is the figure to watch. Last line:
    startup: releaser --help X ms, import typer Y ms, ratio Z
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

RUNS = 15


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    releaser = [sys.executable, "-m", "releaser", "--help"]
    typer_only = [sys.executable, "-c", "import typer"]
    timed(releaser), timed(typer_only)  # warm the page cache
    ours, theirs = [], []
    for _ in range(RUNS):
        ours.append(timed(releaser))
        theirs.append(timed(typer_only))
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"startup: releaser --help {a:.0f} ms, import typer {b:.0f} ms, ratio {a / b:.2f}")


if __name__ == "__main__":
    main()
