"""The `promote` stage beyond the forge: Matrix rooms, a Discourse topic, a Reddit link post
and a Discord message, each posted once.

Every post goes through ``post_once``: a channel that can be read (Matrix, Discourse,
Reddit) is searched before posting, so a re-run or a lost answer never posts twice; a
Discord webhook can't be read, so the ledger holds the intent before the send and the
message id after it, and an attempt without a recorded result makes the step ask the
operator instead of sending again. Discourse and Reddit without credentials fall back to the
operator: the step shows exactly what to post, asks for the post's URL and checks it answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from releaser.api import (
    Action,
    Outcome,
    Pending,
    Result,
    Status,
    Step,
    StepContext,
    announcement,
    links_to,
    post_once,
)
from steps._channels import (
    DiscordMessage,
    DiscourseTopic,
    MatrixRoom,
    RedditLink,
    posted_by_hand,
)
from steps._messages import MESSAGE_NEEDS, marker, release_url, render
from steps._release import GITHUB_RELEASE

DISCORD_MAX = 2000  # characters Discord accepts in a message
DISCOURSE_STEP = "announce-on-discourse"
TOPIC_LINK = "Discuss this release on the forum: {url}"


def _promote(ctx: StepContext, table: str) -> Any:
    """``[promote.<table>]`` when it applies to this release (None otherwise)."""
    promote = ctx.config.promote
    section = getattr(promote, table) if promote is not None else None
    return section if section is not None and section.applies(ctx.version) else None


def _not_published(ctx: StepContext) -> Outcome | None:
    if ctx.need(GITHUB_RELEASE) is None:
        return Outcome.blocked(
            f"no GitHub release for {ctx.tag} yet: `releaser publish {ctx.version}`"
        )
    return None


# -- Matrix ---------------------------------------------------------------------------------


def _rooms(ctx: StepContext) -> list[Any]:
    promote = ctx.config.promote
    rooms = list(promote.matrix or []) if promote is not None else []
    return [room for room in rooms if room.applies(ctx.version)]


class AnnounceOnMatrix(Step):
    """Announce the release in every configured Matrix room, once.

    Each `[[promote.matrix]]` room (an alias or an id) gets its `message`, posted as the user
    of the access token in `token_env`, who joins the room first when it may. The event
    carries a marker in its content, looked for in the room's recent history before posting;
    the send's transaction id is derived from the release and the room, so a send retried
    after a lost answer is deduplicated by the homeserver.

    Why: the project's chat rooms are where many users hear of a release first.
    By hand: in each room (Element or any Matrix client), post the announcement: "{tag} is
    out!" with the release's link.
    """

    name = "announce-on-matrix"
    configured_by = ("promote.matrix",)
    needs = MESSAGE_NEEDS

    def applies(self, ctx: StepContext) -> bool:
        return bool(_rooms(ctx))

    def _channels(self, ctx: StepContext) -> list[MatrixRoom]:
        return [
            MatrixRoom(
                ctx.services.matrix(room),
                str(room.homeserver),
                str(room.room),
                marker(ctx),
                render(ctx, room.message),
            )
            for room in _rooms(ctx)
        ]

    def check(self, ctx: StepContext) -> Outcome:
        channels = self._channels(ctx)
        for channel in channels:  # the token and the rooms first: a dry run says what is wrong
            _ = channel.room_id
        blocked = _not_published(ctx)
        if blocked is not None:
            return blocked
        outcomes = [(c, announcement(ctx, c)) for c in channels]
        missing = [c.room for c, o in outcomes if o.status is not Status.DONE]
        if missing:
            return Outcome.todo(f"not announced in {', '.join(missing)} yet")
        rooms = ", ".join(c.room for c, _ in outcomes)
        return Outcome.done(f"posted in {rooms}", outcomes[0][1].evidence)

    def plan(self, ctx: StepContext) -> list[Action]:
        return [
            Action("post", f"to {channel.where} on {channel.homeserver}", channel.body)
            for channel in self._channels(ctx)
            if announcement(ctx, channel).status is not Status.DONE
        ]

    def run(self, ctx: StepContext) -> None:
        for channel in self._channels(ctx):
            post_once(ctx, channel)


# -- Discourse ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForumTopic:
    """The release's topic: found through the API, or the link the operator gave."""

    url: str
    topic_id: int | None = None
    pinned: bool = False


