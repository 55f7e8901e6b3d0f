"""The sandbox clock: one time for bodies, the Date header, rate limits, git and Actions."""

from __future__ import annotations

import email.utils
import time
from pathlib import Path

import httpx
import pytest

from releaser.sandbox.admin_client import SandboxAdmin
from releaser.sandbox.server import SandboxServer
from tests.sandbox.helpers import api, make_repo

EPOCH = 1_700_000_000  # 2023-11-14T22:13:20Z
REPO = "release-bot/clocked"


def admin(sandbox: SandboxServer) -> SandboxAdmin:
    return SandboxAdmin(sandbox.info()["admin_url"])


def date_header(response: httpx.Response) -> float:
    parsed = email.utils.parsedate_to_datetime(response.headers["Date"])
    return parsed.timestamp()


def test_system_time_by_default(sandbox: SandboxServer) -> None:
    with admin(sandbox) as clock, api(sandbox) as client:
        state = clock.clock()
        assert state["mode"] == "system"
        assert abs(state["now"] - time.time()) < 60
        assert abs(state["offset"]) < 60
        response = client.get("user")
        assert abs(date_header(response) - time.time()) < 60


def test_frozen_time_is_what_the_forge_says(sandbox: SandboxServer) -> None:
    with admin(sandbox) as clock, api(sandbox) as client:
        assert clock.freeze(at=EPOCH) == EPOCH
        make_repo(sandbox, REPO)
        response = client.get(f"repos/{REPO}")
        assert response.headers["Date"] == "Tue, 14 Nov 2023 22:13:20 GMT"
        assert response.json()["created_at"] == "2023-11-14T22:13:20Z"
        assert int(response.headers["X-RateLimit-Reset"]) == EPOCH + 3600
        assert client.get("rate_limit").json()["rate"]["reset"] == EPOCH + 3600

        assert clock.advance(90.5) == EPOCH + 90.5
        issue = client.post(f"repos/{REPO}/issues", json={"title": "t"}).json()
        assert issue["created_at"] == "2023-11-14T22:14:50Z"
        put = client.put(
            f"repos/{REPO}/contents/NOTES.md",
            json={"message": "notes", "content": "bm90ZXMK", "branch": "main"},
        )
        assert put.status_code == 201, put.text
        commit = put.json()["commit"]
        assert commit["committer"]["date"] == "2023-11-14T22:14:50Z"
        assert commit["author"]["date"] == "2023-11-14T22:14:50Z"
        tag = client.post(
            f"repos/{REPO}/git/tags",
            json={"tag": "v1", "message": "v1", "object": commit["sha"], "type": "commit"},
        ).json()
        assert tag["tagger"]["date"] == "2023-11-14T22:14:50Z"
        assert date_header(client.get("user")) == EPOCH + 90  # HTTP dates are whole seconds
    log = httpx.get(sandbox.info()["admin_url"] + "/requests").json()
    assert log[-1]["time"] == "2023-11-14T22:14:50Z"


def test_modes_and_restart(tmp_path: Path) -> None:
    root = tmp_path / "forge"
    first = SandboxServer(root).start()
    try:
        with admin(first) as clock:
            clock.freeze(at=EPOCH)
            clock.advance(10)
    finally:
        first.stop()
    second = SandboxServer(root).start()
    try:
        with admin(second) as clock:
            state = clock.clock()
            assert (state["mode"], state["now"]) == ("manual", EPOCH + 10)
            # running again continues from the frozen time, never backwards
            running = clock.unfreeze()
            assert EPOCH + 10 <= running < EPOCH + 70
            assert clock.clock()["mode"] == "system"
            assert clock.advance(3600) >= EPOCH + 3610
            assert abs(clock.reset_clock() - time.time()) < 60
            assert clock.clock()["mode"] == "system"
    finally:
        second.stop()


def test_bad_clock_requests_are_refused(sandbox: SandboxServer) -> None:
    url = sandbox.info()["admin_url"] + "/clock"
    for body in ({"advance": -1}, {"mode": "paused"}, {"set": "soon"}, {"speed": 2}):
        response = httpx.post(url, json=body)
        assert response.status_code == 422, body
        assert response.json()["message"]
    with admin(sandbox) as clock:
        assert clock.clock()["mode"] == "system"
        with pytest.raises(httpx.HTTPStatusError):
            clock.advance(-5)
