"""The ledger's semantics on an in-memory store: entries, answers, claims and leases, CAS
retries, redaction. (``test_ledger_store.py`` runs it against the sandbox forge.)"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from releaser.errors import ClaimHeld, RemoteError, TakenOver
from releaser.ledger import (
    CAS_ATTEMPTS,
    Ledger,
    MemoryStore,
    driver_identity,
    live_claim,
    parse_iso,
    redact_value,
    utcnow,
)
from releaser.redact import Redactor
from releaser.step import Status, StepResult

TOKEN = "ghp_s3cr3tT0kenValue"


def ledger(store: MemoryStore, driver: str, host: str = "h", **kw: Any) -> Ledger:
    return Ledger(store, "v1.2.0", driver=driver, host=host, **kw)


# -- entries and answers --------------------------------------------------------------------


def test_answers_are_shared_and_the_latest_wins() -> None:
    store = MemoryStore()
    a, b = ledger(store, "alice"), ledger(store, "bob", "other")
    assert b.answer("forum-post") is None
    a.record_answer("forum-post", "done", "https://forum.example/t/1")
    got = b.answer("forum-post")
    assert got is not None
    assert (got.by, got.host, got.evidence) == ("alice", "h", "https://forum.example/t/1")
    b.record_answer("forum-post", "done", "https://forum.example/t/2")
    assert a.answer("forum-post").evidence == "https://forum.example/t/2"  # type: ignore[union-attr]
    a.record_answer("forum-post", "not yet", None)
    assert b.answer("forum-post") is None


def test_intents_then_results() -> None:
    store = MemoryStore()
    a = ledger(store, "alice")
    assert a.intent("post", "discord") is None
    a.record_intent("post", "discord", "post the announcement")
    assert a.intent("post", "discord")["type"] == "intent"  # type: ignore[index]
    a.record_result("post", "discord", "https://discord.example/m/1")
    state = a.intent("post", "discord")
    assert state is not None and state["type"] == "result" and state["by"] == "alice"
    assert a.intent("post", "matrix") is None


def test_a_refused_write_is_unsent_and_a_retry_answer_forgets_the_intent() -> None:
    store = MemoryStore()
    a = ledger(store, "alice")
    a.record_intent("post", "discord", "post the announcement")
    a.record_unsent("post", "discord", "Discord answered 400")
    assert a.intent("post", "discord") is None  # certainly not sent: nothing to ask about
    a.record_intent("post", "discord", "post the announcement")
    assert a.intent("post", "discord")["type"] == "intent"  # type: ignore[index]
    a.record_answer("post", "retry", None)  # the operator: it did not happen
    assert a.intent("post", "discord") is None


def test_stage_runs_record_who_where_when_and_how() -> None:
    store = MemoryStore()
    a = ledger(store, "alice", "laptop")
    a.record_stage(
        "prepare", "done", "2026-01-01T00:00:00Z", [StepResult("version-branch", Status.DONE)]
    )
    (entry,) = a.entries()
    assert entry["type"] == "stage" and entry["by"] == "alice" and entry["host"] == "laptop"
    assert entry["start"] == "2026-01-01T00:00:00Z" and entry["end"] >= entry["start"]
    assert entry["outcome"] == "done" and entry["steps"] == {"version-branch": "done"}


def test_entries_never_hold_a_secret() -> None:
    redactor = Redactor()
    redactor.add(TOKEN)
    store = MemoryStore()
    a = ledger(store, "alice", redact=redactor.redact)
    a.record_answer("forum-post", "done", f"https://x.example/?token={TOKEN}")
    a.record_intent("post", TOKEN, f"post with {TOKEN}")
    text = repr(store.doc)
    assert TOKEN not in text and "***" in text
    assert redact_value({TOKEN: [TOKEN, 1, None]}, redactor.redact) == {"***": ["***", 1, None]}


# -- claims ---------------------------------------------------------------------------------


def test_a_live_claim_stops_another_driver_naming_who_since_and_until() -> None:
    store = MemoryStore()
    a, b = ledger(store, "alice", "laptop"), ledger(store, "bob", "desk")
    claim = a.claim("prepare")
    assert (claim.driver, claim.host, claim.stage) == ("alice", "laptop", "prepare")
    with pytest.raises(ClaimHeld) as caught:
        b.claim("prepare")
    message = caught.value.message
    assert message.startswith("alice on laptop holds the release (prepare)")
    assert f"since {claim.since}" in message and f"until {claim.expires}" in message
    assert "--take-over" in (caught.value.hint or "")
    assert caught.value.exit_code == 1
    assert b.claim_holder() == claim


def test_the_same_driver_on_another_host_is_someone_else() -> None:
    store = MemoryStore()
    ledger(store, "alice", "laptop").claim("tag")
    with pytest.raises(ClaimHeld):
        ledger(store, "alice", "ci-runner").claim("tag")


def test_an_expired_claim_is_free() -> None:
    store = MemoryStore()
    a = ledger(store, "alice", ttl=-2)
    a.claim("build")
    assert a.claim_holder() is None
    b = ledger(store, "bob")
    assert b.claim("build").driver == "bob"
    assert "took_over_from" not in b.entries()[-1]


def test_a_claim_belongs_to_its_run_not_to_the_labels_from_the_environment() -> None:
    store = MemoryStore()
    first = ledger(store, "alice", "h", pid=1, login=lambda: "alice-gh")
    first.claim("prepare")
    # the same labels, the same pid (another PID namespace), the same person: another run
    spoof = ledger(store, "alice", "h", pid=1, login=lambda: "alice-gh")
    with pytest.raises(ClaimHeld, match="another run of yours") as held:
        spoof.claim("prepare")
    assert "--take-over" in (held.value.hint or "")
    # someone else with the same labels is stopped too, naming the holder
    with pytest.raises(ClaimHeld, match=r"alice \(alice-gh\) on h holds the release"):
        ledger(store, "alice", "h", pid=1, login=lambda: "mallory").claim("prepare")
    # the holder's run renews and releases its own claim
    first.renew()
    first.release_claim()
    assert first.claim_holder() is None


def test_a_run_finding_everything_done_releases_its_own_dead_runs_claim() -> None:
    store = MemoryStore()
    ledger(store, "alice", login=lambda: "alice-gh").claim("build")  # then the run died
    assert ledger(store, "bob", login=lambda: "bob-gh").release_own_stale() is None  # not his
    later = ledger(store, "alice", login=lambda: "alice-gh")
    released = later.release_own_stale()
    assert released is not None and released.stage == "build"
    assert later.claim_holder() is None


def test_take_over_is_recorded_and_stops_the_previous_holder() -> None:
    store = MemoryStore()
    a, b = ledger(store, "alice", "laptop"), ledger(store, "bob", "desk")
    a.claim("build")
    b.claim("build", take_over=True)
    assert b.entries()[-1]["took_over_from"] == "alice on laptop"
    assert b.claim_holder().driver == "bob"  # type: ignore[union-attr]
    with pytest.raises(TakenOver, match=r"bob on desk took over this release at .*; nothing"):
        a.renew()
    writes = store.writes
    a.release_claim()  # not ours any more: nothing written
    assert store.writes == writes
    assert b.claim_holder().driver == "bob"  # type: ignore[union-attr]


def test_a_taken_over_driver_appends_nothing_more_to_the_ledger() -> None:
    """Its ledger appends are fenced like its other writes: an intent, an answer or a stage
    record after the take-over stops it, and the ledger holds nothing more of it."""
    store = MemoryStore()
    a, b = ledger(store, "alice", "laptop"), ledger(store, "bob", "desk")
    a.claim("promote")
    a.record_intent("post", "matrix", "post the announcement")
    b.claim("promote", take_over=True)
    writes = store.writes
    for append in (
        lambda: a.record_intent("post", "reddit", "post the announcement"),
        lambda: a.record_answer("forum-post", "done", None),
        lambda: a.append({"type": "answer", "step": "x", "answer": "done"}),
    ):
        with pytest.raises(TakenOver, match="bob on desk took over"):
            append()
    assert store.writes == writes
    assert [e["by"] for e in b.entries()][-1] == "bob"


def test_renewals_extend_the_lease_in_place() -> None:
    store = MemoryStore()
    a = ledger(store, "alice", ttl=60)
    first = a.claim("build")
    assert not a.renew_due()
    a.ttl = 600
    a.renew()
    a.renew()
    claims = [e for e in a.entries() if e["type"] == "claim"]
    assert len(claims) == 1  # replaced, not appended: long waits don't grow the ledger
    held = a.claim_holder()
    assert held is not None and held.since == first.since
    assert parse_iso(held.expires) - utcnow() > timedelta(seconds=500)
    a.ttl = 0.0
    assert a.renew_due()


def test_release_writes_the_last_stage_and_the_unclaim_at_once() -> None:
    store = MemoryStore()
    a = ledger(store, "alice")
    a.claim("publish")
    writes = store.writes
    a.release_claim(a.stage_entry("publish", "done", "2026-01-01T00:00:00Z", []))
    assert store.writes == writes + 1
    assert [e["type"] for e in a.entries()] == ["claim", "stage", "unclaim"]
    assert live_claim(a.entries()) is None
    b = ledger(store, "bob")
    assert b.claim("publish").driver == "bob"


def test_an_unclaim_by_someone_else_does_not_free_the_claim() -> None:
    store = MemoryStore()
    a = ledger(store, "alice")
    a.claim("tag")
    entries = [*a.entries(), {"type": "unclaim", "driver": "mallory", "host": "x"}]
    assert live_claim(entries) is not None


def test_identity_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELEASER_DRIVER", "dana")
    monkeypatch.setenv("RELEASER_HOST", "ci-7")
    assert driver_identity() == ("dana", "ci-7")
    assert driver_identity("erin") == ("erin", "ci-7")
    monkeypatch.delenv("RELEASER_DRIVER")
    monkeypatch.delenv("RELEASER_HOST")
    driver, host = driver_identity()
    assert driver and host


# -- compare-and-swap -------------------------------------------------------------------------


def test_concurrent_appends_all_land() -> None:
    store = MemoryStore()
    workers, each = 6, 8

    def append(i: int) -> None:
        lg = ledger(store, f"d{i}")
        for n in range(each):
            lg.record_intent("s", f"{i}-{n}", "x")

    threads = [threading.Thread(target=append, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    keys = sorted(e["key"] for e in store.doc["entries"])
    assert keys == sorted(f"{i}-{n}" for i in range(workers) for n in range(each))


def test_racing_claims_exactly_one_wins() -> None:
    for _ in range(10):
        store = MemoryStore()
        barrier = threading.Barrier(4)
        outcome: dict[str, str] = {}

        def race(
            name: str,
            store: MemoryStore = store,
            barrier: Any = barrier,
            outcome: dict[str, str] = outcome,
        ) -> None:
            lg = ledger(store, name)
            barrier.wait()
            try:
                lg.claim("prepare")
                outcome[name] = "won"
            except ClaimHeld:
                outcome[name] = "held"

        threads = [threading.Thread(target=race, args=(n,)) for n in "abcd"]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcome.values()) == ["held", "held", "held", "won"]


class LosingStore(MemoryStore):
    """Every write loses the race."""

    def write(self, base: str | None, doc: dict[str, Any], message: str) -> str | None:
        return None


def test_a_ledger_that_keeps_moving_gives_up_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(time, "sleep", lambda _s: None)
    store = LosingStore()
    with pytest.raises(RemoteError, match="kept moving"):
        ledger(store, "alice").record_answer("x", "done", None)
    assert store.reads == CAS_ATTEMPTS
