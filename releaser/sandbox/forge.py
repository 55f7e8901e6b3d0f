"""The sandbox forge's state: a document store in SQLite plus bare git repositories on disk.

Layout of a forge root::

    ROOT/forge.db        documents (repos, issues, pulls, releases, assets, runs, ...)
    ROOT/token           the API token (created once; also the git password)
    ROOT/repos/O/R.git   bare repositories, served over smart HTTP
    ROOT/assets/ID       release asset bytes
    ROOT/requests.log    every request, JSON lines
    ROOT/tmp/            short-lived files (a push's ref refusals for the update hook)

Every object the API answers with is a *document*: a JSON object stored under a ``kind``
("repo", "issue", "comment", "release", "asset", "run", "label", ...) and a ``repo``
("owner/name", or "" for global ones), with a forge-wide numeric ``id``. Issues and pulls
share one ``number`` sequence per repository, as on GitHub.

All writes go through ``with forge.lock:`` so concurrent requests see a consistent store.
Time is ``forge.clock`` (:mod:`.clock`), never the wall clock; users, roles and tokens are in
:mod:`.people`, branch and tag protection in :mod:`.protection`.

The forge imports none of the modules built on it: they react to its events (pushes, ticks,
releases, changed merge gates, succeeded workflow runs) through the hook registries below.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from releaser.sandbox.clock import Clock
from releaser.sandbox.http import ApiError, not_found

DEFAULT_LOGIN = "release-bot"
SCOPES = "repo, workflow, read:org, write:packages"

# Higher modules register reactions here when imported, so that a lower module triggers
# them without importing them (e.g. Actions starts runs on tag pushes); the server imports
# every such module before serving (``server.load_api_modules``).
# A push hook gets (forge, full_name, [(ref, old_sha, new_sha), ...]) after refs moved,
# whether through git or the API ("0"*40 for a created or deleted ref).
PushHook = Callable[["Forge", str, list[tuple[str, str, str]]], None]
PUSH_HOOKS: list[PushHook] = []
# A tick hook runs before every request: due work (finishing workflow runs) happens then.
TICK_HOOKS: list[Callable[[Forge], None]] = []
# A release hook gets (forge, full_name, tag, events) after a release changed; events are
# GitHub's release activity types among created, published, released, prereleased.
ReleaseHook = Callable[["Forge", str, str, set[str]], None]
RELEASE_HOOKS: list[ReleaseHook] = []
# A gate hook gets (forge, full_name) after something a protected merge waits for changed
# there: a commit status, a review, a branch protection rule (auto-merge sweeps then).
GATE_HOOKS: list[Callable[[Forge, str], None]] = []
# A run hook gets (forge, full_name, run, log) when a workflow run that succeeded completes,
# under ``forge.lock`` and before the run is recorded: it applies the run's effects, adds
# lines to its job log, and returns why they failed (the run then fails) or None.
RunHook = Callable[["Forge", str, dict[str, Any], list[str]], str | None]
RUN_HOOKS: list[RunHook] = []

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    repo TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS docs_kind_repo ON docs (kind, repo);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Forge:
    def __init__(self, root: Path, base_url: str = "http://127.0.0.1:0") -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "repos").mkdir(exist_ok=True)
        (self.root / "assets").mkdir(exist_ok=True)
        self.lock = threading.RLock()
        self._db = sqlite3.connect(
            self.root / "forge.db", check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self.clock = Clock(self)
        token_file = self.root / "token"
        if not token_file.exists():
            token_file.write_text("ghp_sandbox" + secrets.token_hex(16) + "\n")
        self.token = token_file.read_text().strip()
        self.login = DEFAULT_LOGIN
        self.set_base_url(base_url)

    def now_iso(self) -> str:
        """Sandbox time now as GitHub writes timestamps (``2024-01-02T03:04:05Z``)."""
        return self.clock.iso()

    # ---- URLs ---------------------------------------------------------------------------

    def set_base_url(self, base_url: str) -> None:
        base = base_url.rstrip("/")
        self.base_url = base
        self.api_url = base + "/api/v3"
        self.uploads_url = base + "/api/uploads"
        self.git_url = base + "/git"
        self.admin_url = base + "/_admin"
        self.html_url = base  # web pages: {html_url}/{owner}/{repo}/pull/1

    def repo_api(self, full_name: str) -> str:
        return f"{self.api_url}/repos/{full_name}"

    def repo_html(self, full_name: str) -> str:
        return f"{self.html_url}/{full_name}"

    # ---- documents ----------------------------------------------------------------------

    def insert(self, kind: str, repo: str, data: dict[str, Any]) -> dict[str, Any]:
        """Store a new document; ``data["id"]`` is assigned (and returned in the copy)."""
        with self.lock:
            cur = self._db.execute(
                "INSERT INTO docs (kind, repo, data) VALUES (?, ?, ?)", (kind, repo, "{}")
            )
            doc_id = int(cur.lastrowid or 0)
            doc = {**data, "id": doc_id}
            self._db.execute("UPDATE docs SET data = ? WHERE id = ?", (json.dumps(doc), doc_id))
            return doc

    def get(self, kind: str, doc_id: int | str, repo: str | None = None) -> dict[str, Any]:
        """The document, or ApiError 404."""
        try:
            key = int(doc_id)
        except (TypeError, ValueError):
            raise not_found() from None
        row = self._db.execute(
            "SELECT repo, data FROM docs WHERE id = ? AND kind = ?", (key, kind)
        ).fetchone()
        if row is None or (repo is not None and row[0] != repo):
            raise not_found()
        return dict(json.loads(row[1]))

    def find(self, kind: str, repo: str | None = None, **match: Any) -> list[dict[str, Any]]:
        """All documents of ``kind`` (in ``repo``) whose top-level fields equal ``match``."""
        if repo is None:
            rows = self._db.execute(
                "SELECT data FROM docs WHERE kind = ? ORDER BY id", (kind,)
            ).fetchall()
        else:
            rows = self._db.execute(
                "SELECT data FROM docs WHERE kind = ? AND repo = ? ORDER BY id", (kind, repo)
            ).fetchall()
        docs = [json.loads(r[0]) for r in rows]
        return [d for d in docs if all(d.get(k) == v for k, v in match.items())]

    def find_one(self, kind: str, repo: str | None = None, **match: Any) -> dict[str, Any] | None:
        found = self.find(kind, repo, **match)
        return found[0] if found else None

    def update(self, kind: str, doc_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            doc = self.get(kind, doc_id)
            doc.update(changes)
            self._db.execute("UPDATE docs SET data = ? WHERE id = ?", (json.dumps(doc), doc_id))
            return doc

    def delete(self, kind: str, doc_id: int) -> None:
        with self.lock:
            self.get(kind, doc_id)
            self._db.execute("DELETE FROM docs WHERE id = ?", (doc_id,))

    def next_value(self, name: str) -> int:
        """A persistent counter: 1, 2, 3, ... (e.g. ``next_value("number:o/r")``)."""
        with self.lock:
            row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
            value = (row[0] if row else 0) + 1
            self._db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (name, value),
            )
            return int(value)

    def next_number(self, full_name: str) -> int:
        """The next issue/pull number of a repository (one shared sequence, as on GitHub)."""
        return self.next_value(f"number:{full_name}")

    def setting(self, name: str, default: Any = None) -> Any:
        row = self._db.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_setting(self, name: str, value: Any) -> None:
        with self.lock:
            self._db.execute(
                "INSERT INTO settings (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (name, json.dumps(value)),
            )

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the lock across a read-check-write sequence."""
        with self.lock:
            yield

    # ---- events -------------------------------------------------------------------------

    def notify_push(self, full_name: str, updates: list[tuple[str, str, str]]) -> None:
        for hook in PUSH_HOOKS:
            hook(self, full_name, updates)

    def tick(self) -> None:
        for hook in TICK_HOOKS:
            hook(self)

    def notify_release(self, full_name: str, tag: str, events: set[str]) -> None:
        for hook in RELEASE_HOOKS:
            hook(self, full_name, tag, events)

    def notify_gate(self, full_name: str) -> None:
        for hook in GATE_HOOKS:
            hook(self, full_name)

    def run_succeeded(self, full_name: str, run: dict[str, Any], log: list[str]) -> str | None:
        """Let the run hooks act on a run that succeeded; the first failure, or None."""
        for hook in RUN_HOOKS:
            failure = hook(self, full_name, run, log)
            if failure:
                return failure
        return None

    # ---- repositories -------------------------------------------------------------------

    def repo(self, owner: str, name: str) -> dict[str, Any]:
        """The repository document, or ApiError 404."""
        full = f"{owner}/{name}"
        doc = self.find_one("repo", "", full_name=full)
        if doc is None:
            # GitHub matches names case-insensitively
            for candidate in self.find("repo", ""):
                if str(candidate["full_name"]).lower() == full.lower():
                    return candidate
            raise not_found()
        return doc

    def repo_path(self, full_name: str) -> Path:
        return self.root / "repos" / f"{full_name}.git"

    def git(self, full_name: str, *args: str, input: bytes | None = None) -> str:
        """Run the real git CLI in the bare repository; ApiError 409 when git fails."""
        proc = subprocess.run(
            ["git", "--git-dir", str(self.repo_path(full_name)), *args],
            input=input,
            capture_output=True,
            env=git_env(),
        )
        if proc.returncode != 0:
            raise ApiError(409, f"git {args[0]} failed: {proc.stderr.decode().strip()}")
        return proc.stdout.decode()

    def resolve(self, full_name: str, ref: str) -> str | None:
        """The commit sha a branch, tag, full ref or sha names in the repository, or None."""
        full_sha = len(ref) == 40 and all(c in "0123456789abcdef" for c in ref)
        # a full ref or a sha names itself: one git process, not three
        exact = ref.startswith("refs/") or full_sha
        candidates = (ref,) if exact else (f"refs/heads/{ref}", f"refs/tags/{ref}", ref)
        for candidate in candidates:
            proc = subprocess.run(
                [
                    "git",
                    "--git-dir",
                    str(self.repo_path(full_name)),
                    "rev-parse",
                    "--verify",
                    "--quiet",
                    f"{candidate}^{{commit}}",
                ],
                capture_output=True,
                env=git_env(),
            )
            if proc.returncode == 0:
                return proc.stdout.decode().strip()
        return None

    # ---- users --------------------------------------------------------------------------

    def user_json(self, login: str | None = None) -> dict[str, Any]:
        """A ``simple-user`` object."""
        login = login or self.login
        uid = sum(login.encode()) + 1000
        url = f"{self.api_url}/users/{login}"
        return {
            "login": login,
            "id": uid,
            "node_id": f"U_{uid}",
            "avatar_url": f"{self.html_url}/avatars/{login}",
            "gravatar_id": "",
            "url": url,
            "html_url": f"{self.html_url}/{login}",
            "followers_url": f"{url}/followers",
            "following_url": f"{url}/following{{/other_user}}",
            "gists_url": f"{url}/gists{{/gist_id}}",
            "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{url}/subscriptions",
            "organizations_url": f"{url}/orgs",
            "repos_url": f"{url}/repos",
            "events_url": f"{url}/events{{/privacy}}",
            "received_events_url": f"{url}/received_events",
            "type": "User",
            "site_admin": False,
        }


def git_env() -> dict[str, str]:
    """Environment for git subprocesses run by the forge: no user config, fixed identity."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL="/dev/null",
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="Sandbox Forge",
        GIT_AUTHOR_EMAIL="forge@sandbox.invalid",
        GIT_COMMITTER_NAME="Sandbox Forge",
        GIT_COMMITTER_EMAIL="forge@sandbox.invalid",
    )
    return env
