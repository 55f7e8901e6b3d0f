"""The promote stage on Matrix, Discourse, Reddit and Discord: the sandbox's services, real HTTP.

Each channel gets exactly one message; a re-run writes nothing; an answer lost right after
each send still ends with one message per channel (or, for Discord, which can't be read, with a
question to the operator), never two. Credentials come from the sandbox's accounts
(``seed_channels``) and are grepped for in everything releaser printed and logged.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from releaser.errors import InputNeeded, ReleaserError, StillRunning, UsageError
from releaser.sandbox.seed import seed_channels
from releaser.step import Status
from tests.steps.test_promote import published

FINAL = "v1.2.0"
RC = "v1.2.0-rc1"
PROMOTE = "promote"
CHANNELS = (
    "announce-on-matrix",
    "announce-on-discourse",
    "announce-on-reddit",
    "announce-on-discord",
)


# -- what the services hold ----------------------------------------------------------------


def admin(project, path: str) -> Any:
    response = httpx.get(f"{project.info['admin_url']}/{path}", timeout=30)
    response.raise_for_status()
    return response.json()


def matrix_messages(project) -> list[dict[str, Any]]:
    room = quote(project.channels.room, safe="")
    events = admin(project, f"matrix/rooms/{room}/events")
    return [e for e in events if e["type"] == "m.room.message"]


def topics(project) -> list[dict[str, Any]]:
    return list(admin(project, "discourse/topics"))


def submissions(project) -> list[dict[str, Any]]:
    return list(admin(project, "reddit/submissions"))


def discord_messages(project) -> list[dict[str, Any]]:
    return list(admin(project, f"discord/webhooks/{project.channels.webhook_id}/messages"))


def posted(project) -> dict[str, int]:
    return {
        "matrix": len(matrix_messages(project)),
        "discourse": len(topics(project)),
        "reddit": len(submissions(project)),
        "discord": len(discord_messages(project)),
    }


ONE_EACH = {"matrix": 1, "discourse": 1, "reddit": 1, "discord": 1}


def release_body(project, tag: str) -> str:
    return str(project.repo.get_release(tag).body)


def assert_no_secret(project, *texts: str) -> None:
    assert project.channels is not None
    for value in project.channels.env.values():
        if "announcer" in value:  # the Reddit account's name is public, not a secret
            continue
        for text in texts:
            assert value not in text


def by_step(results) -> dict[str, Any]:
    return {r.step: r for r in results}


# -- every channel, once --------------------------------------------------------------------


def test_every_channel_gets_one_message_and_a_rerun_writes_nothing(make_project) -> None:
    project = make_project(channels=True)
    published(project, FINAL)

    mark = len(project.requests())
    project.run_stage(FINAL, PROMOTE, dry_run=True)
    assert project.writes_since(mark) == []
    out = project.output()
    release_url = f"{project.info['api_url'].removesuffix('/api/v3')}/acme/example/releases/tag/"
    # every message exactly as it would be posted
    assert "would post to Matrix room #releases:sandbox on http" in out
    assert f"│ example v1.2.0 is out! {release_url}v1.2.0" in out
    assert 'would create topic "example v1.2.0 is out!" in News, tags release on http' in out
    assert "│ - Add retry with timeouts (#1) by @alice" in out  # the changelog's highlights
    assert "│ <!-- releaser:announce acme/example v1.2.0 -->" in out
    assert f"would post a link to {release_url}v1.2.0 on r/example" in out
    assert "│ title: example v1.2.0 is out!" in out
    assert "would post to Discord (the webhook in SANDBOX_DISCORD_WEBHOOK_URL)" in out
    assert "would pin the topic announce-on-discourse would create globally" in out
    assert "would update the notes of the release v1.2.0" in out

    results = by_step(project.run_stage(FINAL, PROMOTE, verbose=True))
    printed = project.output()
    for name in (*CHANNELS, "pin-discourse-topic", "link-discourse-topic"):
        assert results[name].status is Status.DONE and results[name].acted, name
    assert posted(project) == ONE_EACH

    [message] = matrix_messages(project)
    assert message["sender"] == "@releasebot:sandbox"
    assert message["content"]["body"] == f"example v1.2.0 is out! {release_url}v1.2.0"
    assert message["content"]["org.releaser.marker"] == "releaser:announce acme/example v1.2.0"
    assert message["event_id"] in quote_back(results["announce-on-matrix"].evidence)

    [topic] = topics(project)
    assert topic["title"] == "example v1.2.0 is out!" and topic["pinned_globally"]
    assert results["announce-on-discourse"].evidence.endswith(f"/t/{topic['slug']}/{topic['id']}")
    assert "- Support JSON output (#2) by @bob" in topic["raw"]
    assert release_body(project, FINAL).count(results["announce-on-discourse"].evidence) == 1

    [link] = submissions(project)
    assert link["url"] == f"{release_url}v1.2.0" and link["subreddit"] == "example"
    assert results["announce-on-reddit"].evidence.endswith(link["permalink"])

    [sent] = discord_messages(project)
    assert sent["content"] == f"example v1.2.0 is out! {release_url}v1.2.0"
    discord_link = results["announce-on-discord"].evidence
    assert discord_link.endswith(f"/{sent['channel_id']}/{sent['id']}")
    assert httpx.get(discord_link, timeout=30).status_code == 200  # the message's page

    log = (project.server.forge.root / "requests.log").read_text()
    assert_no_secret(
        project, printed, log, project.file("ledger.json", "refs/releaser/v1.2.0") or ""
    )

    mark = len(project.requests())
    again = by_step(project.run_stage(FINAL, PROMOTE))
    assert project.writes_since(mark) == []  # every channel was read, nothing posted
    status = project.cli("status", FINAL, "--json")  # the checks, in parallel threads
    assert status.exit_code == 0, status.output
    [promote] = [s for s in json.loads(status.output)["stages"] if s["stage"] == PROMOTE]
    shown = {step["step"]: step for step in promote["steps"]}
    for name in CHANNELS:
        assert shown[name]["status"] == "done" and shown[name]["evidence"], name
    assert_no_secret(project, status.output)
    assert all(again[name].status is Status.DONE and not again[name].acted for name in CHANNELS)
    assert posted(project) == ONE_EACH


def test_the_forum_link_counts_at_the_address_the_forum_had(make_project) -> None:
    """The notes link the topic at an older address of the forum (it moved, or the sandbox
    came back on another port): linked, not linked twice; another topic's link is not it."""
    project = make_project(channels=True)
    published(project, FINAL)
    results = by_step(project.run_stage(FINAL, PROMOTE))
    topic_url = results["announce-on-discourse"].evidence
    release = project.repo.get_release(FINAL)
    scheme_host = topic_url.split("/discourse/", 1)[0]
    moved = release.body.replace(scheme_host, "https://forum.old.example")
    assert moved != release.body
    release.update_release(release.name, moved)

    mark = len(project.requests())
    again = by_step(project.run_stage(FINAL, PROMOTE))
    assert again["link-discourse-topic"].status is Status.DONE
    assert project.writes_since(mark) == []

    release = project.repo.get_release(FINAL)
    release.update_release(
        release.name, moved.replace(topic_url.rsplit("/", 1)[1] + "\n", "9999\n")
    )
    assert "/discourse/t/" in release_body(project, FINAL)  # a link to another topic only
    after = by_step(project.run_stage(FINAL, PROMOTE))
    assert after["link-discourse-topic"].acted
    assert release_body(project, FINAL).count(topic_url) == 1


