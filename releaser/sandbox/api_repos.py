"""REST: repositories, branches, tags, merges, dispatches, the user and the rate limit.

Commits, compare and contents are in ``api_contents``.
"""

from __future__ import annotations

import re
from typing import Any

from releaser.sandbox import gitdata, people, protection, render
from releaser.sandbox.forge import PUSH_HOOKS, Forge
from releaser.sandbox.http import (
    ROUTER,
    ApiError,
    Request,
    Response,
    not_found,
    paginate,
    require_str,
    validation_failed,
)

_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
_EDITABLE = (
    "description",
    "homepage",
    "private",
    "has_issues",
    "has_projects",
    "has_wiki",
    "has_discussions",
    "allow_squash_merge",
    "allow_merge_commit",
    "allow_rebase_merge",
    "delete_branch_on_merge",
    "allow_auto_merge",
    "archived",
    "topics",
)


# ---- repositories -------------------------------------------------------------------------


def create_repository(
    forge: Forge,
    owner: str,
    name: str,
    *,
    owner_type: str = "User",
    description: str | None = None,
    private: bool = False,
    default_branch: str = "main",
    auto_init: bool = False,
    homepage: str | None = None,
    extra: dict[str, Any] | None = None,
    creator: str | None = None,
) -> dict[str, Any]:
    """A new repository document and its bare repository (``auto_init``: a README commit).

    ``creator`` (default: the forge's default user) becomes its admin; in an org that does
    not exist yet, the org is created with the creator as its owner."""
    creator = creator or forge.login
    if not _NAME.match(name) or name in (".", ".."):
        raise validation_failed("Repository", "custom", "name", message="name is invalid")
    full_name = f"{owner}/{name}"
    with forge.lock:
        try:
            forge.repo(owner, name)
        except ApiError:
            pass
        else:
            raise ApiError(
                422,
                "Repository creation failed.",
                [
                    {
                        "resource": "Repository",
                        "code": "custom",
                        "field": "name",
                        "message": "name already exists on this account",
                    }
                ],
            )
        if owner_type == "Organization":
            org = people.ensure_org(forge, owner, creator)
            if creator not in org.get("members", {}):
                raise not_found()
        gitdata.init_repo(forge, full_name, default_branch)
        stamp = forge.now_iso()
        doc = forge.insert(
            "repo",
            "",
            {
                **(extra or {}),
                "full_name": full_name,
                "owner_type": owner_type,
                "creator": creator,
                "description": description,
                "homepage": homepage,
                "private": private,
                "default_branch": default_branch,
                "created_at": stamp,
                "updated_at": stamp,
                "pushed_at": stamp,
            },
        )
    if auto_init:
        gitdata.commit_files(
            forge,
            full_name,
            default_branch,
            {"README.md": f"# {name}\n\n{description or ''}\n".encode()},
            "Initial commit",
        )
    return doc


def _create(forge: Forge, req: Request, owner: str, owner_type: str) -> Response:
    data = req.json()
    name = require_str(data, "name", "Repository")
    extra = {k: data[k] for k in _EDITABLE if k in data and k not in ("description", "homepage")}
    doc = create_repository(
        forge,
        owner,
        name,
        owner_type=owner_type,
        description=data.get("description"),
        private=bool(data.get("private", False)),
        default_branch=str(data.get("default_branch") or "main"),
        auto_init=bool(data.get("auto_init", False)),
        homepage=data.get("homepage"),
        extra=extra,
        creator=req.user,
    )
    return Response(201, render.repo_json(forge, doc, req.user))


@ROUTER.route("POST", "/user/repos")
def create_user_repo(forge: Forge, req: Request) -> Response:
    return _create(forge, req, req.user or forge.login, "User")


@ROUTER.route("POST", "/orgs/{org}/repos")
def create_org_repo(forge: Forge, req: Request) -> Response:
    return _create(forge, req, req.params["org"], "Organization")


def visible(forge: Forge, viewer: str | None) -> list[dict[str, Any]]:
    """The repositories ``viewer`` can read."""
    return [r for r in forge.find("repo", "") if people.role(forge, viewer, r) is not None]


def _owned(forge: Forge, owner: str, viewer: str | None) -> list[dict[str, Any]]:
    repos = visible(forge, viewer)
    return [r for r in repos if str(r["full_name"]).split("/")[0].lower() == owner.lower()]


