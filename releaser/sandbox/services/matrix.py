"""A Matrix homeserver subset (client-server API v3), enough to announce a release with nio.

The sandbox base URL is the homeserver URL. Served (``/_matrix/client`` + path)::

    GET  /versions                               no auth
    GET  /v3/account/whoami
    GET  /v3/directory/room/{roomAlias}          no auth
    POST /v3/join/{roomIdOrAlias}                joined, or invited, or the room is public
    GET  /v3/joined_rooms
    PUT  /v3/rooms/{roomId}/send/{eventType}/{txnId}
    GET  /v3/rooms/{roomId}/messages             dir=b|f, from, limit -> chunk, start, end
    GET  /v3/rooms/{roomId}/event/{eventId}

Auth: ``Authorization: Bearer TOKEN`` or ``?access_token=TOKEN``. A send is idempotent per
access token and ``txnId``, as on Synapse: the same txnId answers the first event_id and
stores nothing new. Errors are ``{"errcode": "M_...", "error": "..."}``: M_MISSING_TOKEN and
M_UNKNOWN_TOKEN 401, M_FORBIDDEN 403 (not in the room), M_NOT_FOUND 404, M_LIMIT_EXCEEDED 429
with ``retry_after_ms`` (and ``Retry-After``).

Documents: ``mx_user`` (user_id, access_token, device_id), ``mx_room`` (room_id, alias, name,
join_rule, members {user_id: join|invite|leave}), ``mx_event`` (stored under the room id:
event, stream order), ``mx_txn`` (token, txn_id -> event_id).

Pagination tokens are ``s{N}``: the position after the event with stream order N.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import TYPE_CHECKING, Any

from releaser.sandbox.http import ROUTER, ApiError, Request, Response, Router
from releaser.sandbox.services.common import Service, ServiceError, bearer

if TYPE_CHECKING:
    from releaser.sandbox.forge import Forge

PREFIX = "/_matrix/client"
SERVER_NAME = "sandbox"
VERSIONS = ["r0.6.1", "v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9"]
router = Router()


# ---- errors -------------------------------------------------------------------------------

_ERRCODES = {
    400: "M_BAD_JSON",
    401: "M_UNKNOWN_TOKEN",
    403: "M_FORBIDDEN",
    404: "M_NOT_FOUND",
    405: "M_UNRECOGNIZED",
    429: "M_LIMIT_EXCEEDED",
    500: "M_UNKNOWN",
}


def error(status: int, message: str, errcode: str | None = None, **extra: Any) -> Response:
    code = errcode or _ERRCODES.get(status, "M_UNKNOWN")
    if status == 404 and message == "Not Found":
        code, message = "M_UNRECOGNIZED", "Unrecognized request"
    return Response(status, {"errcode": code, "error": message, **extra})


def fail(status: int, message: str, errcode: str | None = None, **extra: Any) -> ServiceError:
    return ServiceError(error(status, message, errcode, **extra))


def rate_limited(path: str, retry_after: int, kind: str) -> Response:
    response = error(429, "Too Many Requests", retry_after_ms=retry_after * 1000)
    response.headers["Retry-After"] = str(retry_after)
    return response


SERVICE = Service("Matrix homeserver", PREFIX, router, error, rate_limited)


# ---- state --------------------------------------------------------------------------------


def _token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(forge: Forge, req: Request) -> dict[str, Any]:
    token = bearer(req) or req.query.get("access_token", "")
    if not token:
        raise fail(401, "Missing access token", "M_MISSING_TOKEN")
    user = forge.find_one("mx_user", "", token_key=_token_key(token))
    if user is None:
        raise fail(401, "Invalid access token passed.", "M_UNKNOWN_TOKEN", soft_logout=False)
    return user


def room_by_id_or_alias(forge: Forge, ident: str) -> dict[str, Any]:
    if ident.startswith("#"):
        room = forge.find_one("mx_room", "", alias=ident)
        if room is None:
            raise fail(404, f"Room alias {ident} not found")
        return room
    room = forge.find_one("mx_room", "", room_id=ident)
    if room is None:
        raise fail(404, "No known servers")
    return room


def _joined_room(forge: Forge, user: dict[str, Any], room_id: str) -> dict[str, Any]:
    room = forge.find_one("mx_room", "", room_id=room_id)
    if room is None or room["members"].get(user["user_id"]) != "join":
        raise fail(
            403,
            f"User {user['user_id']} not in room {room_id}, and room previews are disabled",
        )
    return room


def _server_of(ident: str) -> str:
    return ident.split(":", 1)[1] if ":" in ident else SERVER_NAME


def add_event(
    forge: Forge,
    room_id: str,
    sender: str,
    event_type: str,
    content: dict[str, Any],
    state_key: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Append an event to a room's timeline (the caller holds ``forge.lock``); ``extra`` is
    stored beside it (the sender's transaction)."""
    order = forge.next_value("mx_stream")
    event: dict[str, Any] = {
        "type": event_type,
        "content": content,
        "sender": sender,
        "event_id": "$" + secrets.token_urlsafe(32),
        "origin_server_ts": int(time.time() * 1000),
        "room_id": room_id,
    }
    if state_key is not None:
        event["state_key"] = state_key
    forge.insert("mx_event", room_id, {"order": order, "event": event, **(extra or {})})
    return event