def quote_back(url: str | None) -> str:
    from urllib.parse import unquote

    return unquote(url or "")


@pytest.mark.slow
def test_an_rc_is_announced_apart_from_the_final_and_never_linked(make_project) -> None:
    project = make_project(channels=True)
    # a second room, configured by its id, with a message of its own
    url = f"{project.info['admin_url']}/matrix/rooms"
    other = httpx.post(url, json={"alias": "#dev:sandbox", "public": True}, timeout=30).json()
    text = project.config_path.read_text()
    second = f"""
[[promote.matrix]]
homeserver = "{project.info["matrix_url"]}"
room = "{other["room_id"]}"
token_env = "SANDBOX_MATRIX_TOKEN"
message = "{{tag}} is out, please test it: {{release_url}} ({{issue_url}})"
"""
    project.config_path.write_text(text + second)
    published(project, RC)
    results = by_step(project.run_stage(RC, PROMOTE))
    events = admin(project, f"matrix/rooms/{quote(other['room_id'], safe='')}/events")
    [message] = [e for e in events if e["type"] == "m.room.message"]
    assert message["content"]["body"].startswith("v1.2.0-rc1 is out, please test it: http")
    assert "/acme/example/issues/" in message["content"]["body"]  # {issue_url}
    assert "link-discourse-topic" not in results or results["link-discourse-topic"].status == (
        "skipped"
    )
    assert posted(project) == ONE_EACH
    assert topics(project)[0]["title"] == "example v1.2.0-rc1 is out!"
    assert "forum" not in release_body(project, RC)


