"""Post once: the one way a step writes to a channel (chat room, forum, webhook, comment).

A channel says where it posts and how to find a post again. ``announcement`` is the check:
the post found (DONE, with its URL), nothing yet (TODO), or, for a channel that can't be
searched (a Discord webhook), an attempt whose result was never recorded (UNKNOWN: the
operator looks and answers, nothing is re-sent blindly). ``post_once`` is the run: find it
again, else record the intent in the ledger, send once, record the result (or, when the
service refused it, that it was not sent).

A send whose answer is lost raises ``AmbiguousWrite``; the engine then checks again: a
searchable channel finds the post (or finds none, and the next run sends it), an
unsearchable one asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from releaser.errors import AmbiguousWrite, HTTPError, RateLimited, ReleaserError, UsageError
from releaser.step import Outcome

if TYPE_CHECKING:
    from releaser.api import StepContext


@dataclass(frozen=True)
class Post:
    """Where a message landed: a URL people can open, and the reference to look it up by
    (a message id; the URL itself where that is how it is found)."""

    url: str
    ref: str = ""

    @property
    def record(self) -> str:
        return self.ref or self.url


class Channel(Protocol):
    """One destination of one announcement."""

    @property
    def key(self) -> str:
        """Stable id of this destination in the ledger (``matrix:!room:server``)."""
        ...

    @property
    def where(self) -> str:
        """Human name: ``Matrix room #releases:example.org``."""
        ...

    @property
    def searchable(self) -> bool:
        """Whether ``find`` can see an earlier post (False: only ``get`` by its ref)."""
        ...

    def find(self) -> Post | None:
        """The announcement, found by its marker, title or link (searchable channels)."""
        ...

    def get(self, ref: str) -> Post | None:
        """The post recorded as ``ref`` (None: it is not there)."""
        ...

    def send(self) -> Post:
        """Post the announcement, once."""
        ...


def announcement(ctx: StepContext, channel: Channel) -> Outcome:
    """The check of a channel's announcement."""
    if channel.searchable:
        post = channel.find()
        if post is not None:
            return Outcome.done(f"posted in {channel.where}", post.url)
        return Outcome.todo(f"not announced in {channel.where} yet")
    intent = ctx.intent(channel.key)
    if intent is None:
        return Outcome.todo(f"not announced in {channel.where} yet")
    if intent.done and intent.evidence:
        post = channel.get(intent.evidence)
        if post is not None:
            return Outcome.done(f"posted in {channel.where}", post.url)
        return Outcome.unknown(
            f"the announcement in {channel.where} was sent by {intent.by} at {intent.at} "
            f"({intent.evidence}) but is not there any more: look, then confirm it or retry"
        )
    return Outcome.unknown(
        f"{intent.by} started the announcement in {channel.where} at {intent.at}, but its "
        "result was never recorded (the answer was lost, or the run stopped): look whether "
        "the message is there, then confirm it (with its link) or retry"
    )


def post_once(ctx: StepContext, channel: Channel) -> Post:
    """Send the announcement unless it is there; its post. Never sends twice."""
    if channel.searchable:
        found = channel.find()
        if found is not None:
            return found
    else:
        intent = ctx.intent(channel.key)
        if intent is not None:
            post = channel.get(intent.evidence) if intent.done and intent.evidence else None
            if post is not None:
                return post
            raise AmbiguousWrite(
                f"an announcement in {channel.where} was already attempted; not sending again",
                "check the channel, then `releaser confirm` it or retry",
            )
    ctx.record_intent(channel.key, f"post to {channel.where}")
    try:
        post = channel.send()
    except ReleaserError as exc:
        if not channel.searchable and not_applied(exc):
            ctx.record_unsent(channel.key, exc.message)  # nothing to ask about next time
        raise
    ctx.record_result(channel.key, post.record)
    return post


def not_applied(exc: ReleaserError) -> bool:
    """Whether a failed send certainly changed nothing: a refused credential or request (4xx),
    or a rate limit. A lost answer or a 5xx may have been applied."""
    if isinstance(exc, UsageError | RateLimited):
        return True
    return isinstance(exc, HTTPError) and 400 <= exc.status < 500 and exc.status not in (408, 409)
