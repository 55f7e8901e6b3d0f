"""A Reddit API subset for praw: a script app's password grant, link posts, listings.

Below ``base/reddit`` (praw: ``oauth_url=f"{reddit_url}/"`` (the trailing slash matters: praw
joins relative paths onto it), ``reddit_url=reddit_url``)::

    POST /api/v1/access_token        grant_type=password, Basic client_id:client_secret
    GET  /api/v1/me                  the account
    POST /api/submit                 kind=link, sr, title, url[, resubmit] (api_type=json)
    GET  /user/{name}/submitted      Listing of t3, newest first (limit, after)
    GET  /r/{sr}/new                 Listing of t3, newest first (limit, after)
    GET  /api/info                   Listing by url= or id=t3_a,t3_b
    GET  /comments/{id}[/{slug}]     [Listing(t3), Listing(comments)]
    GET  /r/{sr}/comments/{id}/{slug}   the post's web page (HTML, no auth)

Every OAuth answer carries ``x-ratelimit-remaining`` / ``-used`` / ``-reset`` (600 requests
per 600 s per token). Errors as Reddit answers them: a bad client is 401 ``{"message":
"Unauthorized", "error": 401}``, a bad password ``{"error": "invalid_grant"}``, a missing or
expired bearer token 401; submit errors are 200 ``{"json": {"errors": [[CODE, message,
field]]}}`` (SUBREDDIT_NOEXIST, NO_TEXT, NO_URL, ALREADY_SUB, RATELIMIT). A ``rate_limit``
fault answers 429 with ``x-ratelimit-remaining: 0``; with ``"kind": "secondary"`` an action
(``/api/submit``) is answered the per-action RATELIMIT error ("Take a break for N
seconds/minutes"), a read still 429. The request log counts the token grant as a login, not
a write (``"login": true``): it changes nothing anyone sees.

Admin::

    POST /_admin/reddit/apps        {"client_id": opt, "client_secret": opt} -> both
    POST /_admin/reddit/users       {"username": "releasebot", "password": opt} -> both
    POST /_admin/reddit/subreddits  {"name": "ipfs"} -> {"name", "id"}
    GET  /_admin/reddit/submissions every submission (t3 data), oldest first
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import html
import re
import secrets
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from releaser.sandbox.http import ROUTER, ApiError, Request, Response, Router
from releaser.sandbox.services.common import Service, ServiceError, Window, bearer, first, form

if TYPE_CHECKING:
    from releaser.sandbox.forge import Forge

PREFIX = "/reddit"
router = Router()
WINDOW = Window(limit=600, seconds=600)
TOKEN_SECONDS = 86400


def error(status: int, message: str) -> Response:
    names = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests"}
    return Response(status, {"message": names.get(status, message), "error": status})


def fail(status: int) -> ServiceError:
    return ServiceError(error(status, ""))


def api_errors(*errors: tuple[str, str, str | None]) -> ServiceError:
    return ServiceError(Response(200, {"json": {"errors": [list(e) for e in errors]}}))


def ratelimit_message(seconds: int) -> str:
    amount = f"{seconds // 60} minutes" if seconds >= 120 else f"{seconds} seconds"
    return (
        f"Looks like you've been doing that a lot. Take a break for {amount} before trying again."
    )


def rate_limited(path: str, retry_after: int, kind: str) -> Response:
    if kind == "secondary" and _is_action(path):
        body = {"json": {"errors": [["RATELIMIT", ratelimit_message(retry_after), "ratelimit"]]}}
        return Response(200, body)
    response = error(429, "Too Many Requests")
    response.headers.update(
        {
            "Retry-After": str(retry_after),
            "x-ratelimit-remaining": "0.0",
            "x-ratelimit-used": str(WINDOW.limit),
            "x-ratelimit-reset": str(retry_after),
        }
    )
    return response


def _is_action(path: str) -> bool:
    """An action endpoint (``/api/submit``, ...), the only kind Reddit refuses with the
    RATELIMIT error; reads (listings, a post, ``/api/v1/me``) are limited with a 429."""
    return path.startswith(PREFIX + "/api/") and not path.startswith(PREFIX + "/api/v1/")


def decorate(forge: Forge, req: Request, response: Response) -> None:
    """Reddit's rate-limit headers on every OAuth answer (not on the token endpoint)."""
    token = bearer(req)
    if not token or "x-ratelimit-remaining" in response.headers:
        return
    used, remaining, reset = WINDOW.take(hashlib.sha256(token.encode()).hexdigest())
    response.headers.update(
        {
            "x-ratelimit-remaining": f"{float(remaining):.1f}",
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(int(reset)),
        }
    )