def _discourse_text(ctx: StepContext, section: Any) -> tuple[str, str]:
    """The topic's title and first post (the hidden marker at its end)."""
    raw = f"{render(ctx, section.message)}\n\n<!-- {marker(ctx)} -->"
    return render(ctx, section.title), raw


def _discourse_topic(ctx: StepContext) -> ForumTopic | None:
    section = _promote(ctx, "discourse")
    client = ctx.services.discourse(section)
    if client is None:
        answer = ctx.answer(DISCOURSE_STEP)
        return ForumTopic(answer.evidence) if answer is not None and answer.evidence else None
    title, _ = _discourse_text(ctx, section)
    topic = client.find_topic(title, marker(ctx))
    return None if topic is None else ForumTopic(topic.url, topic.id, topic.pinned)


DISCOURSE_TOPIC: Result[ForumTopic | None] = Result(
    "discourse-topic",
    _discourse_topic,
    needs=MESSAGE_NEEDS,
    pending="the topic {by} would create",
)


def _topic_channel(ctx: StepContext, section: Any) -> DiscourseTopic:
    client = ctx.services.discourse(section)
    assert client is not None  # only with api_key_env
    title, raw = _discourse_text(ctx, section)
    tags = tuple(str(t) for t in section.tags)
    return DiscourseTopic(client, title, raw, str(section.category), tags, marker(ctx))


def _topic_target(ctx: StepContext, section: Any) -> str:
    title, _ = _discourse_text(ctx, section)
    tags = f", tags {', '.join(section.tags)}" if section.tags else ""
    return f'topic "{title}" in {section.category}{tags} on {section.url}'


class AnnounceOnDiscourse(Step):
    """Open the release's topic on the Discourse forum, once.

    The topic is titled `[promote.discourse] title`, in `category` with `tags`; its first
    post is the `message` template (the changelog's highlights, the release's link) with a
    hidden marker, by which the topic is found again before anything is posted. Without
    `api_key_env` the operator posts it: the step shows the exact title, category, tags and
    body, asks for the topic's URL, checks that the page answers and records it.

    Why: the forum is where users discuss a release and find it later; its topic is the
    release's public thread.
    By hand: on the forum, open a topic in the category shown, with that title, tags and body;
    then `releaser confirm {version} announce-on-discourse --evidence TOPIC_URL`.
    """

    name = DISCOURSE_STEP
    configured_by = ("promote.discourse",)
    needs = (*MESSAGE_NEEDS, DISCOURSE_TOPIC)
    makes = (DISCOURSE_TOPIC,)

    def applies(self, ctx: StepContext) -> bool:
        return _promote(ctx, "discourse") is not None

    def check(self, ctx: StepContext) -> Outcome:
        section = _promote(ctx, "discourse")
        client = ctx.services.discourse(section)  # credentials first
        if client is not None:
            client.category_id(str(section.category))  # an unknown one: exit 2, in a dry run too
        blocked = _not_published(ctx)
        if blocked is not None:
            return blocked
        if client is None:
            return posted_by_hand(ctx, self.name, f"the forum {section.url}")
        topic = ctx.need(DISCOURSE_TOPIC)
        if topic is None:
            return Outcome.todo(f"no topic for {ctx.tag} on {section.url} yet")
        return Outcome.done(f"topic on {section.url}", topic.url)

    def plan(self, ctx: StepContext) -> list[Action]:
        section = _promote(ctx, "discourse")
        _, raw = _discourse_text(ctx, section)
        return [Action("create", _topic_target(ctx, section), raw)]

    def by_hand_plan(self, ctx: StepContext) -> list[Action]:
        section = _promote(ctx, "discourse")
        if ctx.services.discourse(section) is not None:
            return []
        _, raw = _discourse_text(ctx, section)
        return [Action("post", _topic_target(ctx, section), raw)]

    def run(self, ctx: StepContext) -> None:
        post_once(ctx, _topic_channel(ctx, _promote(ctx, "discourse")))


