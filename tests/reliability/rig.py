"""The release every reliability trial drives: the demo's (tests/reliability/README.md).

A sandbox forge with the example library (history, a v1.1.0, Python distributions built by
its workflow), the sandbox's Matrix room, Discourse forum, subreddit and Discord webhook, its
package index (an upload token scoped to the project) and a dependent application updated by
PR at the final. ``Rig`` runs the CLI against it in-process, reads its request and body logs,
injects faults, and describes the state a release leaves (``state()``), object by object.

A rig is copied (``Rig.copy``): the forge's root is snapshotted (SQLite's backup of its
database, then its repositories, assets and services' files) and served again elsewhere, so
a trial starts from "the release as it stood before stage X" without replaying it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import sqlite3
import sys
from pathlib import Path
from typing import Any

import httpx
from typer.testing import Result

from releaser.sandbox.server import SandboxServer

TOKEN_ENV = "SANDBOX_TOKEN"
PYPI_ENV = "SANDBOX_PYPI_TOKEN"
VERSION = "v1.2.0"
ENGINE = "\n[engine]\npoll_interval = 0.2\nwait_timeout = 120\n"


def full_config(info: dict[str, str]) -> str:
    """The demo's tables (releaser/demo.py) with the sandbox's URLs as this server has them."""
    from releaser.demo import DEMO_ENGINE, demo_pypi
    from releaser.sandbox.seed import DEPENDENT_CONFIG

    # Without the demo's smoke test (a venv and a pip install per run: seconds each time,
    # and tests/steps/test_publish_verify.py covers it): the trials run publish many times.
    pypi = demo_pypi(sys.executable).split("[[publish.smoke]]")[0]
    pypi = pypi.replace("http://sandbox/pypi/legacy/", info["pypi_upload_url"])
    pypi = pypi.replace('"http://sandbox"', json.dumps(info["pypi_url"]))
    engine = DEMO_ENGINE.split("[engine]")[0]  # the early testers; our own [engine] below
    return engine + ENGINE + pypi + DEPENDENT_CONFIG


class Rig:
    """A seeded (or copied) sandbox and the releaser.toml driving it."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.server = SandboxServer(root / "forge").start()
        self.info: dict[str, str] = self.server.info()
        self.token = self.info["token"]
        self.work = root / "work"
        self.cache = root / "cache"
        self.config_path = self.work / "releaser.toml"
        self.env = {TOKEN_ENV: self.token, **env}  # every credential the release uses
        self._retarget()

    # -- making one -----------------------------------------------------------------------

    @classmethod
    def seeded(cls, root: Path) -> Rig:
        from releaser.sandbox.seed import (
            seed_channels,
            seed_dependent,
            seed_example_project,
            write_example_config,
        )

        root.mkdir(parents=True, exist_ok=True)
        server = SandboxServer(root / "forge").start()
        try:
            info = server.info()
            seed = seed_example_project(
                info["api_url"], info["git_url"], info["token"], work=root, python_dists=True
            )
            channels = seed_channels(info)
            seed_dependent(info["api_url"], info["token"])
            answer = httpx.post(
                info["admin_url"] + "/pypi/tokens", json={"project": "example"}, timeout=30
            )
            answer.raise_for_status()
            env = {**channels.env, PYPI_ENV: str(answer.json()["token"])}
            forge = {"api_url": info["api_url"], "git_url": info["git_url"]}
            forge["token_env"] = TOKEN_ENV
            write_example_config(
                root / "work", seed, forge, extra=channels.config + full_config(info)
            )
        finally:
            server.stop()
        (root / "rig.json").write_text(json.dumps({"env": env, "base": info["api_url"]}))
        return cls(root, env)

    def copy(self, dest: Path) -> Rig:
        """This rig's forge as it stands now, served from ``dest`` (this one keeps running)."""
        dest.mkdir(parents=True, exist_ok=True)
        src_root, dst_root = self.root / "forge", dest / "forge"
        skip = {"forge.db", "forge.db-wal", "forge.db-shm", "port", "requests.log", "bodies.log"}
        shutil.copytree(src_root, dst_root, ignore=lambda d, names: skip & set(names))
        with self.server.forge.lock:
            source = sqlite3.connect(src_root / "forge.db")
            target = sqlite3.connect(dst_root / "forge.db")
            try:
                source.backup(target)
            finally:
                source.close()
                target.close()
        shutil.copytree(self.work, dest / "work")
        shutil.copy(self.root / "rig.json", dest / "rig.json")
        data = json.loads((self.root / "rig.json").read_text())
        return Rig(dest, data["env"])

    def _retarget(self) -> None:
        """Point releaser.toml (written for the rig it was copied from) at this server."""
        data = json.loads((self.root / "rig.json").read_text())
        old = data["base"].split("/api/")[0]
        new = self.info["api_url"].split("/api/")[0]
        if old != new:
            self.config_path.write_text(self.config_path.read_text().replace(old, new))
            data["env"] = {k: v.replace(old, new) for k, v in data["env"].items()}
            data["base"] = self.info["api_url"]
            (self.root / "rig.json").write_text(json.dumps(data))
        self.env.update(data["env"])

    def stop(self) -> None:
        self.server.stop()

    # -- running releaser -----------------------------------------------------------------

    def cli(self, *args: str, env: dict[str, str] | None = None) -> Result:
        """``releaser ARGS`` in-process in the work directory with every credential set."""
        from typer.testing import CliRunner

        from releaser.cli import app

        full = {**self.env, "XDG_CACHE_HOME": str(self.cache), "CI": "", **(env or {})}
        saved = os.environ.get("XDG_CACHE_HOME")
        os.environ["XDG_CACHE_HOME"] = str(self.cache)
        try:
            with contextlib.chdir(self.work):
                return CliRunner().invoke(app, list(args), env=full)
        finally:
            if saved is None:
                os.environ.pop("XDG_CACHE_HOME", None)
            else:
                os.environ["XDG_CACHE_HOME"] = saved

    def stage(self, stage: str, *args: str, version: str = VERSION) -> Result:
        return self.cli("--non-interactive", stage, version, "--yes", *args)

    # -- the admin API --------------------------------------------------------------------

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        answer = httpx.request(method, self.info["admin_url"] + path, json=body, timeout=60)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        return list(self.admin("GET", f"/requests?since={since}"))

    def mark(self) -> int:
        return len(self.requests())

    def writes_since(self, mark: int) -> list[dict[str, Any]]:
        return [e for e in self.requests(mark) if e.get("write")]

    def faults(self, *rules: dict[str, Any]) -> None:
        self.admin("POST", "/faults", {"rules": list(rules)})

    def fault_rules(self) -> list[dict[str, Any]]:
        return list(self.admin("GET", "/faults"))

    def clear_faults(self) -> None:
        self.admin("DELETE", "/faults")

    def log_bodies(self) -> None:
        self.admin("POST", "/settings", {"log_bodies": True})

    def bodies(self) -> list[dict[str, Any]]:
        return list(self.admin("GET", "/bodies"))

    # -- what a release leaves ------------------------------------------------------------

    def api(self, path: str, token: str | None = None) -> Any:
        """A GET of the forge's REST API, every page."""
        headers = {"Authorization": f"token {token or self.token}"}
        url: str | None = self.info["api_url"].rstrip("/") + "/" + path.lstrip("/")
        items: list[Any] = []
        while url:
            answer = httpx.get(url, headers=headers, timeout=60)
            answer.raise_for_status()
            data = answer.json()
            if not isinstance(data, list):
                return data
            items += data
            url = answer.links.get("next", {}).get("url")
        return items

    def state(self) -> dict[str, Any]:
        """Everything a release makes, without what differs per forge (ids, shas, times,
        ports): branches, tags, releases and assets, PRs, issues with their bodies and
        comments, workflow runs dispatched, channel posts, package files. Two runs that
        converge have equal states; a duplicate anywhere makes them differ."""
        state: dict[str, Any] = {}
        for repo in ("acme/example", "acme/example-app"):
            r = f"repos/{repo}"
            issues = []
            for issue in self.api(f"{r}/issues?state=all&per_page=100"):
                comments = [
                    norm(c["body"])
                    for c in self.api(f"{r}/issues/{issue['number']}/comments?per_page=100")
                ]
                kind = "pull" if issue.get("pull_request") else "issue"
                body = norm(issue["body"]).splitlines()
                issues.append((kind, issue["title"], issue["state"], body, comments))
            state[repo] = {
                "branches": sorted(b["name"] for b in self.api(f"{r}/branches?per_page=100")),
                "tags": sorted(t["name"] for t in self.api(f"{r}/tags?per_page=100")),
                "releases": sorted(
                    (
                        x["tag_name"],
                        x["name"],
                        x["prerelease"],
                        x["draft"],
                        norm(x["body"]).splitlines(),
                        sorted(a["name"] for a in x["assets"]),
                    )
                    for x in self.api(f"{r}/releases?per_page=100")
                ),
                "pulls": sorted(
                    (p["title"], p["state"], bool(p.get("merged_at")), p["head"]["ref"])
                    for p in self.api(f"{r}/pulls?state=all&per_page=100")
                ),
                "issues": sorted(issues),
                "dispatched": sorted(
                    (run["head_branch"], run["event"])
                    for run in self.api(f"{r}/actions/runs?per_page=100")["workflow_runs"]
                    if run["event"] == "workflow_dispatch"
                ),
            }
        state["channels"] = self.channel_posts()
        return json.loads(json.dumps(state))  # as stored: lists, not tuples

    def channel_posts(self) -> dict[str, list[str]]:
        """What every channel holds: Matrix messages, Discourse topics (and pins), Reddit
        submissions, Discord messages, the index's files (each a sorted list: a duplicate
        shows)."""
        room = self.admin("GET", "/matrix/rooms/%23releases:sandbox/events")
        hooks = [k for k in self.env if k == "SANDBOX_DISCORD_WEBHOOK_URL"]
        hook_id = self.env[hooks[0]].rstrip("/").split("/")[-2] if hooks else ""
        pypi = httpx.get(self.info["pypi_url"].rstrip("/") + "/pypi/example/json", timeout=30)
        files = (
            sorted(f["filename"] for fs in pypi.json()["releases"].values() for f in fs)
            if pypi.status_code == 200
            else []
        )
        return {
            "matrix": sorted(
                norm(e.get("content", {}).get("body", ""))
                for e in room
                if e.get("type") == "m.room.message"
            ),
            "discourse": sorted(
                json.dumps(
                    {
                        k: v
                        for k, v in t.items()
                        if k in ("title", "pinned_globally", "category_id", "tags")
                    },
                    sort_keys=True,
                )
                for t in self.admin("GET", "/discourse/topics")
            ),
            "reddit": sorted(
                norm(f"{s.get('title')} {s.get('url', '')}")
                for s in self.admin("GET", "/reddit/submissions")
            ),
            "discord": sorted(
                norm(m.get("content", ""))
                for m in self.admin("GET", f"/discord/webhooks/{hook_id}/messages")
            ),
            "pypi": files,
        }


