"""The Matrix client (matrix-nio behind a sync façade) against a real Synapse; failures
injected by a proxy in front of it; rate limits provoked for real with Synapse's admin API."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from releaser.clients.http import RetryPolicy
from releaser.clients.matrix import MARKER_KEY, Matrix
from releaser.errors import CredentialError, RateLimited, Unreachable, UsageError

VAR = "MATRIX_TOKEN"


@pytest.fixture(scope="module")
def admin(synapse):
    return synapse.register(admin=True)


@pytest.fixture(scope="module")
def room(synapse, admin):
    """A public room owned by the admin: (room_id, alias)."""
    return synapse.create_room(admin)


@pytest.fixture
def bot(synapse):
    return synapse.register()


@pytest.fixture
def matrix(synapse, bot, captured) -> Iterator[Matrix]:
    with Matrix(synapse.url, bot.access_token, captured.ui, sleep=captured.sleep) as client:
        yield client


def test_whoami_is_the_tokens_user(matrix, bot):
    assert matrix.whoami() == bot.user_id


def test_a_bad_token_is_exit_2_naming_the_variable_without_the_secret(synapse, captured):
    bad = "syt_bad_token_0123456789"
    with (
        Matrix(synapse.url, bad, captured.ui, sleep=captured.sleep) as client,
        pytest.raises(CredentialError) as info,
    ):
        client.whoami()
    assert info.value.exit_code == 2
    assert VAR in info.value.message and VAR in (info.value.hint or "")
    captured.assert_no_secret(bad, errors=(info.value,))


def test_room_id_resolves_aliases_and_passes_ids(matrix, room):
    room_id, alias = room
    assert matrix.room_id(alias) == room_id
    assert matrix.room_id(room_id) == room_id


def test_an_unknown_alias_is_a_clear_error_naming_it(matrix):
    with pytest.raises(UsageError) as info:
        matrix.room_id("#no-such-room:localhost")
    assert "#no-such-room:localhost does not exist" in info.value.message
    with pytest.raises(UsageError, match="neither a room alias"):
        matrix.room_id("general")


def test_ensure_joined_joins_once(matrix, room, synapse, bot):
    room_id, _ = room
    assert matrix.joined(room_id) is False
    assert matrix.ensure_joined(room_id) is True
    assert matrix.joined(room_id) is True
    assert matrix.ensure_joined(room_id) is False
    members = synapse.call(bot, "GET", f"/_matrix/client/v3/rooms/{room_id}/joined_members")
    assert bot.user_id in members["joined"]


def test_a_room_it_may_not_join_is_a_clear_error(matrix, synapse, admin):
    private_id, _ = synapse.create_room(admin, public=False)
    with pytest.raises(CredentialError) as info:
        matrix.ensure_joined(private_id)
    assert private_id in info.value.message
    assert "invite" in (info.value.hint or "")


def test_send_then_find_by_marker(matrix, room, synapse, admin):
    room_id, _ = room
    matrix.ensure_joined(room_id)
    marker = synapse.unique("release-v1.2.3-")
    assert matrix.find(room_id, marker) is None
    sent = matrix.send(room_id, "v1.2.3 is out", "<b>v1.2.3</b> is out", marker, marker)
    found = matrix.find(room_id, marker)
    assert found is not None
    assert found.event_id == sent.event_id
    assert found.content[MARKER_KEY] == marker
    assert found.content["formatted_body"] == "<b>v1.2.3</b> is out"
    # what another member of the room sees
    seen = [e for e in synapse.messages(admin, room_id) if e["event_id"] == sent.event_id]
    assert seen[0]["content"]["body"] == "v1.2.3 is out"


def test_a_resend_with_the_same_txn_id_is_deduplicated_by_the_homeserver(
    matrix, room, synapse, admin
):
    room_id, _ = room
    matrix.ensure_joined(room_id)
    marker = synapse.unique("dedup-")
    first = matrix.send(room_id, "once", None, marker, f"txn-{marker}")
    second = matrix.send(room_id, "once", None, marker, f"txn-{marker}")
    assert first.event_id == second.event_id
    carrying = [
        e for e in synapse.messages(admin, room_id) if e["content"].get(MARKER_KEY) == marker
    ]
    assert len(carrying) == 1


def test_find_sees_a_marker_in_a_body_and_only_within_the_limit(matrix, room, synapse, admin):
    room_id, _ = room
    matrix.ensure_joined(room_id)
    marker = synapse.unique("by-hand-")
    synapse.send_text(admin, room_id, f"posted by hand ({marker})")
    found = matrix.find(room_id, marker)
    assert found is not None and found.sender == admin.user_id and found.marker is None
    for n in range(5):
        synapse.send_text(admin, room_id, f"chatter {n}")
    assert matrix.find(room_id, marker, limit=5) is None
    assert matrix.find(room_id, marker, limit=6) is not None


def test_find_pages_back_through_history(matrix, synapse, admin, bot):
    room_id, _ = synapse.create_room(admin)
    matrix.ensure_joined(room_id)
    marker = synapse.unique("deep-")
    synapse.send_text(admin, room_id, marker)
    for n in range(12):
        synapse.send_text(admin, room_id, f"later {n}")
    matrix.page_size = 5
    requests = matrix.requests
    assert matrix.find(room_id, marker, limit=200) is not None
    assert matrix.requests - requests == 3  # 5 + 5 + 3 of the 200 asked for
    requests = matrix.requests
    assert matrix.find(room_id, marker, limit=12) is None
    assert matrix.requests - requests == 3  # 5 + 5 + 2: never past the limit


def test_event_url_is_a_matrix_to_link_via_the_users_server(matrix):
    url = matrix.event_url("!abc:example.org", "$ev1")
    assert url == "https://matrix.to/#/%21abc%3Aexample.org/%24ev1?via=localhost"
    # room version 12 ids carry no server name
    assert matrix.event_url("!abc", "$ev1") == "https://matrix.to/#/%21abc/%24ev1?via=localhost"


def test_not_in_the_room_reading_or_posting_is_a_clear_error(matrix, synapse, admin):
    private_id, _ = synapse.create_room(admin, public=False)
    with pytest.raises(CredentialError):
        matrix.find(private_id, "x")
    with pytest.raises(CredentialError):
        matrix.send(private_id, "x", None, "x", "t-x")


# ---- rate limits, for real ----------------------------------------------------------------------


def test_a_short_rate_limit_wait_is_honoured(synapse, admin, bot, captured, room):
    """Synapse limits the bot to 1 event a second (burst 1; its join was one): messages sent
    back to back are refused with M_LIMIT_EXCEEDED, waited for, and sent."""
    room_id, _ = room
    synapse.join(bot, room_id)
    synapse.override_ratelimit(admin, bot.user_id, per_second=1, burst=1)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    marker = synapse.unique("limited-")
    with Matrix(synapse.url, bot.access_token, captured.ui, sleep=sleep) as client:
        for part in "ab":
            client.send(room_id, part, None, marker + part, marker + part)
    assert slept and all(0 < s <= 1.0 for s in slept)  # Synapse's own retry_after_ms
    landed = [
        e["content"].get(MARKER_KEY)
        for e in synapse.messages(admin, room_id)
        if str(e["content"].get(MARKER_KEY, "")).startswith(marker)
    ]
    assert sorted(landed) == [marker + "a", marker + "b"]


def test_a_rate_limit_longer_than_the_bound_is_exit_4_without_waiting(
    synapse, admin, bot, captured, room
):
    room_id, _ = room
    synapse.join(bot, room_id)
    synapse.override_ratelimit(admin, bot.user_id, per_second=1, burst=1)
    bound = RetryPolicy(max_wait=0.05)  # Synapse asks for up to 1 s: beyond this bound
    with (
        Matrix(synapse.url, bot.access_token, captured.ui, sleep=captured.sleep, retry=bound) as c,
        pytest.raises(RateLimited) as info,
    ):
        for n in range(3):
            c.send(room_id, f"n{n}", None, f"m{n}", synapse.unique("t"))
    assert info.value.exit_code == 4
    assert "re-run the same command after" in (info.value.hint or "")
    assert captured.slept == []


def test_a_long_limit_is_shown_with_its_end(synapse, bot, captured, room, proxy_to):
    room_id, _ = room
    proxy = proxy_to(synapse.url)
    proxy.fail(
        "status",
        "PUT",
        "/send/",
        status=429,
        body=b'{"errcode": "M_LIMIT_EXCEEDED", "error": "Too many", "retry_after_ms": 7200000}',
    )
    with (
        Matrix(proxy.url, bot.access_token, captured.ui, sleep=captured.sleep) as client,
        pytest.raises(RateLimited, match=r"\(7200 s\)"),
    ):
        client.send(room_id, "x", None, "x", synapse.unique("t"))
    assert captured.slept == []


# ---- failures halfway ----------------------------------------------------------------------------


def test_a_lost_answer_to_a_send_is_resent_and_lands_once(
    synapse, bot, admin, captured, room, proxy_to
):
    room_id, _ = room
    synapse.join(bot, room_id)
    proxy = proxy_to(synapse.url)
    marker = synapse.unique("lost-")
    with Matrix(proxy.url, bot.access_token, captured.ui, sleep=captured.sleep) as client:
        proxy.fail("drop_after", "PUT", "/send/")
        sent = client.send(room_id, "lands once", None, marker, f"txn-{marker}")
    assert [s.fault for s in proxy.requests("PUT", "/send/")] == ["drop_after", None]
    carrying = [
        e for e in synapse.messages(admin, room_id) if e["content"].get(MARKER_KEY) == marker
    ]
    assert [e["event_id"] for e in carrying] == [sent.event_id]


def test_5xx_is_retried_and_a_gone_homeserver_is_unreachable(synapse, bot, captured, proxy_to):
    proxy = proxy_to(synapse.url)
    with Matrix(proxy.url, bot.access_token, captured.ui, sleep=captured.sleep) as client:
        proxy.fail("status", "GET", "/whoami", times=2, status=502)
        assert client.whoami() == bot.user_id
        assert captured.slept == [0.5, 1.0]
        proxy.close()
        with pytest.raises(Unreachable) as info:
            client.room_id("#anything:localhost")
    assert "[promote.matrix] homeserver" in (info.value.hint or "")


def test_verbose_narration_is_one_redacted_line_per_request(matrix, bot, captured, synapse):
    matrix.whoami()
    lines = [line for line in captured.err.getvalue().splitlines() if "whoami" in line]
    assert len(lines) == 1
    assert f"GET {synapse.url}/_matrix/client/v3/account/whoami -> 200" in lines[0]
    captured.assert_no_secret(bot.access_token)