# -- a fault right after each send ----------------------------------------------------------

SENDS = (
    ("PUT", r"/_matrix/client/v3/rooms/[^/]+/send/"),
    ("POST", r"/discourse/posts\.json$"),
    ("PUT", r"/discourse/t/\d+/status\.json$"),
    ("POST", r"/reddit/api/submit/?$"),
    ("PATCH", r"/api/v3/repos/acme/example/releases/\d+$"),
)


@pytest.mark.parametrize(
    "action", ["error_after", pytest.param("drop_after", marks=pytest.mark.slow)]
)
def test_an_answer_lost_after_each_send_still_posts_once(make_project, action: str) -> None:
    """Each write is applied, then its answer is lost (a 502, or the connection dropped): the
    step's re-check finds it (Matrix: the retried PUT is deduplicated by its transaction id)."""
    project = make_project(channels=True)
    published(project, FINAL)
    project.faults(
        *({"method": m, "path": p, "action": action, "status": 502, "nth": 1} for m, p in SENDS)
    )
    results = by_step(project.run_stage(FINAL, PROMOTE))
    project.clear_faults()
    assert all(results[n].status is Status.DONE for n in CHANNELS), project.output()
    assert posted(project) == ONE_EACH
    assert topics(project)[0]["pinned_globally"]
    assert release_body(project, FINAL).count("Discuss this release on the forum") == 1
    faulted = [e for e in project.requests() if e.get("dropped") or e["status"] == 502]
    assert len(faulted) == len(SENDS)  # every fault fired


def test_discord_answer_lost_asks_the_operator_and_never_sends_twice(make_project) -> None:
    project = make_project(channels=True)
    published(project, FINAL)
    project.faults(
        {
            "method": "POST",
            "path": r"/discord/api/webhooks/",
            "action": "error_after",
            "status": 502,
        }
    )
    with pytest.raises(InputNeeded) as info:
        project.run_stage(FINAL, PROMOTE)
    project.clear_faults()
    assert info.value.exit_code == 3
    assert "announce-on-discord" in info.value.message
    assert "releaser confirm v1.2.0 announce-on-discord --evidence URL" in (info.value.hint or "")
    out = project.output()
    assert "by hand: look for this message in Discord (the webhook in " in out
    assert len(discord_messages(project)) == 1

    mark = len(project.requests())  # asked again, nothing re-sent
    with pytest.raises(InputNeeded):
        project.run_stage(FINAL, PROMOTE)
    assert [e for e in project.writes_since(mark) if "/discord/" in e["path"]] == []

    [sent] = discord_messages(project)
    link = f"{project.info['discord_url'].removesuffix('/api')}/channels/x/y/{sent['id']}"
    done = project.cli("confirm", FINAL, "announce-on-discord", "--evidence", link)
    assert done.exit_code == 0, done.output
    mark = len(project.requests())
    results = by_step(project.run_stage(FINAL, PROMOTE))
    assert results["announce-on-discord"].status is Status.DONE
    assert results["announce-on-discord"].evidence == link
    assert [e for e in project.writes_since(mark) if "/discord/" in e["path"]] == []
    assert len(discord_messages(project)) == 1


