"""The remote ledger (DESIGN §5): what the services can't tell, shared by every machine.

A release's ledger is a list of entries (stage runs, operator answers, write intents and
results, claims) kept as ``ledger.json`` in a chain of commits on ``refs/releaser/<tag>`` in
the project's repository. Appending is compare-and-swap: a new commit whose parent is the tip
we read, and a ref update *without force*; if another driver appended first the forge refuses,
and we re-read and retry. No server of our own, and it never holds secrets (entries pass
through the redactor before they are written).

Storage is pluggable (``LedgerStore``): ``ForgeRefStore`` on the forge, ``MemoryStore`` for
tests and offline commands.
"""

from __future__ import annotations

import getpass
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from releaser.errors import ClaimHeld, RemoteError

if TYPE_CHECKING:
    from releaser.context import Context

CAS_ATTEMPTS = 20


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


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


@dataclass(frozen=True)
class Claim:
    driver: str
    host: str
    stage: str
    since: str
    expires: str

    def expired(self, now: datetime | None = None) -> bool:
        return parse_iso(self.expires) <= (now or utcnow())

    def describe(self) -> str:
        return (
            f"{self.driver} on {self.host} holds the release ({self.stage}) "
            f"since {self.since}, until {self.expires}"
        )


class LedgerStore(Protocol):
    def read(self) -> tuple[str | None, dict[str, Any]]:
        """The tip's version token (None when there is no ledger yet) and the document."""

    def write(self, base: str | None, doc: dict[str, Any], message: str) -> bool:
        """Store ``doc`` on top of ``base``; False when the tip moved meanwhile (retry)."""


class MemoryStore:
    """A ledger store in memory (tests, and commands that never touch the forge)."""

    def __init__(self) -> None:
        self.version = 0
        self.doc: dict[str, Any] = {"entries": []}
        self.writes = 0

    def read(self) -> tuple[str | None, dict[str, Any]]:
        return (str(self.version) if self.version else None), json.loads(json.dumps(self.doc))

    def write(self, base: str | None, doc: dict[str, Any], message: str) -> bool:
        if (str(self.version) if self.version else None) != base:
            return False
        self.version += 1
        self.doc = json.loads(json.dumps(doc))
        self.writes += 1
        return True


