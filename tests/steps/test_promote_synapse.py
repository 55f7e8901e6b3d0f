"""announce-on-matrix against a real homeserver (Synapse), through a proxy that loses answers.

The posting user is not in the room yet (the step joins the public room). A send whose answer
is lost is re-sent with the same transaction id, which Synapse deduplicates; when every try is
lost, the engine's re-check finds the message by the marker in its content. Never two.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from releaser.clients.http import RetryPolicy
from releaser.step import Status
from tests.services.proxy import FlakyProxy
from tests.steps.test_promote import published

FINAL = "v1.2.0"
MARKER = "releaser:announce acme/example v1.2.0"


@pytest.fixture
def proxy(synapse) -> Iterator[FlakyProxy]:
    host, _, port = synapse.url.split("://", 1)[1].partition(":")
    flaky = FlakyProxy(host, int(port))
    try:
        yield flaky
    finally:
        flaky.close()


@pytest.fixture
def room(synapse) -> tuple[str, str, object]:
    """A public room owned by an admin: (room_id, alias, owner)."""
    owner = synapse.register(admin=True)
    room_id, alias = synapse.create_room(owner)
    return room_id, alias, owner


def matrix_project(make_project, proxy: FlakyProxy, alias: str, bot) -> object:
    extra = f"""
[[promote.matrix]]
homeserver = "{proxy.url}"
room = "{alias}"
user_id = "{bot.user_id}"
token_env = "MATRIX_TOKEN"
message = "{{name}} v{{version}} is out! {{release_url}}"
"""
    project = make_project(extra=extra)
    project.env["MATRIX_TOKEN"] = bot.access_token
    return project


def announcements(synapse, owner, room_id: str) -> list[dict]:
    return [
        e
        for e in synapse.messages(owner, room_id)
        if e["content"].get("org.releaser.marker") == MARKER
    ]


def test_posted_once_after_a_lost_answer_and_a_rerun_sends_nothing(
    make_project, synapse, proxy: FlakyProxy, room
) -> None:
    room_id, alias, owner = room
    bot = synapse.register()
    project = matrix_project(make_project, proxy, alias, bot)
    published(project, FINAL)

    proxy.fail("drop_after", "PUT", "/send/m.room.message/")  # applied, answer lost, once
    results = {r.step: r for r in project.run_stage(FINAL, "promote", verbose=True)}
    result = results["announce-on-matrix"]
    assert result.status is Status.DONE and result.acted
    [event] = announcements(synapse, owner, room_id)
    assert event["sender"] == bot.user_id
    assert event["content"]["body"].startswith("example v1.2.0 is out! http")
    sends = proxy.requests("PUT", "/send/m.room.message/")
    assert len(sends) == 2 and sends[0].fault == "drop_after"
    assert sends[0].path == sends[1].path  # the same transaction id: deduplicated
    assert proxy.requests("POST", "/join/")  # it joined the public room first
    assert bot.access_token not in project.output()

    seen = len(proxy.seen)
    again = {r.step: r for r in project.run_stage(FINAL, "promote")}
    assert again["announce-on-matrix"].status is Status.DONE
    assert [s for s in proxy.seen[seen:] if s.method != "GET"] == []  # read only
    assert len(announcements(synapse, owner, room_id)) == 1


@pytest.mark.slow
def test_every_answer_lost_then_the_recheck_finds_the_message(
    make_project, synapse, proxy: FlakyProxy, room
) -> None:
    room_id, alias, owner = room
    bot = synapse.register()
    synapse.join(bot, room_id)  # already in the room
    project = matrix_project(make_project, proxy, alias, bot)
    published(project, FINAL)

    proxy.fail("drop_after", "PUT", "/send/m.room.message/", times=10)  # every try's answer
    results = {r.step: r for r in project.run_stage(FINAL, "promote")}
    assert results["announce-on-matrix"].status is Status.DONE  # found by the re-check
    # every try of the send was lost (one transaction id: Synapse applied it once), the client
    # gave up, and the engine's re-check found the message
    sends = proxy.requests("PUT", "/send/m.room.message/")
    assert len(sends) >= RetryPolicy().attempts
    assert {s.path for s in sends} == {sends[0].path} and all(s.fault for s in sends)
    assert len(announcements(synapse, owner, room_id)) == 1
    assert not proxy.requests("POST", "/join/")
