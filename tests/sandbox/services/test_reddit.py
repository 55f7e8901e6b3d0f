"""The sandbox's Reddit subset through praw itself (shapes checked against praw's cassettes)."""

from __future__ import annotations

from typing import Any

import httpx
import praw
import prawcore
import pytest
from praw.exceptions import RedditAPIException

from releaser.sandbox.server import SandboxServer
from tests.sandbox.services.helpers import Admin

LINK = "https://example.com/kubo/v1.2.0"


@pytest.fixture
def account(admin: Admin) -> dict[str, str]:
    app = admin.post("reddit/apps", {})
    user = admin.post("reddit/users", {"username": "releasebot"})
    admin.post("reddit/subreddits", {"name": "ipfs"})
    return {**app, **user}


def reddit(sandbox: SandboxServer, account: dict[str, str], **overrides: Any) -> praw.Reddit:
    url = sandbox.info()["reddit_url"]
    settings = {
        "client_id": account["client_id"],
        "client_secret": account["client_secret"],
        "username": account["username"],
        "password": account["password"],
        **overrides,
    }
    return praw.Reddit(
        **settings,
        user_agent="releaser-tests/1.0 by u/releasebot",
        oauth_url=url + "/",
        reddit_url=url,
        check_for_updates=False,
        ratelimit_seconds=0,
    )


def test_me_submit_and_listings(sandbox: SandboxServer, account: dict[str, str]) -> None:
    r = reddit(sandbox, account)
    assert r.user.me().name == "releasebot"
    post = r.subreddit("ipfs").submit("Kubo v1.2.0 is out!", url=LINK)
    assert post.url == LINK and post.title == "Kubo v1.2.0 is out!"
    assert post.permalink == f"/r/ipfs/comments/{post.id}/kubo_v1_2_0_is_out/"
    mine = list(r.redditor("releasebot").submissions.new(limit=10))
    assert [(s.id, s.url, s.subreddit.display_name) for s in mine] == [(post.id, LINK, "ipfs")]
    assert [s.id for s in r.subreddit("IPFS").new(limit=5)] == [post.id]
    assert [s.id for s in r.info(url=LINK)] == [post.id]
    assert [s.id for s in r.info(fullnames=[f"t3_{post.id}"])] == [post.id]
    page = httpx.get(f"{sandbox.info()['reddit_url']}{post.permalink}")
    assert page.status_code == 200 and LINK in page.text


def test_rate_limit_headers_on_every_oauth_answer(
    sandbox: SandboxServer, account: dict[str, str]
) -> None:
    r = reddit(sandbox, account)
    r.user.me()
    limiter = r._core.rate_limiter  # praw read x-ratelimit-* from the answer
    assert limiter.remaining == 599 and limiter.used == 1


def test_submit_errors_in_reddit_shape(sandbox: SandboxServer, account: dict[str, str]) -> None:
    r = reddit(sandbox, account)
    with pytest.raises(RedditAPIException) as info:
        r.subreddit("nope").submit("A title", url=LINK)
    assert info.value.items[0].error_type == "SUBREDDIT_NOEXIST"
    r.subreddit("ipfs").submit("A title", url=LINK)
    with pytest.raises(RedditAPIException) as again:
        r.subreddit("ipfs").submit("A title", url=LINK, resubmit=False)
    assert again.value.items[0].error_type == "ALREADY_SUB"


def test_bad_credentials(sandbox: SandboxServer, account: dict[str, str]) -> None:
    with pytest.raises(prawcore.OAuthException, match="invalid_grant"):
        reddit(sandbox, account, password="wrong").user.me()
    with pytest.raises(prawcore.ResponseException) as info:
        reddit(sandbox, account, client_secret="wrong").user.me()
    assert info.value.response.status_code == 401
    assert info.value.response.json() == {"message": "Unauthorized", "error": 401}
    url = sandbox.info()["reddit_url"] + "/api/v1/me"
    assert httpx.get(url, headers={"Authorization": "bearer nope"}).status_code == 401


def test_rate_limit_faults(sandbox: SandboxServer, admin: Admin, account: dict[str, str]) -> None:
    r = reddit(sandbox, account)
    r.user.me()
    admin.fault(path="/reddit/api/submit", action="rate_limit", kind="secondary", retry_after=540)
    with pytest.raises(RedditAPIException) as info:
        r.subreddit("ipfs").submit("A title", url=LINK)
    item = info.value.items[0]
    assert item.error_type == "RATELIMIT" and "9 minutes" in item.message
    admin.fault(path="/reddit/user/", action="rate_limit", nth=1, retry_after=7)
    with pytest.raises(prawcore.TooManyRequests) as limited:
        list(r.redditor("releasebot").submissions.new())
    assert limited.value.response.headers["Retry-After"] == "7"
    assert limited.value.response.headers["x-ratelimit-remaining"] == "0.0"
    assert admin.get("reddit/submissions") == []


def test_the_token_grant_is_logged_as_a_login_not_a_write(
    sandbox: SandboxServer, admin: Admin, account: dict[str, str]
) -> None:
    mark = len(admin.log())
    r = reddit(sandbox, account)
    r.user.me()
    grants = [e for e in admin.log()[mark:] if e["path"].endswith("/access_token")]
    assert [(e["method"], e["write"], e.get("login")) for e in grants] == [("POST", False, True)]
    r.subreddit("ipfs").submit("Kubo v1.2.0 is out!", url=LINK)
    [submit] = [e for e in admin.log()[mark:] if e["path"].startswith("/reddit/api/submit")]
    assert submit["write"] is True and "login" not in submit
