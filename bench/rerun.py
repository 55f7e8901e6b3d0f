"""Requests per re-run at Kubo's size: a whole release, then the same command again.

A re-run after success must make zero writes and should cost about one request per step.
The Kubo-size project of ``bench/_kubo.py`` (35 steps apply to the final) is released whole,
then ``releaser release`` runs every stage again in one command from a fresh machine (a new
Context, an empty cache); the sandbox's request log counts what the re-run asked of the
forge and its services (the container registry, a separate server, is not counted). Last line:
    rerun: steps S, requests R, per step X, writes 0
"""

from __future__ import annotations

import sys
from typing import Any

from _kubo import kubo_release


def state(result: Any) -> str:
    return str(getattr(result.status, "value", result.status))


def main() -> None:
    with kubo_release("bench-rerun-") as kubo:
        first = kubo.release()
        mark = kubo.log_size()
        again = kubo.release_again()
        entries = kubo.requests(mark)
    steps = {r.step for r in again if state(r) != "skipped"}
    if any(state(r) != "done" for r in first if state(r) != "skipped"):
        sys.exit("the release did not complete")
    acted = [r.step for r in again if r.acted]
    writes = [f"{e['method']} {e['path']}" for e in entries if e.get("write")]
    print(f"first run: {len(first)} step results; re-run acted on {acted or 'nothing'}")
    if writes:
        print("writes:", *writes, sep="\n  ")
    per_step = len(entries) / len(steps)
    print(
        f"rerun: steps {len(steps)}, requests {len(entries)}, per step {per_step:.2f}, "
        f"writes {len(writes)}"
    )
    if writes:
        sys.exit(1)


if __name__ == "__main__":
    main()