@ROUTER.route("GET", "/user/repos")
def list_user_repos(forge: Forge, req: Request) -> Response:
    """The repositories the caller has a role on beyond public read."""
    docs = [
        r
        for r in forge.find("repo", "")
        if people.role(forge, req.user, {**r, "private": True}) is not None
    ]
    resp = paginate(forge, req, docs)
    resp.body = [render.repo_json(forge, d, req.user) for d in resp.body]
    return resp


@ROUTER.route("GET", "/orgs/{owner}/repos")
@ROUTER.route("GET", "/users/{owner}/repos")
def list_owner_repos(forge: Forge, req: Request) -> Response:
    resp = paginate(forge, req, _owned(forge, req.params["owner"], req.user))
    resp.body = [render.repo_json(forge, d, req.user) for d in resp.body]
    return resp


@ROUTER.route("GET", "/repos/{owner}/{repo}")
def get_repo(forge: Forge, req: Request) -> dict[str, Any]:
    """The repository, with the caller's ``permissions``."""
    doc = forge.repo(req.params["owner"], req.params["repo"])
    return render.repo_json(forge, doc, req.user)


@ROUTER.route(
    "PATCH", "/repos/{owner}/{repo}", access="admin", denied="Must have admin rights to Repository."
)
def update_repo(forge: Forge, req: Request) -> dict[str, Any]:
    doc = forge.repo(req.params["owner"], req.params["repo"])
    data = req.json()
    changes = {k: data[k] for k in _EDITABLE if k in data}
    branch = data.get("default_branch")
    if branch is not None:
        if gitdata.branch_head(forge, doc["full_name"], str(branch)) is None and (
            gitdata.list_refs(forge, doc["full_name"], "refs/heads/")
        ):
            raise validation_failed("Repository", "invalid", "default_branch")
        gitdata.set_head(forge, doc["full_name"], str(branch))
        changes["default_branch"] = str(branch)
    changes["updated_at"] = forge.now_iso()
    doc = forge.update("repo", doc["id"], changes)
    return render.repo_json(forge, doc, req.user)


def _touch_pushed(forge: Forge, full_name: str, updates: list[tuple[str, str, str]]) -> None:
    doc = forge.find_one("repo", "", full_name=full_name)
    if doc is not None:
        forge.update("repo", doc["id"], {"pushed_at": forge.now_iso()})


PUSH_HOOKS.append(_touch_pushed)


# ---- branches and tags --------------------------------------------------------------------


def _repo_name(forge: Forge, req: Request) -> str:
    return str(forge.repo(req.params["owner"], req.params["repo"])["full_name"])


def _branch_short(forge: Forge, full_name: str, name: str, sha: str) -> dict[str, Any]:
    return {
        "name": name,
        "commit": {"sha": sha, "url": f"{forge.repo_api(full_name)}/commits/{sha}"},
        "protected": protection.branch_rule(forge, full_name, name) is not None,
    }


@ROUTER.route("GET", "/repos/{owner}/{repo}/branches")
def list_branches(forge: Forge, req: Request) -> Response:
    full = _repo_name(forge, req)
    refs = gitdata.list_refs(forge, full, "refs/heads/")
    items = [_branch_short(forge, full, r.name[len("refs/heads/") :], r.sha) for r in refs]
    return paginate(forge, req, items)


@ROUTER.route("GET", "/repos/{owner}/{repo}/branches/{branch:path}")
def get_branch(forge: Forge, req: Request) -> dict[str, Any]:
    full = _repo_name(forge, req)
    name = req.params["branch"]
    sha = gitdata.branch_head(forge, full, name)
    if sha is None:
        raise ApiError(404, "Branch not found")
    api = forge.repo_api(full)
    rule = protection.branch_rule(forge, full, name)
    checks = rule.get("required_status_checks") if rule else None
    return {
        "name": name,
        "commit": render.commit_json(forge, full, sha),
        "_links": {
            "self": f"{api}/branches/{name}",
            "html": f"{forge.repo_html(full)}/tree/{name}",
        },
        "protected": rule is not None,
        "protection": {
            "enabled": rule is not None,
            "required_status_checks": {
                "enforcement_level": "non_admins" if checks else "off",
                "contexts": list((checks or {}).get("contexts", [])),
                "checks": list((checks or {}).get("checks", [])),
            },
        },
        "protection_url": f"{api}/branches/{name}/protection",
    }


