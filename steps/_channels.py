"""The announcement channels other than the forge: a Matrix room, a Discourse topic, a Reddit
link post and a Discord webhook message, each a ``Channel`` for ``post_once`` (where it
posts, how a post is found again), and the operator's answer for a channel posted by hand.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from releaser.api import Outcome, Post, StepContext

if TYPE_CHECKING:
    from releaser.clients.discord import DiscordWebhook
    from releaser.clients.discourse import Discourse
    from releaser.clients.matrix import Matrix
    from releaser.clients.reddit import Reddit


@dataclass(frozen=True)
class MatrixRoom:
    """A room, found again by the marker in the event's content among its recent messages.
    The send's transaction id is derived from the marker and the room, so a re-sent request
    (after a lost answer) is deduplicated by the homeserver."""

    client: Matrix
    homeserver: str
    room: str  # alias or id, as configured
    marker: str
    body: str
    searchable = True

    @property
    def key(self) -> str:
        return f"matrix:{self.homeserver}:{self.room}"

    @property
    def where(self) -> str:
        return f"Matrix room {self.room}"

    @cached_property
    def room_id(self) -> str:
        return self.client.room_id(self.room)

    @property
    def txn_id(self) -> str:
        digest = hashlib.sha256(f"{self.marker}\n{self.room_id}".encode()).hexdigest()
        return f"releaser-{digest[:32]}"

    def find(self) -> Post | None:
        if not self.client.joined(self.room_id):
            return None  # never joined: nothing posted (and the history is not readable)
        event = self.client.find(self.room_id, self.marker)
        if event is None:
            return None
        return Post(self.client.event_url(self.room_id, event.event_id), event.event_id)

    def get(self, ref: str) -> Post | None:
        return self.find()

    def send(self) -> Post:
        self.client.ensure_joined(self.room_id)
        event = self.client.send(self.room_id, self.body, None, self.marker, self.txn_id)
        return Post(self.client.event_url(self.room_id, event.event_id), event.event_id)


@dataclass(frozen=True)
class DiscourseTopic:
    """A topic, found again by its title and the hidden marker in its first post."""

    client: Discourse
    title: str
    raw: str  # the first post, marker included
    category: str
    tags: tuple[str, ...]
    marker: str
    searchable = True

    @property
    def key(self) -> str:
        return f"discourse:{self.client.base_url}:{self.title}"

    @property
    def where(self) -> str:
        return f"the forum {self.client.base_url}"

    def find(self) -> Post | None:
        topic = self.client.find_topic(self.title, self.marker)
        return None if topic is None else Post(topic.url, str(topic.id))

    def get(self, ref: str) -> Post | None:
        return self.find()

    def send(self) -> Post:
        category = self.client.category_id(self.category)
        topic = self.client.create_topic(self.title, self.raw, category, list(self.tags))
        return Post(topic.url, str(topic.id))


@dataclass(frozen=True)
class RedditLink:
    """A link post, found again by its URL among the account's recent submissions."""

    client: Reddit
    subreddit: str
    title: str
    url: str
    searchable = True

    @property
    def key(self) -> str:
        return f"reddit:r/{self.subreddit}"

    @property
    def where(self) -> str:
        return f"r/{self.subreddit}"

    def find(self) -> Post | None:
        post = self.client.find_link(self.subreddit, self.url)
        return None if post is None else Post(post.permalink, post.id)

    def get(self, ref: str) -> Post | None:
        return self.find()

    def send(self) -> Post:
        post = self.client.submit_link(self.subreddit, self.title, self.url)
        return Post(post.permalink, post.id)


@dataclass(frozen=True)
class DiscordMessage:
    """A message through a webhook, which cannot list messages: found again only by the id
    the ledger holds (``post_once`` records the intent before the send, the id after)."""

    client: DiscordWebhook
    variable: str  # the webhook's variable: the URL itself is the secret
    content: str
    searchable = False

    @property
    def key(self) -> str:
        return f"discord:{self.variable}"

    @property
    def where(self) -> str:
        return f"Discord (the webhook in {self.variable})"

    def find(self) -> Post | None:
        return None

    def get(self, ref: str) -> Post | None:
        message = self.client.get(ref)
        return None if message is None else Post(self.client.message_url(message), message.id)

    def send(self) -> Post:
        message = self.client.send(self.content)
        return Post(self.client.message_url(message), message.id)


def posted_by_hand(ctx: StepContext, step: str, where: str) -> Outcome:
    """The check of a post the operator makes: their answer's link must answer; without an
    answer, the question (the engine shows what to post and records the answer)."""
    answer = ctx.answer()
    if answer is None:
        return Outcome.unknown(
            f"releaser has no credentials for {where}: post it by hand (exactly as shown), "
            "then give its URL"
        )
    if not answer.evidence:
        return Outcome.done(f"posted by hand, confirmed by {answer.by} at {answer.at} (no link)")
    if ctx.services.page_answers(answer.evidence):
        return Outcome.done(f"posted by hand on {where} ({answer.by})", answer.evidence)
    return Outcome.failed(
        f"the link {answer.evidence} that {answer.by} gave for {where} does not answer: "
        f"give the post's URL (`releaser confirm {ctx.version} {step} --evidence URL`), or "
        f"`releaser confirm {ctx.version} {step} --retry` to be asked again"
    )
