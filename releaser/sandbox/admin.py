"""The forge's admin API (not GitHub's): the request log, fault injection, settings.

``GET /_admin/requests[?since=N]``  the request log (JSON lines of ``ROOT/requests.log``)
``DELETE /_admin/requests``         empty it
``POST /_admin/faults``             add rules: ``{"rules": [...]}`` or one rule
``GET|DELETE /_admin/faults``       list or clear them
``POST /_admin/settings``           ``{name: value}``, e.g. ``{"scopes": "repo"}`` (the default
                                    token's scopes), ``{"log_bodies": true}`` (tests: keep the
                                    body of every request, for secret scans)
``GET /_admin/bodies[?since=N]``    the bodies kept: ``{"method", "path", "login", "body"}``

Elsewhere: ``/_admin/clock`` (:mod:`.clock`), ``/_admin/users``, ``/_admin/orgs``,
``/_admin/repos/O/R/collaborators`` (:mod:`.api_people`), ``/_admin/actions``
(:mod:`.api_actions`); :class:`releaser.sandbox.admin_client.SandboxAdmin` wraps them.

A fault rule: ``method`` (absent: any), ``path`` (regex searched in the URL path, e.g.
``/api/v3/repos/o/r/git/refs``), ``nth`` (1-based among matching requests; absent: from the
first), ``times`` (how many matches it fires on; absent: once with ``nth``, else always), and
``action``: ``error`` (answer ``status``/``body`` before any handler), ``error_after`` (run the
handler, then answer the error), ``delay`` (sleep ``ms``, then proceed), ``drop`` (close the
connection unanswered), ``drop_after`` (run the handler, then drop), ``rate_limit``
(``status`` 403 or 429; ``kind`` primary or secondary; ``retry_after`` seconds).
``user``: only requests made with that forge user's token. ``chance`` (0..1) with ``seed``:
the rule fires on each request it would act on with that probability, drawn from a
generator seeded with ``seed`` (a reproducible share of faults).
"""

from __future__ import annotations

import json
import random
import re
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from releaser.sandbox.http import ROUTER, ApiError, Request, Response

if TYPE_CHECKING:
    from releaser.sandbox.forge import Forge

ACTIONS = ("error", "error_after", "delay", "drop", "drop_after", "rate_limit")
SETTING_SCOPES = "scopes"  # the default token's scopes (see people.authenticate)
SETTING_LOG_BODIES = "log_bodies"  # tests only: keep every request's body in bodies.log


# ---- request log --------------------------------------------------------------------------

_log_lock = threading.Lock()


def log_request(forge: Forge, entry: dict[str, Any]) -> None:
    line = json.dumps(entry) + "\n"
    with _log_lock, (forge.root / "requests.log").open("a") as f:
        f.write(line)


def read_log(forge: Forge) -> list[dict[str, Any]]:
    path = forge.root / "requests.log"
    with _log_lock:
        if not path.exists():
            return []
        lines = path.read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def log_body(forge: Forge, method: str, path: str, login: bool, body: bytes) -> None:
    """Keep a request's body when the ``log_bodies`` setting is on (off by default: bodies
    may be large, and only the secret scans of the tests read them)."""
    if not body or not forge.setting(SETTING_LOG_BODIES, False):
        return
    text = body.decode("utf-8", errors="replace")
    line = json.dumps({"method": method, "path": path, "login": login, "body": text}) + "\n"
    with _log_lock, (forge.root / "bodies.log").open("a") as f:
        f.write(line)


# ---- faults -------------------------------------------------------------------------------


@dataclass
class Fault:
    action: str
    path: str = ""
    method: str | None = None
    nth: int | None = None
    times: int | None = None
    status: int | None = None
    body: Any = None
    ms: int = 0
    retry_after: int = 60
    kind: str = "primary"
    chance: float | None = None
    seed: int = 0
    user: str | None = None
    seen: int = 0
    fired: int = 0
    regex: re.Pattern[str] = field(default_factory=lambda: re.compile(""))
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def parse(cls, raw: Any) -> Fault:
        if not isinstance(raw, dict):
            raise ApiError(422, "A fault rule is an object")
        action = raw.get("action", "error")
        if action not in ACTIONS:
            raise ApiError(422, f"Unknown fault action {action!r}; one of {', '.join(ACTIONS)}")
        try:
            regex = re.compile(str(raw.get("path", "")))
        except re.error as exc:
            raise ApiError(422, f"Bad path regex: {exc}") from exc
        kind = str(raw.get("kind", "primary"))
        if kind not in ("primary", "secondary"):
            raise ApiError(422, "kind is primary or secondary")
        method = raw.get("method")
        chance = raw.get("chance")
        seed = int(raw.get("seed", 0))
        return cls(
            action=action,
            path=str(raw.get("path", "")),
            method=str(method).upper() if method else None,
            nth=int(raw["nth"]) if raw.get("nth") is not None else None,
            times=int(raw["times"]) if raw.get("times") is not None else None,
            status=int(raw["status"]) if raw.get("status") is not None else None,
            body=raw.get("body"),
            ms=int(raw.get("ms", 0)),
            retry_after=int(raw.get("retry_after", 60)),
            kind=kind,
            chance=float(chance) if chance is not None else None,
            user=str(raw["user"]) if raw.get("user") else None,
            seed=seed,
            regex=regex,
            rng=random.Random(seed),
        )

    def json(self) -> dict[str, Any]:
        keys = ("action", "path", "method", "nth", "times", "status", "body", "ms")
        out = {k: getattr(self, k) for k in keys}
        out.update(retry_after=self.retry_after, kind=self.kind, seen=self.seen, fired=self.fired)
        out.update(chance=self.chance, seed=self.seed, user=self.user)
        return out

    def fires(self, method: str, path: str, user: Callable[[], str | None]) -> bool:
        """Count a request against the rule; whether the rule acts on it. ``user``: who
        made the request (asked only by a rule naming one)."""
        if self.method and self.method != method.upper():
            return False
        if self.user is not None and self.user != user():
            return False
        if not self.regex.search(path):
            return False
        self.seen += 1
        start = self.nth or 1
        times = self.times if self.times is not None else (1 if self.nth else None)
        if self.seen < start or (times is not None and self.seen >= start + times):
            return False
        if self.chance is not None and self.rng.random() >= self.chance:
            return False
        self.fired += 1
        return True

    def response(self, now: float) -> Response:
        """The answer of an ``error``/``error_after``/``rate_limit`` rule at time ``now``."""
        if self.action == "rate_limit":
            return rate_limit_response(
                self.status or 403, self.kind, self.retry_after, now, self.body
            )
        status = self.status or 500
        body = self.body
        if body is None:
            body = {"message": f"Injected fault ({status})", "documentation_url": ""}
        headers = {"Retry-After": str(self.retry_after)} if status in (429, 503) else {}
        if isinstance(body, str):
            return Response(status, body.encode(), headers, content_type="text/plain")
        return Response(status, body, headers)