SERVICE = Service(
    "Reddit", PREFIX, router, error, rate_limited, decorate, logins=("/api/v1/access_token",)
)


# ---- state --------------------------------------------------------------------------------


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rem = divmod(number, 36)
        out = digits[rem] + out
        if not number:
            return out


def _subreddit(forge: Forge, name: str) -> dict[str, Any] | None:
    for sub in forge.find("rd_sub", ""):
        if str(sub["name"]).lower() == name.lower():
            return sub
    return None


def _account(forge: Forge, name: str) -> dict[str, Any] | None:
    for user in forge.find("rd_user", ""):
        if str(user["username"]).lower() == name.lower():
            return user
    return None


def authenticate(forge: Forge, req: Request) -> dict[str, Any]:
    token = bearer(req)
    grant = forge.find_one("rd_token", "", token_hash=_hash(token)) if token else None
    if grant is None or grant["expires"] < time.time():
        response = error(401, "Unauthorized")
        response.headers["www-authenticate"] = 'Bearer realm="reddit", error="invalid_token"'
        raise ServiceError(response)
    user = _account(forge, grant["username"])
    if user is None:
        raise fail(401)
    return user


def _slug(title: str) -> str:
    words = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")
    return words[:50].rstrip("_") or "post"


def _permalink(link: dict[str, Any]) -> str:
    return f"/r/{link['subreddit']}/comments/{link['rid']}/{_slug(link['title'])}/"


def _t3(forge: Forge, link: dict[str, Any]) -> dict[str, Any]:
    sub = _subreddit(forge, link["subreddit"]) or {"name": link["subreddit"], "id": 0}
    host = urlsplit(link["url"]).hostname or ""
    return {
        "id": link["rid"],
        "name": f"t3_{link['rid']}",
        "title": link["title"],
        "url": link["url"],
        "permalink": _permalink(link),
        "subreddit": sub["name"],
        "subreddit_name_prefixed": f"r/{sub['name']}",
        "subreddit_id": f"t5_{_base36(sub['id'])}",
        "subreddit_type": "public",
        "author": link["author"],
        "author_fullname": f"t2_{_base36(link['author_id'])}",
        "created": link["created_utc"],
        "created_utc": link["created_utc"],
        "domain": host.removeprefix("www."),
        "is_self": False,
        "is_video": False,
        "selftext": "",
        "selftext_html": None,
        "score": 1,
        "ups": 1,
        "downs": 0,
        "upvote_ratio": 1.0,
        "num_comments": 0,
        "over_18": False,
        "spoiler": False,
        "stickied": False,
        "locked": False,
        "archived": False,
        "hidden": False,
        "removed_by_category": None,
        "distinguished": None,
        "edited": False,
        "link_flair_text": None,
        "thumbnail": "default",
        "send_replies": True,
    }


def _listing(children: list[dict[str, Any]], after: str | None = None) -> dict[str, Any]:
    return {
        "kind": "Listing",
        "data": {
            "after": after,
            "dist": len(children),
            "modhash": None,
            "geo_filter": "",
            "children": [{"kind": "t3", "data": c} for c in children],
            "before": None,
        },
    }


def _page(forge: Forge, req: Request, links: list[dict[str, Any]]) -> Response:
    try:
        limit = max(1, min(100, int(req.query.get("limit", "25"))))
    except ValueError:
        limit = 25
    newest = sorted(links, key=lambda link: link["id"], reverse=True)
    after = req.query.get("after")
    if after:
        names = [f"t3_{link['rid']}" for link in newest]
        newest = newest[names.index(after) + 1 :] if after in names else []
    chunk = newest[:limit]
    more = len(newest) > limit
    return Response(
        200,
        _listing([_t3(forge, link) for link in chunk], f"t3_{chunk[-1]['rid']}" if more else None),
    )


# ---- OAuth --------------------------------------------------------------------------------