class Ledger:
    def __init__(
        self,
        store: LedgerStore,
        release: str,
        driver: str,
        host: str | None = None,
        ttl: float = 900,
        redact: Callable[[str], str] = lambda s: s,
    ) -> None:
        self.store = store
        self.release = release
        self.driver = driver
        self.host = host or socket.gethostname()
        self.ttl = ttl
        self._redact = redact
        self._cache: dict[str, Any] | None = None
        self.held: Claim | None = None

    # -- reading -----------------------------------------------------------------------

    def entries(self, refresh: bool = False) -> list[dict[str, Any]]:
        if self._cache is None or refresh:
            _, self._cache = self.store.read()
        return list(self._cache.get("entries", []))

    def answer(self, step: str) -> Answer | None:
        """The operator's recorded answer for a step, from any machine (latest wins)."""
        found = None
        for e in self.entries(refresh=True):
            if e.get("type") == "answer" and e.get("step") == step:
                found = Answer(step, e["answer"], e.get("evidence"), e["by"], e["at"])
        return found if found and found.answer == "done" else None

    def claim_holder(self) -> Claim | None:
        """The live claim, if any (a released or expired claim counts as none)."""
        current: Claim | None = None
        for e in self.entries(refresh=True):
            if e.get("type") == "claim":
                current = Claim(e["driver"], e["host"], e["stage"], e["since"], e["expires"])
            elif e.get("type") == "unclaim":
                current = None
        if current is None or current.expired():
            return None
        return current

    def intent(self, step: str, key: str) -> dict[str, Any] | None:
        """The last intent/result pair recorded for an un-look-up-able write."""
        state: dict[str, Any] | None = None
        for e in self.entries(refresh=True):
            if e.get("step") == step and e.get("key") == key and e.get("type") in (
                "intent",
                "result",
            ):
                state = e
        return state

    # -- writing (compare-and-swap) ----------------------------------------------------

    def _append(self, make: Callable[[list[dict[str, Any]]], dict[str, Any] | None]) -> None:
        """Append ``make(entries)`` (None: nothing to write) with CAS retries."""
        for attempt in range(CAS_ATTEMPTS):
            base, doc = self.store.read()
            entries = list(doc.get("entries", []))
            entry = make(entries)
            if entry is None:
                self._cache = doc
                return
            entry = json.loads(self._redact(json.dumps(entry)))
            new = {"release": self.release, "entries": [*entries, entry]}
            message = f"releaser: {entry.get('type')} {entry.get('step') or entry.get('stage', '')}"
            if self.store.write(base, new, message.strip()):
                self._cache = new
                return
            time.sleep(min(0.05 * (attempt + 1), 0.5))
        raise RemoteError(
            "the ledger kept moving while appending to it",
            "re-run the command: another driver is writing at the same time",
        )

    def _stamp(self, entry: dict[str, Any]) -> dict[str, Any]:
        return {**entry, "by": self.driver, "host": self.host, "at": iso(utcnow())}

    def record_answer(self, step: str, answer: str, evidence: str | None) -> None:
        self._append(
            lambda _: self._stamp(
                {"type": "answer", "step": step, "answer": answer, "evidence": evidence}
            )
        )

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

    def record_stage(self, stage: str, outcome: str, started: str, results: list[Any]) -> None:
        self._append(
            lambda _: self._stamp(
                {
                    "type": "stage",
                    "stage": stage,
                    "outcome": outcome,
                    "start": started,
                    "end": iso(utcnow()),
                    "steps": {str(r.step): str(r.status) for r in results},
                }
            )
        )

    # -- claims ------------------------------------------------------------------------

    def claim(self, stage: str, take_over: bool = False) -> Claim:
        """Claim the release for this driver; ClaimHeld when someone else holds a live claim."""

        def make(entries: list[dict[str, Any]]) -> dict[str, Any]:
            holder = _live_claim(entries)
            if holder and (holder.driver, holder.host) != (self.driver, self.host):
                if not take_over:
                    raise ClaimHeld(
                        holder.describe(),
                        "wait for it to finish or expire, or run with --take-over",
                    )
            now = utcnow()
            since = (
                holder.since
                if holder and (holder.driver, holder.host) == (self.driver, self.host)
                else iso(now)
            )
            return {
                "type": "claim",
                "driver": self.driver,
                "host": self.host,
                "stage": stage,
                "since": since,
                "expires": iso(now + timedelta(seconds=self.ttl)),
                "at": iso(now),
                "took_over": bool(holder and take_over and holder.driver != self.driver),
            }

        self._append(make)
        self.held = self.claim_holder()
        return self.held or Claim(self.driver, self.host, stage, "", "")

    def renew(self) -> None:
        if self.held is not None:
            self.claim(self.held.stage)

    def release_claim(self) -> None:
        if self.held is None:
            return

        def make(entries: list[dict[str, Any]]) -> dict[str, Any] | None:
            holder = _live_claim(entries)
            if holder is None or (holder.driver, holder.host) != (self.driver, self.host):
                return None  # taken over or expired: not ours to release
            return {"type": "unclaim", "driver": self.driver, "host": self.host, "at": iso(utcnow())}

        self._append(make)
        self.held = None


def _live_claim(entries: list[dict[str, Any]]) -> Claim | None:
    current: Claim | None = None
    for e in entries:
        if e.get("type") == "claim":
            current = Claim(e["driver"], e["host"], e["stage"], e["since"], e["expires"])
        elif e.get("type") == "unclaim":
            current = None
    return None if current is None or current.expired() else current


def open_ledger(ctx: Context) -> Ledger:
    """The ledger of this release on the forge (``refs/releaser/<tag>``)."""
    from releaser.ledger_store import ForgeRefStore

    driver = ctx.options.driver or getpass.getuser()
    return Ledger(
        ForgeRefStore(ctx.github, f"releaser/{ctx.tag}"),
        release=ctx.tag,
        driver=driver,
        ttl=float(ctx.config.engine.claim_ttl),
        redact=ctx.ui.redactor.redact,
    )