@ROUTER.route("GET", "/repos/{owner}/{repo}/tags")
def list_tags(forge: Forge, req: Request) -> Response:
    full = _repo_name(forge, req)
    out = gitdata.run(
        forge,
        full,
        "for-each-ref",
        "--sort=-v:refname",
        "--format=%(refname:strip=2)%00%(objectname)%00%(*objectname)",
        "refs/tags/",
    )
    api = forge.repo_api(full)
    items = []
    for line in out.splitlines():
        name, sha, peeled = line.split("\0")
        commit = peeled or sha
        items.append(
            {
                "name": name,
                "commit": {"sha": commit, "url": f"{api}/commits/{commit}"},
                "zipball_url": f"{api}/zipball/refs/tags/{name}",
                "tarball_url": f"{api}/tarball/refs/tags/{name}",
                "node_id": render.node_id("REF", f"{full}:{name}"),
            }
        )
    return paginate(forge, req, items)


# ---- merges and dispatches ----------------------------------------------------------------


@ROUTER.route("POST", "/repos/{owner}/{repo}/merges")
def merge(forge: Forge, req: Request) -> Response:
    full = _repo_name(forge, req)
    data = req.json()
    base, head = data.get("base"), data.get("head")
    if not isinstance(base, str) or not isinstance(head, str):
        raise validation_failed("Merge", "missing_field", "base" if not base else "head")
    with forge.lock:
        base_sha = gitdata.branch_head(forge, full, base)
        if base_sha is None:
            raise ApiError(404, "Base does not exist")
        head_sha = forge.resolve(full, head)
        if head_sha is None:
            raise ApiError(404, "Head does not exist")
        if gitdata.is_ancestor(forge, full, head_sha, base_sha):
            return Response(204)
        protection.guard_update(forge, full, req.user, f"refs/heads/{base}", base_sha, None)
        message = data.get("commit_message") or f"Merge {head} into {base}"
        sha = gitdata.merge_commits(forge, full, base_sha, head_sha, str(message))
        if sha is None:
            raise ApiError(409, "Merge conflict")
        gitdata.move_ref(forge, full, f"refs/heads/{base}", sha, expected=base_sha)
    return Response(201, render.commit_json(forge, full, sha))


@ROUTER.route("POST", "/repos/{owner}/{repo}/dispatches")
def dispatch(forge: Forge, req: Request) -> Response:
    full = _repo_name(forge, req)
    data = req.json()
    event_type = require_str(data, "event_type", "Dispatch")
    forge.insert(
        "dispatch",
        full,
        {
            "event_type": event_type,
            "client_payload": data.get("client_payload") or {},
            "created_at": forge.now_iso(),
        },
    )
    return Response(204)


# ---- the user and the rate limit ----------------------------------------------------------


@ROUTER.route("GET", "/user")
def get_user(forge: Forge, req: Request) -> dict[str, Any]:
    """The token's user."""
    login = req.user or forge.login
    user = forge.user_json(login)
    doc = people.user_doc(forge, login) or {}
    repos = _owned(forge, login, login)
    created = str(doc.get("created_at") or "2020-01-01T00:00:00Z")
    user.update(
        name=doc.get("name"),
        company=None,
        blog="",
        location=None,
        email=doc.get("email"),
        hireable=None,
        bio=None,
        twitter_username=None,
        public_repos=sum(1 for r in repos if not r.get("private")),
        public_gists=0,
        followers=0,
        following=0,
        created_at=created,
        updated_at=created,
        private_gists=0,
        total_private_repos=sum(1 for r in repos if r.get("private")),
        owned_private_repos=sum(1 for r in repos if r.get("private")),
        disk_usage=0,
        collaborators=0,
        two_factor_authentication=False,
        plan={"name": "free", "space": 976562499, "private_repos": 10000, "collaborators": 0},
    )
    return user


@ROUTER.route("GET", "/users/{login}")
def get_user_by_login(forge: Forge, req: Request) -> dict[str, Any]:
    user = forge.user_json(req.params["login"])
    user.update(
        name=None,
        company=None,
        blog="",
        location=None,
        email=None,
        hireable=None,
        bio=None,
        public_repos=len(_owned(forge, req.params["login"], None)),
        public_gists=0,
        followers=0,
        following=0,
        created_at="2020-01-01T00:00:00Z",
        updated_at="2020-01-01T00:00:00Z",
    )
    return user


@ROUTER.route("GET", "/rate_limit")
def rate_limit(forge: Forge, req: Request) -> dict[str, Any]:
    reset = int(forge.clock.now()) + 3600

    def bucket(limit: int) -> dict[str, int]:
        return {"limit": limit, "used": 0, "remaining": limit, "reset": reset}

    return {
        "resources": {
            "core": bucket(5000),
            "search": bucket(30),
            "graphql": bucket(5000),
            "integration_manifest": bucket(5000),
            "code_search": bucket(10),
        },
        "rate": bucket(5000),
    }
