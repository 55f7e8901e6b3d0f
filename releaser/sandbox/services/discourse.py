"""A Discourse forum subset: topics created, found, read and pinned through the API.

Below ``base/discourse`` (the forum URL)::

    GET  /session/current.json        the key's user ({"current_user": {...}})
    GET  /u/{username}.json           {"user": {...}}
    GET  /categories.json             {"category_list": {"categories": [...]}}
    GET  /latest.json[?page=N]        {"topic_list": {"topics": [...], "more_topics_url"}}
    GET  /search.json?q=...           {"posts": [...], "topics": [...], ...}
    POST /posts.json                  title, raw, category, tags[] -> the first post
    GET  /t/{id}.json, /t/{slug}/{id}.json   the topic; post_stream.posts[*].raw with include_raw=1
    GET  /posts/{id}.json             a post, with raw
    PUT  /t/{id}/status.json          status=pinned|pinned_globally|closed|visible,
                                      enabled=true|false
    GET  /t/{slug}/{id}, /t/{id}      the topic's web page (HTML)

Auth: ``Api-Key`` and ``Api-Username`` headers. A key bound to a user only acts as that user;
an all-users key (no user) acts as any existing user. A missing or wrong key is answered 403
``{"errors": [...], "error_type": "invalid_access"}``, as Discourse does; pinning needs a staff
user. Titles are unique (Discourse's ``allow_duplicate_topic_titles`` is off by default):
a second topic with the same title is 422 "Title has already been used". Search matches
every word (or quoted phrase) in titles and raw text, and ignores the filters ``in:``,
``order:``, ``status:``, ``category:``, ``tags:``, ``#x`` and ``@x``.

Admin::

    POST /_admin/discourse/users       {"username": "releasebot", "admin": true}
    POST /_admin/discourse/api_keys    {"username": "releasebot" | null, "key": optional}
                                       -> {"key": "...", "username": ...}
    POST /_admin/discourse/categories  {"name": "News", "slug": optional} -> the category
    GET  /_admin/discourse/topics      every topic with its first post's raw
"""

from __future__ import annotations

import hashlib
import html
import re
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from releaser.sandbox.http import ROUTER, ApiError, Request, Response, Router
from releaser.sandbox.services.common import Service, ServiceError, first, form, truthy

if TYPE_CHECKING:
    from releaser.sandbox.forge import Forge

PREFIX = "/discourse"
PER_PAGE = 30
router = Router()

INVALID_ACCESS = (
    "You are not permitted to view the requested resource. The API username or key is invalid."
)
NOT_PERMITTED = "You are not permitted to view the requested resource."
NOT_FOUND = "The requested URL or resource could not be found."


def error(status: int, message: str, error_type: str | None = None, **extra: Any) -> Response:
    if status == 404:
        message, error_type = NOT_FOUND, error_type or "not_found"
    body: dict[str, Any] = {"errors": [message]}
    if error_type:
        body["error_type"] = error_type
    body.update(extra)
    return Response(status, body)


def fail(status: int, message: str, error_type: str | None = None, **extra: Any) -> ServiceError:
    return ServiceError(error(status, message, error_type, **extra))


def rate_limited(path: str, retry_after: int, kind: str) -> Response:
    message = (
        "You\u2019ve performed this action too many times. "
        f"Please wait {retry_after} seconds before trying again."
    )
    response = error(
        429,
        message,
        "rate_limit",
        extras={"wait_seconds": retry_after, "time_left": f"{retry_after} seconds"},
    )
    response.headers.update(
        {"Retry-After": str(retry_after), "Discourse-Rate-Limit-Error-Code": "ip_10_secs_limit"}
    )
    return response


SERVICE = Service("Discourse", PREFIX, router, error, rate_limited)


# ---- state --------------------------------------------------------------------------------


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _user(forge: Forge, username: str) -> dict[str, Any] | None:
    for user in forge.find("dc_user", ""):
        if str(user["username"]).lower() == username.lower():
            return user
    return None


def authenticate(forge: Forge, req: Request) -> dict[str, Any]:
    key = req.headers.get("api-key", "")
    username = req.headers.get("api-username", "")
    found = forge.find_one("dc_key", "", key_hash=_key_hash(key)) if key else None
    if found is None:
        raise fail(403, INVALID_ACCESS, "invalid_access")
    bound = found.get("username")
    if bound and username and username.lower() != str(bound).lower():
        raise fail(403, INVALID_ACCESS, "invalid_access")
    user = _user(forge, username or bound or "")
    if user is None:
        raise fail(403, INVALID_ACCESS, "invalid_access")
    return user


