"""Nothing lost, nobody trampled: the reliability trial (GitHub issue 15), every category.

Runs on the demo's release (tests/reliability/rig.py: the sandbox forge, its Matrix,
Discourse, Reddit and Discord, its package index, a dependent application) and counts, as
the suite in tests/reliability/ checks them:

- crash points: every write of a clean release, failed before and after it applied;
- faults: seeded 20% transient faults (502s, timeouts, drops, 429s, secondary rate limits);
- races: two drivers at once; take-overs: a driver taken over mid-stage;
- bad inputs: each with its exit code, one error naming the fix, no traceback, no write;
- secret leaks: every credential in every form, in output, files, ledger and bodies sent;
- dry-run writes: every stage's dry run, on fresh and half-done releases.

Usage: python bench/reliability.py [--workers N]   (about 15-20 min on 2 cores)
Last line:
    reliability: crash points A/A, faults B/B, races C/C, take-overs T/T, bad inputs D/D,
    secret leaks 0, dry-run writes 0
Failures are listed above it; the exit status is 1 unless every figure is whole.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    from tests.reliability.trial import run_all, summary

    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    started = time.monotonic()
    tallies = run_all(args.workers, log=lambda line: print(line, flush=True))
    whole = True
    for tally in tallies.values():
        for ident, failure in tally.failures:
            whole = False
            print(f"FAILED {tally.name} {ident}: {failure[:1500]}\n")
    print(f"took {time.monotonic() - started:.0f}s")
    print(summary(tallies))
    if not whole:
        sys.exit(1)


if __name__ == "__main__":
    main()
