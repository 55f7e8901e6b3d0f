"""REST and admin endpoints for users, orgs, teams and collaborators (model in ``people``).

GitHub's endpoints, in its shapes::

    GET /repos/{o}/{r}/collaborators                         (push access needed)
    GET /repos/{o}/{r}/collaborators/{username}/permission
    GET /orgs/{org}/teams/{team_slug}/members                (org members only, else 404)
    GET /orgs/{org}/teams/{team_slug}/memberships/{username} (404 when not a member)

The admin API (not GitHub's; no auth)::

    POST   /_admin/users                 {"login", "name"?, "email"?, "scopes"?}
           -> 201 {"login", "id", "name", "email", "scopes", "token"}   (scopes default
              "repo, workflow"; a list or a comma-separated string)
    GET    /_admin/users                 -> [{"login", "id", "name", "email", "tokens":
                                              [{"scopes", "created_at"}]}]
    POST   /_admin/users/{login}/tokens  {"scopes"?} -> 201 {"login", "scopes", "token"}
    POST   /_admin/orgs                  {"login", "owners"?: [...], "members"?: [...]}
           -> 201 (or 200 when it existed: members are added) {"login", "members": {login: role}}
    PUT    /_admin/orgs/{org}/members/{login}   {"role": "admin"|"member"} -> the org
    DELETE /_admin/orgs/{org}/members/{login}   -> 204
    POST   /_admin/orgs/{org}/teams      {"name", "slug"?, "privacy"?, "members"?: [...],
                                          "maintainers"?: [...], "repos"?: {"o/r": role}}
           -> 201 {"org", "slug", "name", "privacy", "members": {login: role}, "repos": {...}}
    PUT    /_admin/orgs/{org}/teams/{slug}/members/{login}  {"role"?: "member"|"maintainer"}
    DELETE /_admin/orgs/{org}/teams/{slug}/members/{login}  -> 204
    PUT    /_admin/orgs/{org}/teams/{slug}/repos/{owner}/{repo}  {"permission": role}
    DELETE /_admin/orgs/{org}/teams/{slug}/repos/{owner}/{repo}  -> 204
    PUT    /_admin/repos/{owner}/{repo}/collaborators/{login}    {"permission": role}
           -> {"repo", "login", "permission"}
    DELETE /_admin/repos/{owner}/{repo}/collaborators/{login}    -> 204
    GET    /_admin/repos/{owner}/{repo}/access  -> {login: role} of every user with a grant

Roles: ``admin``, ``maintain``, ``write``, ``triage``, ``read`` (``push``/``pull`` accepted).
"""

from __future__ import annotations

from typing import Any

from releaser.sandbox import people
from releaser.sandbox.forge import Forge
from releaser.sandbox.http import (
    ROUTER,
    ApiError,
    Request,
    Response,
    body_dict,
    full_name,
    not_found,
    paginate,
    require_str,
)

# ---- GitHub's endpoints -------------------------------------------------------------------


def collaborator_json(forge: Forge, login: str, role: str | None) -> dict[str, Any]:
    """A ``collaborator`` object: a user with ``permissions`` and ``role_name``."""
    user = forge.user_json(login)
    doc = people.user_doc(forge, login) or {}
    user.update(
        name=doc.get("name"),
        email=doc.get("email"),
        permissions=people.permissions_object(role),
        role_name=role or "none",
    )
    return user


@ROUTER.route(
    "GET",
    "/repos/{owner}/{repo}/collaborators",
    access="write",
    denied="Must have push access to view repository collaborators.",
)
def list_collaborators(forge: Forge, req: Request) -> Response:
    repo = forge.repo(req.params["owner"], req.params["repo"])
    access = people.people_with_access(forge, repo)
    if req.query.get("affiliation") == "direct":
        direct = {k.lower() for k in repo.get("collaborators", {})}
        access = {k: v for k, v in access.items() if k.lower() in direct}
    wanted = req.query.get("permission")
    if wanted:
        wanted = people.role_name(wanted)
        access = {k: v for k, v in access.items() if v == wanted}
    items = [collaborator_json(forge, login, role) for login, role in sorted(access.items())]
    return paginate(forge, req, items)


