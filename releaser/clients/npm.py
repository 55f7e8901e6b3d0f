"""An npm registry (registry.npmjs.org, Verdaccio, GitHub Packages...): versions, dist-tags.

Reads use the abbreviated package document (``application/vnd.npm.install-v1+json``: the
versions and dist-tags, not every README). The token, when there is one, is sent as
``Authorization: Bearer`` on every request (a private package reads as 404 without it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from releaser.clients.http import HTTPClient, Narrator, decode_quietly
from releaser.errors import CredentialError, RemoteError, UsageError

ACCEPT = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"


@dataclass(frozen=True)
class Package:
    name: str
    versions: list[str]  # in the registry's order (publication order on npmjs)
    dist_tags: dict[str, str] = field(default_factory=dict)  # "latest" -> "1.2.3"


def escaped(name: str) -> str:
    """A package name as it appears in a registry URL (``@scope%2fname``)."""
    if name.startswith("@") and "/" in name:
        scope, _, rest = name.partition("/")
        return f"{scope}%2f{quote(rest, safe='')}"
    return quote(name, safe="")


class Npm(HTTPClient):
    service = "the npm registry"
    config_key = "[publish.npm] registry"

    def __init__(
        self,
        registry_url: str,
        ui: Narrator,
        token: str | None = None,
        *,
        credential: str = "NPM_TOKEN",
        **kwargs: Any,
    ) -> None:
        headers = {"Accept": ACCEPT}
        if token:
            ui.redactor.add(token)
            headers["Authorization"] = f"Bearer {token}"
        super().__init__(registry_url, ui, headers=headers, **kwargs)
        self.token = token or None
        self.credential = credential

    def package(self, name: str) -> Package | None:
        """The package's versions and dist-tags; None when the registry has no such package
        (or, for a private one, the token may not read it)."""
        body = self.find_json(f"/{escaped(name)}")
        if body is None:
            return None
        if not isinstance(body, dict):
            raise RemoteError(
                f"{self.service} answered something other than a package document for {name}",
                "check [publish.npm] registry (-v shows the request)",
            )
        versions = body.get("versions") or {}
        tags = body.get("dist-tags") or {}
        return Package(
            name=str(body.get("name") or name),
            versions=[str(v) for v in versions],
            dist_tags={str(k): str(v) for k, v in tags.items()},
        )

    def set_dist_tag(self, name: str, tag: str, version: str) -> bool:
        """Point ``tag`` at ``version`` (``npm dist-tag add``). Reads first: nothing is
        written when the tag already points there (False), and a version that was never
        published is refused before any write."""
        self._need_token(f"set the dist-tag {tag} of {name}")
        package = self.package(name)
        if package is None:
            raise UsageError(
                f"{self.service} has no package {name}",
                f"publish {name} first, or check [publish.npm] package and registry",
            )
        if version not in package.versions:
            raise UsageError(
                f"{name}@{version} is not published, so {tag} cannot point to it",
                "publish that version first (the publish stage checks it appeared)",
            )
        if package.dist_tags.get(tag) == version:
            return False
        self.request(
            "PUT",
            f"/-/package/{escaped(name)}/dist-tags/{quote(tag, safe='')}",
            content=json.dumps(version).encode(),
            headers={"Content-Type": "application/json"},
        )
        return True

    def whoami(self) -> str:
        """The user the token belongs to (a token-less or rejected one: CredentialError)."""
        self._need_token("check who the token belongs to")
        body = self.get_json("/-/whoami")
        user = body.get("username") if isinstance(body, dict) else None
        if not user:  # Verdaccio answers 200 {} to an unknown token
            raise CredentialError(
                f"{self.service} does not know the token in {self.credential}",
                f"set {self.credential} to a valid automation or granular access token",
            )
        return str(user)

    def _need_token(self, what: str) -> None:
        if not self.token:
            raise CredentialError(
                f"no npm token to {what}",
                f"set {self.credential} (an automation or granular access token)",
            )

    def refusal(self, response: httpx.Response) -> Exception:
        status = response.status_code
        message = self.error_message(response)
        if status == 401 and "otp" in response.headers.get("www-authenticate", "").lower():
            return CredentialError(
                f"{self.service} asks for a one-time password (2FA) for this write",
                f"put an automation or granular access token that bypasses 2FA in "
                f"{self.credential}",
            )
        if status == 403:
            return CredentialError(
                f"{self.service} forbids the token in {self.credential} this write "
                f"({status} {message})",
                f"give the token's user write access to the package, or set {self.credential} "
                "to a token that has it",
            )
        return super().refusal(response)

    def error_message(self, response: httpx.Response) -> str:
        body = decode_quietly(response)
        if isinstance(body, dict) and body.get("reason"):
            return self.ui.redactor.redact(str(body["reason"]))
        return super().error_message(response)