def _event_json(doc: dict[str, Any], user: dict[str, Any] | None = None) -> dict[str, Any]:
    event = dict(doc["event"])
    unsigned: dict[str, Any] = {"age": max(0, int(time.time() * 1000) - event["origin_server_ts"])}
    txn = doc.get("transaction_id")
    if txn and user is not None and doc.get("token_key") == user.get("token_key"):
        unsigned["transaction_id"] = txn
    event["unsigned"] = unsigned
    return event


def set_membership(forge: Forge, room: dict[str, Any], user_id: str, membership: str) -> None:
    with forge.lock:
        room = forge.get("mx_room", room["id"])
        if room["members"].get(user_id) == membership:
            return
        members = {**room["members"], user_id: membership}
        forge.update("mx_room", room["id"], {"members": members})
        add_event(
            forge, room["room_id"], user_id, "m.room.member", {"membership": membership}, user_id
        )


# ---- client-server API --------------------------------------------------------------------


@router.route("GET", "/versions")
def versions(forge: Forge, req: Request) -> Response:
    return Response(200, {"versions": VERSIONS, "unstable_features": {}})


@router.route("GET", "/v3/account/whoami")
def whoami(forge: Forge, req: Request) -> Response:
    user = authenticate(forge, req)
    return Response(
        200, {"user_id": user["user_id"], "device_id": user["device_id"], "is_guest": False}
    )


@router.route("GET", "/v3/directory/room/{alias}")
def resolve_alias(forge: Forge, req: Request) -> Response:
    alias = req.params["alias"]
    room = forge.find_one("mx_room", "", alias=alias)
    if room is None:
        raise fail(404, f"Room alias {alias} not found")
    return Response(200, {"room_id": room["room_id"], "servers": [_server_of(alias)]})


@router.route("POST", "/v3/join/{room}")
def join(forge: Forge, req: Request) -> Response:
    user = authenticate(forge, req)
    room = room_by_id_or_alias(forge, req.params["room"])
    state = room["members"].get(user["user_id"])
    if state != "join" and state != "invite" and room.get("join_rule") != "public":
        raise fail(403, "You are not invited to this room.")
    set_membership(forge, room, user["user_id"], "join")
    return Response(200, {"room_id": room["room_id"]})


@router.route("GET", "/v3/joined_rooms")
def joined_rooms(forge: Forge, req: Request) -> Response:
    user = authenticate(forge, req)
    rooms = [
        r["room_id"]
        for r in forge.find("mx_room", "")
        if r["members"].get(user["user_id"]) == "join"
    ]
    return Response(200, {"joined_rooms": rooms})