@pytest.mark.slow
def test_discord_the_operator_says_it_did_not_happen_then_it_is_sent(make_project) -> None:
    project = make_project(channels=True)
    published(project, FINAL)
    # the request never reaches Discord, but the answer can't tell: releaser must ask
    project.faults({"method": "POST", "path": r"/discord/api/webhooks/", "action": "drop"})
    with pytest.raises(InputNeeded):
        project.run_stage(FINAL, PROMOTE)
    project.clear_faults()
    assert discord_messages(project) == []
    retry = project.cli("confirm", FINAL, "announce-on-discord", "--retry")
    assert retry.exit_code == 0, retry.output
    results = by_step(project.run_stage(FINAL, PROMOTE))
    assert results["announce-on-discord"].status is Status.DONE
    assert len(discord_messages(project)) == 1
    mark = len(project.requests())
    project.run_stage(FINAL, PROMOTE)  # the message is found again by its recorded id
    assert project.writes_since(mark) == [] and len(discord_messages(project)) == 1


@pytest.mark.slow
def test_discord_a_refused_send_is_sent_again_without_asking(make_project) -> None:
    project = make_project(channels=True)
    published(project, FINAL)
    project.faults(
        {"method": "POST", "path": r"/discord/api/webhooks/", "action": "error", "status": 400}
    )
    with pytest.raises(ReleaserError) as info:
        project.run_stage(FINAL, PROMOTE)
    project.clear_faults()
    assert not isinstance(info.value, InputNeeded) and "400" in info.value.message
    results = by_step(project.run_stage(FINAL, PROMOTE))  # a 400 changed nothing: no question
    assert results["announce-on-discord"].status is Status.DONE
    assert len(discord_messages(project)) == 1


@pytest.mark.slow
def test_discord_message_gone_since_it_was_recorded_is_a_question(make_project) -> None:
    project = make_project(channels=True)
    published(project, FINAL)
    project.run_stage(FINAL, PROMOTE)
    [sent] = discord_messages(project)
    project.faults(
        {
            "method": "GET",
            "path": rf"/discord/api/webhooks/.*/messages/{sent['id']}$",
            "action": "error",
            "status": 404,
            "body": {"message": "Unknown Message", "code": 10008},
        }
    )
    with pytest.raises(InputNeeded, match="is not there any more"):
        project.run_stage(FINAL, PROMOTE)
    assert len(discord_messages(project)) == 1


# -- no credentials: a clear error, or the operator --------------------------------------------


@pytest.mark.parametrize(
    "variable, step",
    [
        ("SANDBOX_MATRIX_TOKEN", "announce-on-matrix"),
        ("SANDBOX_DISCOURSE_API_KEY", "announce-on-discourse"),
        ("SANDBOX_REDDIT_PASSWORD", "announce-on-reddit"),
        ("SANDBOX_DISCORD_WEBHOOK_URL", "announce-on-discord"),
    ],
)
def test_a_missing_credential_is_exit_2_naming_it(make_project, variable: str, step: str) -> None:
    """Before anything is released: a dry run of the release shows it, writing nothing."""
    project = make_project(channels=True)
    del project.env[variable]
    mark = len(project.requests())
    with pytest.raises(UsageError) as info:
        project.run_stage(FINAL, PROMOTE, only=step, dry_run=True)
    assert info.value.exit_code == 2
    assert info.value.message.startswith(f"{step}: {variable} is not set")
    assert project.writes_since(mark) == []


def test_an_unknown_forum_category_is_named_with_the_ones_there(make_project) -> None:
    project = make_project(channels=True)
    text = project.config_path.read_text()
    project.config_path.write_text(text.replace('category = "News"', 'category = "Nope"'))
    with pytest.raises(UsageError) as info:
        project.run_stage(FINAL, PROMOTE, only="announce-on-discourse", dry_run=True)
    assert "has no category 'Nope' (categories: News)" in info.value.message


