"""Discord webhooks: post a message, read it back, edit it.

Below ``base/discord/api`` (optionally versioned, ``/api/v10``)::

    POST  /webhooks/{id}/{token}[?wait=true]         content, username, embeds: 204, or the
                                                     message with wait=true
    GET   /webhooks/{id}/{token}                     the webhook object
    GET   /webhooks/{id}/{token}/messages/{msg_id}   a message the webhook sent
    PATCH /webhooks/{id}/{token}/messages/{msg_id}   edit it

and the web app's link to a message (HTML, no auth)::

    GET   /channels/{guild_id}/{channel_id}/{msg_id}

A webhook cannot list messages (as in Discord). Unknown webhook: 404 ``{"message": "Unknown
Webhook", "code": 10015}``; wrong token: 401 ``{"message": "Invalid Webhook Token", "code":
50027}``; unknown message: 404 ``{"message": "Unknown Message", "code": 10008}``; bad bodies:
400 with code 50006 or 50035. Every answer carries ``X-RateLimit-Limit/Remaining/Reset/
Reset-After/Bucket`` (5 requests per 2 s window per webhook, counted, not enforced); a
``rate_limit`` fault answers 429 ``{"message", "retry_after", "global"}`` with ``Retry-After``.

Admin::

    POST /_admin/discord/webhooks               {"name": "releases"} -> {"id", "token", "url", ...}
    GET  /_admin/discord/webhooks/{id}/messages every message it sent, oldest first
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from releaser.sandbox.http import ROUTER, ApiError, Request, Response, Router
from releaser.sandbox.services.common import Service, ServiceError, Window, multipart

if TYPE_CHECKING:
    from releaser.sandbox.forge import Forge

PREFIX = "/discord"
DISCORD_EPOCH_MS = 1420070400000
MAX_CONTENT = 2000
WINDOW = Window(limit=5, seconds=2)
router = Router()

UNKNOWN_WEBHOOK = (404, "Unknown Webhook", 10015)
INVALID_TOKEN = (401, "Invalid Webhook Token", 50027)
UNKNOWN_MESSAGE = (404, "Unknown Message", 10008)


def error(status: int, message: str, code: int = 0, **extra: Any) -> Response:
    if status in (404, 405) and code == 0:
        message = f"{status}: {'Not Found' if status == 404 else 'Method Not Allowed'}"
    return Response(status, {"message": message, "code": code, **extra})


def fail(status: int, message: str, code: int = 0, **extra: Any) -> ServiceError:
    return ServiceError(error(status, message, code, **extra))


def rate_limited(path: str, retry_after: int, kind: str) -> Response:
    response = Response(
        429,
        {
            "message": "You are being rate limited.",
            "retry_after": float(retry_after),
            "global": False,
        },
        {
            "Retry-After": str(retry_after),
            "X-RateLimit-Limit": str(WINDOW.limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{float(retry_after):.3f}",
            "X-RateLimit-Scope": "shared",
        },
    )
    return response


def decorate(forge: Forge, req: Request, response: Response) -> None:
    hook = req.params.get("id")
    if not hook or response.status == 429:
        return
    _used, remaining, reset = WINDOW.take(hook)
    bucket = hashlib.sha1(hook.encode()).hexdigest()[:32]
    response.headers.update(
        {
            "X-RateLimit-Limit": str(WINDOW.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{time.time() + reset:.3f}",
            "X-RateLimit-Reset-After": f"{reset:.3f}",
            "X-RateLimit-Bucket": bucket,
        }
    )


SERVICE = Service("Discord", PREFIX, router, error, rate_limited, decorate)


def loggable_path(path: str) -> str:
    """``/discord/api/webhooks/ID/***/...``: the token is the webhook's secret."""
    return re.sub(r"(/webhooks/[^/]+/)[^/]+", r"\1***", path)


# ---- state --------------------------------------------------------------------------------


def snowflake(forge: Forge) -> str:
    ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    return str((ms << 22) | (forge.next_value("discord_snowflake") & 0xFFF))


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def webhook(forge: Forge, req: Request) -> dict[str, Any]:
    found = forge.find_one("dw_hook", "", hook_id=req.params["id"])
    if found is None:
        raise fail(*UNKNOWN_WEBHOOK)
    if found["token_hash"] != _hash(req.params["token"]):
        raise fail(*INVALID_TOKEN)
    return found


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="microseconds")


def _webhook_json(hook: dict[str, Any], token: str | None) -> dict[str, Any]:
    body = {
        "application_id": None,
        "avatar": None,
        "channel_id": hook["channel_id"],
        "guild_id": hook["guild_id"],
        "id": hook["hook_id"],
        "name": hook["name"],
        "type": 1,
    }
    if token is not None:
        body["token"] = token
    return body


def _message_json(hook: dict[str, Any], msg: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": msg["message_id"],
        "type": 0,
        "content": msg["content"],
        "channel_id": hook["channel_id"],
        "author": {
            "bot": True,
            "id": hook["hook_id"],
            "username": msg.get("username") or hook["name"],
            "avatar": None,
            "discriminator": "0000",
        },
        "attachments": [],
        "embeds": msg.get("embeds", []),
        "mentions": [],
        "mention_roles": [],
        "pinned": False,
        "mention_everyone": False,
        "tts": False,
        "timestamp": _iso(msg["created"]),
        "edited_timestamp": _iso(msg["edited"]) if msg.get("edited") else None,
        "flags": 0,
        "components": [],
        "webhook_id": hook["hook_id"],
    }


