"""Users, tokens, organisations, teams, collaborators, and who may do what to a repository.

Documents (kind, repo ``""``):

``user``  login, name, email, created_at, tokens: [{sha256, scopes, created_at}]
``org``   login, members: {login: "admin"|"member"}, default_repository_permission
``team``  org, slug, name, privacy, members: {login: "member"|"maintainer"},
          repos: {"owner/name": role}

A repository document may carry ``creator`` and ``collaborators: {login: role}``.

The forge's own token (``ROOT/token``) belongs to the default user (``forge.login``), whose
scopes are the ``scopes`` setting (``"fine-grained"``: a fine-grained token, answered without
scope headers, as GitHub does); a user created through the admin API gets tokens of its
own, stored hashed (only the creating call sees a token). Roles, weakest first, are
``read < triage < write < maintain < admin`` (GitHub's ``pull``/``push`` are accepted). A
user's role on a repository is the strongest of: owner of a user-owned repository, creator,
org owner (``admin``), org member (the org's default, ``read``), team grants, collaborator
grants, and ``read`` for anyone on a public repository. ``None`` means no access: the
repository does not exist for that user (404).

An org that does not exist yet is created when a user creates a repository in it, with that
user as its owner (repositories of an earlier forge without org documents are the default
user's).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from releaser.sandbox import admin
from releaser.sandbox.forge import SCOPES
from releaser.sandbox.http import ApiError, not_found, validation_failed

if TYPE_CHECKING:
    from releaser.sandbox.forge import Forge

ROLES = ("read", "triage", "write", "maintain", "admin")
ALIASES = {"pull": "read", "push": "write"}
DEFAULT_USER_SCOPES = "repo, workflow"
SETTING_SCOPES = admin.SETTING_SCOPES  # the default user's token scopes (default: SCOPES)
NO_ACCESS_MESSAGE = "Resource not accessible by personal access token"
_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?$")


FINE_GRAINED = "fine-grained"  # ``scopes`` of a fine-grained token (GitHub sends no scope headers)


@dataclass(frozen=True)
class Identity:
    """Who a request's credentials belong to."""

    login: str
    scopes: str  # comma-separated, or FINE_GRAINED

    @property
    def fine_grained(self) -> bool:
        return self.scopes == FINE_GRAINED

    def has_scope(self, scope: str) -> bool:
        # a fine-grained token has no scopes: what it may do is its repositories' roles
        return self.fine_grained or scope in {s.strip() for s in self.scopes.split(",")}


# ---- roles --------------------------------------------------------------------------------


def role_name(value: Any) -> str:
    """A role from GitHub's spellings (``push`` -> ``write``); 422 for anything else."""
    name = ALIASES.get(str(value), str(value))
    if name not in ROLES:
        raise ApiError(422, f"permission is one of {', '.join(ROLES)} (or pull, push)")
    return name


def at_least(role: str | None, needed: str) -> bool:
    return role is not None and ROLES.index(role) >= ROLES.index(needed)


def strongest(*roles: str | None) -> str | None:
    present = [r for r in roles if r is not None]
    return max(present, key=ROLES.index) if present else None


def permissions_object(role: str | None) -> dict[str, bool]:
    """GitHub's ``permissions`` object (``{admin, maintain, push, triage, pull}``)."""
    return {
        "admin": at_least(role, "admin"),
        "maintain": at_least(role, "maintain"),
        "push": at_least(role, "write"),
        "triage": at_least(role, "triage"),
        "pull": at_least(role, "read"),
    }


def legacy_permission(role: str | None) -> str:
    """The ``permission`` field of the collaborator-permission answer: admin/write/read/none."""
    if role is None:
        return "none"
    return {"maintain": "write", "triage": "read"}.get(role, role)


# ---- users and tokens ---------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def user_doc(forge: Forge, login: str) -> dict[str, Any] | None:
    for doc in forge.find("user", ""):
        if str(doc["login"]).lower() == login.lower():
            return doc
    return None


def org_doc(forge: Forge, login: str) -> dict[str, Any] | None:
    for doc in forge.find("org", ""):
        if str(doc["login"]).lower() == login.lower():
            return doc
    return None


def ensure_default_user(forge: Forge) -> None:
    """The default user's document (its token stays in ``ROOT/token``)."""
    with forge.lock:
        if user_doc(forge, forge.login) is None:
            forge.insert(
                "user",
                "",
                {
                    "login": forge.login,
                    "name": "Release Bot",
                    "email": None,
                    "created_at": "2020-01-01T00:00:00Z",
                    "tokens": [],
                },
            )


def scope_text(value: Any) -> str:
    if value is None:
        return DEFAULT_USER_SCOPES
    if isinstance(value, list | tuple):
        return ", ".join(str(v).strip() for v in value if str(v).strip())
    if isinstance(value, str):
        return ", ".join(s.strip() for s in value.split(",") if s.strip())
    raise ApiError(422, "scopes is a list or a comma-separated string")


