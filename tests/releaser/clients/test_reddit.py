"""The Reddit client, through praw, against the sandbox's Reddit (real HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from releaser.clients.reddit import Reddit, RedditVariables, Submission
from releaser.errors import AmbiguousWrite, CredentialError, RateLimited, UsageError
from releaser.sandbox.server import SandboxServer
from tests.releaser.clients.conftest import Console
from tests.sandbox.services.helpers import Admin

LINK = "https://github.com/ipfs/kubo/releases/tag/v1.2.0"
TITLE = "Kubo v1.2.0 is out!"


@pytest.fixture
def account(admin: Admin) -> dict[str, str]:
    app = admin.post("reddit/apps", {})
    user = admin.post("reddit/users", {"username": "releasebot"})
    admin.post("reddit/subreddits", {"name": "ipfs"})
    admin.post("reddit/subreddits", {"name": "programming"})
    return {**app, **user}


def client(
    sandbox: SandboxServer, account: dict[str, str], console: Console, **kwargs: Any
) -> Reddit:
    settings = {k: account[k] for k in ("client_id", "client_secret", "username", "password")}
    settings.update({k: kwargs.pop(k) for k in list(kwargs) if k in settings})
    return Reddit(
        **settings,
        user_agent="releaser-tests/1.0 (by u/releasebot)",
        ui=console.ui,
        base_url=sandbox.info()["reddit_url"],
        **kwargs,
    )


def secrets_of(account: dict[str, str]) -> list[str]:
    return [account["client_secret"], account["password"]]


def test_me_find_submit_find(
    sandbox: SandboxServer, admin: Admin, account: dict[str, str], console: Console
) -> None:
    reddit = client(sandbox, account, console)
    assert reddit.me() == "releasebot"
    assert reddit.find_link("ipfs", LINK) is None
    reddit.submit_link("programming", TITLE, LINK)  # the same link elsewhere doesn't count
    assert reddit.find_link("ipfs", LINK) is None
    posted = reddit.submit_link("ipfs", TITLE, LINK)
    assert isinstance(posted, Submission)
    assert posted.url == LINK and posted.subreddit == "ipfs" and posted.title == TITLE
    base = sandbox.info()["reddit_url"]
    assert posted.permalink == f"{base}/r/ipfs/comments/{posted.id}/kubo_v1_2_0_is_out/"
    assert reddit.find_link("IPFS", LINK) == posted
    text = console.text()
    assert "POST " in text and "/reddit/api/submit" in text  # -v narrates
    log = (sandbox.forge.root / "requests.log").read_text()
    for secret in secrets_of(account):
        assert secret not in text and secret not in log


def test_a_link_to_the_same_page_at_another_address_is_found(
    sandbox: SandboxServer, account: dict[str, str], console: Console
) -> None:
    """The forge moved (another host or port, http for https): the post is the same page's,
    found by path and query, and a neighbouring page's is not."""
    reddit = client(sandbox, account, console)
    posted = reddit.submit_link(
        "ipfs", TITLE, "http://127.0.0.1:41000/ipfs/kubo/releases/tag/v1.2.0"
    )
    assert (
        reddit.find_link("ipfs", "https://forge.example/ipfs/kubo/releases/tag/v1.2.0/") == posted
    )
    assert reddit.find_link("ipfs", "https://forge.example/ipfs/kubo/releases/tag/v1.2.01") is None
    assert (
        reddit.find_link("ipfs", "https://forge.example/ipfs/kubo/releases/tag/v1.2.0?x=1") is None
    )


def test_unknown_subreddit_is_a_usage_error(
    sandbox: SandboxServer, account: dict[str, str], console: Console
) -> None:
    with pytest.raises(UsageError, match="r/nope"):
        client(sandbox, account, console).submit_link("nope", TITLE, LINK)