def test_matrix_refusals_are_clear(make_project) -> None:
    project = make_project(channels=True)
    project.env["SANDBOX_MATRIX_TOKEN"] = "syt_not_a_token_at_all_0123456789"
    with pytest.raises(UsageError, match="refused the access token in SANDBOX_MATRIX_TOKEN"):
        project.run_stage(FINAL, PROMOTE, only="announce-on-matrix")
    assert "syt_not_a_token_at_all" not in project.output()

    assert project.channels is not None
    project.env.update(project.channels.env)  # the right token, but another user_id
    text = project.config_path.read_text()
    project.config_path.write_text(text.replace('"@releasebot:sandbox"', '"@someone:sandbox"'))
    with pytest.raises(UsageError) as info:
        project.run_stage(FINAL, PROMOTE, only="announce-on-matrix")
    assert "SANDBOX_MATRIX_TOKEN is the access token of @releasebot:sandbox, not of " in (
        info.value.message
    )


def configure_room(project, room: str) -> None:
    text = project.config_path.read_text()
    project.config_path.write_text(re.sub(r'(?m)^room = ".*"$', f'room = "{room}"', text))


def test_matrix_unknown_room_is_a_clear_error_before_the_release(make_project) -> None:
    project = make_project(channels=True)
    configure_room(project, "#nowhere:sandbox")
    with pytest.raises(UsageError) as info:
        project.run_stage(FINAL, PROMOTE, only="announce-on-matrix", dry_run=True)
    assert "the room alias #nowhere:sandbox does not exist" in info.value.message
    assert "[promote.matrix] room" in (info.value.hint or "")


@pytest.mark.slow
def test_matrix_a_room_it_may_not_join_then_is_invited_to(make_project) -> None:
    project = make_project(channels=True)
    published(project, FINAL)

    url = f"{project.info['admin_url']}/matrix/rooms"
    private = {"alias": "#private:sandbox", "public": False}
    httpx.post(url, json=private, timeout=30).raise_for_status()
    configure_room(project, "#private:sandbox")
    with pytest.raises(UsageError) as info:
        project.run_stage(FINAL, PROMOTE, only="announce-on-matrix")
    assert info.value.exit_code == 2
    assert "@releasebot:sandbox may not join" in info.value.message
    assert "invite the posting user" in (info.value.hint or "")

    invite = {"user_id": "@releasebot:sandbox", "membership": "invite"}
    httpx.post(f"{url}/{quote('#private:sandbox')}/members", json=invite, timeout=30)
    results = by_step(project.run_stage(FINAL, PROMOTE, only="announce-on-matrix"))
    assert results["announce-on-matrix"].status is Status.DONE  # invited: it joins, posts


@pytest.mark.slow
def test_matrix_rate_limit_longer_than_the_wait_is_exit_4(make_project) -> None:
    project = make_project(channels=True, extra="\n[engine]\nrate_limit_wait = 1\n")
    published(project, FINAL)
    project.faults(
        {
            "method": "PUT",
            "path": r"/_matrix/client/v3/rooms/[^/]+/send/",
            "action": "rate_limit",
            "status": 429,
            "retry_after": 120,
        }
    )
    with pytest.raises(StillRunning) as info:
        project.run_stage(FINAL, PROMOTE, only="announce-on-matrix")
    assert info.value.exit_code == 4 and "rate limit" in info.value.message
    assert matrix_messages(project) == []


MANUAL = """
[promote.discourse]
url = "https://discuss.example.org"
category = "News"
tags = ["example", "release"]

[promote.reddit]
subreddit = "example"
"""