@ROUTER.route("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission")
def collaborator_permission(forge: Forge, req: Request) -> dict[str, Any]:
    repo = forge.repo(req.params["owner"], req.params["repo"])
    doc = people.user_doc(forge, req.params["username"])
    if doc is None:
        raise ApiError(404, f"{req.params['username']} is not a user")
    login = str(doc["login"])
    role = people.role(forge, login, repo)
    return {
        "permission": people.legacy_permission(role),
        "role_name": role or "none",
        "user": collaborator_json(forge, login, role),
    }


def _visible_team(forge: Forge, req: Request) -> dict[str, Any]:
    """The team, if the caller is a member of its org (teams are hidden from others)."""
    org = people.org_doc(forge, req.params["org"])
    team = people.team_doc(forge, req.params["org"], req.params["team_slug"])
    if org is None or team is None:
        raise not_found()
    members = {m.lower() for m in org.get("members", {})}
    if (req.user or "").lower() not in members:
        raise not_found()
    if team.get("privacy") == "secret":
        caller = (req.user or "").lower()
        in_team = caller in {m.lower() for m in team.get("members", {})}
        if not in_team and org["members"].get(req.user) != "admin":
            raise not_found()
    return team


@ROUTER.route("GET", "/orgs/{org}/teams/{team_slug}/members")
def list_team_members(forge: Forge, req: Request) -> Response:
    team = _visible_team(forge, req)
    members = team.get("members", {})
    wanted = req.query.get("role", "all")
    logins = sorted(m for m, r in members.items() if wanted == "all" or r == wanted)
    return paginate(forge, req, [forge.user_json(m) for m in logins])


@ROUTER.route("GET", "/orgs/{org}/teams/{team_slug}/memberships/{username}")
def get_team_membership(forge: Forge, req: Request) -> dict[str, Any]:
    team = _visible_team(forge, req)
    for login, role in team.get("members", {}).items():
        if login.lower() == req.params["username"].lower():
            url = f"{forge.api_url}/organizations/{team['org']}/team/{team['id']}"
            return {"url": f"{url}/memberships/{login}", "role": role, "state": "active"}
    raise not_found()


# ---- admin: users -------------------------------------------------------------------------


def _user_admin_json(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "login": doc["login"],
        "id": doc["id"],
        "name": doc.get("name"),
        "email": doc.get("email"),
        "tokens": [
            {"scopes": t["scopes"], "created_at": t["created_at"]} for t in doc.get("tokens", [])
        ],
    }


@ROUTER.route("POST", "/_admin/users")
def admin_create_user(forge: Forge, req: Request) -> Response:
    data = body_dict(req)
    login = require_str(data, "login", "User")
    doc, token = people.create_user(
        forge, login, name=data.get("name"), email=data.get("email"), scopes=data.get("scopes")
    )
    body = {k: v for k, v in _user_admin_json(doc).items() if k != "tokens"}
    body.update(scopes=doc["tokens"][0]["scopes"], token=token)
    return Response(201, body)


@ROUTER.route("GET", "/_admin/users")
def admin_list_users(forge: Forge, req: Request) -> list[dict[str, Any]]:
    return [_user_admin_json(d) for d in forge.find("user", "")]


@ROUTER.route("POST", "/_admin/users/{login}/tokens")
def admin_add_token(forge: Forge, req: Request) -> Response:
    data = body_dict(req)
    login = req.params["login"]
    token = people.add_token(forge, login, data.get("scopes"))
    return Response(
        201, {"login": login, "scopes": people.scope_text(data.get("scopes")), "token": token}
    )


# ---- admin: orgs and teams ----------------------------------------------------------------


def _org_json(doc: dict[str, Any]) -> dict[str, Any]:
    return {"login": doc["login"], "members": dict(doc.get("members", {}))}


