"""A Discord webhook: post the announcement, read a message back, edit it.

The webhook URL is the credential (whoever has it can post): it is registered with the
redactor, whole and as its ``{id}/{token}`` tail, and never printed. A webhook cannot list
the channel's messages, so a posted message is found again by its id (kept by the caller);
a send whose answer was lost is :class:`~releaser.errors.AmbiguousWrite` and is never re-sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from releaser.clients.http import HTTPClient, Narrator, decode_quietly, retry_after
from releaser.errors import CredentialError, Unreachable, UsageError

UNKNOWN_MESSAGE = 10008
WEBHOOK_ERRORS = {10015: "Unknown Webhook", 50027: "Invalid Webhook Token"}


@dataclass(frozen=True)
class Message:
    id: str
    content: str
    channel_id: str
    username: str
    timestamp: str
    edited: bool = False


class DiscordWebhook(HTTPClient):
    service = "Discord"

    def __init__(
        self, url: str, ui: Narrator, *, variable: str = "DISCORD_WEBHOOK_URL", **kwargs: Any
    ) -> None:
        url = url.strip()
        ui.redactor.add(url)
        parts = urlsplit(url)
        segments = [s for s in parts.path.split("/") if s]
        if "webhooks" not in segments or len(segments) < segments.index("webhooks") + 3:
            raise UsageError(
                f"{variable} is not a Discord webhook URL (…/api/webhooks/ID/TOKEN)",
                f"set {variable} to the URL Discord shows under Integrations > Webhooks",
            )
        at = segments.index("webhooks")
        hook_id, token = segments[at + 1], segments[at + 2]
        # the web app's root: https://discord.com for https://discord.com/api/webhooks/...
        api_at = segments.index("api") if "api" in segments[:at] else at
        self.web_root = f"{parts.scheme}://{parts.netloc}/" + "/".join(segments[:api_at])
        self.web_root = self.web_root.rstrip("/")
        self._guild: str | None = None
        ui.redactor.add(token)
        ui.redactor.add(f"{hook_id}/{token}")
        super().__init__(url, ui, **kwargs)
        self.config_key = variable
        self.credential = variable

    def info(self) -> str:
        """The webhook's name (`doctor` shows it; the URL itself is never shown)."""
        return str(self.get_json("")["name"])

    def message_url(self, message: Message) -> str:
        """The message's link in Discord's web app (``/channels/GUILD/CHANNEL/MESSAGE``);
        the guild is read once from the webhook object. It holds no secret."""
        if self._guild is None:
            self._guild = str(self.get_json("").get("guild_id") or "@me")
        return f"{self.web_root}/channels/{self._guild}/{message.channel_id}/{message.id}"

    def send(self, content: str, username: str | None = None) -> Message:
        """Post ``content`` and answer the message (``wait=true``); one POST, never re-sent."""
        body: dict[str, Any] = {"content": content, "allowed_mentions": {"parse": []}}
        if username:
            body["username"] = username
        return self._message(self.send_json("POST", "", body, params={"wait": "true"}))

    def get(self, message_id: str) -> Message | None:
        """The message the webhook posted with this id, None if there is none."""
        response = self.request("GET", f"/messages/{message_id}", ok=(404,))
        if response.status_code == 404:
            return None  # an unknown webhook is refused in refusal(): only the message is gone
        return self._message(response.json())

    def edit(self, message_id: str, content: str) -> Message:
        """Replace the message's content (PATCH; its answer is the edited message)."""
        return self._message(
            self.send_json("PATCH", f"/messages/{message_id}", {"content": content})
        )

    # -- the service's own shapes ---------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = super().request(method, path, **kwargs)
        if response.status_code == 404 and self._code(response) != UNKNOWN_MESSAGE:
            raise self.refusal(response)
        return response

    def refusal(self, response: httpx.Response) -> Exception:
        code = self._code(response)
        if response.status_code in (401, 403, 404) and (
            code in WEBHOOK_ERRORS or response.status_code == 401
        ):
            reason = WEBHOOK_ERRORS.get(code or 0, self.error_message(response))
            return CredentialError(
                f"Discord refused the webhook URL in {self.credential} ({response.status_code} "
                f"{reason})",
                f"set {self.credential} to a live webhook's URL (`releaser doctor` checks it)",
            )
        return super().refusal(response)

    def rate_limit_wait(self, response: httpx.Response) -> float | None:
        if response.status_code != 429:
            return None
        body = decode_quietly(response)
        default = 1.0
        if isinstance(body, dict) and isinstance(body.get("retry_after"), int | float):
            default = float(body["retry_after"])
        return retry_after(response.headers, default=default)

    def unreachable(self, exc: BaseException) -> Unreachable:
        error = super().unreachable(exc)  # names the URL: the secret goes
        return Unreachable(self.ui.redactor.redact(error.message), error.hint)

    @staticmethod
    def _code(response: httpx.Response) -> int | None:
        body = decode_quietly(response)
        code = body.get("code") if isinstance(body, dict) else None
        return code if isinstance(code, int) else None

    @staticmethod
    def _message(body: dict[str, Any]) -> Message:
        author = body.get("author") or {}
        return Message(
            id=str(body["id"]),
            content=str(body.get("content", "")),
            channel_id=str(body.get("channel_id", "")),
            username=str(author.get("username", "")),
            timestamp=str(body.get("timestamp", "")),
            edited=bool(body.get("edited_timestamp")),
        )