@router.route("POST", "/api/v1/access_token")
def access_token(forge: Forge, req: Request) -> Response:
    scheme, _, cred = req.headers.get("authorization", "").partition(" ")
    client_id = secret = ""
    if scheme.lower() == "basic":
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            client_id, _, secret = base64.b64decode(cred.strip()).decode().partition(":")
    app = forge.find_one("rd_app", "", client_id=client_id) if client_id else None
    if app is None or not hmac.compare_digest(app["secret_hash"], _hash(secret)):
        raise fail(401)
    fields = form(req)
    if first(fields, "grant_type") != "password":
        return Response(200, {"error": "unsupported_grant_type"})
    user = _account(forge, first(fields, "username"))
    if user is None or not hmac.compare_digest(
        user["password_hash"], _hash(first(fields, "password"))
    ):
        return Response(200, {"error": "invalid_grant"})
    token = f"{user['id']}-" + secrets.token_urlsafe(24)
    forge.insert(
        "rd_token",
        "",
        {
            "token_hash": _hash(token),
            "username": user["username"],
            "expires": time.time() + TOKEN_SECONDS,
        },
    )
    return Response(
        200,
        {"access_token": token, "token_type": "bearer", "expires_in": TOKEN_SECONDS, "scope": "*"},
    )


@router.route("GET", "/api/v1/me")
def me(forge: Forge, req: Request) -> Response:
    user = authenticate(forge, req)
    return Response(
        200,
        {
            "name": user["username"],
            "id": _base36(user["id"]),
            "created_utc": user["created_utc"],
            "created": user["created_utc"],
            "link_karma": 1,
            "comment_karma": 0,
            "total_karma": 1,
            "is_suspended": False,
            "is_gold": False,
            "is_mod": False,
            "has_verified_email": True,
            "verified": True,
            "over_18": False,
        },
    )


@router.route("POST", "/api/submit")
def submit(forge: Forge, req: Request) -> Response:
    user = authenticate(forge, req)
    fields = form(req)
    kind = first(fields, "kind", "link")
    title = first(fields, "title").strip()
    url = first(fields, "url").strip()
    sub = _subreddit(forge, first(fields, "sr"))
    if sub is None:
        raise api_errors(("SUBREDDIT_NOEXIST", "that subreddit doesn't exist", "sr"))
    if not title:
        raise api_errors(("NO_TEXT", "we need something here", "title"))
    if len(title) > 300:
        raise api_errors(("TOO_LONG", "this is too long (max: 300)", "title"))
    if kind != "link":
        raise api_errors(("INVALID_OPTION", "that option is not valid", "kind"))
    if not re.match(r"^https?://[^\s/]+", url):
        raise api_errors(("NO_URL", "a url is required", "url"))
    with forge.lock:
        posted = [lk for lk in forge.find("rd_link", "", url=url) if lk["subreddit"] == sub["name"]]
        if posted and first(fields, "resubmit").lower() not in ("true", "1"):
            raise api_errors(("ALREADY_SUB", "that link has already been submitted", "url"))
        link = forge.insert(
            "rd_link",
            "",
            {
                "title": title,
                "url": url,
                "subreddit": sub["name"],
                "author": user["username"],
                "author_id": user["id"],
                "created_utc": float(int(time.time())),
            },
        )
        rid = _base36(1_000_000 + link["id"])
        link = forge.update("rd_link", link["id"], {"rid": rid})
    permalink = f"{forge.base_url}{PREFIX}{_permalink(link)}"
    data = {"url": permalink, "drafts_count": 0, "id": rid, "name": f"t3_{rid}"}
    return Response(200, {"json": {"errors": [], "data": data}})


@router.route("GET", "/user/{name}/submitted")
def user_submitted(forge: Forge, req: Request) -> Response:
    authenticate(forge, req)
    account = _account(forge, req.params["name"])
    if account is None:
        raise fail(404)
    return _page(forge, req, forge.find("rd_link", "", author_id=account["id"]))


@router.route("GET", "/r/{sr}/new")
def subreddit_new(forge: Forge, req: Request) -> Response:
    authenticate(forge, req)
    sub = _subreddit(forge, req.params["sr"])
    if sub is None:  # Reddit sends an unknown subreddit to its search page
        location = f"{PREFIX}/subreddits/search.json?q={req.params['sr']}"
        return Response(302, {}, {"Location": location})
    return _page(forge, req, forge.find("rd_link", "", subreddit=sub["name"]))