class PinDiscourseTopic(Step):
    """Pin the release's forum topic globally (`[promote.discourse] pin = true`).

    Why: a pinned topic stays at the top of the forum while the release is new.
    By hand: on the topic's page, wrench menu > Pin Topic > "pin it globally".
    """

    name = "pin-discourse-topic"
    configured_by = ("promote.discourse",)
    needs = (DISCOURSE_TOPIC,)

    def applies(self, ctx: StepContext) -> bool:
        section = _promote(ctx, "discourse")
        return section is not None and bool(section.pin) and bool(section.get("api_key_env"))

    def check(self, ctx: StepContext) -> Outcome:
        topic = ctx.need(DISCOURSE_TOPIC)
        if topic is None:
            return Outcome.blocked(f"no forum topic for {ctx.tag}: {DISCOURSE_STEP} opens it")
        if topic.pinned:
            return Outcome.done("pinned globally", topic.url)
        return Outcome.todo("the topic is not pinned")

    def plan(self, ctx: StepContext) -> list[Action]:
        topic = ctx.peek(DISCOURSE_TOPIC)
        shown = str(topic) if isinstance(topic, Pending) or topic is None else topic.url
        return [Action("pin", f"{shown} globally")]

    def run(self, ctx: StepContext) -> None:
        topic = ctx.need(DISCOURSE_TOPIC)
        client = ctx.services.discourse(_promote(ctx, "discourse"))
        if topic is not None and topic.topic_id is not None and client is not None:
            client.pin(topic.topic_id, globally=True)  # a PUT: safe to repeat


class LinkDiscourseTopic(Step):
    """Link the forum topic from the GitHub release's notes (finals), once.

    Why: readers of the release page find the discussion (questions, known issues) there.
    By hand: edit the release {tag} on GitHub and append "Discuss this release on the forum:
    TOPIC_URL" to its notes.
    """

    name = "link-discourse-topic"
    only = ("final",)
    configured_by = ("promote.discourse",)
    needs = (GITHUB_RELEASE, DISCOURSE_TOPIC)
    makes = (GITHUB_RELEASE,)

    def applies(self, ctx: StepContext) -> bool:
        return _promote(ctx, "discourse") is not None

    def check(self, ctx: StepContext) -> Outcome:
        release = ctx.need(GITHUB_RELEASE)
        if release is None:
            return Outcome.blocked(
                f"no GitHub release for {ctx.tag} yet: `releaser publish {ctx.version}`"
            )
        topic = ctx.need(DISCOURSE_TOPIC)
        if topic is None:
            return Outcome.blocked(
                f"the forum topic's URL is not known: {DISCOURSE_STEP} posts it, or "
                f"`releaser confirm {ctx.version} {DISCOURSE_STEP} --evidence URL`"
            )
        if links_to(release.body, topic.url):
            return Outcome.done("the release notes link the forum topic", release.html_url)
        return Outcome.todo("the release notes don't link the forum topic yet")

    def plan(self, ctx: StepContext) -> list[Action]:
        topic = ctx.peek(DISCOURSE_TOPIC)
        url = str(topic) if isinstance(topic, Pending) or topic is None else topic.url
        return [Action("update", f"the notes of the release {ctx.tag}", TOPIC_LINK.format(url=url))]

    def run(self, ctx: StepContext) -> None:
        release, topic = ctx.need(GITHUB_RELEASE), ctx.need(DISCOURSE_TOPIC)
        if release is None or topic is None or links_to(release.body, topic.url):
            return
        body = f"{release.body.rstrip()}\n\n{TOPIC_LINK.format(url=topic.url)}\n"
        ctx.forge.update_release(release.id, body=body)


# -- Reddit ---------------------------------------------------------------------------------


