"""A small client for the sandbox forge's admin API (``{admin_url}``), for tests and the demo.

Works against an in-process ``SandboxServer`` or a forge in another process alike::

    with SandboxAdmin(server.info()["admin_url"]) as admin:
        admin.freeze()                      # sandbox time stops
        admin.advance(30)                   # ... and moves 30 s on
        bob = admin.create_user("bob")      # {"login": "bob", "token": "ghp_...", ...}
        admin.add_collaborator("o/r", "bob", "read")

Every method raises ``httpx.HTTPStatusError`` when the forge refuses.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx


class SandboxAdmin:
    def __init__(self, admin_url: str, timeout: float = 30) -> None:
        self._http = httpx.Client(base_url=admin_url.rstrip("/") + "/", timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SandboxAdmin:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, path, json=body)
        response.raise_for_status()
        return response.json() if response.content else None

    # ---- clock ------------------------------------------------------------------------------

    def clock(self) -> dict[str, Any]:
        """``{"now": epoch, "mode": "system"|"manual", "offset": s, "iso": "...Z"}``"""
        return dict(self._call("GET", "clock"))

    def _clock(self, **body: Any) -> float:
        return float(self._call("POST", "clock", body)["now"])

    def freeze(self, at: float | None = None) -> float:
        """Stop sandbox time (at ``at`` if given); the frozen time."""
        return self._clock(mode="manual", **({} if at is None else {"set": at}))

    def advance(self, seconds: float) -> float:
        """Move sandbox time forward; the new time."""
        return self._clock(advance=seconds)

    def set_time(self, epoch: float) -> float:
        return self._clock(set=epoch)

    def unfreeze(self) -> float:
        """Let sandbox time run again from where it is."""
        return self._clock(mode="system")

    def reset_clock(self) -> float:
        """Plain system time."""
        return self._clock(reset=True)

    # ---- people -----------------------------------------------------------------------------

    def create_user(
        self,
        login: str,
        scopes: str | list[str] | None = None,
        name: str | None = None,
        email: str | None = None,
    ) -> dict[str, Any]:
        """A new user: ``{"login", "id", "name", "email", "scopes", "token"}``."""
        body: dict[str, Any] = {"login": login, "name": name, "email": email}
        if scopes is not None:
            body["scopes"] = scopes
        return dict(self._call("POST", "users", body))

    def add_token(self, login: str, scopes: str | list[str] | None = None) -> str:
        """Another token of an existing user (default scopes ``repo, workflow``)."""
        body = {} if scopes is None else {"scopes": scopes}
        return str(self._call("POST", f"users/{login}/tokens", body)["token"])

    def users(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "users"))

    def create_org(
        self, login: str, owners: list[str] | None = None, members: list[str] | None = None
    ) -> dict[str, Any]:
        """Create the org (or add to an existing one): ``{"login", "members": {login: role}}``."""
        body = {"login": login, "owners": owners or [], "members": members or []}
        return dict(self._call("POST", "orgs", body))

    def set_org_member(self, org: str, login: str, role: str | None = "member") -> None:
        """``role``: ``admin`` (an owner) or ``member``; None removes the membership."""
        if role is None:
            self._call("DELETE", f"orgs/{org}/members/{login}")
        else:
            self._call("PUT", f"orgs/{org}/members/{login}", {"role": role})

    def create_team(
        self,
        org: str,
        name: str,
        members: list[str] | None = None,
        maintainers: list[str] | None = None,
        repos: dict[str, str] | None = None,
        slug: str | None = None,
        privacy: str = "closed",
    ) -> dict[str, Any]:
        """A team: ``{"id", "org", "slug", "name", "privacy", "members", "repos"}``."""
        body: dict[str, Any] = {
            "name": name,
            "members": members or [],
            "maintainers": maintainers or [],
            "repos": repos or {},
            "privacy": privacy,
        }
        if slug is not None:
            body["slug"] = slug
        return dict(self._call("POST", f"orgs/{org}/teams", body))

    def set_team_member(self, org: str, slug: str, login: str, role: str | None = "member") -> None:
        """``role``: ``member`` or ``maintainer``; None removes the user from the team."""
        path = f"orgs/{org}/teams/{slug}/members/{login}"
        if role is None:
            self._call("DELETE", path)
        else:
            self._call("PUT", path, {"role": role})

    def set_team_repo(self, org: str, slug: str, repo: str, permission: str | None) -> None:
        """Grant the team ``permission`` on ``owner/name`` (None takes it back)."""
        path = f"orgs/{org}/teams/{slug}/repos/{repo}"
        if permission is None:
            self._call("DELETE", path)
        else:
            self._call("PUT", path, {"permission": permission})

    def add_collaborator(self, repo: str, login: str, permission: str = "write") -> None:
        """Give ``login`` a direct role on ``owner/name``: admin, maintain, write, triage, read."""
        self._call("PUT", f"repos/{repo}/collaborators/{login}", {"permission": permission})

    def remove_collaborator(self, repo: str, login: str) -> None:
        self._call("DELETE", f"repos/{repo}/collaborators/{login}")

    def access(self, repo: str) -> dict[str, str]:
        """``{login: role}`` of every user with a grant on ``owner/name``."""
        return dict(self._call("GET", f"repos/{repo}/access"))