def _payload(req: Request) -> dict[str, Any]:
    ctype = req.headers.get("content-type", "").lower()
    try:
        if ctype.startswith("multipart/form-data"):
            fields, _ = multipart(req)
            data = json.loads(fields.get("payload_json", ["{}"])[0])
        else:
            data = json.loads(req.body or b"{}")
    except ValueError:
        raise fail(400, "The request body contains invalid JSON.", 50109) from None
    if not isinstance(data, dict):
        raise fail(400, "The request body contains invalid JSON.", 50109)
    return data


def _check_content(data: dict[str, Any], required: bool) -> None:
    content = data.get("content")
    if content is not None and not isinstance(content, str):
        raise _form_error("content", "BASE_TYPE_STRING", "Must be a string.")
    if content and len(content) > MAX_CONTENT:
        raise _form_error(
            "content", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length."
        )
    if required and not content and not data.get("embeds"):
        raise fail(400, "Cannot send an empty message", 50006)


def _form_error(field: str, code: str, message: str) -> ServiceError:
    errors = {field: {"_errors": [{"code": code, "message": message}]}}
    return fail(400, "Invalid Form Body", 50035, errors=errors)


def _message(forge: Forge, hook: dict[str, Any], message_id: str) -> dict[str, Any]:
    msg = forge.find_one("dw_msg", hook["hook_id"], message_id=message_id)
    if msg is None:
        raise fail(*UNKNOWN_MESSAGE)
    return msg


# ---- API ----------------------------------------------------------------------------------


def _routes(method: str, tail: str) -> Any:
    """Register a handler at ``/api/webhooks/...`` and ``/api/v{N}/webhooks/...``."""

    def register(handler: Any) -> Any:
        router.route(method, f"/api/webhooks/{{id}}/{{token}}{tail}")(handler)
        router.route(method, f"/api/{{version}}/webhooks/{{id}}/{{token}}{tail}")(handler)
        return handler

    return register


@_routes("POST", "")
def execute(forge: Forge, req: Request) -> Response:
    hook = webhook(forge, req)
    data = _payload(req)
    _check_content(data, required=True)
    username = data.get("username")
    if username is not None and (not isinstance(username, str) or not 1 <= len(username) <= 80):
        raise _form_error("username", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 80 in length.")
    msg = forge.insert(
        "dw_msg",
        hook["hook_id"],
        {
            "message_id": snowflake(forge),
            "content": data.get("content") or "",
            "username": username,
            "embeds": data.get("embeds") or [],
            "created": time.time(),
            "edited": None,
        },
    )
    if req.query.get("wait", "").lower() in ("true", "1"):
        return Response(200, _message_json(hook, msg))
    return Response(204)


@_routes("GET", "")
def get_webhook(forge: Forge, req: Request) -> Response:
    hook = webhook(forge, req)
    return Response(200, _webhook_json(hook, req.params["token"]))


@_routes("GET", "/messages/{message_id}")
def get_message(forge: Forge, req: Request) -> Response:
    hook = webhook(forge, req)
    return Response(200, _message_json(hook, _message(forge, hook, req.params["message_id"])))


@_routes("PATCH", "/messages/{message_id}")
def edit_message(forge: Forge, req: Request) -> Response:
    hook = webhook(forge, req)
    msg = _message(forge, hook, req.params["message_id"])
    data = _payload(req)
    _check_content(data, required=False)
    changes: dict[str, Any] = {"edited": time.time()}
    if "content" in data:
        changes["content"] = data["content"] or ""
    if "embeds" in data:
        changes["embeds"] = data["embeds"] or []
    msg = forge.update("dw_msg", msg["id"], changes)
    return Response(200, _message_json(hook, msg))


@router.route("GET", "/channels/{guild}/{channel}/{message}")
def message_page(forge: Forge, req: Request) -> Response:
    """The message's page, as ``https://discord.com/channels/...`` links open it."""
    for hook in forge.find("dw_hook", ""):
        if (hook["guild_id"], hook["channel_id"]) != (req.params["guild"], req.params["channel"]):
            continue
        msg = forge.find_one("dw_msg", hook["hook_id"], message_id=req.params["message"])
        if msg is not None:
            name = html.escape(str(msg.get("username") or hook["name"]))
            page = (
                f"<!DOCTYPE html><html><head><title>{name}</title></head><body>"
                f"<p><b>{name}</b></p><p>{html.escape(msg['content'])}</p></body></html>"
            )
            return Response(200, page.encode(), content_type="text/html; charset=utf-8")
    raise fail(*UNKNOWN_MESSAGE)


# ---- admin --------------------------------------------------------------------------------


@ROUTER.route("POST", "/_admin/discord/webhooks")
def admin_webhook(forge: Forge, req: Request) -> Response:
    data = req.json()
    if not isinstance(data, dict):
        raise ApiError(422, "an object is expected")
    name = str(data.get("name") or "Release announcements")
    token = secrets.token_urlsafe(51)
    hook = forge.insert(
        "dw_hook",
        "",
        {
            "hook_id": snowflake(forge),
            "token_hash": _hash(token),
            "name": name,
            "channel_id": str(data.get("channel_id") or snowflake(forge)),
            "guild_id": str(data.get("guild_id") or snowflake(forge)),
        },
    )
    url = f"{forge.base_url}{PREFIX}/api/webhooks/{hook['hook_id']}/{token}"
    return Response(201, {**_webhook_json(hook, token), "url": url})


@ROUTER.route("GET", "/_admin/discord/webhooks/{id}/messages")
def admin_messages(forge: Forge, req: Request) -> Response:
    hook = forge.find_one("dw_hook", "", hook_id=req.params["id"])
    if hook is None:
        raise ApiError(404, "Not Found")
    return Response(200, [_message_json(hook, m) for m in forge.find("dw_msg", hook["hook_id"])])