class AnnounceOnReddit(Step):
    """Post the release's link to the configured subreddit, once.

    A link post of the GitHub release's page to `r/SUBREDDIT`, titled `[promote.reddit]
    title`, as the account of the `*_env` variables; the account's recent submissions are
    searched for that link before posting. Without those variables the operator posts it:
    the step shows the exact title and link, asks for the post's URL, checks that it answers
    and records it.

    Why: Reddit reaches users who follow neither the forum nor the chat.
    By hand: on reddit.com, submit a link post to the subreddit with the title and the
    release's link; then `releaser confirm {version} announce-on-reddit --evidence POST_URL`.
    """

    name = "announce-on-reddit"
    configured_by = ("promote.reddit",)
    needs = MESSAGE_NEEDS

    def applies(self, ctx: StepContext) -> bool:
        return _promote(ctx, "reddit") is not None

    def _post(self, ctx: StepContext) -> Action:
        section = _promote(ctx, "reddit")
        target = f"a link to {release_url(ctx)} on r/{section.subreddit}"
        return Action("post", target, f"title: {render(ctx, section.title)}")

    def check(self, ctx: StepContext) -> Outcome:
        section = _promote(ctx, "reddit")
        client = ctx.services.reddit(section)  # credentials first
        blocked = _not_published(ctx)
        if blocked is not None:
            return blocked
        if client is None:
            return posted_by_hand(ctx, self.name, f"r/{section.subreddit}")
        return announcement(ctx, self._channel(ctx))

    def _channel(self, ctx: StepContext) -> RedditLink:
        section = _promote(ctx, "reddit")
        client = ctx.services.reddit(section)
        assert client is not None  # only with credentials
        title = render(ctx, section.title)
        return RedditLink(client, str(section.subreddit), title, release_url(ctx))

    def plan(self, ctx: StepContext) -> list[Action]:
        return [self._post(ctx)]

    def by_hand_plan(self, ctx: StepContext) -> list[Action]:
        if ctx.services.reddit(_promote(ctx, "reddit")) is not None:
            return []
        return [self._post(ctx)]

    def run(self, ctx: StepContext) -> None:
        post_once(ctx, self._channel(ctx))


# -- Discord --------------------------------------------------------------------------------


class AnnounceOnDiscord(Step):
    """Announce the release on Discord through the webhook, once.

    The webhook in `[promote.discord] webhook_env` posts the `message`. A webhook cannot read
    the channel, so the ledger records the intent before the send and the message's id after
    it; an attempt whose answer was lost (the message may be there) makes the step ask the
    operator instead of sending again, and a recorded message is checked by its id.

    Why: the project's Discord server is where many contributors and users gather.
    By hand: in the Discord channel, post the announcement: "{tag} is out!" with the
    release's link; if releaser asked whether it was sent, look for it there and answer
    (`releaser confirm {version} announce-on-discord --evidence MESSAGE_LINK`, or `--retry`
    when it is not there).
    """

    name = "announce-on-discord"
    configured_by = ("promote.discord",)
    needs = MESSAGE_NEEDS

    def applies(self, ctx: StepContext) -> bool:
        return _promote(ctx, "discord") is not None

    def _channel(self, ctx: StepContext) -> DiscordMessage:
        section = _promote(ctx, "discord")
        content = render(ctx, section.message)
        return DiscordMessage(ctx.services.discord(section), str(section.webhook_env), content)

    def check(self, ctx: StepContext) -> Outcome:
        channel = self._channel(ctx)  # credentials first
        blocked = _not_published(ctx)
        if blocked is not None:
            return blocked
        if len(channel.content) > DISCORD_MAX:
            return Outcome.failed(
                f"the message is {len(channel.content)} characters; Discord takes "
                f"{DISCORD_MAX}: shorten [promote.discord] message"
            )
        return announcement(ctx, channel)

    def plan(self, ctx: StepContext) -> list[Action]:
        channel = self._channel(ctx)
        return [Action("post", f"to {channel.where}", channel.content)]

    def by_hand_plan(self, ctx: StepContext) -> list[Action]:
        channel = self._channel(ctx)
        return [Action("look for", f"this message in {channel.where}'s channel", channel.content)]

    def run(self, ctx: StepContext) -> None:
        post_once(ctx, self._channel(ctx))
