"""The remote ledger: what the services can't tell, shared by every machine.

See docs/architecture.md, "Where the state lives".

A release's ledger is a list of entries kept as ``ledger.json`` in a chain of commits on
``refs/releaser/<tag>`` in the project's repository. Appending is compare-and-swap: a new
commit whose parent is the tip we read, and a ref update *without force*; if another driver
appended first the forge refuses, and we re-read and retry. No server of our own, and it never
holds secrets: every string of an entry passes through the redactor before it is written.

Entries (every one carries ``type``, ``by`` (the driver), ``host`` and ``at``)::

    {"type": "claim", "driver", "host", "pid", "stage", "since", "expires", "took_over_from"?,
     "login"?}                                  (login: the driver's forge user)
    {"type": "unclaim", "driver", "host", "stage"}
    {"type": "stage", "stage", "outcome": "done" | "failed", "start", "end", "steps": {...}}
    {"type": "answer", "step", "answer": "done", "evidence": URL | null}
    {"type": "intent", "step", "key", "detail"}    before a write that can't be looked up
    {"type": "result", "step", "key", "evidence"}  after it
    {"type": "approval", "step", "subject", "login", "grant"}  an approval (``releaser
                     approve``) of what the step would do, by a forge user (``grant``: as
                     what the forge let them approve, when they did)

Identity: the driver is ``RELEASER_DRIVER`` or the OS user, the host ``RELEASER_HOST`` or the
machine's name. A claim held by the same driver on the same host is theirs to resume (after a
crash), unless the process that took it is still alive: two terminals of one person are two
drivers too.

Storage is pluggable (``LedgerStore``): ``ForgeRefStore`` on the forge, ``MemoryStore`` for
tests and offline commands.
"""

from __future__ import annotations

import getpass
import json
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from releaser.errors import ClaimHeld, RemoteError

if TYPE_CHECKING:
    from releaser.context import Context

CAS_ATTEMPTS = 20
RECENT = 10  # entries `status` shows


def utcnow(clock: Callable[[], float] = time.time) -> datetime:
    return datetime.fromtimestamp(clock(), UTC).replace(microsecond=0)


def expiry(ttl: float, clock: Callable[[], float] = time.time) -> str:
    """Now + ``ttl``, rounded up to the second (a lease never ends before ``ttl``)."""
    moment = datetime.fromtimestamp(clock(), UTC) + timedelta(seconds=ttl)
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return iso(moment)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class Answer:
    step: str
    answer: str
    evidence: str | None
    by: str
    at: str
    host: str = ""


@dataclass(frozen=True)
class Approval:
    """An approval recorded by ``releaser approve``: ``login`` (the approver's forge user,
    from their token) approved ``subject`` (what the step would do, or None)."""

    step: str
    subject: str | None
    login: str
    at: str
    by: str = ""  # the approver's driver name and host, as every entry has them
    host: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"login": self.login, "subject": self.subject, "at": self.at, "host": self.host}


@dataclass(frozen=True)
class Claim:
    driver: str
    host: str
    stage: str
    since: str
    expires: str
    pid: int | None = None

    def expired(self, now: datetime | None = None) -> bool:
        return parse_iso(self.expires) <= (now or datetime.now(UTC))

    def who(self) -> str:
        return f"{self.driver} on {self.host}"

    def describe(self) -> str:
        return (
            f"{self.who()} holds the release ({self.stage}) since {self.since}, "
            f"until {self.expires} unless renewed"
        )

    def as_json(self) -> dict[str, Any]:
        """The claim in `status --json` (stable keys)."""
        return {
            "driver": self.driver,
            "host": self.host,
            "stage": self.stage,
            "since": self.since,
            "expires": self.expires,
        }

    @classmethod
    def from_entry(cls, e: dict[str, Any]) -> Claim:
        pid = e.get("pid")
        return cls(
            str(e["driver"]),
            str(e["host"]),
            str(e.get("stage", "")),
            str(e["since"]),
            str(e["expires"]),
            int(pid) if isinstance(pid, int) else None,
        )


class LedgerStore(Protocol):
    def read(self) -> tuple[str | None, dict[str, Any]]:
        """The tip's version token (None when there is no ledger yet) and the document."""

    def tip(self) -> str | None:
        """The tip's version token only (one cheap read)."""

    def write(self, base: str | None, doc: dict[str, Any], message: str) -> bool:
        """Store ``doc`` on top of ``base``; False when the tip moved meanwhile (retry)."""


