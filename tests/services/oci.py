"""A real OCI registry (Debian's docker-registry, distribution v2.8) on loopback.

Three ways in, as real registries have them:

- ``open``: no auth (a local registry);
- ``htpasswd``: HTTP Basic (bcrypt entries), as a self-hosted registry;
- ``token``: Bearer tokens from a token server, the flow Docker Hub uses (``auth.docker.io``):
  the registry answers 401 with ``WWW-Authenticate: Bearer realm=...,service=...,scope=...``,
  the client asks the realm for a token (anonymously, or with Basic credentials), and the
  registry verifies the token's signature against a certificate it trusts. The token server
  here is small but real: it signs RS256 JWTs with a key whose self-signed certificate is the
  registry's ``rootcertbundle``, grants ``pull`` to anyone and the requested actions only to
  users allowed them, and refuses a bad password with 401, as Docker Hub does.

Images are pushed with the registry's own upload protocol (POST upload, PUT blob, PUT
manifest), so what a test reads back is what a registry really stored.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from releaser.sandbox.effects import OCI_MANIFEST, sha256, tiny_image
from tests.services.process import Server, clean_env, find_program, free_port

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

TOKEN_SERVICE = "test-registry"
TOKEN_ISSUER = "test-token-issuer"


@dataclass(frozen=True)
class Pushed:
    digest: str
    media_type: str
    content: bytes


@dataclass
class OCIRegistry:
    """A running registry. ``host`` is what a config's ``registry`` key would hold."""

    url: str  # http://127.0.0.1:PORT
    host: str  # 127.0.0.1:PORT
    auth: str  # "open" | "htpasswd" | "token"
    username: str | None
    password: str | None
    server: Server
    token_server: TokenServer | None = None
    reader: tuple[str, str] | None = None  # a user allowed to pull only (token auth)
    _http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30.0), repr=False)

    # -- pushing, as a build workflow would ------------------------------------------------

    def _headers(self, name: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.auth == "htpasswd":
            assert self.username and self.password
            raw = f"{self.username}:{self.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        elif self.auth == "token":
            assert self.token_server and self.username
            token = self.token_server.issue(self.username, name, ["pull", "push", "delete"])
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _blob(self, name: str, data: bytes) -> None:
        digest = sha256(data)
        head = self._http.head(f"{self.url}/v2/{name}/blobs/{digest}", headers=self._headers(name))
        if head.status_code == 200:
            return
        start = self._http.post(f"{self.url}/v2/{name}/blobs/uploads/", headers=self._headers(name))
        assert start.status_code == 202, start.text
        location = urljoin(f"{self.url}/v2/{name}/blobs/uploads/", start.headers["location"])
        sep = "&" if "?" in location else "?"
        put = self._http.put(
            f"{location}{sep}digest={digest}",
            content=data,
            headers=self._headers(name, {"Content-Type": "application/octet-stream"}),
        )
        assert put.status_code == 201, put.text

    def put_manifest(self, name: str, tag: str, content: bytes, media_type: str) -> Pushed:
        put = self._http.put(
            f"{self.url}/v2/{name}/manifests/{tag}",
            content=content,
            headers=self._headers(name, {"Content-Type": media_type}),
        )
        assert put.status_code == 201, put.text
        assert put.headers["docker-content-digest"] == sha256(content)
        return Pushed(sha256(content), media_type, content)

    def push_image(self, name: str, tag: str, label: str, docker: bool = False) -> Pushed:
        """A one-layer image (OCI, or Docker v2 schema 2 with ``docker``) under ``tag``."""
        config, layer, manifest = tiny_image(label)
        self._blob(name, config)
        self._blob(name, layer)
        if docker:
            body = json.loads(manifest)
            body["mediaType"] = DOCKER_MANIFEST
            body["config"]["mediaType"] = DOCKER_CONFIG
            body["layers"][0]["mediaType"] = DOCKER_LAYER
            manifest = json.dumps(body, sort_keys=True).encode()
            return self.put_manifest(name, tag, manifest, DOCKER_MANIFEST)
        return self.put_manifest(name, tag, manifest, OCI_MANIFEST)

    def push_index(
        self, name: str, tag: str, label: str, platforms: list[str], docker: bool = False
    ) -> Pushed:
        """A multi-arch index (or Docker manifest list) of one tiny image per platform,
        plus an attestation manifest (platform unknown/unknown) as buildx adds."""
        entries = []
        for platform in [*platforms, "unknown/unknown"]:
            os_name, arch, *variant = platform.split("/")
            child = self.push_image(name, f"{tag}-{os_name}-{arch}", f"{label} {platform}", docker)
            described: dict[str, Any] = {"architecture": arch, "os": os_name}
            if variant:
                described["variant"] = variant[0]
            entries.append(
                {
                    "mediaType": child.media_type,
                    "digest": child.digest,
                    "size": len(child.content),
                    "platform": described,
                }
            )
        media_type = DOCKER_LIST if docker else OCI_INDEX
        index = json.dumps(
            {"schemaVersion": 2, "mediaType": media_type, "manifests": entries}, sort_keys=True
        ).encode()
        return self.put_manifest(name, tag, index, media_type)

    def tags(self, name: str) -> list[str]:
        reply = self._http.get(f"{self.url}/v2/{name}/tags/list", headers=self._headers(name))
        if reply.status_code == 404:
            return []
        reply.raise_for_status()
        return sorted(reply.json().get("tags") or [])

    def manifest_digest(self, name: str, ref: str) -> str | None:
        accept = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))
        reply = self._http.head(
            f"{self.url}/v2/{name}/manifests/{ref}",
            headers=self._headers(name, {"Accept": accept}),
        )
        if reply.status_code == 404:
            return None
        reply.raise_for_status()
        return str(reply.headers["docker-content-digest"])


