"""Container registries (OCI distribution v2): manifests, tags, promotion by copying bytes.

``Registry("docker.io", ui)`` talks to ``registry-1.docker.io``; any other host is used as
given (``https``, except loopback hosts, which are plain ``http`` as Docker treats them).
Authentication follows the registry's own 401 challenge:

- ``Bearer realm=...,service=...,scope=...`` (Docker Hub, ghcr.io, most hosted registries):
  a token is fetched from the realm for the scope the request needs (anonymously, or with the
  Basic credentials), cached per scope and sent as ``Authorization: Bearer``;
- ``Basic realm=...`` (self-hosted registries with htpasswd): the credentials are sent.

Promotion never rebuilds: ``put_manifest`` stores the exact bytes of the version tag's
manifest under another tag, so the digest is unchanged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from releaser.clients.http import HTTPClient, Narrator, decode_quietly, retry_after
from releaser.errors import CredentialError, RemoteError, UsageError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})

DOCKER_HUB = "registry-1.docker.io"
DOCKER_HUB_NAMES = frozenset({"docker.io", "index.docker.io", "registry.hub.docker.com"})
LOOPBACK = ("localhost", "127.", "[::1]")


@dataclass(frozen=True)
class Manifest:
    """A manifest exactly as the registry stores it (``content`` is what ``digest`` hashes)."""

    digest: str
    media_type: str
    content: bytes
    platforms: list[str]  # "linux/amd64", "linux/arm64/v8", ... of an index; [] for one image

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def registry_url(registry: str) -> str:
    """The API root for a registry host as a config names it (``docker.io``, ``ghcr.io``)."""
    registry = registry.strip().rstrip("/")
    if "://" in registry:
        return registry
    if registry in DOCKER_HUB_NAMES:
        return f"https://{DOCKER_HUB}"
    scheme = "http" if registry.startswith(LOOPBACK) else "https"
    return f"{scheme}://{registry}"


class Registry(HTTPClient):
    """One registry; image names are repositories on it (``ipfs/kubo``)."""

    config_key = "[publish.docker] registry"

    def __init__(
        self,
        registry: str,
        ui: Narrator,
        username: str | None = None,
        password: str | None = None,
        *,
        credential: str = "the registry password variable ([publish.docker] password_env)",
        **kwargs: Any,
    ) -> None:
        super().__init__(registry_url(registry), ui, follow_redirects=True, **kwargs)
        self.host = urlsplit(self.base_url).netloc
        self.docker_hub = self.host == DOCKER_HUB
        self.service = f"the registry {registry.strip().rstrip('/')}"
        self.credential = credential
        self.username = username or None
        self.password = password or None
        if self.username and self.password:
            ui.redactor.add_basic(self.username, self.password)
        else:
            ui.redactor.add(self.password)
        self._tokens: dict[str, str] = {}  # scope -> bearer token
        self._basic = False  # the registry asked for Basic credentials

    # -- reads ---------------------------------------------------------------------------

    def digest(self, image: str, ref: str) -> str | None:
        """The digest ``ref`` (a tag or digest) points to, from a HEAD; None when absent.

        A HEAD does not count against Docker Hub's pull limit."""
        name = self.repository(image)
        response = self._call(
            "HEAD", f"/v2/{name}/manifests/{ref}", name, "pull", headers={"Accept": ACCEPT}
        )
        if response.status_code == 404:
            return None
        return response.headers.get("docker-content-digest")

    def manifest(self, image: str, ref: str) -> Manifest | None:
        """The manifest (or multi-arch index) ``ref`` names, with its exact bytes; None when
        the tag (or the repository) does not exist."""
        name = self.repository(image)
        path = f"/v2/{name}/manifests/{ref}"
        announced = self.digest(image, ref)
        if announced is None:
            return None
        response = self._call("GET", path, name, "pull", headers={"Accept": ACCEPT})
        if response.status_code == 404:
            return None
        content = response.content
        digest = sha256_digest(content)
        expected = (
            ref
            if ref.startswith("sha256:")
            else response.headers.get("docker-content-digest", digest)
        )
        if expected != digest:
            raise RemoteError(
                f"{self.service} sent a manifest for {image}:{ref} whose sha256 is {digest}, "
                f"not {expected}",
                "re-run the command; if it persists, the registry or a proxy alters content",
            )
        body = _json(content)
        media_type = _media_type(response.headers.get("content-type"), body)
        return Manifest(digest, media_type, content, _platforms(media_type, body))

    def tags(self, image: str) -> list[str]:
        """Every tag of the repository (all pages); [] when the repository does not exist."""
        name = self.repository(image)
        found: list[str] = []
        path: str | None = f"/v2/{name}/tags/list?n=1000"
        while path:
            response = self._call("GET", path, name, "pull")
            if response.status_code == 404:
                return found
            body = _json(response.content)
            found.extend(str(t) for t in (body.get("tags") or []))
            path = _next_link(response)
        return found

    def check_login(self, image: str) -> bool | None:
        """Read-only: the registry takes the credentials (a refused login raises
        :class:`~releaser.errors.CredentialError`), and whether they may push ``image`` when
        the registry's token says so (a JWT's ``access`` claim); None when only a write could
        tell (:meth:`can_push` starts and cancels an upload)."""
        self.tags(image)  # logs in for pull: a refused login is a CredentialError
        if not (self.username and self.password):
            return None  # an anonymous token grants no push, which says nothing of a login
        return self._push_granted(self.repository(image))

    def can_push(self, image: str) -> bool | None:
        """Whether the credentials may push to ``image``.

        With token auth that publishes its grants (a JWT's ``access`` claim, as Docker Hub's
        does), the granted actions answer without writing anything. Otherwise an upload is
        started and at once cancelled (a registry's own test of push access: no blob, tag or
        manifest is created). None when the registry's answer tells neither way."""
        name = self.repository(image)
        granted = self._push_granted(name)
        if granted is not None:
            return granted
        try:
            started = self._call(
                "POST", f"/v2/{name}/blobs/uploads/", name, "pull,push", ok=(401, 403)
            )
        except CredentialError:
            return False
        if started.status_code in (401, 403):
            return False
        if started.status_code != 202 or "location" not in started.headers:
            return None
        location = urljoin(self.url(f"/v2/{name}/blobs/uploads/"), started.headers["location"])
        self._call("DELETE", location, name, "pull,push", ok=(404, 405))
        return True

    def _push_granted(self, name: str) -> bool | None:
        """Whether the registry's token for pushing to ``name`` grants push, read from the
        token itself (a JWT's ``access`` claim); None for Basic auth or an opaque token."""
        probe = self.request("GET", "/v2/", ok=(401,))
        challenge = _challenge(probe.headers.get("www-authenticate", ""))
        if challenge.get("scheme") != "bearer":
            return None
        granted = _granted_actions(self._token(challenge, f"repository:{name}:pull,push"), name)
        return None if granted is None else "push" in granted

    # -- the one write ---------------------------------------------------------------------

    def put_manifest(self, image: str, tag: str, manifest: Manifest) -> bool:
        """Point ``tag`` at ``manifest`` (its exact bytes: the digest does not change).

        Reads first: when the tag already has that digest nothing is written (False)."""
        if sha256_digest(manifest.content) != manifest.digest:
            raise UsageError(
                f"the manifest to tag {image}:{tag} does not hash to {manifest.digest}",
                "promote the manifest exactly as Registry.manifest() returned it",
            )
        if self.digest(image, tag) == manifest.digest:
            return False
        name = self.repository(image)
        response = self._call(
            "PUT",
            f"/v2/{name}/manifests/{tag}",
            name,
            "pull,push",
            content=manifest.content,
            headers={"Content-Type": manifest.media_type},
        )
        stored = response.headers.get("docker-content-digest", manifest.digest)
        if stored != manifest.digest:
            raise RemoteError(
                f"{self.service} stored {image}:{tag} as {stored}, not {manifest.digest}",
                "check that no proxy rewrites manifests; re-run to retry",
            )
        return True

    # -- names -----------------------------------------------------------------------------

    def repository(self, image: str) -> str:
        """The repository path of ``image`` here (Docker Hub's official images are
        ``library/NAME``); a ``registry/`` prefix naming this host is dropped."""
        name = image.strip().strip("/")
        first = name.split("/", 1)[0]
        if "/" in name and (first == self.host or first in DOCKER_HUB_NAMES):
            name = name.split("/", 1)[1]
        if ":" in name or "@" in name:
            raise UsageError(
                f"{image!r} names a tag or digest: give the repository alone",
                'write image = "owner/name" and the tags in tags = [...]',
            )
        if self.docker_hub and "/" not in name:
            name = f"library/{name}"
        return name.lower() if self.docker_hub else name

    # -- authentication ----------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        name: str,
        actions: str,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        ok: tuple[int, ...] = (),
    ) -> httpx.Response:
        """One request with the credentials its scope needs, answering the registry's 401
        challenge once (Bearer token or Basic); 404 is returned for the caller to read."""
        scope = f"repository:{name}:{actions}" if name else ""
        accept = (404, *ok)
        for attempt in (1, 2):
            send = dict(headers or {})
            send.update(self._authorization(scope))
            response = self.request(
                method,
                path,
                content=content,
                headers=send,
                ok=(*accept, 401) if attempt == 1 else accept,
            )
            if response.status_code != 401 or attempt == 2 or 401 in ok:
                return response
            self._answer(_challenge(response.headers.get("www-authenticate", "")), scope)
        raise AssertionError("unreachable")  # pragma: no cover

    def _authorization(self, scope: str) -> dict[str, str]:
        if scope in self._tokens:
            return {"Authorization": f"Bearer {self._tokens[scope]}"}
        if self._basic and self.username and self.password:
            raw = f"{self.username}:{self.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        return {}

    def _answer(self, challenge: dict[str, str], scope: str) -> None:
        scheme = challenge.get("scheme")
        if scheme == "bearer":
            self._tokens.pop(scope, None)  # refused: expired, or granted too little
            self._token(challenge, scope)
        elif scheme == "basic":
            if not (self.username and self.password):
                raise CredentialError(
                    f"{self.service} needs a user name and password",
                    f"set {self.credential} and the user name variable",
                )
            self._basic = True

    def _token(self, challenge: dict[str, str], scope: str) -> str:
        """A bearer token for ``scope`` from the challenge's realm (cached per scope)."""
        if scope in self._tokens:
            return self._tokens[scope]
        realm = challenge.get("realm")
        if not realm:
            raise RemoteError(
                f"{self.service} asked for a bearer token but named no realm to get it from",
                "check [publish.docker] registry",
            )
        params = {"service": challenge.get("service", "")}
        if scope:
            params["scope"] = scope
        headers = {}
        if self.username and self.password:
            params["account"] = self.username
            raw = f"{self.username}:{self.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        response = self.request("GET", realm, params=params, headers=headers)
        body = decode_quietly(response)
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise RemoteError(
                f"{self.service}'s token server answered without a token",
                "check [publish.docker] registry; -v shows the requests",
            )
        self.ui.redactor.add(token)
        self._tokens[scope] = token
        return token

    # -- the registry's own shapes -------------------------------------------------------------

    def rate_limit_wait(self, response: httpx.Response) -> float | None:
        if response.status_code != 429:
            return super().rate_limit_wait(response)
        if "retry-after" in response.headers:
            return retry_after(response.headers, default=60.0)
        # Docker Hub: "RateLimit-Remaining: 0;w=21600" (the window, in seconds).
        remaining = response.headers.get("ratelimit-remaining", "")
        window = re.search(r"w=(\d+)", remaining)
        if remaining.startswith("0") and window:
            return float(window.group(1))
        return 60.0

    def refusal(self, response: httpx.Response) -> Exception:
        status = response.status_code
        codes = _error_codes(response)
        message = self.error_message(response)
        if status == 401 or (status == 403 and "DENIED" in codes):
            who = (
                "anonymous access" if not self.username else f"the credentials in {self.credential}"
            )
            return CredentialError(
                f"{self.service} refused {who} for {response.request.method} "
                f"{urlsplit(str(response.request.url)).path} ({status} {message})",
                f"set {self.credential} (and its user name) to a login that may pull and push "
                "this image; a missing repository is refused the same way",
            )
        return super().refusal(response)

    def error_message(self, response: httpx.Response) -> str:
        body = decode_quietly(response)
        if isinstance(body, dict) and isinstance(body.get("errors"), list):
            parts = [
                f"{e.get('code', '')}: {e.get('message', '')}".strip(": ")
                for e in body["errors"]
                if isinstance(e, dict)
            ]
            if parts:
                return self.ui.redactor.redact("; ".join(parts))
        if isinstance(body, dict) and body.get("details"):
            return self.ui.redactor.redact(str(body["details"]))
        return super().error_message(response)