@pytest.mark.parametrize(
    ("wrong", "variables"),
    [
        ({"password": "not-the-password"}, ("REDDIT_USERNAME", "REDDIT_PASSWORD")),
        ({"client_secret": "not-the-secret"}, ("REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET")),
    ],
)
def test_bad_credentials_name_the_variables_and_hide_the_secrets(
    sandbox: SandboxServer,
    account: dict[str, str],
    console: Console,
    wrong: dict[str, str],
    variables: tuple[str, str],
) -> None:
    reddit = client(sandbox, account, console, **wrong)
    with pytest.raises(CredentialError) as info:
        reddit.me()
    assert info.value.exit_code == 2
    said = info.value.message + (info.value.hint or "")
    assert all(v in info.value.message for v in variables)
    for secret in [*secrets_of(account), *wrong.values()]:
        assert secret not in said and secret not in console.text()


def test_custom_variable_names(
    sandbox: SandboxServer, account: dict[str, str], console: Console
) -> None:
    names = RedditVariables("APP_ID", "APP_SECRET", "BOT_NAME", "BOT_PASSWORD")
    reddit = client(sandbox, account, console, password="nope-nope", variables=names)
    with pytest.raises(CredentialError, match="BOT_PASSWORD"):
        reddit.me()


def test_ratelimit_refusal_is_waited_out_then_exits_4(
    sandbox: SandboxServer, admin: Admin, account: dict[str, str], console: Console
) -> None:
    slept: list[float] = []
    reddit = client(sandbox, account, console, sleep=slept.append, max_wait=120)
    admin.fault(
        path="/reddit/api/submit", action="rate_limit", kind="secondary", nth=1, retry_after=30
    )
    reddit.submit_link("ipfs", TITLE, LINK)
    assert slept == [30]
    assert "waiting 30 s" in console.text()
    admin.fault(path="/reddit/user/", action="rate_limit", nth=1, retry_after=7)
    assert reddit.find_link("ipfs", LINK) is not None  # 429: waited, then read again
    assert slept == [30, 7.0]
    admin.fault(path="/reddit/api/submit", action="rate_limit", kind="secondary", retry_after=540)
    with pytest.raises(RateLimited) as info:
        reddit.submit_link("programming", TITLE, LINK)
    assert info.value.exit_code == 4
    assert len(admin.get("reddit/submissions")) == 1


def test_submit_applied_answer_lost_is_ambiguous_and_found_once(
    sandbox: SandboxServer, admin: Admin, account: dict[str, str], console: Console
) -> None:
    reddit = client(sandbox, account, console)
    reddit.me()
    admin.fault(method="POST", path="/reddit/api/submit", action="drop_after", nth=1)
    with pytest.raises(AmbiguousWrite):
        reddit.submit_link("ipfs", TITLE, LINK)
    found = reddit.find_link("ipfs", LINK)
    assert found is not None
    assert [s["id"] for s in admin.get("reddit/submissions")] == [found.id]
    submits = [e for e in admin.log() if e["path"].startswith("/reddit/api/submit")]
    assert len(submits) == 1  # prawcore did not re-send it


def test_submit_answered_5xx_is_not_resent(
    sandbox: SandboxServer, admin: Admin, account: dict[str, str], console: Console
) -> None:
    reddit = client(sandbox, account, console)
    admin.fault(method="POST", path="/reddit/api/submit", action="error_after", status=503, nth=1)
    with pytest.raises(Exception) as info:
        reddit.submit_link("ipfs", TITLE, LINK)
    assert getattr(info.value, "status", None) == 503
    assert len(admin.get("reddit/submissions")) == 1
    assert reddit.find_link("ipfs", LINK) is not None


@pytest.mark.parametrize("kind", ["primary", "secondary"])
def test_a_rate_limit_on_reading_the_new_post_does_not_post_again(
    sandbox: SandboxServer, admin: Admin, account: dict[str, str], console: Console, kind: str
) -> None:
    """praw reads the post back (its permalink) after the submission: a rate limit on that
    read is waited out and the read repeated, never the submission (a second post)."""
    slept: list[float] = []
    reddit = client(sandbox, account, console, sleep=slept.append)
    reddit.me()
    admin.fault(method="GET", path="/reddit/comments/", action="rate_limit", kind=kind, nth=1)
    posted = reddit.submit_link("ipfs", TITLE, LINK)
    assert slept  # the rate limit was met and waited out
    assert [s["id"] for s in admin.get("reddit/submissions")] == [posted.id]
    assert posted.permalink.endswith(f"/r/ipfs/comments/{posted.id}/kubo_v1_2_0_is_out/")
