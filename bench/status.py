"""`releaser status` at Kubo's size, with 50 ms of latency on every request: concurrent
checks against the same checks one after another (``[engine] concurrency = 1``).

The Kubo-size project of ``bench/_kubo.py`` (the sandbox forge and its services, a local
container registry; 35 steps apply to the final) is released whole. Then every request the
sandbox serves (REST, GraphQL, git, its chat, forum and index services) is delayed by
LATENCY_MS, as a far-away GitHub would be, and ``status`` is collected from a fresh machine
(a new Context, an empty cache directory) alternately with the default pool and with one
worker, RUNS times each; both must find the same outcomes. The figures are the best of the
RUNS (the machine's other load only ever adds time, to either mode). Last line:
    status: steps S, requests R, concurrent X ms, sequential Y ms, ratio Z, rounds K
(R: requests one concurrent status makes to the sandbox; ratio = sequential / concurrent;
K = concurrent / latency: how many request round trips deep the status is.)
"""

from __future__ import annotations

import sys
import time

from _kubo import kubo_release

LATENCY_MS = 50
RUNS = 5


def main() -> None:
    from releaser.commands.status import collect

    with kubo_release("bench-status-") as kubo:
        started = time.perf_counter()
        kubo.release()
        print(f"released the Kubo-size project in {time.perf_counter() - started:.1f}s")
        kubo.admin("faults", {"rules": [{"action": "delay", "ms": LATENCY_MS}]})
        timings: dict[int, list[float]] = {0: [], 1: []}
        requests: dict[int, int] = {}
        checked: dict[int, list[str]] = {}
        for run in range(RUNS):
            for workers in (0, 1):  # 0: the config's own concurrency
                mark = kubo.log_size()
                ctx = kubo.context(f"status-{workers}-{run}", concurrency=workers or None)
                try:
                    t0 = time.perf_counter()
                    data = collect(ctx)
                    timings[workers].append((time.perf_counter() - t0) * 1000)
                finally:
                    ctx.close()
                requests[workers] = len(kubo.requests(mark))
                checked[workers] = [
                    f"{row['step']}={row['status']}"
                    for stage in data["stages"]
                    for row in stage["steps"]
                ]
        kubo.admin("faults", method="DELETE")
    if checked[0] != checked[1]:
        sys.exit(f"the two modes disagree: {checked[0]} vs {checked[1]}")
    steps = len(checked[0])
    done = sum(1 for c in checked[0] if c.endswith("=done"))
    print(f"{steps} steps checked ({done} done), {LATENCY_MS} ms added to every request")
    print(f"requests per status: concurrent {requests[0]}, sequential {requests[1]}")
    for workers, name in ((0, "concurrent"), (1, "sequential")):
        print(f"  {name}: {', '.join(f'{t:.0f}' for t in timings[workers])} ms")
    a, b = min(timings[0]), min(timings[1])
    print(
        f"status: steps {steps}, requests {requests[0]}, concurrent {a:.0f} ms, "
        f"sequential {b:.0f} ms, ratio {b / a:.2f}, rounds {a / LATENCY_MS:.0f}"
    )


if __name__ == "__main__":
    main()