def slugify(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug or "topic"


def _user_json(user: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": user["id"],
        "username": user["username"],
        "name": user.get("name") or user["username"],
        "avatar_template": f"/letter_avatar_proxy/v4/letter/{user['username'][0]}/{{size}}.png",
        "admin": bool(user.get("admin")),
        "moderator": bool(user.get("moderator")),
        "trust_level": 4 if user.get("admin") else 1,
    }


def _category_json(forge: Forge, cat: dict[str, Any]) -> dict[str, Any]:
    count = len(forge.find("dc_topic", "", category_id=cat["id"]))
    return {
        "id": cat["id"],
        "name": cat["name"],
        "slug": cat["slug"],
        "color": "0088CC",
        "text_color": "FFFFFF",
        "description": cat.get("description"),
        "topic_count": count,
        "post_count": count,
        "position": cat["id"],
        "read_restricted": False,
        "parent_category_id": None,
    }


def _cooked(raw: str) -> str:
    text = re.sub(r"<!--.*?-->", "", raw, flags=re.S)
    return "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n\n") if p.strip())


def _topic_summary(topic: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": topic["id"],
        "title": topic["title"],
        "fancy_title": html.escape(topic["title"]),
        "slug": topic["slug"],
        "posts_count": 1,
        "reply_count": 0,
        "highest_post_number": 1,
        "created_at": topic["created_at"],
        "last_posted_at": topic["created_at"],
        "bumped": True,
        "bumped_at": topic["created_at"],
        "archetype": "regular",
        "unseen": False,
        "pinned": bool(topic.get("pinned")),
        "pinned_globally": bool(topic.get("pinned_globally")),
        "visible": bool(topic.get("visible", True)),
        "closed": bool(topic.get("closed")),
        "archived": False,
        "category_id": topic["category_id"],
        "tags": list(topic.get("tags", [])),
        "posters": [{"user_id": topic["user_id"], "description": "Original Poster"}],
    }


def _post_json(forge: Forge, post: dict[str, Any], include_raw: bool) -> dict[str, Any]:
    topic = forge.get("dc_topic", post["topic_id"])
    user = forge.get("dc_user", post["user_id"])
    body = {
        "id": post["id"],
        "name": user.get("name") or user["username"],
        "username": user["username"],
        "avatar_template": _user_json(user)["avatar_template"],
        "created_at": post["created_at"],
        "updated_at": post["created_at"],
        "cooked": _cooked(post["raw"]),
        "post_number": post["post_number"],
        "post_type": 1,
        "reply_count": 0,
        "reply_to_post_number": None,
        "topic_id": topic["id"],
        "topic_slug": topic["slug"],
        "topic_title": topic["title"],
        "version": 1,
        "user_id": user["id"],
        "admin": bool(user.get("admin")),
        "staff": bool(user.get("admin") or user.get("moderator")),
    }
    if include_raw:
        body["raw"] = post["raw"]
    return body


def _topic(forge: Forge, ident: str) -> dict[str, Any]:
    topic = forge.get("dc_topic", ident)  # ApiError 404 -> the service's 404
    if not topic.get("visible", True):
        raise fail(404, NOT_FOUND, "not_found")
    return topic


def _first_post(forge: Forge, topic: dict[str, Any]) -> dict[str, Any]:
    return forge.get("dc_post", topic["first_post_id"])


# ---- API ----------------------------------------------------------------------------------


@router.route("GET", "/session/current.json")
def current_session(forge: Forge, req: Request) -> Response:
    user = authenticate(forge, req)
    return Response(200, {"current_user": _user_json(user)})


@router.route("GET", "/u/{username}.json")
def get_user(forge: Forge, req: Request) -> Response:
    authenticate(forge, req)
    user = _user(forge, req.params["username"])
    if user is None:
        raise fail(404, NOT_FOUND)
    return Response(200, {"user": _user_json(user)})


@router.route("GET", "/categories.json")
def categories(forge: Forge, req: Request) -> Response:
    authenticate(forge, req)
    cats = [_category_json(forge, c) for c in forge.find("dc_category", "")]
    return Response(200, {"category_list": {"can_create_category": False, "categories": cats}})


def _listed(forge: Forge) -> list[dict[str, Any]]:
    topics = [t for t in forge.find("dc_topic", "") if t.get("visible", True)]
    pinned = [t for t in topics if t.get("pinned") or t.get("pinned_globally")]
    rest = [t for t in topics if t not in pinned]
    return list(reversed(pinned)) + list(reversed(rest))


@router.route("GET", "/latest.json")
def latest(forge: Forge, req: Request) -> Response:
    user = authenticate(forge, req)
    try:
        page = max(0, int(req.query.get("page", "0")))
    except ValueError:
        raise fail(400, "page must be an integer", "invalid_parameters") from None
    topics = _listed(forge)
    chunk = topics[page * PER_PAGE : (page + 1) * PER_PAGE]
    topic_list: dict[str, Any] = {
        "can_create_topic": True,
        "per_page": PER_PAGE,
        "topics": [_topic_summary(t) for t in chunk],
    }
    if len(topics) > (page + 1) * PER_PAGE:
        topic_list["more_topics_url"] = f"{PREFIX}/latest?page={page + 1}"
    return Response(200, {"users": [_user_json(user)], "topic_list": topic_list})


