"""The sandbox's Discourse subset over plain HTTP: shapes, auth, search, pinning, pages."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from releaser.sandbox.server import SandboxServer
from tests.sandbox.services.helpers import Admin

TITLE = "Kubo v1.2.0 is out!"
RAW = "Kubo v1.2.0 brings faster everything.\n\n<!-- releaser:kubo-v1.2.0 -->"


@pytest.fixture
def forum(sandbox: SandboxServer, admin: Admin) -> Iterator[httpx.Client]:
    key = admin.post("discourse/api_keys", {"username": "releasebot"})["key"]
    admin.post("discourse/categories", {"name": "News"})
    with httpx.Client(
        base_url=sandbox.info()["discourse_url"],
        headers={"Api-Key": key, "Api-Username": "releasebot"},
        timeout=30,
    ) as client:
        yield client


def create(forum: httpx.Client, title: str = TITLE, raw: str = RAW) -> httpx.Response:
    cats = forum.get("/categories.json").json()["category_list"]["categories"]
    news = next(c["id"] for c in cats if c["name"] == "News")
    return forum.post(
        "/posts.json",
        data={"title": title, "raw": raw, "category": str(news), "tags[]": ["kubo", "release"]},
    )


def test_whoami_and_categories(forum: httpx.Client) -> None:
    me = forum.get("/session/current.json").json()["current_user"]
    assert me["username"] == "releasebot"
    assert forum.get("/u/releasebot.json").json()["user"]["username"] == "releasebot"
    missing = forum.get("/u/nobody.json")
    assert missing.status_code == 404 and missing.json()["error_type"] == "not_found"
    cats = forum.get("/categories.json").json()["category_list"]["categories"]
    assert [c["name"] for c in cats] == ["News"]


def test_create_read_search_latest_and_page(sandbox: SandboxServer, forum: httpx.Client) -> None:
    post = create(forum)
    assert post.status_code == 200, post.text
    topic_id, slug = post.json()["topic_id"], post.json()["topic_slug"]
    assert post.json()["post_number"] == 1 and slug == "kubo-v1-2-0-is-out"
    topic = forum.get(f"/t/{topic_id}.json", params={"include_raw": 1}).json()
    assert topic["title"] == TITLE and topic["tags"] == ["kubo", "release"]
    assert topic["post_stream"]["posts"][0]["raw"] == RAW
    assert "raw" not in forum.get(f"/t/{topic_id}.json").json()["post_stream"]["posts"][0]
    first_post = topic["post_stream"]["posts"][0]["id"]
    assert forum.get(f"/posts/{first_post}.json").json()["raw"] == RAW
    found = forum.get("/search.json", params={"q": '"v1.2.0 is out"'}).json()
    assert [t["id"] for t in found["topics"]] == [topic_id]
    assert forum.get("/search.json", params={"q": "nothing-like-it"}).json()["topics"] == []
    latest = forum.get("/latest.json").json()["topic_list"]["topics"]
    assert [t["id"] for t in latest] == [topic_id]
    page = httpx.get(f"{sandbox.info()['discourse_url']}/t/{slug}/{topic_id}")
    assert page.status_code == 200 and TITLE in page.text
    assert httpx.get(f"{sandbox.info()['discourse_url']}/t/{slug}/999").status_code == 404
    assert forum.get("/t/999.json").status_code == 404


def test_duplicate_title_and_short_body_are_422(forum: httpx.Client) -> None:
    assert create(forum).status_code == 200
    again = create(forum)
    assert again.status_code == 422
    assert again.json()["errors"] == ["Title has already been used"]
    short = create(forum, title="Another release title", raw="tiny")
    assert short.status_code == 422 and "Body is too short" in short.json()["errors"][0]


def test_pin_needs_staff(sandbox: SandboxServer, admin: Admin, forum: httpx.Client) -> None:
    topic_id = create(forum).json()["topic_id"]
    pinned = forum.put(f"/t/{topic_id}/status.json", data={"status": "pinned", "enabled": "true"})
    assert pinned.json() == {"success": "OK", "topic_status_update": None}
    assert forum.get(f"/t/{topic_id}.json").json()["pinned"] is True
    admin.post("discourse/users", {"username": "someone", "admin": False})
    key = admin.post("discourse/api_keys", {"username": "someone"})["key"]
    refused = forum.put(
        f"/t/{topic_id}/status.json",
        data={"status": "pinned", "enabled": "false"},
        headers={"Api-Key": key, "Api-Username": "someone"},
    )
    assert refused.status_code == 403 and refused.json()["error_type"] == "invalid_access"


def test_bad_key_is_403_invalid_access(sandbox: SandboxServer, forum: httpx.Client) -> None:
    url = sandbox.info()["discourse_url"] + "/categories.json"
    for headers in ({}, {"Api-Key": "nope", "Api-Username": "releasebot"}):
        refused = httpx.get(url, headers=headers)
        assert refused.status_code == 403
        assert refused.json()["error_type"] == "invalid_access"
    other_user = forum.get("/categories.json", headers={"Api-Username": "system"})
    assert other_user.status_code == 403  # a key bound to releasebot acts only as releasebot


def test_rate_limit_fault_in_discourse_shape(admin: Admin, forum: httpx.Client) -> None:
    admin.fault(method="POST", path="^/discourse/posts.json$", action="rate_limit", retry_after=9)
    limited = create(forum)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "9"
    body = limited.json()
    assert body["error_type"] == "rate_limit" and body["extras"]["wait_seconds"] == 9


def test_post_applied_answer_lost_leaves_one_topic(admin: Admin, forum: httpx.Client) -> None:
    admin.fault(method="POST", path="/posts.json$", action="drop_after", nth=1)
    with pytest.raises(httpx.TransportError):
        create(forum)
    topics = admin.get("discourse/topics")
    assert [t["title"] for t in topics] == [TITLE]
    assert [e["status"] for e in admin.log() if e["path"] == "/discourse/posts.json"] == [0]
