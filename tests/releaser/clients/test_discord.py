"""The Discord webhook client against the sandbox's Discord (real HTTP)."""

from __future__ import annotations

import pytest

from releaser.clients.discord import DiscordWebhook, Message
from releaser.clients.http import RetryPolicy
from releaser.errors import AmbiguousWrite, CredentialError, RateLimited, UsageError
from releaser.sandbox.server import SandboxServer
from tests.releaser.clients.conftest import Console
from tests.sandbox.services.helpers import Admin


@pytest.fixture
def hook(admin: Admin) -> dict[str, str]:
    return dict(admin.post("discord/webhooks", {"name": "Releases"}))


def secrets_of(hook: dict[str, str]) -> list[str]:
    return [hook["url"], hook["token"]]


def assert_no_secret(hook: dict[str, str], *texts: str) -> None:
    for text in texts:
        for secret in secrets_of(hook):
            assert secret not in text


def test_info_send_get_edit(sandbox: SandboxServer, hook: dict[str, str], console: Console) -> None:
    client = DiscordWebhook(hook["url"], console.ui)
    assert client.info() == "Releases"
    sent = client.send("Kubo v1.2.0 is out! <!-- r:v1.2.0 -->", username="Release bot")
    assert isinstance(sent, Message) and sent.username == "Release bot"
    assert client.get(sent.id) == sent
    assert client.get("1234") is None
    edited = client.edit(sent.id, "Kubo v1.2.0 is out!")
    assert edited.edited and edited.content == "Kubo v1.2.0 is out!"
    assert_no_secret(hook, console.text(), (sandbox.forge.root / "requests.log").read_text())
    assert "POST" in console.text()  # -v narrated the requests, with the URL hidden


def test_unknown_or_revoked_webhook_is_a_credential_error(
    sandbox: SandboxServer, hook: dict[str, str], console: Console
) -> None:
    wrong_token = hook["url"].rsplit("/", 1)[0] + "/not-the-token-at-all"
    gone = f"{sandbox.info()['discord_url']}/webhooks/4242/also-not-a-token"
    for url in (wrong_token, gone):
        client = DiscordWebhook(url, console.ui, variable="ANNOUNCE_HOOK")
        with pytest.raises(CredentialError) as info:
            client.info()
        assert info.value.exit_code == 2 and "ANNOUNCE_HOOK" in info.value.message
        with pytest.raises(CredentialError):
            client.get("1")  # an unknown webhook is not "no such message"
        assert "not-the-token" not in info.value.message + console.text()
    with pytest.raises(UsageError):
        DiscordWebhook("https://example.invalid/not/a/hook", console.ui)


def test_rate_limit_waits_then_sends_once(
    hook: dict[str, str], admin: Admin, console: Console
) -> None:
    slept: list[float] = []
    client = DiscordWebhook(
        hook["url"], console.ui, sleep=slept.append, retry=RetryPolicy(max_wait=30)
    )
    path = "/discord/api/webhooks/"
    admin.fault(method="POST", path=path, action="rate_limit", nth=1, retry_after=5)
    client.send("once")
    assert slept == [5.0]
    assert [m["content"] for m in admin.get(f"discord/webhooks/{hook['id']}/messages")] == ["once"]
    admin.fault(method="POST", path=path, action="rate_limit", nth=1, retry_after=300)
    with pytest.raises(RateLimited) as info:  # longer than max_wait: exit 4, nothing sent
        client.send("twice")
    assert info.value.exit_code == 4
    assert len(admin.get(f"discord/webhooks/{hook['id']}/messages")) == 1


def test_send_applied_answer_lost_is_ambiguous_never_resent(
    sandbox: SandboxServer, hook: dict[str, str], admin: Admin, console: Console
) -> None:
    client = DiscordWebhook(hook["url"], console.ui)
    admin.fault(method="POST", path="/discord/api/webhooks/", action="drop_after", nth=1)
    with pytest.raises(AmbiguousWrite) as info:
        client.send("Kubo v1.2.0 is out!")
    messages = admin.get(f"discord/webhooks/{hook['id']}/messages")
    assert [m["content"] for m in messages] == ["Kubo v1.2.0 is out!"]
    assert client.get(messages[0]["id"]) is not None
    assert_no_secret(hook, info.value.message, console.text())


def test_a_message_link_opens_it_and_holds_no_secret(
    sandbox: SandboxServer, hook: dict[str, str], console: Console
) -> None:
    import httpx

    client = DiscordWebhook(hook["url"], console.ui)
    sent = client.send("Kubo v1.2.0 is out!")
    link = client.message_url(sent)
    base = sandbox.info()["discord_url"].removesuffix("/api")
    assert link == f"{base}/channels/{hook['guild_id']}/{sent.channel_id}/{sent.id}"
    assert_no_secret(hook, link)
    page = httpx.get(link, timeout=30)
    assert page.status_code == 200 and "Kubo v1.2.0 is out!" in page.text
    real = DiscordWebhook("https://discord.com/api/webhooks/1/t0ken", console.ui)
    assert real.web_root == "https://discord.com"