def create_user(
    forge: Forge,
    login: str,
    *,
    name: str | None = None,
    email: str | None = None,
    scopes: Any = None,
) -> tuple[dict[str, Any], str]:
    """A new user with one token; (document, token). 422 when the login is taken."""
    if not _LOGIN.match(login):
        raise validation_failed("User", "invalid", "login")
    with forge.lock:
        if user_doc(forge, login) is not None or org_doc(forge, login) is not None:
            raise validation_failed("User", "already_exists", "login")
        doc = forge.insert(
            "user",
            "",
            {
                "login": login,
                "name": name,
                "email": email,
                "created_at": forge.now_iso(),
                "tokens": [],
            },
        )
        token = add_token(forge, login, scopes)
    return forge.get("user", doc["id"]), token


def add_token(forge: Forge, login: str, scopes: Any = None) -> str:
    """A new token for an existing user; only this call ever sees it."""
    fine = scopes == FINE_GRAINED
    token = ("github_pat_" if fine else "ghp_") + secrets.token_hex(18)
    with forge.lock:
        doc = user_doc(forge, login)
        if doc is None:
            raise ApiError(404, f"No user {login}")
        if doc["login"] == forge.login:
            raise ApiError(422, f"{login}'s token is the forge's token file")
        entry = {
            "sha256": _hash(token),
            "scopes": FINE_GRAINED if fine else scope_text(scopes),
            "created_at": forge.now_iso(),
        }
        forge.update("user", int(doc["id"]), {"tokens": [*doc.get("tokens", []), entry]})
    return token


def authenticate(forge: Forge, token: str) -> Identity | None:
    """The identity a token belongs to, or None."""
    if not token:
        return None
    if hmac.compare_digest(token.encode(), forge.token.encode()):
        scopes = str(forge.setting(SETTING_SCOPES, SCOPES))
        return Identity(forge.login, scopes)
    digest = _hash(token)
    for doc in forge.find("user", ""):
        for entry in doc.get("tokens", []):
            if hmac.compare_digest(str(entry["sha256"]), digest):
                return Identity(str(doc["login"]), str(entry["scopes"]))
    return None


def require_user(forge: Forge, login: str) -> dict[str, Any]:
    doc = user_doc(forge, login)
    if doc is None:
        raise ApiError(404, f"No user {login}: create it first (POST /_admin/users)")
    return doc


# ---- organisations and teams --------------------------------------------------------------


def ensure_org(forge: Forge, login: str, owner: str) -> dict[str, Any]:
    """The org document, created with ``owner`` as its owner when missing."""
    with forge.lock:
        doc = org_doc(forge, login)
        if doc is not None:
            return doc
        if user_doc(forge, login) is not None:
            raise not_found()  # a user, not an org
        return forge.insert(
            "org",
            "",
            {"login": login, "members": {owner: "admin"}, "default_repository_permission": "read"},
        )


def set_org_member(forge: Forge, org: str, login: str, role: str | None) -> dict[str, Any]:
    """Add (``admin``/``member``), change, or remove (None) an org membership."""
    if role not in (None, "admin", "member"):
        raise ApiError(422, "an org role is admin or member")
    with forge.lock:
        doc = org_doc(forge, org)
        if doc is None:
            raise ApiError(404, f"No org {org}")
        require_user(forge, login)
        members = dict(doc.get("members", {}))
        if role is None:
            members.pop(login, None)
        else:
            members[login] = role
        return forge.update("org", int(doc["id"]), {"members": members})


def team_doc(forge: Forge, org: str, slug: str) -> dict[str, Any] | None:
    for doc in forge.find("team", ""):
        if str(doc["org"]).lower() == org.lower() and doc["slug"] == slug:
            return doc
    return None


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "team"


