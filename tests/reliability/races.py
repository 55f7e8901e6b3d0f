"""Races and take-overs: two drivers, each a forge user of their own with their own machine
(working copy, cache, driver and host names), in processes of their own.

A race: both start a command at the same instant (they wait for a go file) from a copy of the
reference release before a stage; one acts, the other is stopped by its claim (exit 1) or
finds the work done. Neither may write what the other wrote, the one stopped writes nothing
but a refused claim, and after a last run the state equals the clean run's.

A take-over: alice runs a stage whose writes the forge slows down; after she made ``k``
writes, bob runs the same stage with ``--take-over --yes``. Alice must stop before her next
write (at most the one in flight lands after bob's claim), saying who took over; bob
finishes, and the state equals the clean run's.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any

from tests.machines import ledger_writes, race, spawn, visible
from tests.reliability.crash import Reference, copy_of, diff
from tests.reliability.rig import TOKEN_ENV, VERSION, Rig

WRITTEN = "^/(api|git|_matrix|discourse|reddit|discord|pypi)/"  # every service's paths


class Driver:
    def __init__(self, rig: Rig, login: str, host: str, token: str | None = None) -> None:
        from releaser.sandbox.admin_client import SandboxAdmin

        self.rig = rig
        self.login = login
        self.host = host
        root = rig.root / "drivers" / f"{login}-{host}"
        self.work = root / "work"
        self.cache = root / "cache"
        self.work.mkdir(parents=True, exist_ok=True)
        self.cache.mkdir(parents=True, exist_ok=True)
        shutil.copy(rig.config_path, self.work / "releaser.toml")
        if token is None:
            with SandboxAdmin(rig.info["admin_url"]) as admin:
                if login in {u["login"] for u in admin.users()}:
                    token = admin.add_token(login)
                else:
                    token = str(admin.create_user(login)["token"])
                admin.add_collaborator("acme/example", login, "admin")
                admin.add_collaborator("acme/example-app", login, "admin")
        self.token = token

    @property
    def env(self) -> dict[str, str]:
        return {
            **self.rig.env,
            TOKEN_ENV: self.token,
            "HOME": str(self.work.parent),
            "XDG_CACHE_HOME": str(self.cache),
            "RELEASER_DRIVER": self.login,
            "RELEASER_HOST": self.host,
            "CI": "true",
        }

    def spawn(self, *args: str, go: Path | None = None) -> Any:
        return spawn(self.work, self.env, args, go, None)

    def run(self, *args: str) -> tuple[int, str]:
        proc = self.spawn(*args)
        code = proc.wait(300)
        return code, Path(proc.log).read_text()


def output(proc: Any) -> str:
    return Path(proc.log).read_text()


def user_writes(
    entries: list[dict[str, Any]], user: str, services: bool = False
) -> list[dict[str, Any]]:
    """``user``'s applied writes that are not ledger appends (``services``: and the writes
    to the other services, which the log can't attribute to a forge user)."""
    users = {user, None} if services else {user}
    mine = [e for e in entries if e.get("write") and e.get("user") in users]
    if services:  # counting a driver's progress: a tree or commit may be a ledger append's
        mine = [e for e in mine if not re.search(r"/git/(trees|commits)$|refs/releaser", e["path"])]
    skip = ledger_writes(mine)
    return [e for i, e in enumerate(mine) if i not in skip and (e.get("status") or 0) < 400]


def _start(ref: Reference, stage: str, work: Path) -> Rig:
    return copy_of(ref.before(stage), work)


def _converged(
    rig: Rig, ref: Reference, stage: str, driver: Driver, command: str | None = None
) -> str | None:
    """A last run of ``command`` (default: ``stage``; "release" runs to the end) by
    ``driver`` completes; the state is the clean run's there, and one more run writes
    nothing."""
    command = command or stage
    code, said = driver.run("--non-interactive", command, VERSION, "--yes", "--take-over")
    if code != 0:
        return f"the last run exited {code}: {said[-2000:]}"
    state = rig.state()
    want = ref.states[ref.stages[-1] if command == "release" else stage]
    if state != want:
        return "the state differs from the clean run's:\n" + diff(want, state)
    mark = rig.mark()
    code, said = driver.run("--non-interactive", command, VERSION, "--yes")
    if code != 0 or rig.writes_since(mark):
        return f"one more run: exit {code}, writes {rig.writes_since(mark)}"
    return None


RACE_KINDS = ("same-stage", "stage-and-release", "same-person")