# ---- the token server (Docker's token authentication specification) -----------------------


class TokenServer:
    """Issues registry tokens: RS256 JWTs whose ``x5c`` header carries a self-signed cert."""

    def __init__(self, folder: Path, users: dict[str, tuple[str, set[str]]]) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.users = users  # name -> (password, actions it may be granted)
        self.requests: list[dict[str, Any]] = []
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, TOKEN_ISSUER)])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self.cert_path = folder / "token-signer.crt"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self._x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.realm = f"http://127.0.0.1:{self._httpd.server_address[1]}/token"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,))
        self._thread.daemon = True
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def issue(self, subject: str, repository: str, actions: list[str]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        claims = {
            "iss": TOKEN_ISSUER,
            "sub": subject,
            "aud": TOKEN_SERVICE,
            "exp": now + 300,
            "nbf": now - 5,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": [{"type": "repository", "name": repository, "actions": actions}]
            if repository
            else [],
        }
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}"

    def _grant(self, authorization: str | None, query: dict[str, list[str]]) -> tuple[int, Any]:
        subject, allowed = "", {"pull"}
        if authorization:
            scheme, _, value = authorization.partition(" ")
            user, _, password = base64.b64decode(value).decode().partition(":")
            known = self.users.get(user)
            if scheme.lower() != "basic" or known is None or known[0] != password:
                return 401, {"details": "incorrect username or password"}
            subject, allowed = user, known[1]
        if query.get("service", [""])[0] != TOKEN_SERVICE:
            return 400, {"details": "unknown service"}
        repository, granted = "", []
        for scope in query.get("scope", []):
            kind, _, rest = scope.partition(":")
            name, _, wanted = rest.rpartition(":")
            if kind == "repository":
                repository = name
                granted = [a for a in wanted.split(",") if a in allowed]
        token = self.issue(subject, repository, granted)
        return 200, {"token": token, "access_token": token, "expires_in": 300}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                authorization = self.headers.get("Authorization")
                server.requests.append({"query": query, "authorization": authorization})
                status, body = (
                    server._grant(authorization, query)
                    if parts.path == "/token"
                    else (404, {"details": "not found"})
                )
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# ---- starting the registry ------------------------------------------------------------------


def _htpasswd(path: Path, users: dict[str, str]) -> None:
    import bcrypt

    lines = [
        f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()}"
        for user, password in users.items()
    ]
    path.write_text("\n".join(lines) + "\n")


@contextmanager
def start_registry(data: Path, auth: str = "open") -> Iterator[OCIRegistry]:
    binary = find_program("docker-registry", "apt-get install docker-registry")
    data.mkdir(parents=True, exist_ok=True)
    port = free_port()
    username, password = "pusher", "pw-" + secrets.token_hex(8)
    reader = ("reader", "pw-" + secrets.token_hex(8))
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(data / "data")},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
    }
    token_server = None
    if auth == "htpasswd":
        _htpasswd(data / "htpasswd", {username: password})
        config["auth"] = {"htpasswd": {"realm": "test", "path": str(data / "htpasswd")}}
    elif auth == "token":
        token_server = TokenServer(
            data,
            {username: (password, {"pull", "push", "delete"}), reader[0]: (reader[1], {"pull"})},
        )
        config["auth"] = {
            "token": {
                "realm": token_server.realm,
                "service": TOKEN_SERVICE,
                "issuer": TOKEN_ISSUER,
                "rootcertbundle": str(token_server.cert_path),
            }
        }
    else:
        username = password = ""
    path = data / "config.yml"
    path.write_text(json.dumps(config))  # JSON is YAML
    server = Server("docker-registry", [binary, "serve", str(path)], data, clean_env())
    url = f"http://127.0.0.1:{port}"
    registry = OCIRegistry(
        url=url,
        host=f"127.0.0.1:{port}",
        auth=auth,
        username=username or None,
        password=password or None,
        server=server,
        token_server=token_server,
        reader=reader if auth == "token" else None,
    )
    expected = 200 if auth == "open" else 401
    try:
        server.wait_ready(f"{url}/v2/", lambda r: r.status_code == expected)
        yield registry
    finally:
        server.stop()
        registry._http.close()
        if token_server is not None:
            token_server.close()
