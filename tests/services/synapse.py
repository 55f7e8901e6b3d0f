"""A real Matrix homeserver (Synapse) on loopback, offline, with rate limits raised.

Synapse takes 1.5-2.5 s to start, so one serves a whole test session (per xdist worker). Users
are registered through the admin API with the shared secret; rooms are created through the
client API, so what the tests see is what any client would see.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import itertools
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import yaml

from tests.services.process import Server, clean_env, free_port, missing

SERVER_NAME = "localhost"
SHARED_SECRET = "synapse-test-registration-secret"
_counter = itertools.count(1)

FAST = {"per_second": 1000, "burst_count": 1000}


@dataclass(frozen=True)
class MatrixUser:
    user_id: str
    password: str
    access_token: str
    device_id: str


@dataclass
class Synapse:
    """A running homeserver: ``url``, ``server_name``, and helpers to make users and rooms."""

    url: str
    server_name: str
    data_dir: Path
    server: Server
    http: httpx.Client = field(repr=False)

    def unique(self, prefix: str) -> str:
        return f"{prefix}{next(_counter)}"

    def register(self, username: str | None = None, admin: bool = False) -> MatrixUser:
        """A new user (admin API with the shared secret), logged in: its access token."""
        username = username or self.unique("user")
        password = f"pw-{username}-secret"
        nonce = self.http.get("/_synapse/admin/v1/register").json()["nonce"]
        mac = hmac.new(SHARED_SECRET.encode(), digestmod=hashlib.sha1)
        for part in (nonce, username, password):
            mac.update(part.encode())
            mac.update(b"\x00")
        mac.update(b"admin" if admin else b"notadmin")
        reply = self.http.post(
            "/_synapse/admin/v1/register",
            json={
                "nonce": nonce,
                "username": username,
                "password": password,
                "admin": admin,
                "mac": mac.hexdigest(),
            },
        )
        reply.raise_for_status()
        body = reply.json()
        return MatrixUser(body["user_id"], password, body["access_token"], body["device_id"])

    def call(self, user: MatrixUser, method: str, path: str, body: Any = None) -> Any:
        reply = self.http.request(
            method,
            path,
            json=body,
            headers={"Authorization": f"Bearer {user.access_token}"},
        )
        if reply.status_code == 429:
            raise AssertionError(f"Synapse rate-limited a test request: {reply.text}")
        reply.raise_for_status()
        return reply.json()

    def create_room(
        self, owner: MatrixUser, alias: str | None = None, public: bool = True
    ) -> tuple[str, str]:
        """A new room (public: anyone may join); (room_id, "#alias:localhost")."""
        local = alias or self.unique("room")
        body = self.call(
            owner,
            "POST",
            "/_matrix/client/v3/createRoom",
            {
                "room_alias_name": local,
                "preset": "public_chat" if public else "private_chat",
                "name": local,
            },
        )
        return body["room_id"], f"#{local}:{self.server_name}"

    def send_text(self, user: MatrixUser, room_id: str, body: str, **extra: Any) -> str:
        txn = self.unique("txn")
        reply = self.call(
            user,
            "PUT",
            f"/_matrix/client/v3/rooms/{quote(room_id)}/send/m.room.message/{txn}",
            {"msgtype": "m.text", "body": body, **extra},
        )
        return str(reply["event_id"])

    def join(self, user: MatrixUser, room: str) -> None:
        self.call(user, "POST", f"/_matrix/client/v3/join/{quote(room)}", {})

    def messages(self, user: MatrixUser, room_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """The room's latest ``m.room.message`` events, newest first (what a person sees)."""
        reply = self.http.get(
            f"/_matrix/client/v3/rooms/{quote(room_id)}/messages",
            params={"dir": "b", "limit": limit},
            headers={"Authorization": f"Bearer {user.access_token}"},
        )
        reply.raise_for_status()
        return [e for e in reply.json()["chunk"] if e["type"] == "m.room.message"]

    def override_ratelimit(self, admin: MatrixUser, user_id: str, per_second: int, burst: int):
        """Give one user a tight message rate limit (admin API), to provoke real 429s."""
        self.call(
            admin,
            "POST",
            f"/_synapse/admin/v1/users/{quote(user_id)}/override_ratelimit",
            {"messages_per_second": per_second, "burst_count": burst},
        )


def synapse_config(data: Path, port: int) -> dict[str, Any]:
    """An offline homeserver: no federation, no key servers, every rate limit raised."""
    return {
        "server_name": SERVER_NAME,
        "pid_file": str(data / "homeserver.pid"),
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": str(data / "homeserver.db")}},
        "log_config": str(data / "log.yaml"),
        "media_store_path": str(data / "media_store"),
        "signing_key_path": str(data / "localhost.signing.key"),
        "registration_shared_secret": SHARED_SECRET,
        "report_stats": False,
        "enable_metrics": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "federation_domain_whitelist": [],
        "presence": {"enabled": False},
        "url_preview_enabled": False,
        "bcrypt_rounds": 4,
        "rc_message": FAST,
        "rc_registration": FAST,
        "rc_login": {"address": FAST, "account": FAST, "failed_attempts": FAST},
        "rc_joins": {"local": FAST, "remote": FAST},
        "rc_joins_per_room": FAST,
        "rc_invites": {"per_room": FAST, "per_user": FAST, "per_issuer": FAST},
        "rc_room_creation": FAST,
        "rc_3pid_validation": FAST,
        "rc_admin_redaction": FAST,
        "rc_presence": {"per_user": FAST},
    }


LOG_CONFIG = {
    "version": 1,
    "formatters": {"plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"level": "WARNING", "handlers": ["console"]},
    "disable_existing_loggers": False,
}


@contextmanager
def start_synapse(data: Path) -> Iterator[Synapse]:
    if importlib.util.find_spec("synapse") is None:
        missing("matrix-synapse", "pip install -e '.[test]'")
    port = free_port()
    data.mkdir(parents=True, exist_ok=True)
    (data / "log.yaml").write_text(yaml.safe_dump(LOG_CONFIG))
    config = data / "homeserver.yaml"
    config.write_text(yaml.safe_dump(synapse_config(data, port)))
    argv = [sys.executable, "-m", "synapse.app.homeserver", "-c", str(config)]
    server = Server("synapse", argv, data, clean_env())  # writes its signing key itself
    url = f"http://127.0.0.1:{port}"
    try:
        server.wait_ready(f"{url}/_matrix/client/versions", lambda r: r.status_code == 200)
        with httpx.Client(base_url=url, timeout=30.0) as http:
            yield Synapse(url, SERVER_NAME, data, server, http)
    finally:
        server.stop()