def forum_pages(project, count: int) -> list[str]:
    """Pages that answer (topics on the sandbox's forum), as links an operator would give."""
    admin = f"{project.info['admin_url']}/discourse"
    httpx.post(f"{admin}/users", json={"username": "someone"}, timeout=30).raise_for_status()
    key = httpx.post(f"{admin}/api_keys", json={"username": "someone"}, timeout=30).json()
    category = httpx.post(f"{admin}/categories", json={"name": "General"}, timeout=30).json()
    pages = []
    for n in range(count):
        topic = httpx.post(
            f"{project.info['discourse_url']}/posts.json",
            json={
                "title": f"Posted by hand {n}",
                "raw": "Posted by the operator.",
                "category": category["id"],
            },
            headers={"Api-Key": key["key"]},
            timeout=30,
        ).json()
        pages.append(f"{project.info['discourse_url']}/t/{topic['topic_slug']}/{topic['topic_id']}")
    return pages


def test_without_credentials_the_operator_posts_and_gives_the_link(make_project) -> None:
    project = make_project(extra=MANUAL)
    published(project, FINAL)
    topic, reddit = forum_pages(project, 2)
    with pytest.raises(InputNeeded) as info:
        project.run_stage(FINAL, PROMOTE)
    assert info.value.exit_code == 3 and "announce-on-discourse" in info.value.message
    out = project.output()
    # exactly what to post: title, category, tags and body
    assert (
        'by hand: post topic "example v1.2.0 is out!" in News, tags example, release on '
        "https://discuss.example.org" in out
    )
    assert "│ - Add retry with timeouts (#1) by @alice" in out
    assert "│ <!-- releaser:announce acme/example v1.2.0 -->" in out

    # the operator posted it; the link they give must answer
    gone = topic.rsplit("/", 1)[0] + "/999999"
    bad = project.cli("confirm", FINAL, "announce-on-discourse", "--evidence", gone)
    assert bad.exit_code == 0, bad.output
    with pytest.raises(ReleaserError, match="does not answer"):
        project.run_stage(FINAL, PROMOTE)
    good = project.cli("confirm", FINAL, "announce-on-discourse", "--evidence", topic)
    assert good.exit_code == 0, good.output

    with pytest.raises(InputNeeded) as info:  # now Reddit's turn
        project.run_stage(FINAL, PROMOTE)
    assert "announce-on-reddit" in info.value.message
    assert "by hand: post a link to http" in project.output()
    assert "│ title: example v1.2.0 is out!" in project.output()
    assert project.cli("confirm", FINAL, "announce-on-reddit", "--evidence", reddit).exit_code == 0

    results = by_step(project.run_stage(FINAL, PROMOTE))
    assert results["announce-on-discourse"].evidence == topic
    assert results["announce-on-reddit"].evidence == reddit
    assert results["link-discourse-topic"].status is Status.DONE  # the link the operator gave
    assert release_body(project, FINAL).count(topic) == 1
    mark = len(project.requests())
    project.run_stage(FINAL, PROMOTE)
    assert project.writes_since(mark) == []