@router.route("PUT", "/v3/rooms/{room_id}/send/{event_type}/{txn_id}")
def send(forge: Forge, req: Request) -> Response:
    user = authenticate(forge, req)
    room_id, txn_id = req.params["room_id"], req.params["txn_id"]
    content = req.json() if req.body else {}
    if not isinstance(content, dict):
        raise fail(400, "Content must be a JSON object.", "M_BAD_JSON")
    with forge.lock:
        _joined_room(forge, user, room_id)
        done = forge.find_one("mx_txn", "", token_key=user["token_key"], txn_id=txn_id)
        if done is not None:
            return Response(200, {"event_id": done["event_id"]})
        sender = {"transaction_id": txn_id, "token_key": user["token_key"]}
        event = add_event(
            forge, room_id, user["user_id"], req.params["event_type"], content, extra=sender
        )
        forge.insert(
            "mx_txn",
            "",
            {"token_key": user["token_key"], "txn_id": txn_id, "event_id": event["event_id"]},
        )
    return Response(200, {"event_id": event["event_id"]})


def _position(token: str | None, default: int) -> int:
    if not token:
        return default
    digits = token.lstrip("st")
    try:
        return int(digits)
    except ValueError:
        raise fail(400, f"Invalid pagination token {token!r}", "M_INVALID_PARAM") from None


@router.route("GET", "/v3/rooms/{room_id}/messages")
def messages(forge: Forge, req: Request) -> Response:
    user = authenticate(forge, req)
    room_id = req.params["room_id"]
    _joined_room(forge, user, room_id)
    direction = req.query.get("dir", "b")
    if direction not in ("b", "f"):
        raise fail(400, "Unknown dir value", "M_INVALID_PARAM")
    try:
        limit = max(1, min(1000, int(req.query.get("limit", "10"))))
    except ValueError:
        raise fail(400, "limit must be an integer", "M_INVALID_PARAM") from None
    docs = sorted(forge.find("mx_event", room_id), key=lambda d: d["order"])
    latest = docs[-1]["order"] if docs else 0
    start = _position(req.query.get("from"), latest if direction == "b" else 0)
    if direction == "b":
        page = [d for d in reversed(docs) if d["order"] <= start][:limit]
        more = bool(page) and page[-1]["order"] > docs[0]["order"]
        end = f"s{page[-1]['order'] - 1}" if more else None
    else:
        page = [d for d in docs if d["order"] > start][:limit]
        more = bool(page) and page[-1]["order"] < latest
        end = f"s{page[-1]['order']}" if page else None
    body: dict[str, Any] = {"chunk": [_event_json(d, user) for d in page], "start": f"s{start}"}
    if end is not None and (more or direction == "f"):
        body["end"] = end
    return Response(200, body)


@router.route("GET", "/v3/rooms/{room_id}/event/{event_id}")
def get_event(forge: Forge, req: Request) -> Response:
    user = authenticate(forge, req)
    room_id = req.params["room_id"]
    _joined_room(forge, user, room_id)
    for doc in forge.find("mx_event", room_id):
        if doc["event"]["event_id"] == req.params["event_id"]:
            return Response(200, _event_json(doc, user))
    raise fail(404, "Could not find event " + req.params["event_id"])


# ---- admin --------------------------------------------------------------------------------
#
# POST /_admin/matrix/users   {"user_id": "@bot:sandbox"} or {"username": "bot"}
#                             [, "access_token": "..."]
#                             -> {"user_id", "access_token", "device_id"}
# POST /_admin/matrix/rooms   {"alias": "#releases:sandbox", "name": "...", "public": false,
#                              "members": {"@bot:sandbox": "join" | "invite"}}
#                             -> {"room_id", "alias", "name", "join_rule", "members"}
# POST /_admin/matrix/rooms/{room}/members
#                             {"user_id": "...", "membership": "join"|"invite"|"leave"}
# GET  /_admin/matrix/rooms/{room}/events    every event of the room, oldest first


def _admin_error(message: str) -> ApiError:
    return ApiError(422, message)