_FILTER = re.compile(r"^(in|order|status|category|tags?|after|before|min_posts):\S*$|^[#@]\S+$")


def _terms(query: str) -> list[str]:
    terms = [p.lower() for p in re.findall(r'"([^"]+)"', query)]
    for word in re.sub(r'"[^"]*"', " ", query).split():
        if not _FILTER.match(word):
            terms.append(word.lower())
    return terms


@router.route("GET", "/search.json")
def search(forge: Forge, req: Request) -> Response:
    authenticate(forge, req)
    terms = _terms(req.query.get("q", req.query.get("term", "")))
    if not terms or all(len(t) < 3 for t in terms):
        raise fail(400, "Your search term is too short.", "invalid_parameters")
    posts, topics = [], []
    for topic in reversed(_listed(forge)):
        post = _first_post(forge, topic)
        text = f"{topic['title']}\n{post['raw']}".lower()
        if all(t in text for t in terms):
            blurb = re.sub(r"\s+", " ", re.sub(r"<!--.*?-->", "", post["raw"], flags=re.S))
            posts.append({**_post_json(forge, post, False), "blurb": blurb[:200].strip()})
            topics.append(_topic_summary(topic))
    posts.reverse()
    topics.reverse()
    grouped = {
        "more_posts": None,
        "more_users": None,
        "more_categories": None,
        "term": req.query.get("q", ""),
        "search_log_id": secrets.randbelow(10**6),
        "post_ids": [p["id"] for p in posts],
    }
    return Response(
        200,
        {
            "posts": posts,
            "topics": topics,
            "users": [],
            "categories": [],
            "tags": [],
            "groups": [],
            "grouped_search_result": grouped,
        },
    )


@router.route("POST", "/posts.json")
def create_post(forge: Forge, req: Request) -> Response:
    user = authenticate(forge, req)
    fields = form(req)
    title = first(fields, "title").strip()
    raw = first(fields, "raw")
    category = first(fields, "category")
    tags = [t for t in fields.get("tags[]", fields.get("tags", [])) if t]
    errors = []
    if len(title) < 15:
        errors.append("Title is too short (minimum is 15 characters)")
    if len(raw.strip()) < 20:
        errors.append("Body is too short (minimum is 20 characters)")
    cat = None
    if category:
        try:
            cat = forge.get("dc_category", category)
        except ApiError:
            errors.append("Category can't be blank")
    if errors:
        raise ServiceError(Response(422, {"action": "create_post", "errors": errors}))
    with forge.lock:
        if any(t["title"].lower() == title.lower() for t in forge.find("dc_topic", "")):
            raise ServiceError(
                Response(422, {"action": "create_post", "errors": ["Title has already been used"]})
            )
        created = _now()
        topic = forge.insert(
            "dc_topic",
            "",
            {
                "title": title,
                "slug": slugify(title),
                "category_id": cat["id"] if cat else None,
                "tags": tags,
                "user_id": user["id"],
                "created_at": created,
                "pinned": False,
                "pinned_globally": False,
                "visible": True,
                "closed": False,
                "first_post_id": 0,
            },
        )
        post = forge.insert(
            "dc_post",
            "",
            {
                "topic_id": topic["id"],
                "post_number": 1,
                "raw": raw,
                "user_id": user["id"],
                "created_at": created,
            },
        )
        forge.update("dc_topic", topic["id"], {"first_post_id": post["id"]})
    return Response(200, _post_json(forge, post, True))


def _topic_view(forge: Forge, req: Request, topic: dict[str, Any]) -> Response:
    authenticate(forge, req)
    post = _first_post(forge, topic)
    include_raw = truthy(req.query.get("include_raw"))
    body = {
        **_topic_summary(topic),
        "post_stream": {"posts": [_post_json(forge, post, include_raw)], "stream": [post["id"]]},
        "details": {"created_by": _user_json(forge.get("dc_user", topic["user_id"]))},
    }
    return Response(200, body)


@router.route("GET", "/t/{id}.json")
def get_topic(forge: Forge, req: Request) -> Response:
    return _topic_view(forge, req, _topic(forge, req.params["id"]))


@router.route("GET", "/t/{slug}/{id}.json")
def get_topic_slug(forge: Forge, req: Request) -> Response:
    return _topic_view(forge, req, _topic(forge, req.params["id"]))


