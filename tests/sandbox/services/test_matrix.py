"""The sandbox's Matrix homeserver subset, driven by matrix-nio as a real client would."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import httpx
import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    JoinedRoomsResponse,
    JoinResponse,
    RoomGetEventResponse,
    RoomMessagesResponse,
    RoomMessageText,
    RoomResolveAliasResponse,
    RoomSendResponse,
    WhoamiResponse,
)

from releaser.sandbox.server import SandboxServer
from tests.sandbox.services.helpers import Admin

T = TypeVar("T")
ALIAS = "#releases:sandbox"
BOT = "@releasebot:sandbox"


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


def client(sandbox: SandboxServer, token: str, user_id: str = BOT, **config: Any) -> AsyncClient:
    cfg = AsyncClientConfig(max_limit_exceeded=config.pop("max_limit_exceeded", 0), max_timeouts=0)
    nio = AsyncClient(sandbox.info()["matrix_url"], user_id, config=cfg)
    nio.access_token = token
    return nio


async def session(nio: AsyncClient, steps: Any) -> Any:
    try:
        return await steps(nio)
    finally:
        await nio.close()


@pytest.fixture
def bot(admin: Admin) -> str:
    return str(admin.post("matrix/users", {"user_id": BOT})["access_token"])


def make_room(admin: Admin, members: dict[str, str], public: bool = False) -> str:
    room = admin.post(
        "matrix/rooms", {"alias": ALIAS, "name": "Releases", "members": members, "public": public}
    )
    return str(room["room_id"])


def test_versions_whoami_and_alias(sandbox: SandboxServer, admin: Admin, bot: str) -> None:
    room_id = make_room(admin, {BOT: "invite"})
    versions = httpx.get(sandbox.info()["matrix_url"] + "/_matrix/client/versions").json()
    assert "v1.1" in versions["versions"]

    async def steps(nio: AsyncClient) -> tuple[Any, Any, Any]:
        return (
            await nio.whoami(),
            await nio.room_resolve_alias(ALIAS),
            await nio.room_resolve_alias("#nope:sandbox"),
        )

    who, alias, missing = run(session(client(sandbox, bot), steps))
    assert isinstance(who, WhoamiResponse) and who.user_id == BOT
    assert isinstance(alias, RoomResolveAliasResponse) and alias.room_id == room_id
    assert isinstance(missing, ErrorResponse) and missing.status_code == "M_NOT_FOUND"


def test_join_send_is_idempotent_per_txn_and_messages_page_backwards(
    sandbox: SandboxServer, admin: Admin, bot: str
) -> None:
    room_id = make_room(admin, {BOT: "invite"})

    async def steps(nio: AsyncClient) -> dict[str, Any]:
        out: dict[str, Any] = {"forbidden": await nio.room_send(room_id, "m.room.message", {})}
        out["join"] = await nio.join(ALIAS)
        out["joined"] = await nio.joined_rooms()
        content = {"msgtype": "m.text", "body": "v1.2.0 is out <!-- releaser:v1.2.0 -->"}
        out["first"] = await nio.room_send(room_id, "m.room.message", content, tx_id="txn-1")
        out["again"] = await nio.room_send(room_id, "m.room.message", content, tx_id="txn-1")
        for n in range(3):
            body = {"msgtype": "m.text", "body": f"chatter {n}"}
            await nio.room_send(room_id, "m.room.message", body, tx_id=f"c{n}")
        out["page1"] = await nio.room_messages(room_id, limit=2)
        out["page2"] = await nio.room_messages(room_id, start=out["page1"].end, limit=50)
        out["event"] = await nio.room_get_event(room_id, out["first"].event_id)
        out["no_event"] = await nio.room_get_event(room_id, "$missing")
        return out

    out = run(session(client(sandbox, bot), steps))
    assert isinstance(out["forbidden"], ErrorResponse)
    assert out["forbidden"].status_code == "M_FORBIDDEN"
    assert isinstance(out["join"], JoinResponse) and out["join"].room_id == room_id
    assert isinstance(out["joined"], JoinedRoomsResponse) and out["joined"].rooms == [room_id]
    assert isinstance(out["first"], RoomSendResponse)
    assert out["again"].event_id == out["first"].event_id
    page1, page2 = out["page1"], out["page2"]
    assert isinstance(page1, RoomMessagesResponse)
    assert [e.body for e in page1.chunk] == ["chatter 2", "chatter 1"]
    texts = [e.body for e in page2.chunk if isinstance(e, RoomMessageText)]
    assert texts == ["chatter 0", "v1.2.0 is out <!-- releaser:v1.2.0 -->"]
    assert page2.end is None  # the start of the room: no further page
    assert isinstance(out["event"], RoomGetEventResponse)
    assert out["event"].event.body.startswith("v1.2.0 is out")
    assert isinstance(out["no_event"], ErrorResponse)
    assert out["no_event"].status_code == "M_NOT_FOUND"
    events = admin.get(f"matrix/rooms/{room_id}/events")
    bodies = [e["content"].get("body") for e in events if e["type"] == "m.room.message"]
    assert bodies.count("v1.2.0 is out <!-- releaser:v1.2.0 -->") == 1  # txn-1 stored once


def test_join_refused_without_invite_unless_public(
    sandbox: SandboxServer, admin: Admin, bot: str
) -> None:
    make_room(admin, {})
    admin.post("matrix/rooms", {"alias": "#open:sandbox", "public": True})

    async def steps(nio: AsyncClient) -> tuple[Any, Any]:
        return await nio.join(ALIAS), await nio.join("#open:sandbox")

    private, public = run(session(client(sandbox, bot), steps))
    assert isinstance(private, ErrorResponse) and private.status_code == "M_FORBIDDEN"
    assert isinstance(public, JoinResponse)


def test_bad_token_is_m_unknown_token_401(sandbox: SandboxServer, admin: Admin, bot: str) -> None:
    async def steps(nio: AsyncClient) -> Any:
        return await nio.whoami()

    refused = run(session(client(sandbox, "syt_wrong_token_value"), steps))
    assert isinstance(refused, ErrorResponse) and refused.status_code == "M_UNKNOWN_TOKEN"
    raw = httpx.get(
        sandbox.info()["matrix_url"] + "/_matrix/client/v3/account/whoami",
        params={"access_token": "syt_wrong_token_value"},
    )
    assert raw.status_code == 401 and raw.json()["errcode"] == "M_UNKNOWN_TOKEN"
    by_query = httpx.get(
        sandbox.info()["matrix_url"] + "/_matrix/client/v3/account/whoami",
        params={"access_token": bot},
    )
    assert by_query.json()["user_id"] == BOT  # the token in the query string works too
    log = (sandbox.forge.root / "requests.log").read_text()
    assert bot not in log and "syt_wrong_token_value" not in log  # tokens are blanked


def test_rate_limit_fault_answers_m_limit_exceeded(
    sandbox: SandboxServer, admin: Admin, bot: str
) -> None:
    admin.fault(path="/account/whoami$", action="rate_limit", nth=1, retry_after=2)
    url = sandbox.info()["matrix_url"] + "/_matrix/client/v3/account/whoami"
    limited = httpx.get(url, headers={"Authorization": f"Bearer {bot}"})
    assert limited.status_code == 429
    assert limited.json() == {
        "errcode": "M_LIMIT_EXCEEDED",
        "error": "Too Many Requests",
        "retry_after_ms": 2000,
    }
    assert limited.headers["Retry-After"] == "2"
    assert httpx.get(url, headers={"Authorization": f"Bearer {bot}"}).status_code == 200


def test_send_applied_but_answer_lost_then_resent_with_same_txn_stores_one(
    sandbox: SandboxServer, admin: Admin, bot: str
) -> None:
    room_id = make_room(admin, {BOT: "join"})
    admin.fault(method="PUT", path="/send/m.room.message/", action="drop_after", nth=1)
    url = f"{sandbox.info()['matrix_url']}/_matrix/client/v3/rooms/{room_id}/send/m.room.message"
    headers = {"Authorization": f"Bearer {bot}"}
    body = {"msgtype": "m.text", "body": "announce"}
    with pytest.raises(httpx.TransportError):
        httpx.put(f"{url}/t1", json=body, headers=headers)
    again = httpx.put(f"{url}/t1", json=body, headers=headers)
    assert again.status_code == 200
    events = admin.get(f"matrix/rooms/{room_id}/events")
    sent = [e for e in events if e["type"] == "m.room.message"]
    assert len(sent) == 1 and sent[0]["event_id"] == again.json()["event_id"]
    entries = [e for e in admin.log() if e["path"].endswith("/t1")]
    assert [e["status"] for e in entries] == [0, 200] and entries[0]["dropped"] is True
