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
    {"type": "stage", "stage", "outcome": "done" | "failed", "start", "end", "steps": {...},
     "times": {step: [start, end]}, "stopped"?: {"step", "status", "start", "end"}}
    {"type": "answer", "step", "answer": "done", "evidence": URL | null}
    {"type": "intent", "step", "key", "detail"}    before a write that can't be looked up
    {"type": "result", "step", "key", "evidence"}  after it
    {"type": "unsent", "step", "key", "detail"}    or: the service refused it (not applied)
    {"type": "approval", "step", "subject", "login", "grant"}  an approval (``releaser
                     approve``) of what the step would do, by a forge user (``grant``: as
                     what the forge let them approve, when they did)

Identity: a claim is owned by one run of a command (``run``: random, made when it started)
of the token's forge identity (``login``); ``driver`` (``RELEASER_DRIVER`` or the OS user)
and ``host`` (``RELEASER_HOST`` or the machine's name) only label it. Another run's live claim,
even of the same person, stops a driver: its own crashed run is taken over with
``--take-over`` (no wait) or released by a later run that finds everything done. While a run
holds the claim, every write is fenced (``Ledger.fence``): a driver taken over stops before
its next write.

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
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from releaser.errors import ClaimHeld, MalformedLedger, ReleaserError, RemoteError, TakenOver

if TYPE_CHECKING:
    from releaser.context import Context
    from releaser.memo import Memo

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


def _iso_at(epoch: float | None) -> str | None:
    return None if epoch is None else iso(datetime.fromtimestamp(epoch, UTC))


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
    """Who drives the release. Owned by a run (``run``: random, made when the command
    started) of a forge identity (``login``: the token's user); ``driver`` and ``host`` are
    labels for people to read (from the environment), never what ownership is judged by."""

    driver: str
    host: str
    stage: str
    since: str
    expires: str
    pid: int | None = None
    login: str = ""
    run: str = ""

    def expired(self, now: datetime | None = None) -> bool:
        return parse_iso(self.expires) <= (now or datetime.now(UTC))

    def who(self) -> str:
        login = f" ({self.login})" if self.login and self.login != self.driver else ""
        return f"{self.driver}{login} on {self.host}"

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
            "login": self.login,
        }

    @property
    def owner(self) -> str:
        """What ownership is judged by: the run (older entries: the labels and pid)."""
        return self.run or f"{self.driver}@{self.host}:{self.pid}"

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
            str(e.get("login") or ""),
            str(e.get("run") or ""),
        )


class LedgerStore(Protocol):
    def read(self) -> tuple[str | None, dict[str, Any]]:
        """The tip's version token (None when there is no ledger yet) and the document."""

    def tip(self) -> str | None:
        """The tip's version token only (one cheap read)."""

    def write(self, base: str | None, doc: dict[str, Any], message: str) -> str | None:
        """Store ``doc`` on top of ``base``; the new tip, or None when the tip moved
        meanwhile (re-read and retry)."""


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

    def write(self, base: str | None, doc: dict[str, Any], message: str) -> str | None:
        with self._lock:
            if self.tip() != base:
                return None
            self.version += 1
            self.doc = json.loads(json.dumps(doc))
            self.writes += 1
            return self.tip()


