"""The Discourse client against the sandbox's Discourse (real HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from releaser.clients.discourse import Discourse, Topic, page_answers
from releaser.clients.http import RetryPolicy
from releaser.errors import AmbiguousWrite, CredentialError, RateLimited, UsageError
from releaser.sandbox.server import SandboxServer
from tests.releaser.clients.conftest import Console
from tests.sandbox.services.helpers import Admin

TITLE = "Kubo v1.2.0 is out!"
MARKER = "<!-- releaser:kubo-v1.2.0 -->"
RAW = f"Kubo v1.2.0 brings faster everything.\n\n{MARKER}"


@pytest.fixture
def key(admin: Admin) -> str:
    admin.post("discourse/categories", {"name": "News"})
    admin.post("discourse/categories", {"name": "Support"})
    return str(admin.post("discourse/api_keys", {"username": "releasebot"})["key"])


def forum(sandbox: SandboxServer, key: str, console: Console, **kwargs: Any) -> Discourse:
    return Discourse(sandbox.info()["discourse_url"], key, "releasebot", console.ui, **kwargs)


def test_announce_find_and_pin(sandbox: SandboxServer, key: str, console: Console) -> None:
    client = forum(sandbox, key, console)
    assert client.whoami() == "releasebot"
    news = client.category_id("news")
    assert client.find_topic(TITLE, MARKER) is None
    created = client.create_topic(TITLE, RAW, news, ["kubo"])
    assert isinstance(created, Topic) and created.title == TITLE
    assert created.url == f"{sandbox.info()['discourse_url']}/t/kubo-v1-2-0-is-out/{created.id}"
    found = client.find_topic(TITLE, MARKER)
    assert found is not None and found.id == created.id and found.category_id == news
    assert not client.is_pinned(created.id)
    client.pin(created.id)
    client.pin(created.id)  # a PUT: repeating it changes nothing
    assert client.is_pinned(created.id)
    assert page_answers(created.url, console.ui) is True
    gone = created.url.rsplit("/", 1)[0] + "/999"
    assert page_answers(gone, console.ui) is False
    assert key not in console.text()


def test_a_topic_counts_only_with_the_marker_in_its_first_post(
    sandbox: SandboxServer, key: str, console: Console
) -> None:
    client = forum(sandbox, key, console)
    news = client.category_id("News")
    client.create_topic(TITLE, "Someone else wrote about this release already.", news, [])
    assert client.find_topic(TITLE, MARKER) is None


def test_unknown_category_names_the_ones_that_exist(
    sandbox: SandboxServer, key: str, console: Console
) -> None:
    with pytest.raises(UsageError) as info:
        forum(sandbox, key, console).category_id("Announcements")
    assert "'Announcements'" in info.value.message
    assert "News, Support" in info.value.message
    assert info.value.exit_code == 2


def test_bad_key_is_a_credential_error_naming_the_variable(
    sandbox: SandboxServer, key: str, console: Console
) -> None:
    wrong = "0123456789abcdef" * 4
    client = Discourse(
        sandbox.info()["discourse_url"], wrong, "releasebot", console.ui, credential="FORUM_KEY"
    )
    with pytest.raises(CredentialError) as info:
        client.whoami()
    assert info.value.exit_code == 2
    assert "FORUM_KEY" in info.value.message
    for text in (info.value.message, info.value.hint or "", console.text()):
        assert wrong not in text and key not in text
    assert wrong not in (sandbox.forge.root / "requests.log").read_text()


def test_rate_limit_is_waited_out_or_exits_4(
    sandbox: SandboxServer, admin: Admin, key: str, console: Console
) -> None:
    slept: list[float] = []
    client = forum(sandbox, key, console, sleep=slept.append, retry=RetryPolicy(max_wait=60))
    admin.fault(path="/discourse/categories.json", action="rate_limit", nth=1, retry_after=12)
    assert client.category_id("News") > 0
    assert slept == [12.0]
    assert "waiting 12 s" in console.text()
    admin.fault(path="/discourse/latest.json", action="rate_limit", nth=1, retry_after=600)
    with pytest.raises(RateLimited) as info:
        client.find_topic(TITLE, MARKER)
    assert info.value.exit_code == 4


def test_create_applied_but_answer_lost_is_ambiguous_and_found_once(
    sandbox: SandboxServer, admin: Admin, key: str, console: Console
) -> None:
    client = forum(sandbox, key, console)
    news = client.category_id("News")
    admin.fault(method="POST", path="/discourse/posts.json", action="drop_after", nth=1)
    with pytest.raises(AmbiguousWrite):
        client.create_topic(TITLE, RAW, news, [])
    found = client.find_topic(TITLE, MARKER)
    assert found is not None
    assert [t["id"] for t in admin.get("discourse/topics")] == [found.id]
    posts = [e for e in admin.log() if e["path"] == "/discourse/posts.json"]
    assert len(posts) == 1  # never re-sent


def test_a_key_bound_to_a_user_needs_no_username(
    sandbox: SandboxServer, key: str, console: Console
) -> None:
    client = Discourse(sandbox.info()["discourse_url"], key, "", console.ui)
    assert client.whoami() == "releasebot"
    news = client.category_id("News")
    created = client.create_topic(TITLE, RAW, news, [])
    assert client.find_topic(TITLE, MARKER) == client.topic(created.id)