@pytest.mark.slow
def test_the_operator_answers_at_the_prompt_and_the_link_is_checked(
    make_project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The prompt itself needs a terminal, which tests don't have: its answers are given here."""
    from releaser import prompts
    from releaser.context import Options

    project = make_project(extra=MANUAL)
    published(project, FINAL)
    [page] = forum_pages(project, 1)
    answers = iter([page, page])
    monkeypatch.setattr(Options, "interactive", property(lambda self: True))
    monkeypatch.setattr(prompts, "choose", lambda question, choices: choices[0])
    monkeypatch.setattr(prompts, "text", lambda question: next(answers))
    results = by_step(project.run_stage(FINAL, PROMOTE, non_interactive=False))
    assert results["announce-on-discourse"].status is Status.DONE
    assert results["announce-on-discourse"].evidence == page
    assert "posted by hand on the forum https://discuss.example.org" in (
        results["announce-on-discourse"].detail
    )
    assert results["announce-on-reddit"].evidence == page


def test_status_and_doctor_and_env_know_every_channel(make_project) -> None:
    project = make_project(channels=True)
    doctor = project.cli("doctor")
    out = re.sub(r"\s+", " ", doctor.output)
    assert "matrix #releases:sandbox" in out and "posting as @releasebot:sandbox" in out
    assert "the key acts as releasebot; category News exists" in out
    assert "posting as u/" in out  # the account's name is read as a credential: redacted
    assert "'Releases'" in out and "discord webhook" in out
    assert "unchecked" not in out and "no step acts on it yet" not in out
    assert_no_secret(project, doctor.output)

    env = project.cli("env", "--output", str(project.root / "template.env"))
    assert env.exit_code == 0, env.output
    template = (project.root / "template.env").read_text()
    for variable in project.env:
        assert variable in template
    assert_no_secret(project, template)


# -- Kubo's promote section -----------------------------------------------------------------


def kubo_promote(project) -> str:
    """docs/examples/kubo.toml's [promote.*] tables, pointed at the sandbox's services."""
    import json
    import tomllib
    from pathlib import Path

    kubo = tomllib.loads((Path(__file__).parents[2] / "docs/examples/kubo.toml").read_text())
    promote = kubo["promote"]
    for room in promote["matrix"]:
        room["homeserver"] = project.info["matrix_url"]
        room["room"] = project.channels.room
    promote["discourse"]["url"] = project.info["discourse_url"]
    lines = []
    for name, table in promote.items():
        for item in table if isinstance(table, list) else [table]:
            lines.append(f"[[promote.{name}]]" if isinstance(table, list) else f"[promote.{name}]")
            lines += [f"{key} = {json.dumps(value)}" for key, value in item.items()]
            lines.append("")
    return "\n".join(lines)


def test_kubo_promote_section_plans_and_dry_runs_with_every_channel(make_project) -> None:
    project = make_project()
    project.channels = seed_channels(project.info)
    text = project.config_path.read_text()
    project.config_path.write_text(text + "\n" + kubo_promote(project))
    project.env["MATRIX_TOKEN"] = project.channels.env["SANDBOX_MATRIX_TOKEN"]
    project.env["DISCORD_WEBHOOK_URL"] = project.channels.env["SANDBOX_DISCORD_WEBHOOK_URL"]

    plan = project.cli("plan", FINAL)
    assert plan.exit_code == 0, plan.output
    for name in (*CHANNELS, "announce-on-tracking-issue", "link-discourse-topic"):
        assert re.search(rf"\d\. {name}:", plan.output), name
    assert "no step acts on it yet" not in plan.output
    rc_plan = project.cli("plan", RC).output
    assert re.search(r"\d\. announce-on-matrix:", rc_plan)
    assert not re.search(r"\d\. announce-on-reddit:", rc_plan)  # kubo: finals only
    assert not re.search(r"\d\. link-discourse-topic:", rc_plan)

    published(project, FINAL)
    mark = len(project.requests())
    results = by_step(project.run_stage(FINAL, PROMOTE, dry_run=True))
    assert project.writes_since(mark) == []
    out = project.output()
    assert "would post to Matrix room #releases:sandbox on http" in out
    assert "│ example v1.2.0 is out! http" in out
    # no Discourse key, no Reddit credentials: the operator is shown exactly what to post
    assert 'by hand: post topic "example v1.2.0 is out!" in News, tags kubo, go-ipfs on' in out
    assert "│ example v1.2.0 is out! Highlights:" in out
    assert "│ - Add retry with timeouts (#1) by @alice" in out
    assert "│ Changelog: http" in out and "/blob/v1.2.0/CHANGELOG.md" in out
    assert "by hand: post a link to http" in out and "on r/ipfs" in out
    assert "would post to Discord (the webhook in DISCORD_WEBHOOK_URL)" in out
    assert "would comment on #" in out and "early testers, please try it" in out
    assert results["announce-on-discourse"].status is Status.UNKNOWN
    assert results["announce-on-reddit"].status is Status.UNKNOWN
    assert results["link-discourse-topic"].status == "planned"
    assert "after announce-on-discourse" in results["link-discourse-topic"].detail