def redact_value(value: Any, redact: Callable[[str], str]) -> Any:
    """Every string inside ``value`` (keys too) through ``redact``."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_value(k, redact): redact_value(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v, redact) for v in value]
    return value


def last_claim(entries: list[dict[str, Any]]) -> Claim | None:
    """The last claim not released (expired or not)."""
    current: Claim | None = None
    for e in entries:
        if e.get("type") == "claim":
            current = Claim.from_entry(e)
        elif e.get("type") == "unclaim" and current is not None:
            released = Claim(
                str(e.get("driver")), str(e.get("host")), "", "", "", e.get("pid"), "",
                str(e.get("run") or ""),
            )  # fmt: skip
            if (
                released.run == current.run
                if current.run
                else ((released.driver, released.host) == (current.driver, current.host))
            ):
                current = None
    return current


def claimed_since_mine(entries: list[dict[str, Any]], run: str) -> Claim | None:
    """Another run's claim after this run's last one (a take-over, released since or not):
    None when there is none, or this run never claimed."""
    taker: Claim | None = None
    for e in reversed(entries):
        if e.get("type") != "claim":
            continue
        claim = Claim.from_entry(e)
        if claim.run == run:
            return taker
        taker = claim
    return None


def live_claim(entries: list[dict[str, Any]], now: datetime | None = None) -> Claim | None:
    """The claim in force after ``entries``: None when released or expired."""
    current = last_claim(entries)
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
        run: str | None = None,
    ) -> None:
        self.store = store
        self.release = release
        self.driver = driver
        self.host = host or socket.gethostname()
        self.pid = os.getpid() if pid is None else pid
        self.ttl = ttl
        self._redact = redact
        self._cache: dict[str, Any] | None = None
        self._reading = threading.Lock()  # status's checks ask at once: one read serves all
        # The command's memo: a refresh reads again only once it forgot (after a write, while
        # waiting), as every other read (None: every refresh reads).
        self.memo: Memo | None = None
        self._read_in: int | None = None  # the memo's generation of the last read
        self.frozen = False  # `status`: read once, answer every question from that snapshot
        self.held: Claim | None = None
        self.clock = clock  # the forge's time: leases are judged by the clock drivers share
        # Ownership: this run (random, per command) of the token's forge identity.
        self.run = run or uuid.uuid4().hex[:12]
        self._login = login or (lambda: driver)
        self.known_tip: str | None = None  # the tip after our last read or write (fencing)
        self.lost: Claim | None = None  # who took the release over from this run, if anyone
        self.renewed_at = 0.0  # clock() of the last claim or renewal
        self.last_base: str | None = None  # the tip our last write went on top of

    # -- reading -----------------------------------------------------------------------

    def entries(self, refresh: bool = False) -> list[dict[str, Any]]:
        with self._reading:
            if self._cache is None or (refresh and not self.frozen):
                tip, doc = self.store.read()
                validate(doc, self.release, tip)
                self._cache = doc
                self.known_tip = tip
                self._read_in = self.memo.generation if self.memo is not None else None
            return list(self._cache.get("entries", []))

    def _current(self) -> list[dict[str, Any]]:
        """The entries for a step's question (an intent, an answer): read again only once
        the command's memo forgot (after a write, while waiting), as every other read of
        the services. Claims and fences always read again."""
        moved = self.memo is None or self.memo.generation != self._read_in
        return self.entries(refresh=moved)

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
        for e in self._current():
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
        for e in self._current():
            if e.get("step") != step:
                continue
            if e.get("type") == "answer" and e.get("answer") == "retry":
                state = None  # the operator said it did not happen: do it again
            elif e.get("key") == key and e.get("type") in ("intent", "result"):
                state = e
            elif e.get("key") == key and e.get("type") == "unsent":
                state = None  # refused by the service: nothing to ask about
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

    @property
    def login(self) -> str:
        return self._login()

    def is_me(self, claim: Claim) -> bool:
        """Whether a claim is this run's (labels from the environment never decide it)."""
        return claim.run == self.run

    # -- writing (compare-and-swap) ----------------------------------------------------

    def _update(
        self,
        change: Callable[[list[dict[str, Any]]], list[dict[str, Any]] | None],
    ) -> None:
        """Replace the entries by ``change(entries)`` (None: nothing to write), CAS-retried."""
        if self.lost is not None:
            raise taken_over(self.lost)  # taken over: this run writes nothing more
        for attempt in range(CAS_ATTEMPTS):
            # First on top of the tip we know (our last read or write): the compare-and-swap
            # of the ref refuses it if anyone appended since, and then we read and retry.
            cached, known = self._cache, self.known_tip
            optimistic = attempt == 0 and cached is not None and known is not None
            if optimistic and cached is not None and not self.frozen:
                base, doc = known, cached
            else:
                optimistic = False
                base, doc = self.store.read()
            validate(doc, self.release, base)
            entries = list(doc.get("entries", []))
            if self.held is not None:  # our appends are fenced as every other write
                holder = live_claim(entries, self.now())
                if holder is not None and not self.is_me(holder):
                    self.held, self.lost = None, holder
                    raise taken_over(holder)
            new_entries = change(entries)
            if new_entries is None:
                if optimistic:
                    continue  # judged on what we knew: judge it again on a fresh read
                self._cache = doc
                return
            new_entries = redact_value(new_entries, self._redact)
            new = {"release": self.release, "entries": new_entries}
            last = new_entries[-1] if new_entries else {}
            what = " ".join(
                str(last.get(k)) for k in ("type", "stage", "step", "by") if last.get(k)
            )
            try:
                written = self.store.write(base, new, f"releaser: {what}")
            except ReleaserError:
                written = self._landed(new_entries)
                if written is None:
                    if optimistic:
                        continue  # the tip we knew may be gone: read it and retry
                    raise
            if written is not None:
                self._cache = new
                self.last_base = base
                self.known_tip = written
                return
            # Someone appended first: re-read and retry, with jitter so racers spread out.
            time.sleep(min(0.02 * (attempt + 1), 0.3) * (0.5 + random.random()))
        raise RemoteError(
            "the ledger kept moving while appending to it",
            "re-run the command: another driver is writing at the same time",
        )

    def _landed(self, entries: list[dict[str, Any]]) -> str | None:
        """After a write whose answer was an error: the tip, when it holds what we wrote (the
        error came after the forge applied it: a lost answer); None when it doesn't."""
        try:
            tip, doc = self.store.read()
        except ReleaserError:
            return None
        written = doc.get("entries", []) if isinstance(doc, dict) else []
        if tip is None or not entries or entries[-1] not in written:
            return None
        return tip

    def _append(self, make: Callable[[list[dict[str, Any]]], dict[str, Any] | None]) -> None:
        """Append ``make(entries)`` (None: nothing to write) with CAS retries."""

        def change(entries: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
            entry = make(entries)
            return None if entry is None else [*entries, entry]

        self._update(change)

    def _stamp(self, entry: dict[str, Any]) -> dict[str, Any]:
        return {
            **entry,
            "by": self.driver,
            "host": self.host,
            "run": self.run,
            "at": iso(self.now()),
            **self._login_field(),
        }

    def _login_field(self) -> dict[str, str]:
        """The driver's forge user, when the token is one (an app's token is no user)."""
        login = self.login
        return {"login": login} if login else {}

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

    def record_unsent(self, step: str, key: str, detail: str) -> None:
        """The write of an intent was refused (certainly not applied): the next run does it."""
        self._append(
            lambda _: self._stamp({"type": "unsent", "step": step, "key": key, "detail": detail})
        )

    def stage_entry(
        self,
        stage: str,
        outcome: str,
        started: str,
        results: list[Any],
        stopped: Any = None,
    ) -> dict[str, Any]:
        """A stage run: who, from where, when, how each step ended and when it ran (the
        forge's time), and the step that stopped it, if one did (``releaser report`` reads
        them)."""
        entry: dict[str, Any] = {
            "type": "stage",
            "stage": stage,
            "outcome": outcome,
            "start": started,
            "end": iso(self.now()),
            "steps": {str(r.step): str(r.status) for r in results},
            "times": {
                str(r.step): [_iso_at(r.started_at), _iso_at(r.ended_at)]
                for r in results
                if getattr(r, "started_at", None) is not None
            },
        }
        if stopped is not None:
            entry["stopped"] = {
                "step": str(stopped.step),
                "status": str(stopped.status),
                "start": _iso_at(stopped.started_at),
                "end": _iso_at(stopped.ended_at),
            }
        return self._stamp(entry)

    def record_stage(self, stage: str, outcome: str, started: str, results: list[Any]) -> None:
        self.append(self.stage_entry(stage, outcome, started, results))

    def append(self, entry: dict[str, Any]) -> None:
        """Append a ready-made entry (redacted on the way)."""
        self._append(lambda _: entry)

    # -- claims ------------------------------------------------------------------------

    def claim(self, stage: str, take_over: bool = False) -> Claim:
        """Claim the release for this run (or renew our claim).

        ClaimHeld when another run holds a live claim and ``take_over`` is false (TakenOver
        when we held it and someone took it over).
        """
        took_from: list[Claim] = []

        def change(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
            holder = live_claim(entries, self.now())
            took_from.clear()
            if holder is not None and not self.is_me(holder):
                if self.held is not None:
                    self.lost = holder
                    raise taken_over(holder)
                if not take_over:
                    raise self._held_by(holder)
                took_from.append(holder)
            now = self.now()
            mine = holder is not None and self.is_me(holder)
            since = holder.since if mine and holder is not None else iso(now)
            entry: dict[str, Any] = {
                "type": "claim",
                "driver": self.driver,
                "host": self.host,
                "pid": self.pid,
                **self._login_field(),
                "run": self.run,
                "stage": stage,
                "since": since,
                "expires": expiry(self.ttl, self.clock),
                "by": self.driver,
                "at": iso(now),
            }
            if took_from:
                entry["took_over_from"] = took_from[0].who()
            last = entries[-1] if entries else None
            if (
                mine
                and last is not None
                and last.get("type") == "claim"
                and (last.get("run") == self.run)
            ):
                # A renewal: replace our own last claim (the commits keep the history), so a
                # long wait doesn't grow the ledger.
                return [*entries[:-1], entry]
            return [*entries, entry]

        self._update(change)
        self.held = live_claim(self.entries(), self.now()) or Claim(
            self.driver, self.host, stage, "", "", self.pid, self.login, self.run
        )
        self.renewed_at = self.clock()
        return self.held

    def _held_by(self, holder: Claim) -> ClaimHeld:
        if holder.login and holder.login == self.login:
            return ClaimHeld(
                f"another run of yours ({holder.who()}) holds the release ({holder.stage}) "
                f"since {holder.since}, until {holder.expires} unless renewed",
                "if that run stopped (a closed terminal, a crash), re-run with --take-over; "
                "otherwise let it finish",
            )
        return ClaimHeld(
            holder.describe(),
            "wait for them to finish (or the claim to expire), or re-run with "
            "--take-over once you know they stopped",
        )

    def fence(self) -> None:
        """Before each write while holding the claim: is it still ours? One conditional
        read of the ledger's tip; the entries are read again only when it moved. A driver
        taken over stops here (TakenOver), before its next write: at most the write in flight
        when the take-over landed can race it."""
        if self.lost is not None:
            raise taken_over(self.lost)
        if self.held is None:
            return
        tip = self.store.tip()
        if tip != self.known_tip:
            holder = live_claim(self.entries(refresh=True), self.now())
            if holder is not None and not self.is_me(holder):
                self.held, self.lost = None, holder
                raise taken_over(holder)
            if holder is None:
                taker = claimed_since_mine(self.entries(), self.run)
                if taker is not None:  # taken over, and the taker already finished
                    self.held, self.lost = None, taker
                    raise taken_over(taker)
                # our lease lapsed and nobody took it: claim it again
                self.claim(self.held.stage if self.held else "")
                return
        if self.renew_due():
            self.renew()

    def renew(self) -> None:
        """Extend our lease (long waits call this); TakenOver if someone took it over."""
        if self.held is not None:
            self.claim(self.held.stage)

    def renew_due(self) -> bool:
        """Whether a third of the lease has passed since the last claim or renewal."""
        return self.held is not None and self.clock() - self.renewed_at > self.ttl / 3

    def release_claim(self, last: dict[str, Any] | None = None) -> None:
        """Release our claim, appending ``last`` (a stage entry) in the same commit."""
        if self.lost is not None or (self.held is None and last is None):
            return  # taken over: nothing more is written
        stage = self.held.stage if self.held else ""

        def change(entries: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
            if self.held is not None:
                taker = claimed_since_mine(entries, self.run)
                if taker is not None:  # taken over (its taker may be done): write nothing
                    self.lost = taker
                    return None
            new = [last] if last is not None else []
            holder = live_claim(entries, self.now())
            if self.held is not None and holder is not None and self.is_me(holder):
                new.append(self._unclaim(stage))
            # taken over or expired: not ours to release
            return [*entries, *new] if new else None

        self._update(change)
        self.held = None

    def _unclaim(self, stage: str) -> dict[str, Any]:
        return self._stamp(
            {"type": "unclaim", "driver": self.driver, "host": self.host, "stage": stage}
        )

    def release_own_stale(self) -> Claim | None:
        """A run that found everything done releases a claim another run of the same forge
        identity left behind (a crashed or killed one); the claim released, or None."""
        holder = live_claim(self.entries(), self.now())
        if holder is None or self.is_me(holder) or not holder.login:
            return None
        if holder.login != self.login:  # only now is the forge identity needed
            return None

        def change(entries: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
            current = live_claim(entries, self.now())
            if current is None or current.run != holder.run:
                return None
            unclaim = self._unclaim(current.stage)
            unclaim["run"] = current.run  # releases that run's claim
            unclaim["released_by"] = self.run
            return [*entries, unclaim]

        self._update(change)
        return holder


def taken_over(holder: Claim) -> TakenOver:
    return TakenOver(
        f"{holder.who()} took over this release at {holder.since}; nothing more was written",
        "they continue the release; `releaser status` shows where it stands",
    )


# -- the entries' one schema ----------------------------------------------------------------

ENTRY_FIELDS: dict[str, tuple[str, ...]] = {
    "claim": ("driver", "host", "since", "expires"),
    "unclaim": ("driver", "host"),
    "stage": ("stage", "outcome", "start", "end"),
    "answer": ("step", "answer"),
    "intent": ("step", "key"),
    "result": ("step", "key"),
    "unsent": ("step", "key"),
    "approval": ("step", "subject", "login"),
    "adopt": ("tag",),
}


def validate(doc: Any, release: str, tip: str | None) -> None:
    """The ledger document's shape (one schema for every reader); MalformedLedger naming the
    first problem, the ref and how to look at it."""
    problem = _problem(doc)
    if problem is None:
        return
    ref = f"refs/releaser/{release}"
    at = f" at {tip[:12]}" if tip else ""
    raise MalformedLedger(
        f"the ledger {ref}{at} is malformed: {problem}",
        f"look at it with `git fetch origin {ref} && git show FETCH_HEAD:ledger.json`; "
        "someone edited it by hand: fix or revert that commit (re-running won't)",
    )


def _problem(doc: Any) -> str | None:
    if not isinstance(doc, dict):
        return "the document is not a JSON object"
    entries = doc.get("entries", [])
    if not isinstance(entries, list):
        return '"entries" is not a list'
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            return f"entry {i} is not an object"
        kind = entry.get("type")
        fields = ENTRY_FIELDS.get(str(kind))
        if fields is None:
            return f"entry {i} has an unknown type {kind!r}"
        missing = [f for f in fields if not isinstance(entry.get(f), str)]
        if missing:
            return f"entry {i} ({kind}) lacks {', '.join(missing)}"
        if kind == "claim":
            try:
                parse_iso(str(entry["since"]))
                parse_iso(str(entry["expires"]))
            except ValueError:
                return f"entry {i} (claim) has a malformed date"
    return None


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
    ledger = Ledger(
        ForgeRefStore(ctx.api, ctx.repo_name, f"releaser/{ctx.tag}", author=author),
        release=ctx.tag,
        driver=driver,
        host=host,
        ttl=float(ctx.config.engine.claim_ttl),
        redact=ctx.ui.redactor.redact,
        clock=ctx.now,
        login=ctx.forge.login,
    )
    ledger.memo = ctx.memo
    return ledger