_VARYING = (
    (re.compile(r"http://127\.0\.0\.1:\d+"), "FORGE"),  # a copy serves on another port
    (re.compile(r"\b[0-9a-f]{7,40}\b"), "SHA"),  # commits made at another time
    (re.compile(r"%24[A-Za-z0-9_-]{20,}"), "EVENT"),  # Matrix event ids
    (re.compile(r"\b\d{15,}\b"), "ID"),  # Discord's snowflakes
    (re.compile(r"/comments/[a-z0-9]+/"), "/comments/ID/"),  # Reddit's base-36 ids
    # ids another driver's refused or lost attempts may have used up (the lists of comments
    # and topics themselves are compared, so a duplicate still shows)
    (re.compile(r"#issuecomment-\d+"), "#issuecomment-ID"),
    (re.compile(r"/actions/runs/\d+"), "/actions/runs/ID"),  # the dispatched runs are listed
    (re.compile(r"(/discourse/t/[a-z0-9-]+)/\d+"), r"\1/ID"),
)


def norm(text: Any) -> str:
    """``text`` without what differs between two forges doing the same thing."""
    out = str(text or "")
    for pattern, name in _VARYING:
        out = pattern.sub(name, out)
    return out


def discord_links(rig: Rig) -> list[str]:
    """The link of every message the webhook sent (what an operator copies from Discord)."""
    hook_id = rig.env["SANDBOX_DISCORD_WEBHOOK_URL"].rstrip("/").split("/")[-2]
    base = rig.info["api_url"].split("/api/")[0]
    guild = rig.server.forge.find_one("dw_hook", "", hook_id=hook_id)["guild_id"]
    return [
        f"{base}/discord/channels/{guild}/{m['channel_id']}/{m['id']}"
        for m in rig.admin("GET", f"/discord/webhooks/{hook_id}/messages")
    ]


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()