def rate_limit_response(
    status: int, kind: str, retry_after: int, now: float, body: Any = None
) -> Response:
    docs = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
    if status == 429 or kind == "secondary":
        message = (
            "You have exceeded a secondary rate limit. Please wait a few minutes before "
            "you try again."
        )
        headers = {"Retry-After": str(retry_after)}
    else:
        message = "API rate limit exceeded for user ID 1000."
        headers = {
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(now) + retry_after),
            "X-RateLimit-Used": "5000",
        }
    payload = body if body is not None else {"message": message, "documentation_url": docs}
    return Response(status, payload, headers)


class FaultSet:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rules: list[Fault] = []

    def add(self, rules: list[Fault]) -> None:
        with self.lock:
            self.rules.extend(rules)

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()

    def match(
        self, method: str, path: str, user: Callable[[], str | None] = lambda: None
    ) -> list[Fault]:
        """The rules acting on this request: every ``delay``, then at most one other."""
        acting: list[Fault] = []
        with self.lock:
            for rule in self.rules:
                if rule.fires(method, path, user):
                    if rule.action != "delay" and any(r.action != "delay" for r in acting):
                        continue
                    acting.append(rule)
        return acting


_FAULTS: weakref.WeakKeyDictionary[Forge, FaultSet] = weakref.WeakKeyDictionary()
_faults_lock = threading.Lock()


def faults(forge: Forge) -> FaultSet:
    with _faults_lock:
        found = _FAULTS.get(forge)
        if found is None:
            found = _FAULTS[forge] = FaultSet()
        return found


# ---- routes -------------------------------------------------------------------------------


@ROUTER.route("GET", "/_admin/requests")
def get_requests(forge: Forge, req: Request) -> Response:
    entries = read_log(forge)
    since = req.int_query("since", 0)
    return Response(200, entries[since:])


@ROUTER.route("GET", "/_admin/bodies")
def get_bodies(forge: Forge, req: Request) -> Response:
    path = forge.root / "bodies.log"
    with _log_lock:
        lines = path.read_text().splitlines() if path.exists() else []
    since = req.int_query("since", 0)
    return Response(200, [json.loads(line) for line in lines[since:] if line.strip()])


@ROUTER.route("DELETE", "/_admin/requests")
def clear_requests(forge: Forge, req: Request) -> Response:
    with _log_lock:
        (forge.root / "requests.log").write_text("")
    return Response(204)


@ROUTER.route("GET", "/_admin/faults")
def get_faults(forge: Forge, req: Request) -> Response:
    fs = faults(forge)
    with fs.lock:
        return Response(200, [r.json() for r in fs.rules])


@ROUTER.route("POST", "/_admin/faults")
def add_faults(forge: Forge, req: Request) -> Response:
    data = req.json()
    raw = data.get("rules", [data]) if isinstance(data, dict) else data
    if not isinstance(raw, list):
        raise ApiError(422, "rules is a list")
    rules = [Fault.parse(r) for r in raw]
    faults(forge).add(rules)
    return Response(201, [r.json() for r in rules])


@ROUTER.route("DELETE", "/_admin/faults")
def clear_faults(forge: Forge, req: Request) -> Response:
    faults(forge).clear()
    return Response(204)


@ROUTER.route("POST", "/_admin/settings")
def post_settings(forge: Forge, req: Request) -> Response:
    data = req.json()
    if not isinstance(data, dict):
        raise ApiError(422, "settings are an object")
    for name, value in data.items():
        forge.set_setting(str(name), value)
    return Response(200, {name: forge.setting(str(name)) for name in data})


@ROUTER.route("GET", "/_admin/settings/{name}")
def get_setting(forge: Forge, req: Request) -> Response:
    return Response(200, {req.params["name"]: forge.setting(req.params["name"])})


@ROUTER.route("GET", "/_admin")
def admin_info(forge: Forge, req: Request) -> Response:
    return Response(
        200,
        {
            "api_url": forge.api_url,
            "git_url": forge.git_url,
            "admin_url": forge.admin_url,
        },
    )