def _challenge(header: str) -> dict[str, str]:
    """``Bearer realm="...",service="...",scope="..."`` as a dict with ``scheme``."""
    scheme, _, rest = header.strip().partition(" ")
    found = {"scheme": scheme.lower()} if scheme else {}
    for key, value in re.findall(r'(\w+)="([^"]*)"', rest):
        found[key.lower()] = value
    return found


def _granted_actions(token: str, name: str) -> set[str] | None:
    """The actions a JWT registry token grants on repository ``name``; None when the token
    is opaque (not a JWT)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(claims, dict) or "access" not in claims:
        return None
    granted: set[str] = set()
    for entry in claims.get("access") or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            granted.update(str(a) for a in entry.get("actions") or [])
    return granted


def _json(content: bytes) -> dict[str, Any]:
    try:
        body = json.loads(content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _media_type(header: str | None, body: dict[str, Any]) -> str:
    declared = (header or "").split(";", 1)[0].strip()
    if declared and declared not in ("application/json", "application/octet-stream"):
        return declared
    return str(body.get("mediaType") or OCI_MANIFEST)


def _platforms(media_type: str, body: dict[str, Any]) -> list[str]:
    if media_type not in INDEX_TYPES:
        return []
    found = []
    for entry in body.get("manifests") or []:
        platform = entry.get("platform") if isinstance(entry, dict) else None
        if not isinstance(platform, dict):
            continue
        os_name, arch = platform.get("os", ""), platform.get("architecture", "")
        if not os_name or os_name == "unknown" or arch == "unknown":  # attestations
            continue
        variant = platform.get("variant")
        found.append(f"{os_name}/{arch}/{variant}" if variant else f"{os_name}/{arch}")
    return found


def _error_codes(response: httpx.Response) -> set[str]:
    body = decode_quietly(response)
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        return {str(e.get("code")) for e in body["errors"] if isinstance(e, dict)}
    return set()


def _next_link(response: httpx.Response) -> str | None:
    """The next page of a paginated list (``Link: </v2/...?last=x>; rel="next"``)."""
    link = response.headers.get("link", "")
    match = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', link)
    return match.group(1) if match else None


__all__ = ["Manifest", "Registry", "registry_url", "sha256_digest"]