def create_team(
    forge: Forge,
    org: str,
    name: str,
    *,
    slug: str | None = None,
    privacy: str = "closed",
    members: dict[str, str] | None = None,
    repos: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A new team of ``org``; members (``member``/``maintainer``) join the org if needed."""
    if privacy not in ("closed", "secret"):
        raise ApiError(422, "privacy is closed or secret")
    slug = slug or slugify(name)
    with forge.lock:
        org_d = org_doc(forge, org)
        if org_d is None:
            raise ApiError(404, f"No org {org}")
        if team_doc(forge, org, slug) is not None:
            raise validation_failed("Team", "already_exists", "name")
        doc = forge.insert(
            "team",
            "",
            {
                "org": org_d["login"],
                "slug": slug,
                "name": name,
                "privacy": privacy,
                "members": {},
                "repos": {},
                "created_at": forge.now_iso(),
            },
        )
        for login, role in (members or {}).items():
            set_team_member(forge, org, slug, login, role)
        for full, role in (repos or {}).items():
            set_team_repo(forge, org, slug, full, role)
        return forge.get("team", doc["id"])


def _team(forge: Forge, org: str, slug: str) -> dict[str, Any]:
    doc = team_doc(forge, org, slug)
    if doc is None:
        raise ApiError(404, f"No team {org}/{slug}")
    return doc


def set_team_member(
    forge: Forge, org: str, slug: str, login: str, role: str | None
) -> dict[str, Any]:
    if role not in (None, "member", "maintainer"):
        raise ApiError(422, "a team role is member or maintainer")
    with forge.lock:
        doc = _team(forge, org, slug)
        require_user(forge, login)
        org_d = org_doc(forge, org)
        if role is not None and org_d is not None and login not in org_d.get("members", {}):
            set_org_member(forge, org, login, "member")
        members = dict(doc.get("members", {}))
        if role is None:
            members.pop(login, None)
        else:
            members[login] = role
        return forge.update("team", int(doc["id"]), {"members": members})


def set_team_repo(forge: Forge, org: str, slug: str, full: str, role: str | None) -> dict[str, Any]:
    with forge.lock:
        doc = _team(forge, org, slug)
        repo = forge.repo(*full.split("/", 1))
        repos = dict(doc.get("repos", {}))
        if role is None:
            repos.pop(repo["full_name"], None)
        else:
            repos[repo["full_name"]] = role_name(role)
        return forge.update("team", int(doc["id"]), {"repos": repos})


def teams_of(forge: Forge, login: str) -> list[dict[str, Any]]:
    return [t for t in forge.find("team", "") if login in t.get("members", {})]


# ---- collaborators ------------------------------------------------------------------------


def set_collaborator(forge: Forge, full: str, login: str, role: str | None) -> dict[str, Any]:
    """Grant ``role`` on the repository to a user directly, or take it back (None)."""
    with forge.lock:
        repo = forge.repo(*full.split("/", 1))
        require_user(forge, login)
        collaborators = dict(repo.get("collaborators", {}))
        if role is None:
            collaborators.pop(login, None)
        else:
            collaborators[login] = role_name(role)
        return forge.update("repo", int(repo["id"]), {"collaborators": collaborators})


# ---- access -------------------------------------------------------------------------------


def owner_of(repo: dict[str, Any]) -> str:
    return str(repo["full_name"]).split("/", 1)[0]


def role(forge: Forge, login: str | None, repo: dict[str, Any]) -> str | None:
    """``login``'s role on the repository (None: no access; anonymous when login is None)."""
    public = None if repo.get("private") else "read"
    if login is None:
        return public
    key = login.lower()
    owner = owner_of(repo)
    grants: list[str | None] = [public]
    if str(repo.get("creator", "")).lower() == key:
        grants.append("admin")
    if repo.get("owner_type") == "Organization":
        org = org_doc(forge, owner)
        if org is None:  # a repository of a forge without org documents
            grants.append("admin" if key == forge.login.lower() else None)
        else:
            members = {m.lower(): r for m, r in org.get("members", {}).items()}
            if members.get(key) == "admin":
                grants.append("admin")
            elif key in members:
                grants.append(str(org.get("default_repository_permission", "read")))
            for team in forge.find("team", ""):
                if str(team["org"]).lower() != owner.lower():
                    continue
                if key in {m.lower() for m in team.get("members", {})}:
                    grants.append(team.get("repos", {}).get(repo["full_name"]))
    elif owner.lower() == key:
        grants.append("admin")
    for name, granted in repo.get("collaborators", {}).items():
        if name.lower() == key:
            grants.append(granted)
    return strongest(*grants)


def require(
    forge: Forge,
    login: str | None,
    repo: dict[str, Any],
    needed: str,
    message: str = NO_ACCESS_MESSAGE,
) -> str:
    """``login``'s role, at least ``needed``: else 404 without access, 403 with too little."""
    have = role(forge, login, repo)
    if have is None:
        raise not_found()
    if not at_least(have, needed):
        raise ApiError(403, message)
    return have


def require_author_or(
    forge: Forge, login: str | None, full: str, doc: dict[str, Any], needed: str
) -> None:
    """The author of ``doc`` (an issue or comment) may change it; others need ``needed``."""
    if login is not None and str(doc.get("user", "")).lower() == login.lower():
        return
    require(forge, login, forge.repo(*full.split("/", 1)), needed)


def association(forge: Forge, login: str | None, repo: dict[str, Any]) -> str:
    """GitHub's ``author_association`` of ``login`` on the repository."""
    if not login:
        return "NONE"
    key = login.lower()
    owner = owner_of(repo)
    if owner.lower() == key:
        return "OWNER"
    org = org_doc(forge, owner) if repo.get("owner_type") == "Organization" else None
    if org is not None and key in {m.lower() for m in org.get("members", {})}:
        return "MEMBER"
    if org is None and repo.get("owner_type") == "Organization" and key == forge.login.lower():
        return "MEMBER"
    if key in {c.lower() for c in repo.get("collaborators", {})}:
        return "COLLABORATOR"
    return "NONE"


def people_with_access(forge: Forge, repo: dict[str, Any]) -> dict[str, str]:
    """Every known user with a role on the repository other than public read: login -> role."""
    out: dict[str, str] = {}
    for doc in forge.find("user", ""):
        login = str(doc["login"])
        granted = role(forge, login, {**repo, "private": True})
        if granted is not None:
            out[login] = granted
    return out
