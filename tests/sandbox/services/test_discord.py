"""The sandbox's Discord webhooks over plain HTTP: execute, read, edit, errors, limits."""

from __future__ import annotations

import httpx
import pytest

from releaser.sandbox.server import SandboxServer
from tests.sandbox.services.helpers import Admin


@pytest.fixture
def hook(admin: Admin) -> dict[str, str]:
    return dict(admin.post("discord/webhooks", {"name": "Releases"}))


def test_execute_with_and_without_wait(admin: Admin, hook: dict[str, str]) -> None:
    url = hook["url"]
    assert httpx.post(url, json={"content": "quiet"}).status_code == 204
    sent = httpx.post(url, params={"wait": "true"}, json={"content": "v1.2.0 is out"})
    assert sent.status_code == 200
    msg = sent.json()
    assert msg["content"] == "v1.2.0 is out" and msg["webhook_id"] == hook["id"]
    assert msg["author"]["username"] == "Releases" and msg["author"]["bot"] is True
    assert int(msg["id"]) > 0
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Bucket"):
        assert header in sent.headers
    got = httpx.get(f"{url}/messages/{msg['id']}")
    assert got.json()["content"] == "v1.2.0 is out"
    edited = httpx.patch(f"{url}/messages/{msg['id']}", json={"content": "v1.2.0 is out!"})
    assert edited.json()["edited_timestamp"] is not None
    assert httpx.get(url).json()["name"] == "Releases"
    listed = admin.get(f"discord/webhooks/{hook['id']}/messages")
    assert [m["content"] for m in listed] == ["quiet", "v1.2.0 is out!"]


def test_versioned_path_and_username_override(hook: dict[str, str]) -> None:
    url = hook["url"].replace("/api/webhooks/", "/api/v10/webhooks/")
    msg = httpx.post(url, params={"wait": "1"}, json={"content": "hi", "username": "Bot"}).json()
    assert msg["author"]["username"] == "Bot"


def test_errors(sandbox: SandboxServer, hook: dict[str, str]) -> None:
    url = hook["url"]
    base = sandbox.info()["discord_url"]
    unknown = httpx.post(f"{base}/webhooks/123/abc", json={"content": "x"})
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"message": "Unknown Webhook", "code": 10015},
    )
    bad_token = httpx.get(f"{base}/webhooks/{hook['id']}/wrong")
    assert (bad_token.status_code, bad_token.json()["code"]) == (401, 50027)
    empty = httpx.post(url, json={"content": ""})
    assert (empty.status_code, empty.json()["code"]) == (400, 50006)
    long = httpx.post(url, json={"content": "x" * 2001})
    assert long.json()["errors"]["content"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    missing = httpx.get(f"{url}/messages/42")
    assert (missing.status_code, missing.json()["code"]) == (404, 10008)
    assert httpx.get(f"{url}/messages").status_code in (404, 405)  # no listing, as in Discord


def test_rate_limit_fault_in_discord_shape(admin: Admin, hook: dict[str, str]) -> None:
    admin.fault(method="POST", path="/discord/api/webhooks/", action="rate_limit", retry_after=3)
    limited = httpx.post(hook["url"], json={"content": "x"})
    assert limited.status_code == 429
    assert limited.json() == {
        "message": "You are being rate limited.",
        "retry_after": 3.0,
        "global": False,
    }
    assert limited.headers["Retry-After"] == "3"