def run_race(ref: Reference, stage: str, kind: str, work: Path) -> str | None:
    rig = _start(ref, stage, work)
    try:
        alice = Driver(rig, "alice", "laptop")
        bob = (
            Driver(rig, "alice", "desk", token=alice.token)
            if kind == "same-person"
            else Driver(rig, "bob", "desk")
        )
        go = rig.root / "go"
        mark = rig.mark()
        command_b = "release" if kind == "stage-and-release" else stage
        a = alice.spawn("--non-interactive", stage, VERSION, "--yes", go=go)
        b = bob.spawn("--non-interactive", command_b, VERSION, "--yes", go=go)
        race([a, b], go)
        codes = (a.wait(300), b.wait(300))
        said = (output(a), output(b))
        for code, text in zip(codes, said, strict=True):
            if code not in (0, 1) or "Traceback" in text:
                return f"exit {code}: {text[-2500:]}"
            if code == 1 and "holds the release" not in text:
                return f"stopped, but not by the claim: {text[-2500:]}"
        if kind != "same-person":
            log = rig.requests(mark)
            for code, who in zip(codes, ("alice", "bob"), strict=True):
                if code == 1 and user_writes(log, who):
                    return f"{who} was stopped yet wrote {user_writes(log, who)}"
        return _converged(rig, ref, stage, alice, command_b)
    finally:
        rig.stop()


def run_take_over(ref: Reference, stage: str, after: int, work: Path) -> str | None:
    rig = _start(ref, stage, work)
    try:
        alice = Driver(rig, "alice", "laptop")
        bob = Driver(rig, "bob", "desk")
        # alice's every request is slow (bob's are not): he finds work left and claims it
        rig.faults({"path": WRITTEN, "action": "delay", "ms": 300, "user": "alice"})
        go = rig.root / "go"
        taker = bob.spawn("--non-interactive", stage, VERSION, "--yes", "--take-over", go=go)
        deadline = time.monotonic() + 120
        while not list(go.parent.glob(go.name + ".ready.*")):  # bob's releaser is loaded
            if time.monotonic() > deadline or taker.poll() is not None:
                return "bob's process did not get ready"
            time.sleep(0.02)
        mark = rig.mark()
        proc = alice.spawn("--non-interactive", stage, VERSION, "--yes")
        deadline = time.monotonic() + 180
        while len(user_writes(rig.requests(mark), "alice", services=True)) < after:
            if proc.poll() is not None:
                return f"alice ended (exit {proc.returncode}) before {after} writes"
            if time.monotonic() > deadline:
                return "alice never made her writes"
            time.sleep(0.02)
        go.touch()  # bob takes over now
        code_b = taker.wait(300)
        said_b = output(taker)
        code_a = proc.wait(300)
        rig.clear_faults()
        said_a = output(proc)
        if code_a not in (0, 1) or (code_a == 1 and "took over this release" not in said_a):
            return f"alice: exit {code_a}: {said_a[-2500:]}"
        if code_b != 0:
            return f"bob: exit {code_b}: {said_b[-2500:]}"
        log = rig.requests(mark)
        claims = [
            i
            for i, e in enumerate(log)
            if e.get("user") == "bob"
            and e.get("write")
            and "refs/releaser" in e["path"]
            and (e.get("status") or 0) < 400
        ]
        if not claims:
            return "bob never claimed"
        # every write of alice's that changed anything after bob's claim landed, her
        # ledger's included (tests.machines.visible)
        late = [e for e in log[claims[0] + 1 :] if e.get("user") == "alice" and visible(e)]
        if len(late) > 1:
            return f"alice wrote {len(late)} times after bob's claim: {late}"
        return _converged(rig, ref, stage, bob)
    finally:
        rig.stop()


def run_race_at(root: str, stage: str, kind: str) -> str | None:
    from tests.reliability.trial import on_reference

    return on_reference("race", run_race, root, stage, kind)


def run_take_over_at(root: str, stage: str, after: int) -> str | None:
    from tests.reliability.trial import on_reference

    return on_reference("takeover", run_take_over, root, stage, after)


def race_trials(ref: Reference) -> list[tuple[str, Any, tuple[Any, ...]]]:
    return [
        (f"{stage}-{kind}", run_race_at, (str(ref.root), stage, kind))
        for stage in ref.stages
        for kind in RACE_KINDS
    ]


# (stage, alice's writes before bob takes over): early and late in each stage that writes
TAKE_OVERS = [
    ("start", 1),
    ("prepare", 1),
    ("prepare", 3),
    ("publish", 1),
    ("publish", 2),
    ("promote", 1),
    ("promote", 2),
    ("downstream", 1),
    ("downstream", 2),
    ("merge", 1),
    ("merge", 3),
    ("next", 1),
]


def take_over_trials(ref: Reference) -> list[tuple[str, Any, tuple[Any, ...]]]:
    return [
        (f"{stage}-after-{k}", run_take_over_at, (str(ref.root), stage, k))
        for stage, k in TAKE_OVERS
    ]
