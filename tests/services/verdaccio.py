"""A real npm registry (Verdaccio, from ``tests/services/npm/``) on loopback, never proxying.

Users are added as ``npm adduser`` does (``PUT /-/user/org.couchdb.user:NAME``), and packages
are published with the real ``npm`` CLI, through a temporary npmrc and cache so that
``~/.npmrc`` is never read or written.
"""

from __future__ import annotations

import itertools
import json
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import yaml

from tests.services.process import Server, clean_env, find_program, free_port, missing

NPM_DIR = Path(__file__).parent / "npm"
_counter = itertools.count(1)


@dataclass(frozen=True)
class NpmUser:
    name: str
    password: str
    token: str


@dataclass
class Verdaccio:
    """A running registry: ``url`` (with a trailing slash, as npm writes it) and helpers."""

    url: str
    data_dir: Path
    server: Server
    npm: str  # the npm CLI

    def unique(self, prefix: str) -> str:
        return f"{prefix}{next(_counter)}"

    def add_user(self, name: str | None = None) -> NpmUser:
        name = name or self.unique("user")
        password = "pw-" + secrets.token_hex(8)
        reply = httpx.put(
            f"{self.url}-/user/org.couchdb.user:{name}",
            json={"name": name, "password": password, "type": "user", "roles": []},
            timeout=30.0,
        )
        assert reply.status_code == 201, reply.text
        return NpmUser(name, password, reply.json()["token"])

    def npm_run(self, user: NpmUser, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        """The npm CLI against this registry only, with a throw-away npmrc and cache."""
        home = self.data_dir / "npm-home" / user.name
        home.mkdir(parents=True, exist_ok=True)
        npmrc = home / "npmrc"
        host = self.url.split("://", 1)[1]
        npmrc.write_text(f"registry={self.url}\n//{host}:_authToken={user.token}\n")
        env = clean_env(
            NPM_CONFIG_USERCONFIG=str(npmrc),
            NPM_CONFIG_GLOBALCONFIG=str(home / "global-npmrc"),
            NPM_CONFIG_CACHE=str(home / "cache"),
            NPM_CONFIG_UPDATE_NOTIFIER="false",
            NPM_CONFIG_AUDIT="false",
            NPM_CONFIG_FUND="false",
            HOME=str(home),
        )
        return subprocess.run(
            [self.npm, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
        )

    def publish(self, user: NpmUser, name: str, version: str, tag: str = "latest") -> None:
        """``npm publish --tag TAG`` of a one-file package."""
        folder = self.data_dir / "src" / f"{name.replace('/', '__')}-{version}"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        (folder / "package.json").write_text(
            json.dumps({"name": name, "version": version, "main": "index.js", "license": "MIT"})
        )
        (folder / "index.js").write_text(f"module.exports = {json.dumps(version)};\n")
        done = self.npm_run(user, "publish", "--tag", tag, cwd=folder)
        assert done.returncode == 0, done.stderr

    def dist_tags(self, name: str) -> dict[str, str]:
        reply = httpx.get(f"{self.url}{quote(name, safe='@')}", timeout=30.0)
        reply.raise_for_status()
        return dict(reply.json()["dist-tags"])


def verdaccio_config(data: Path, port: int) -> dict[str, object]:
    policy = {"access": "$all", "publish": "$authenticated", "unpublish": "$authenticated"}
    return {
        "storage": str(data / "storage"),
        "auth": {"htpasswd": {"file": str(data / "htpasswd"), "max_users": 1000}},
        "web": {"enable": False},
        "uplinks": {},  # never proxy to a public registry
        "packages": {"@*/*": policy, "**": policy},
        "listen": f"127.0.0.1:{port}",
        "log": {"type": "stdout", "format": "pretty", "level": "warn"},
        "publish": {"allow_offline": True},
    }


@contextmanager
def start_verdaccio(data: Path) -> Iterator[Verdaccio]:
    binary = NPM_DIR / "node_modules" / ".bin" / "verdaccio"
    if not binary.exists():
        missing("Verdaccio", "cd tests/services/npm && npm ci")
    node = find_program("node", "apt-get install nodejs npm")
    npm = find_program("npm", "apt-get install npm")
    data.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = data / "config.yaml"
    config.write_text(yaml.safe_dump(verdaccio_config(data, port)))
    server = Server("verdaccio", [node, str(binary), "--config", str(config)], data, clean_env())
    url = f"http://127.0.0.1:{port}/"
    try:
        server.wait_ready(f"{url}-/ping", lambda r: r.status_code == 200)
        yield Verdaccio(url, data, server, npm)
    finally:
        server.stop()