class MemoryStore:
    """A ledger store in memory (tests, and commands that never touch the forge)."""

    def __init__(self) -> None:
        self.version = 0
        self.doc: dict[str, Any] = {"entries": []}
        self.writes = 0
        self.reads = 0
        self._lock = threading.Lock()

    def tip(self) -> str | None:
        return str(self.version) if self.version else None

    def read(self) -> tuple[str | None, dict[str, Any]]:
        with self._lock:
            self.reads += 1
            return self.tip(), json.loads(json.dumps(self.doc))

    def write(self, base: str | None, doc: dict[str, Any], message: str) -> bool:
        with self._lock:
            if self.tip() != base:
                return False
            self.version += 1
            self.doc = json.loads(json.dumps(doc))
            self.writes += 1
            return True


def redact_value(value: Any, redact: Callable[[str], str]) -> Any:
    """Every string inside ``value`` (keys too) through ``redact``."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_value(k, redact): redact_value(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v, redact) for v in value]
    return value


def pid_alive(pid: int) -> bool:
    """Whether a process of this machine is alive (a zombie or another user's counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def live_claim(entries: list[dict[str, Any]], now: datetime | None = None) -> Claim | None:
    """The claim in force after ``entries``: None when released or expired."""
    current: Claim | None = None
    for e in entries:
        if e.get("type") == "claim":
            current = Claim.from_entry(e)
        elif (
            e.get("type") == "unclaim"
            and current is not None
            and (e.get("driver"), e.get("host")) == (current.driver, current.host)
        ):
            current = None
    return None if current is None or current.expired(now) else current


class Ledger:
    def __init__(
        self,
        store: LedgerStore,
        release: str,
        driver: str,
        host: str | None = None,
        ttl: float = 900,
        redact: Callable[[str], str] = lambda s: s,
        pid: int | None = None,
        clock: Callable[[], float] = time.time,
        login: Callable[[], str] | None = None,
    ) -> None:
        self.store = store
        self.login = login  # the driver's forge user (GET /user), recorded in claims
        self.release = release
        self.driver = driver
        self.host = host or socket.gethostname()
        self.pid = os.getpid() if pid is None else pid
        self.ttl = ttl
        self._redact = redact
        self._cache: dict[str, Any] | None = None
        self.frozen = False  # `status`: read once, answer every question from that snapshot
        self.held: Claim | None = None
        self.clock = clock  # the forge's time: leases are judged by the clock drivers share
        self.renewed_at = 0.0  # clock() of the last claim or renewal
        self.last_base: str | None = None  # the tip our last write went on top of

    # -- reading -----------------------------------------------------------------------

    def entries(self, refresh: bool = False) -> list[dict[str, Any]]:
        if self._cache is None or (refresh and not self.frozen):
            _, self._cache = self.store.read()
        return list(self._cache.get("entries", []))

    def snapshot(self) -> list[dict[str, Any]]:
        """Read the ledger once; later questions are answered from this read."""
        entries = self.entries(refresh=True)
        self.frozen = True
        return entries

    def tip(self) -> str | None:
        """The current tip (one read of the ref): tells whether anyone appended since."""
        return self.store.tip()

    def answer(self, step: str) -> Answer | None:
        """The operator's recorded answer for a step, from any machine (latest wins)."""
        found = None
        for e in self.entries(refresh=True):
            if e.get("type") == "answer" and e.get("step") == step:
                found = Answer(
                    step, e["answer"], e.get("evidence"), e["by"], e["at"], e.get("host", "")
                )
        return found if found and found.answer == "done" else None

    def now(self) -> datetime:
        return utcnow(self.clock)

    def claim_holder(self) -> Claim | None:
        """The live claim, if any (a released or expired claim counts as none)."""
        return live_claim(self.entries(refresh=True), self.now())

    def intent(self, step: str, key: str) -> dict[str, Any] | None:
        """The last intent/result pair recorded for an un-look-up-able write."""
        state: dict[str, Any] | None = None
        for e in self.entries(refresh=True):
            if e.get("step") != step:
                continue
            if e.get("type") == "answer" and e.get("answer") == "retry":
                state = None  # the operator said it did not happen: do it again
            elif e.get("key") == key and e.get("type") in ("intent", "result"):
                state = e
        return state

    def approvals(self, step: str) -> list[Approval]:
        """Every approval recorded for ``step``, oldest first."""
        return [
            Approval(
                step,
                e.get("subject"),
                str(e.get("login") or ""),
                str(e.get("at") or ""),
                str(e.get("by") or ""),
                str(e.get("host") or ""),
            )
            for e in self.entries(refresh=True)
            if e.get("type") == "approval" and e.get("step") == step
        ]

    def last_driver_login(self) -> str | None:
        """The forge user of the latest claim: who drove the release last."""
        for e in reversed(self.entries(refresh=True)):
            if e.get("type") == "claim" and e.get("login"):
                return str(e["login"])
        return None

    def recent(self, count: int = RECENT) -> list[dict[str, Any]]:
        return self.entries()[-count:]

    def is_me(self, claim: Claim) -> bool:
        return (claim.driver, claim.host) == (self.driver, self.host)

    # -- writing (compare-and-swap) ----------------------------------------------------

    def _update(
        self,
        change: Callable[[list[dict[str, Any]]], list[dict[str, Any]] | None],
    ) -> None:
        """Replace the entries by ``change(entries)`` (None: nothing to write), CAS-retried."""
        for attempt in range(CAS_ATTEMPTS):
            base, doc = self.store.read()
            entries = list(doc.get("entries", []))
            new_entries = change(entries)
            if new_entries is None:
                self._cache = doc
                return
            new_entries = redact_value(new_entries, self._redact)
            new = {"release": self.release, "entries": new_entries}
            last = new_entries[-1] if new_entries else {}
            what = " ".join(
                str(last.get(k)) for k in ("type", "stage", "step", "by") if last.get(k)
            )
            if self.store.write(base, new, f"releaser: {what}"):
                self._cache = new
                self.last_base = base
                return
            # Someone appended first: re-read and retry, with jitter so racers spread out.
            time.sleep(min(0.02 * (attempt + 1), 0.3) * (0.5 + random.random()))
        raise RemoteError(
            "the ledger kept moving while appending to it",
            "re-run the command: another driver is writing at the same time",
        )

    def _append(self, make: Callable[[list[dict[str, Any]]], dict[str, Any] | None]) -> None:
        """Append ``make(entries)`` (None: nothing to write) with CAS retries."""

        def change(entries: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
            entry = make(entries)
            return None if entry is None else [*entries, entry]

        self._update(change)

    def _stamp(self, entry: dict[str, Any]) -> dict[str, Any]:
        return {**entry, "by": self.driver, "host": self.host, "at": iso(self.now())}

    def record_answer(self, step: str, answer: str, evidence: str | None) -> None:
        self._append(
            lambda _: self._stamp(
                {"type": "answer", "step": step, "answer": answer, "evidence": evidence}
            )
        )

    def record_approval(self, step: str, subject: str | None, login: str, grant: str) -> bool:
        """Record ``login``'s approval of ``subject`` (``grant``: as what); False (nothing
        written) when the same approval is there already."""
        wrote: list[bool] = []

        def make(entries: list[dict[str, Any]]) -> dict[str, Any] | None:
            wrote.clear()
            for e in entries:
                same = (e.get("step"), e.get("subject"), str(e.get("login", "")).lower())
                if e.get("type") == "approval" and same == (step, subject, login.lower()):
                    return None
            wrote.append(True)
            entry = {
                "type": "approval",
                "step": step,
                "subject": subject,
                "login": login,
                "grant": grant,
            }
            return self._stamp(entry)

        self._append(make)
        return bool(wrote)

    def record_intent(self, step: str, key: str, detail: str) -> None:
        self._append(
            lambda _: self._stamp({"type": "intent", "step": step, "key": key, "detail": detail})
        )

    def record_result(self, step: str, key: str, evidence: str | None) -> None:
        self._append(
            lambda _: self._stamp(
                {"type": "result", "step": step, "key": key, "evidence": evidence}
            )
        )

    def stage_entry(
        self, stage: str, outcome: str, started: str, results: list[Any]
    ) -> dict[str, Any]:
        """A stage run: who, from where, when, and how each step ended."""
        return self._stamp(
            {
                "type": "stage",
                "stage": stage,
                "outcome": outcome,
                "start": started,
                "end": iso(self.now()),
                "steps": {str(r.step): str(r.status) for r in results},
            }
        )

    def record_stage(self, stage: str, outcome: str, started: str, results: list[Any]) -> None:
        self.append(self.stage_entry(stage, outcome, started, results))

    def append(self, entry: dict[str, Any]) -> None:
        """Append a ready-made entry (redacted on the way)."""
        self._append(lambda _: entry)

    # -- claims ------------------------------------------------------------------------

    def claim(self, stage: str, take_over: bool = False) -> Claim:
        """Claim the release for this driver (or renew our claim).

        ClaimHeld when someone else holds a live claim and ``take_over`` is false; when we
        held it and someone took it over, the message says so.
        """
        took_from: list[Claim] = []

        def change(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
            holder = live_claim(entries, self.now())
            took_from.clear()
            if holder is not None and self._is_other(holder):
                if not take_over:
                    if self.held is not None:
                        raise ClaimHeld(
                            f"the release was taken over: {holder.describe()}",
                            "stop here; they continue the release (`releaser status` shows "
                            "where it stands)",
                        )
                    raise ClaimHeld(
                        holder.describe(),
                        "wait for them to finish (or the claim to expire), or re-run with "
                        "--take-over once you know they stopped",
                    )
                took_from.append(holder)
            now = self.now()
            mine = holder is not None and not took_from and self.is_me(holder)
            since = holder.since if mine and holder is not None else iso(now)
            entry: dict[str, Any] = {
                "type": "claim",
                "driver": self.driver,
                "host": self.host,
                "pid": self.pid,
                "stage": stage,
                "since": since,
                "expires": expiry(self.ttl, self.clock),
                "by": self.driver,
                "at": iso(now),
            }
            if took_from:
                entry["took_over_from"] = took_from[0].who()
            login = self.login() if self.login is not None else ""
            if login:
                entry["login"] = login
            last = entries[-1] if entries else None
            if (
                mine
                and last is not None
                and last.get("type") == "claim"
                and last.get("pid") == self.pid
                and (last.get("driver"), last.get("host")) == (self.driver, self.host)
            ):
                # A renewal: replace our own last claim (the commits keep the history), so a
                # long wait doesn't grow the ledger.
                return [*entries[:-1], entry]
            return [*entries, entry]

        self._update(change)
        self.held = live_claim(self.entries(), self.now()) or Claim(
            self.driver, self.host, stage, "", ""
        )
        self.renewed_at = self.clock()
        return self.held

    def _is_other(self, holder: Claim) -> bool:
        """Someone else: another driver or host, or our own still-running other process."""
        if not self.is_me(holder):
            return True
        return holder.pid is not None and holder.pid != self.pid and pid_alive(holder.pid)

    def renew(self) -> None:
        """Extend our lease (long waits call this); ClaimHeld if someone took it over."""
        if self.held is not None:
            self.claim(self.held.stage)

    def renew_due(self) -> bool:
        """Whether a third of the lease has passed since the last claim or renewal."""
        return self.held is not None and self.clock() - self.renewed_at > self.ttl / 3

    def release_claim(self, last: dict[str, Any] | None = None) -> None:
        """Release our claim, appending ``last`` (a stage entry) in the same commit."""
        if self.held is None and last is None:
            return
        stage = self.held.stage if self.held else ""

        def change(entries: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
            new = [last] if last is not None else []
            holder = live_claim(entries, self.now())
            if self.held is not None and holder is not None and not self._is_other(holder):
                new.append(
                    self._stamp(
                        {"type": "unclaim", "driver": self.driver, "host": self.host}
                        | {"stage": stage}
                    )
                )
            # taken over or expired: not ours to release
            return [*entries, *new] if new else None

        self._update(change)
        self.held = None


def driver_identity(option: str | None = None) -> tuple[str, str]:
    """(driver, host): ``RELEASER_DRIVER`` or the OS user; ``RELEASER_HOST`` or the hostname."""
    driver = option or os.environ.get("RELEASER_DRIVER") or _os_user()
    host = os.environ.get("RELEASER_HOST") or socket.gethostname()
    return driver, host


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def open_ledger(ctx: Context) -> Ledger:
    """The ledger of this release on the forge (``refs/releaser/<tag>``)."""
    from releaser.ledger_store import ForgeRefStore

    driver, host = driver_identity(ctx.options.driver)
    git = ctx.config.git
    author = None
    if git.author_name and git.author_email:
        author = {"name": str(git.author_name), "email": str(git.author_email)}
    return Ledger(
        ForgeRefStore(ctx.api, ctx.repo_name, f"releaser/{ctx.tag}", author=author),
        release=ctx.tag,
        driver=driver,
        host=host,
        ttl=float(ctx.config.engine.claim_ttl),
        redact=ctx.ui.redactor.redact,
        clock=ctx.now,
        login=ctx.forge.login,
    )