@router.route("GET", "/api/info")
def info(forge: Forge, req: Request) -> Response:
    authenticate(forge, req)
    links = forge.find("rd_link", "")
    if "url" in req.query:
        found = [lk for lk in links if lk["url"] == req.query["url"]]
    else:
        wanted = {i.strip() for i in req.query.get("id", "").split(",") if i.strip()}
        found = [lk for lk in links if f"t3_{lk.get('rid')}" in wanted]
    return Response(200, _listing([_t3(forge, lk) for lk in reversed(found)]))


def _by_rid(forge: Forge, rid: str) -> dict[str, Any] | None:
    return forge.find_one("rd_link", "", rid=rid)


@router.route("GET", "/comments/{rid}")
def comments(forge: Forge, req: Request) -> Response:
    authenticate(forge, req)
    link = _by_rid(forge, req.params["rid"])
    if link is None:
        raise fail(404)
    return Response(200, [_listing([_t3(forge, link)]), _listing([])])


@router.route("GET", "/comments/{rid}/{slug}")
def comments_slug(forge: Forge, req: Request) -> Response:
    return comments(forge, req)


@router.route("GET", "/r/{sr}/comments/{rid}/{slug}")
def post_page(forge: Forge, req: Request) -> Response:
    link = _by_rid(forge, req.params["rid"])
    if link is None or link["subreddit"].lower() != req.params["sr"].lower():
        missing = b"<!DOCTYPE html><html><body><h1>page not found</h1></body></html>"
        return Response(404, missing, content_type="text/html; charset=utf-8")
    title = html.escape(link["title"])
    target = html.escape(link["url"], quote=True)
    page = (
        f"<!DOCTYPE html><html><head><title>{title} : {html.escape(link['subreddit'])}</title>"
        f'</head><body><h1><a href="{target}">{title}</a></h1>'
        f"<p>submitted by u/{html.escape(link['author'])}</p></body></html>"
    )
    return Response(200, page.encode(), content_type="text/html; charset=utf-8")


# ---- admin --------------------------------------------------------------------------------


def _admin_data(req: Request) -> dict[str, Any]:
    data = req.json()
    if not isinstance(data, dict):
        raise ApiError(422, "an object is expected")
    return data


@ROUTER.route("POST", "/_admin/reddit/apps")
def admin_app(forge: Forge, req: Request) -> Response:
    data = _admin_data(req)
    client_id = str(data.get("client_id") or secrets.token_urlsafe(16)[:22])
    secret = str(data.get("client_secret") or secrets.token_urlsafe(24))
    with forge.lock:
        if forge.find_one("rd_app", "", client_id=client_id) is not None:
            raise ApiError(409, f"app {client_id} exists")
        forge.insert("rd_app", "", {"client_id": client_id, "secret_hash": _hash(secret)})
    return Response(201, {"client_id": client_id, "client_secret": secret})


@ROUTER.route("POST", "/_admin/reddit/users")
def admin_user(forge: Forge, req: Request) -> Response:
    data = _admin_data(req)
    username = data.get("username")
    if not isinstance(username, str) or not re.fullmatch(r"[A-Za-z0-9_-]{3,20}", username):
        raise ApiError(422, "username is 3-20 letters, digits, _ or -")
    password = str(data.get("password") or secrets.token_urlsafe(16))
    with forge.lock:
        if _account(forge, username) is not None:
            raise ApiError(409, f"user {username} exists")
        forge.insert(
            "rd_user",
            "",
            {
                "username": username,
                "password_hash": _hash(password),
                "created_utc": float(int(time.time())),
            },
        )
    return Response(201, {"username": username, "password": password})


@ROUTER.route("POST", "/_admin/reddit/subreddits")
def admin_subreddit(forge: Forge, req: Request) -> Response:
    data = _admin_data(req)
    name = data.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_]{2,21}", name):
        raise ApiError(422, "name is 2-21 letters, digits or _")
    with forge.lock:
        sub = _subreddit(forge, name) or forge.insert("rd_sub", "", {"name": name})
    return Response(201, {"name": sub["name"], "id": f"t5_{_base36(sub['id'])}"})


@ROUTER.route("GET", "/_admin/reddit/submissions")
def admin_submissions(forge: Forge, req: Request) -> Response:
    return Response(200, [_t3(forge, link) for link in forge.find("rd_link", "") if "rid" in link])
