"""The ledger on the sandbox forge, over real HTTP: the exact requests of a read and a write,
compare-and-swap refusals (422) and retries, concurrent drivers, no secrets on the forge."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from releaser.clients.github import GitHubAPI
from releaser.errors import ClaimHeld
from releaser.ledger import Ledger
from releaser.ledger_store import FILE, ForgeRefStore
from releaser.sandbox.server import SandboxServer
from releaser.ui import UI
from tests.sandbox.conftest import sandbox  # noqa: F401  (the fixture)
from tests.sandbox.helpers import api, make_repo

REPO = "acme/ledger"
REF = "releaser/v1.2.0"


class Forge:
    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.info = server.info()
        make_repo(server, REPO)

    def github(self) -> GitHubAPI:
        return GitHubAPI(self.info["api_url"], self.info["token"], UI(), local=True)

    def store(self) -> ForgeRefStore:
        return ForgeRefStore(self.github(), REPO, REF)

    def ledger(self, driver: str, host: str = "h", **kw: Any) -> Ledger:
        gh = self.github()
        return Ledger(
            ForgeRefStore(gh, REPO, REF),
            "v1.2.0",
            driver,
            host,
            redact=gh.ui.redactor.redact,
            **kw,
        )

    def mark(self) -> int:
        return len(self.log())

    def log(self, since: int = 0) -> list[dict[str, Any]]:
        url = self.info["admin_url"] + "/requests"
        return list(httpx.get(url, params={"since": since}, timeout=30).json())

    def calls(self, since: int) -> list[str]:
        prefix = f"/api/v3/repos/{REPO}"
        return [
            f"{e['method']} {e['path'].removeprefix(prefix)} {e['status']}" for e in self.log(since)
        ]

    def tip(self) -> str | None:
        with api(self.server) as client:
            response = client.get(f"repos/{REPO}/git/ref/{REF}")
            return None if response.status_code == 404 else response.json()["object"]["sha"]

    def raw(self) -> str:
        with api(self.server) as client:
            response = client.get(
                f"repos/{REPO}/contents/{FILE}",
                params={"ref": f"refs/{REF}"},
                headers={"Accept": "application/vnd.github.raw"},
            )
            response.raise_for_status()
            import base64

            if response.headers.get("content-type", "").startswith("application/json"):
                return base64.b64decode(response.json()["content"]).decode()
            return response.text


@pytest.fixture
def forge(sandbox: SandboxServer) -> Iterator[Forge]:  # noqa: F811
    yield Forge(sandbox)


def test_read_and_write_make_exactly_the_minimal_requests(forge: Forge) -> None:
    store = forge.store()
    mark = forge.mark()
    assert store.read() == (None, {"entries": []})
    assert forge.calls(mark) == ["POST /api/graphql 200"]  # the tip and the document at once

    mark = forge.mark()
    assert store.write(None, {"entries": [{"n": 1}]}, "first")
    assert forge.calls(mark) == [
        "POST /git/trees 201",
        "POST /git/commits 201",
        "POST /git/refs 201",
    ]

    mark = forge.mark()
    base, doc = store.read()  # what it wrote is what that commit holds: the tip is enough
    assert forge.calls(mark) == [f"GET /git/ref/{REF} 200"]
    assert doc["entries"] == [{"n": 1}] and base == forge.tip()

    other = forge.store()  # another command's first read: one GraphQL query
    mark = forge.mark()
    assert other.read() == (base, doc)
    assert forge.calls(mark) == ["POST /api/graphql 200"]

    mark = forge.mark()
    assert store.write(base, {"entries": [{"n": 1}, {"n": 2}]}, "second")
    assert forge.calls(mark) == [
        "POST /git/trees 201",
        "POST /git/commits 201",
        f"PATCH /git/refs/{REF} 200",
    ]
    # a chain of commits, each on top of the previous tip
    with api(forge.server) as client:
        commit = client.get(f"repos/{REPO}/git/commits/{forge.tip()}").json()
    assert [p["sha"] for p in commit["parents"]] == [base]
    assert commit["message"] == "second"

    tip = forge.tip()
    mark = forge.mark()  # the other store's tip moved: the tip, then the document at it
    assert other.read() == (tip, {"entries": [{"n": 1}, {"n": 2}]})
    assert forge.calls(mark) == [f"GET /git/ref/{REF} 200", f"GET /contents/{FILE} 200"]


def test_a_stale_write_is_refused_by_the_forge_and_changes_nothing(forge: Forge) -> None:
    store = forge.store()
    assert store.write(None, {"entries": [{"n": 1}]}, "first")
    base, _ = store.read()
    assert store.write(base, {"entries": [{"n": 1}, {"by": "alice"}]}, "alice")
    tip = forge.tip()
    mark = forge.mark()
    assert not store.write(base, {"entries": [{"n": 1}, {"by": "bob"}]}, "bob")  # stale base
    assert forge.calls(mark)[-1] == f"PATCH /git/refs/{REF} 422"  # not a fast forward
    assert forge.tip() == tip
    # creating the ref again when it exists is refused the same way
    assert not store.write(None, {"entries": []}, "again")
    assert forge.tip() == tip and json.loads(forge.raw())["entries"][-1] == {"by": "alice"}


def test_the_loser_of_a_race_re_reads_and_retries(forge: Forge) -> None:
    alice, bob = forge.ledger("alice"), forge.ledger("bob")
    alice.record_answer("forum-post", "done", None)
    stale_base, _ = bob.store.read()
    alice.record_answer("discord-post", "done", None)  # moves the tip after bob's read

    real_read = bob.store.read
    reads = iter([(stale_base, {"entries": alice.entries()[:1]})])

    def read() -> tuple[str | None, dict[str, Any]]:
        return next(reads, None) or real_read()

    bob.store.read = read  # type: ignore[method-assign]
    mark = forge.mark()
    bob.record_answer("reddit-post", "done", None)
    calls = forge.calls(mark)
    assert f"PATCH /git/refs/{REF} 422" in calls and calls[-1] == f"PATCH /git/refs/{REF} 200"
    steps = [e["step"] for e in json.loads(forge.raw())["entries"]]
    assert steps == ["forum-post", "discord-post", "reddit-post"]  # nothing lost


def test_concurrent_drivers_lose_no_entry_and_only_one_claims(forge: Forge) -> None:
    drivers = [forge.ledger(f"d{i}") for i in range(4)]
    for d in drivers:
        d.store.tip()  # connected before the start line
    barrier = threading.Barrier(len(drivers))
    won: list[str] = []

    def work(d: Ledger) -> None:
        barrier.wait()
        try:
            d.claim("prepare")
            won.append(d.driver)
        except ClaimHeld:
            pass
        for n in range(3):
            d.record_intent("s", f"{d.driver}-{n}", "x")

    threads = [threading.Thread(target=work, args=(d,)) for d in drivers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    entries = json.loads(forge.raw())["entries"]
    assert len(won) == 1 and [e["driver"] for e in entries if e["type"] == "claim"] == won
    keys = sorted(e["key"] for e in entries if e["type"] == "intent")
    assert keys == sorted(f"d{i}-{n}" for i in range(4) for n in range(3))


def test_the_token_never_reaches_the_forge(forge: Forge) -> None:
    lg = forge.ledger("alice")
    token = forge.info["token"]
    lg.record_answer("forum-post", "done", f"https://forum.example/t/1?access_token={token}")
    lg.record_intent("post", "webhook", f"POST https://hooks.example/{token}")
    raw = forge.raw()
    assert token not in raw and "***" in raw
    answer = lg.answer("forum-post")
    assert answer is not None and answer.evidence == "https://forum.example/t/1?access_token=***"
