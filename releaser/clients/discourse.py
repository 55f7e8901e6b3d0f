"""Discourse through its HTTP API: who the key acts as, categories, finding, creating and
pinning a release topic.

A topic counts as the release's announcement only if its first post holds the release's
marker: ``find_topic`` looks through the search API and then the latest topics (search
indexing lags on a real forum), and reads each candidate's first post.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from releaser.clients.http import HTTPClient, Narrator, decode_quietly, retry_after
from releaser.errors import CredentialError, UsageError

LATEST_PAGES = 2  # pages of /latest.json looked through after search (30 topics each)


@dataclass(frozen=True)
class Topic:
    id: int
    title: str
    slug: str
    url: str  # the topic's web page
    category_id: int | None = None
    pinned: bool = False


class Discourse(HTTPClient):
    service = "the Discourse forum"
    config_key = "[promote.discourse] url"

    def __init__(
        self,
        url: str,
        api_key: str,
        api_username: str,
        ui: Narrator,
        *,
        credential: str = "DISCOURSE_API_KEY",
        **kwargs: Any,
    ) -> None:
        ui.redactor.add(api_key)
        headers = {"Api-Key": api_key, "Accept": "application/json"}
        if api_username:  # a key bound to one user acts as that user without it
            headers["Api-Username"] = api_username
        super().__init__(url, ui, headers=headers, **kwargs)
        self.api_username = api_username
        self.credential = credential

    # -- what the forum says ---------------------------------------------------------------

    def whoami(self) -> str:
        """The user the key acts as."""
        body = self.find_json("/session/current.json")
        if isinstance(body, dict) and isinstance(body.get("current_user"), dict):
            return str(body["current_user"]["username"])
        if not self.api_username:
            raise CredentialError(
                f"{self.service} {self.base_url} did not say whom the key in "
                f"{self.credential} acts as",
                "set [promote.discourse] api_username to the user the key acts as",
            )
        user = self.get_json(f"/u/{self.api_username}.json")
        return str(user["user"]["username"])

    def category_id(self, name: str) -> int:
        """The id of the category named ``name`` (or with that slug); a clear error otherwise."""
        body = self.get_json("/categories.json", params={"include_subcategories": "true"})
        categories = body["category_list"]["categories"]
        for cat in categories:
            if name.lower() in (str(cat["name"]).lower(), str(cat.get("slug", "")).lower()):
                return int(cat["id"])
        known = ", ".join(sorted(str(c["name"]) for c in categories)) or "none"
        raise UsageError(
            f"{self.base_url} has no category {name!r} (categories: {known})",
            "set [promote.discourse] category to one of them",
        )

    def topic(self, topic_id: int) -> Topic | None:
        body = self.find_json(f"/t/{topic_id}.json")
        return None if body is None else self._topic(body)

    def first_post_raw(self, topic_id: int) -> str | None:
        """The raw text of the topic's first post (None if the topic is gone)."""
        body = self._topic_with_raw(topic_id)
        return None if body is None else self._first_raw(body)

    def _topic_with_raw(self, topic_id: int) -> Any:
        """The topic with its posts' raw text: what both ``topic`` and ``first_post_raw``
        read (one request serves both)."""
        return self.find_json(f"/t/{topic_id}.json", params={"include_raw": "1"})

    def _first_raw(self, body: Any) -> str | None:
        posts = body.get("post_stream", {}).get("posts", [])
        first = next((p for p in posts if p.get("post_number") == 1), None)
        if first is not None and "raw" in first:
            return str(first["raw"])
        stream = body.get("post_stream", {}).get("stream", [])
        if not stream:
            return None
        post = self.find_json(f"/posts/{stream[0]}.json")
        return None if post is None else str(post.get("raw", ""))

    def find_topic(self, title: str, marker: str) -> Topic | None:
        """The topic whose first post holds ``marker``: search for the title, then the latest
        topics with that title; None when there is none."""
        seen: set[int] = set()
        for candidate in self._candidates(title):
            topic_id = int(candidate["id"])
            if topic_id in seen:
                continue
            seen.add(topic_id)
            body = self._topic_with_raw(topic_id)
            raw = None if body is None else self._first_raw(body)
            if raw is not None and marker in raw:
                return self._topic(body)
        return None

    def is_pinned(self, topic_id: int) -> bool:
        topic = self.topic(topic_id)
        return topic is not None and topic.pinned

    # -- writes -----------------------------------------------------------------------------

    def create_topic(self, title: str, raw: str, category_id: int, tags: list[str]) -> Topic:
        """A new topic (one POST: a lost answer is AmbiguousWrite, never re-sent)."""
        body = self.send_json(
            "POST",
            "/posts.json",
            {"title": title, "raw": raw, "category": category_id, "tags": list(tags)},
        )
        topic_id, slug = int(body["topic_id"]), str(body["topic_slug"])
        return Topic(topic_id, title, slug, self.topic_url(slug, topic_id), category_id)

    def pin(self, topic_id: int, globally: bool = False) -> None:
        """Pin the topic (a PUT: safe to repeat)."""
        status = "pinned_globally" if globally else "pinned"
        self.request(
            "PUT",
            f"/t/{topic_id}/status.json",
            content=urlencode({"status": status, "enabled": "true"}).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

    # -- the service's own shapes ---------------------------------------------------------------

    def refusal(self, response: httpx.Response) -> Exception:
        body = decode_quietly(response)
        if response.status_code in (401, 403) and (
            response.status_code == 401
            or (isinstance(body, dict) and body.get("error_type") == "invalid_access")
        ):
            who = repr(self.api_username) if self.api_username else "its user"
            return CredentialError(
                f"{self.service} refused the API key in {self.credential} acting as "
                f"{who} ({response.status_code} {self.error_message(response)})",
                f"set {self.credential} to a key for {who} with the rights to "
                "create and pin topics (`releaser doctor` checks it)",
            )
        return super().refusal(response)

    def error_message(self, response: httpx.Response) -> str:
        body = decode_quietly(response)
        if isinstance(body, dict) and isinstance(body.get("errors"), list):
            return self.ui.redactor.redact("; ".join(str(e) for e in body["errors"]))
        return super().error_message(response)

    def rate_limit_wait(self, response: httpx.Response) -> float | None:
        if response.status_code != 429:
            return None
        body = decode_quietly(response)
        extras = body.get("extras") if isinstance(body, dict) else None
        default = float(extras.get("wait_seconds", 10)) if isinstance(extras, dict) else 10.0
        return retry_after(response.headers, default=default)

    # -- internals --------------------------------------------------------------------------

    def topic_url(self, slug: str, topic_id: int) -> str:
        return f"{self.base_url}/t/{slug}/{topic_id}"

    def _topic(self, body: dict[str, Any]) -> Topic:
        topic_id, slug = int(body["id"]), str(body["slug"])
        return Topic(
            topic_id,
            str(body["title"]),
            slug,
            self.topic_url(slug, topic_id),
            body.get("category_id"),
            bool(body.get("pinned") or body.get("pinned_globally")),
        )

    def _candidates(self, title: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        words = title.replace('"', " ").strip()
        if words:
            search = self.request("GET", "/search.json", params={"q": f'"{words}"'}, ok=(400,))
            if search.status_code == 200:
                found += list(search.json().get("topics", []))
        for page in range(LATEST_PAGES):
            latest = self.get_json("/latest.json", params={"page": page})["topic_list"]
            found += [t for t in latest["topics"] if str(t["title"]).strip() == title.strip()]
            if not latest.get("more_topics_url"):
                break
        return found


def page_answers(url: str, ui: Narrator) -> bool:
    """Whether an operator-given URL answers (2xx after redirects); False on 4xx, Unreachable
    when the host can't be reached."""
    client = HTTPClient(url, ui, follow_redirects=True)
    client.service = "the page"
    try:
        response = client.request("GET", "", ok=range(400, 500))
    finally:
        client.close()
    return response.status_code < 400