def _logins(data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(422, f"{key} is a list of logins")
    return list(value)


@ROUTER.route("POST", "/_admin/orgs")
def admin_create_org(forge: Forge, req: Request) -> Response:
    data = body_dict(req)
    login = require_str(data, "login", "Organization")
    owners, members = _logins(data, "owners"), _logins(data, "members")
    with forge.lock:
        existed = people.org_doc(forge, login) is not None
        for name in owners + members:
            people.require_user(forge, name)
        first = owners[0] if owners else forge.login
        doc = people.ensure_org(forge, login, first)
        for name in owners:
            doc = people.set_org_member(forge, login, name, "admin")
        for name in members:
            doc = people.set_org_member(forge, login, name, "member")
    return Response(200 if existed else 201, _org_json(doc))


@ROUTER.route("PUT", "/_admin/orgs/{org}/members/{login}")
def admin_set_org_member(forge: Forge, req: Request) -> dict[str, Any]:
    role = str(body_dict(req).get("role", "member"))
    return _org_json(people.set_org_member(forge, req.params["org"], req.params["login"], role))


@ROUTER.route("DELETE", "/_admin/orgs/{org}/members/{login}")
def admin_remove_org_member(forge: Forge, req: Request) -> Response:
    people.set_org_member(forge, req.params["org"], req.params["login"], None)
    return Response(204)


def _team_json(doc: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "org", "slug", "name", "privacy", "members", "repos")
    return {k: doc.get(k) for k in keys}


@ROUTER.route("POST", "/_admin/orgs/{org}/teams")
def admin_create_team(forge: Forge, req: Request) -> Response:
    data = body_dict(req)
    name = require_str(data, "name", "Team")
    members = {login: "member" for login in _logins(data, "members")}
    members.update({login: "maintainer" for login in _logins(data, "maintainers")})
    repos = data.get("repos") or {}
    if not isinstance(repos, dict):
        raise ApiError(422, 'repos is an object {"owner/name": role}')
    doc = people.create_team(
        forge,
        req.params["org"],
        name,
        slug=data.get("slug"),
        privacy=str(data.get("privacy", "closed")),
        members=members,
        repos={str(k): str(v) for k, v in repos.items()},
    )
    return Response(201, _team_json(doc))


@ROUTER.route("PUT", "/_admin/orgs/{org}/teams/{slug}/members/{login}")
def admin_set_team_member(forge: Forge, req: Request) -> dict[str, Any]:
    role = str(body_dict(req).get("role", "member"))
    p = req.params
    return _team_json(people.set_team_member(forge, p["org"], p["slug"], p["login"], role))


@ROUTER.route("DELETE", "/_admin/orgs/{org}/teams/{slug}/members/{login}")
def admin_remove_team_member(forge: Forge, req: Request) -> Response:
    p = req.params
    people.set_team_member(forge, p["org"], p["slug"], p["login"], None)
    return Response(204)


@ROUTER.route("PUT", "/_admin/orgs/{org}/teams/{slug}/repos/{owner}/{repo}")
def admin_set_team_repo(forge: Forge, req: Request) -> dict[str, Any]:
    permission = require_str(body_dict(req), "permission", "Team")
    p = req.params
    full = f"{p['owner']}/{p['repo']}"
    return _team_json(people.set_team_repo(forge, p["org"], p["slug"], full, permission))


@ROUTER.route("DELETE", "/_admin/orgs/{org}/teams/{slug}/repos/{owner}/{repo}")
def admin_remove_team_repo(forge: Forge, req: Request) -> Response:
    p = req.params
    people.set_team_repo(forge, p["org"], p["slug"], f"{p['owner']}/{p['repo']}", None)
    return Response(204)


# ---- admin: collaborators -----------------------------------------------------------------


@ROUTER.route("PUT", "/_admin/repos/{owner}/{repo}/collaborators/{login}")
def admin_set_collaborator(forge: Forge, req: Request) -> dict[str, Any]:
    permission = people.role_name(require_str(body_dict(req), "permission", "Collaborator"))
    full = full_name(forge, req)
    people.set_collaborator(forge, full, req.params["login"], permission)
    return {"repo": full, "login": req.params["login"], "permission": permission}


@ROUTER.route("DELETE", "/_admin/repos/{owner}/{repo}/collaborators/{login}")
def admin_remove_collaborator(forge: Forge, req: Request) -> Response:
    people.set_collaborator(forge, full_name(forge, req), req.params["login"], None)
    return Response(204)


@ROUTER.route("GET", "/_admin/repos/{owner}/{repo}/access")
def admin_access(forge: Forge, req: Request) -> dict[str, str]:
    return people.people_with_access(forge, forge.repo(req.params["owner"], req.params["repo"]))