@router.route("GET", "/posts/{id}.json")
def get_post(forge: Forge, req: Request) -> Response:
    authenticate(forge, req)
    post = forge.get("dc_post", req.params["id"])
    _topic(forge, str(post["topic_id"]))
    return Response(200, _post_json(forge, post, True))


_STATUSES = {"pinned", "pinned_globally", "closed", "visible", "archived"}


@router.route("PUT", "/t/{id}/status.json")
def set_status(forge: Forge, req: Request) -> Response:
    user = authenticate(forge, req)
    topic = forge.get("dc_topic", req.params["id"])
    fields = form(req)
    status = first(fields, "status")
    if status not in _STATUSES:
        raise fail(400, "Status is not valid", "invalid_parameters")
    if status in ("pinned", "pinned_globally", "visible", "archived") and not (
        user.get("admin") or user.get("moderator")
    ):
        raise fail(403, NOT_PERMITTED, "invalid_access")
    enabled = truthy(first(fields, "enabled"))
    forge.update("dc_topic", topic["id"], {status: enabled})
    return Response(200, {"success": "OK", "topic_status_update": None})


def _page(forge: Forge, ident: str) -> Response:
    try:
        topic = _topic(forge, ident)
    except (ApiError, ServiceError):
        page = "<!DOCTYPE html><html><body><h1>Oops! That page doesn\u2019t exist.</h1>"
        page += "</body></html>"
        return Response(404, page.encode(), content_type="text/html; charset=utf-8")
    post = _first_post(forge, topic)
    title = html.escape(topic["title"])
    page = (
        f"<!DOCTYPE html><html><head><title>{title}</title></head><body>"
        f"<h1>{title}</h1><div class='post'>{_cooked(post['raw'])}</div></body></html>"
    )
    return Response(200, page.encode(), content_type="text/html; charset=utf-8")


@router.route("GET", "/t/{slug}/{id}")
def topic_page(forge: Forge, req: Request) -> Response:
    return _page(forge, req.params["id"])


@router.route("GET", "/t/{id}")
def topic_page_by_id(forge: Forge, req: Request) -> Response:
    return _page(forge, req.params["id"])


def topic_url(forge: Forge, topic: dict[str, Any]) -> str:
    return f"{forge.base_url}{PREFIX}/t/{topic['slug']}/{topic['id']}"


# ---- admin --------------------------------------------------------------------------------


def _admin_data(req: Request) -> dict[str, Any]:
    data = req.json()
    if not isinstance(data, dict):
        raise ApiError(422, "an object is expected")
    return data


def ensure_user(forge: Forge, username: str, admin: bool = True) -> dict[str, Any]:
    with forge.lock:
        user = _user(forge, username)
        if user is None:
            user = forge.insert("dc_user", "", {"username": username, "admin": admin})
        return user


@ROUTER.route("POST", "/_admin/discourse/users")
def admin_user(forge: Forge, req: Request) -> Response:
    data = _admin_data(req)
    username = data.get("username")
    if not isinstance(username, str) or not username:
        raise ApiError(422, "username is required")
    user = ensure_user(forge, username, bool(data.get("admin", True)))
    if "admin" in data or "moderator" in data:
        user = forge.update(
            "dc_user",
            user["id"],
            {"admin": bool(data.get("admin")), "moderator": bool(data.get("moderator"))},
        )
    return Response(201, _user_json(user))


@ROUTER.route("POST", "/_admin/discourse/api_keys")
def admin_key(forge: Forge, req: Request) -> Response:
    data = _admin_data(req)
    username = data.get("username")
    if username is not None:
        if not isinstance(username, str) or not username:
            raise ApiError(422, "username is a name, or null for an all-users key")
        ensure_user(forge, username)
    key = data.get("key") or secrets.token_hex(32)
    forge.insert("dc_key", "", {"key_hash": _key_hash(str(key)), "username": username})
    return Response(201, {"key": key, "username": username})


@ROUTER.route("POST", "/_admin/discourse/categories")
def admin_category(forge: Forge, req: Request) -> Response:
    data = _admin_data(req)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ApiError(422, "name is required")
    with forge.lock:
        for cat in forge.find("dc_category", ""):
            if cat["name"].lower() == name.lower():
                return Response(200, _category_json(forge, cat))
        cat = forge.insert(
            "dc_category",
            "",
            {
                "name": name,
                "slug": data.get("slug") or slugify(name),
                "description": data.get("description"),
            },
        )
    return Response(201, _category_json(forge, cat))


@ROUTER.route("GET", "/_admin/discourse/topics")
def admin_topics(forge: Forge, req: Request) -> Response:
    out = []
    for topic in forge.find("dc_topic", ""):
        post = _first_post(forge, topic) if topic.get("first_post_id") else {"raw": ""}
        out.append({**_topic_summary(topic), "raw": post["raw"], "url": topic_url(forge, topic)})
    return Response(200, out)