def create_user(forge: Forge, user_id: str, access_token: str | None = None) -> dict[str, Any]:
    token = access_token or "syt_" + secrets.token_urlsafe(24)
    with forge.lock:
        if forge.find_one("mx_user", "", user_id=user_id) is not None:
            raise ApiError(409, f"user {user_id} exists")
        device = "SANDBOX" + secrets.token_hex(3).upper()
        forge.insert(
            "mx_user", "", {"user_id": user_id, "token_key": _token_key(token), "device_id": device}
        )
    return {"user_id": user_id, "access_token": token, "device_id": device}


@ROUTER.route("POST", "/_admin/matrix/users")
def admin_user(forge: Forge, req: Request) -> Response:
    data = req.json()
    if not isinstance(data, dict):
        raise _admin_error("a user is an object")
    user_id = data.get("user_id") or (
        f"@{data['username']}:{SERVER_NAME}" if data.get("username") else None
    )
    if not isinstance(user_id, str) or not user_id.startswith("@") or ":" not in user_id:
        raise _admin_error("user_id (@name:server) or username is required")
    return Response(201, create_user(forge, user_id, data.get("access_token")))


def _room_json(room: dict[str, Any]) -> dict[str, Any]:
    keys = ("room_id", "alias", "name", "join_rule", "members")
    return {k: room.get(k) for k in keys}


@ROUTER.route("POST", "/_admin/matrix/rooms")
def admin_room(forge: Forge, req: Request) -> Response:
    data = req.json()
    if not isinstance(data, dict):
        raise _admin_error("a room is an object")
    alias = data.get("alias")
    if alias is not None and (not isinstance(alias, str) or not alias.startswith("#")):
        raise _admin_error("alias is #name:server")
    members = data.get("members") or {}
    if not isinstance(members, dict) or any(
        m not in ("join", "invite", "leave") for m in members.values()
    ):
        raise _admin_error("members is {user_id: join|invite|leave}")
    server = _server_of(alias) if alias else SERVER_NAME
    room_id = "!" + secrets.token_hex(9) + ":" + server
    with forge.lock:
        if alias and forge.find_one("mx_room", "", alias=alias) is not None:
            raise ApiError(409, f"alias {alias} is taken")
        room = forge.insert(
            "mx_room",
            "",
            {
                "room_id": room_id,
                "alias": alias,
                "name": str(data.get("name") or alias or room_id),
                "join_rule": "public" if data.get("public") else "invite",
                "members": {},
            },
        )
        creator = next(iter(members), f"@admin:{server}")
        add_event(forge, room_id, creator, "m.room.create", {"room_version": "10"}, "")
        add_event(forge, room_id, creator, "m.room.name", {"name": room["name"]}, "")
        for user_id, membership in members.items():
            set_membership(forge, room, user_id, membership)
        room = forge.get("mx_room", room["id"])
    return Response(201, _room_json(room))


@ROUTER.route("POST", "/_admin/matrix/rooms/{room}/members")
def admin_member(forge: Forge, req: Request) -> Response:
    data = req.json()
    if not isinstance(data, dict) or not isinstance(data.get("user_id"), str):
        raise _admin_error("user_id is required")
    membership = data.get("membership", "join")
    if membership not in ("join", "invite", "leave"):
        raise _admin_error("membership is join, invite or leave")
    try:
        room = room_by_id_or_alias(forge, req.params["room"])
    except ServiceError:
        raise ApiError(404, "Not Found") from None
    set_membership(forge, room, data["user_id"], membership)
    return Response(200, _room_json(forge.get("mx_room", room["id"])))


@ROUTER.route("GET", "/_admin/matrix/rooms/{room}/events")
def admin_events(forge: Forge, req: Request) -> Response:
    try:
        room = room_by_id_or_alias(forge, req.params["room"])
    except ServiceError:
        raise ApiError(404, "Not Found") from None
    docs = sorted(forge.find("mx_event", room["room_id"]), key=lambda d: d["order"])
    return Response(200, [d["event"] for d in docs])
