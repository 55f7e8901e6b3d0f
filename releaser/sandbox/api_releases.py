"""Releases and release assets of the sandbox forge, with uploads, downloads and notes.

Documents (data only; every URL is rendered per response):

- ``release``: tag_name, target_commitish, name, body, draft, prerelease, make_latest,
  latest_seq (order in which releases were made "latest"), author, created_at,
  published_at, updated_at
- ``asset``: release_id, name, label, content_type, size, digest, download_count, uploader,
  state, created_at, updated_at; the bytes live in ``ROOT/assets/ID``

Uploads arrive at ``/api/uploads/repos/O/R/releases/ID/assets?name=...`` (routed here as
``/uploads/...``); browser downloads at ``{html_url}/O/R/releases/download/TAG/NAME`` (routed
as ``/web/...``, no auth). ``GET .../releases/assets/ID`` with ``Accept:
application/octet-stream`` answers the bytes (GitHub redirects to another host; PyGithub
refuses a same-host redirect outside ``/api/``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import quote

from releaser.sandbox import protection
from releaser.sandbox.api_pulls import merged_pulls_between
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
    validation_failed,
)

ZERO = "0" * 40


# ---- rendering ----------------------------------------------------------------------------


def asset_path(forge: Forge, asset_id: int) -> Path:
    return forge.root / "assets" / str(asset_id)


def download_url(forge: Forge, full: str, tag: str, name: str) -> str:
    return f"{forge.repo_html(full)}/releases/download/{quote(tag)}/{quote(name)}"


def asset_json(forge: Forge, full: str, doc: dict[str, Any]) -> dict[str, Any]:
    release = forge.get("release", doc["release_id"])
    return {
        "url": f"{forge.repo_api(full)}/releases/assets/{doc['id']}",
        "browser_download_url": download_url(forge, full, release["tag_name"], doc["name"]),
        "id": doc["id"],
        "node_id": f"RA_{doc['id']}",
        "name": doc["name"],
        "label": doc.get("label"),
        "state": doc.get("state", "uploaded"),
        "content_type": doc["content_type"],
        "size": doc["size"],
        "digest": doc.get("digest"),
        "download_count": doc.get("download_count", 0),
        "created_at": doc["created_at"],
        "updated_at": doc["updated_at"],
        "uploader": forge.user_json(doc.get("uploader")),
    }


def release_json(forge: Forge, full: str, doc: dict[str, Any]) -> dict[str, Any]:
    api = f"{forge.repo_api(full)}/releases/{doc['id']}"
    tag = doc["tag_name"]
    html_tag = tag if not doc["draft"] else f"untagged-{doc['id']}"
    assets = forge.find("asset", full, release_id=doc["id"])
    uploads = f"{forge.uploads_url}/repos/{full}/releases/{doc['id']}"
    return {
        "url": api,
        "html_url": f"{forge.repo_html(full)}/releases/tag/{quote(html_tag)}",
        "assets_url": f"{api}/assets",
        "upload_url": f"{uploads}/assets{{?name,label}}",
        "tarball_url": f"{forge.repo_api(full)}/tarball/{quote(tag)}",
        "zipball_url": f"{forge.repo_api(full)}/zipball/{quote(tag)}",
        "id": doc["id"],
        "node_id": f"RE_{doc['id']}",
        "tag_name": tag,
        "target_commitish": doc["target_commitish"],
        "name": doc.get("name"),
        "body": doc.get("body"),
        "draft": bool(doc["draft"]),
        "prerelease": bool(doc["prerelease"]),
        "immutable": False,
        "created_at": doc["created_at"],
        "published_at": doc.get("published_at"),
        "updated_at": doc.get("updated_at"),
        "author": forge.user_json(doc.get("author")),
        "assets": [asset_json(forge, full, a) for a in assets],
    }


# ---- helpers ------------------------------------------------------------------------------


def get_release_doc(forge: Forge, full: str, release_id: str | int) -> dict[str, Any]:
    return forge.get("release", release_id, repo=full)


def release_for_tag(
    forge: Forge, full: str, tag: str, drafts: bool = True
) -> dict[str, Any] | None:
    for doc in forge.find("release", full, tag_name=tag):
        if drafts or not doc["draft"]:
            return doc
    return None


def ensure_tag(forge: Forge, full: str, tag: str, target: str, user: str | None) -> None:
    """Create ``refs/tags/TAG`` (lightweight) at ``target`` unless it exists; run push hooks.
    A protected tag needs ``user`` to be a maintainer or admin (422 otherwise)."""
    if forge.resolve(full, f"refs/tags/{tag}") is not None:
        return
    sha = forge.resolve(full, target)
    if sha is None:
        raise validation_failed("Release", "invalid", "target_commitish")
    protection.guard_update(forge, full, user, f"refs/tags/{tag}", ZERO, sha)
    forge.git(full, "update-ref", f"refs/tags/{tag}", sha, ZERO)
    forge.notify_push(full, [(f"refs/tags/{tag}", ZERO, sha)])


def make_latest(forge: Forge, full: str, doc: dict[str, Any], flag: Any) -> dict[str, Any]:
    """Record the order of "latest" releases (GitHub's ``make_latest``, default ``true``)."""
    flag = str(flag if flag is not None else doc.get("make_latest") or "true").lower()
    changes: dict[str, Any] = {"make_latest": flag}
    if flag == "true" and not doc["draft"] and not doc["prerelease"]:
        changes["latest_seq"] = forge.next_value(f"latest:{full}")
    return forge.update("release", int(doc["id"]), changes)


def store_asset(
    forge: Forge,
    full: str,
    release: dict[str, Any],
    name: str,
    data: bytes,
    content_type: str = "application/octet-stream",
    label: str | None = None,
    uploader: str | None = None,
) -> dict[str, Any]:
    """Attach ``data`` to ``release`` as asset ``name`` (422 already_exists on a duplicate)."""
    if not name:
        raise validation_failed("ReleaseAsset", "missing_field", "name")
    stamp = forge.now_iso()
    with forge.lock:
        if forge.find_one("asset", full, release_id=release["id"], name=name) is not None:
            raise validation_failed("ReleaseAsset", "already_exists", "name")
        doc = forge.insert(
            "asset",
            full,
            {
                "release_id": release["id"],
                "name": name,
                "label": label or "",
                "content_type": content_type,
                "size": len(data),
                "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
                "download_count": 0,
                "uploader": uploader or forge.login,
                "state": "uploaded",
                "created_at": stamp,
                "updated_at": stamp,
            },
        )
        asset_path(forge, int(doc["id"])).write_bytes(data)
    return doc


def release_event(forge: Forge, full: str, doc: dict[str, Any], created: bool) -> None:
    """Tell the release hooks (Actions starts the workflows ``on: release``) of this change."""
    kinds = {"created"} if created else set()
    if not doc["draft"]:
        kinds |= {"published", "prereleased" if doc["prerelease"] else "released"}
    if kinds:
        forge.notify_release(full, str(doc["tag_name"]), kinds)


# ---- releases -----------------------------------------------------------------------------


@ROUTER.route("POST", "/repos/{owner}/{repo}/releases")
def create_release(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    data = body_dict(req)
    tag = require_str(data, "tag_name", "Release")
    repo = forge.repo(*full.split("/", 1))
    target = str(data.get("target_commitish") or repo.get("default_branch", "main"))
    draft = bool(data.get("draft", False))
    stamp = forge.now_iso()
    name, body = data.get("name") or None, data.get("body")
    if data.get("generate_release_notes"):
        notes = release_notes(forge, full, tag, target, None)
        name = name or notes["name"]
        body = f"{body}\n\n{notes['body']}" if body else notes["body"]
    with forge.lock:
        if release_for_tag(forge, full, tag) is not None:
            raise validation_failed("Release", "already_exists", "tag_name")
        if forge.resolve(full, target) is None and forge.resolve(full, f"refs/tags/{tag}") is None:
            raise validation_failed("Release", "invalid", "target_commitish")
        if not draft:
            ensure_tag(forge, full, tag, target, req.user)
        doc = forge.insert(
            "release",
            full,
            {
                "tag_name": tag,
                "target_commitish": target,
                "name": name,
                "body": body,
                "draft": draft,
                "prerelease": bool(data.get("prerelease", False)),
                "author": req.user or forge.login,
                "created_at": stamp,
                "published_at": None if draft else stamp,
                "updated_at": stamp,
                "latest_seq": 0,
            },
        )
        doc = make_latest(forge, full, doc, data.get("make_latest"))
    release_event(forge, full, doc, created=True)
    out = release_json(forge, full, doc)
    return Response(201, out, {"Location": out["url"]})


@ROUTER.route("GET", "/repos/{owner}/{repo}/releases")
def list_releases(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    docs = sorted(forge.find("release", full), key=lambda d: d["id"], reverse=True)
    return paginate(forge, req, [release_json(forge, full, d) for d in docs])


@ROUTER.route("GET", "/repos/{owner}/{repo}/releases/latest")
def latest_release(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    docs = [
        d
        for d in forge.find("release", full)
        if not d["draft"] and not d["prerelease"] and d.get("make_latest") != "false"
    ]
    if not docs:
        raise not_found()
    best = max(docs, key=lambda d: (d.get("latest_seq", 0), d["id"]))
    return release_json(forge, full, best)


@ROUTER.route("GET", "/repos/{owner}/{repo}/releases/tags/{tag:path}")
def release_by_tag(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    doc = release_for_tag(forge, full, req.params["tag"], drafts=False)
    if doc is None:
        raise not_found()
    return release_json(forge, full, doc)


@ROUTER.route("GET", "/repos/{owner}/{repo}/releases/{release_id}")
def get_release(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    return release_json(forge, full, get_release_doc(forge, full, req.params["release_id"]))


@ROUTER.route("PATCH", "/repos/{owner}/{repo}/releases/{release_id}")
def update_release(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    data = body_dict(req)
    with forge.lock:
        doc = get_release_doc(forge, full, req.params["release_id"])
        changes: dict[str, Any] = {"updated_at": forge.now_iso()}
        tag = data.get("tag_name") or doc["tag_name"]
        if tag != doc["tag_name"]:
            other = release_for_tag(forge, full, tag)
            if other is not None and other["id"] != doc["id"]:
                raise validation_failed("Release", "already_exists", "tag_name")
            changes["tag_name"] = tag
        for key in ("target_commitish", "name", "body"):
            if key in data:
                changes[key] = data[key]
        for key in ("draft", "prerelease"):
            if key in data and data[key] is not None:
                changes[key] = bool(data[key])
        doc = {**doc, **changes}
        if not doc["draft"]:
            ensure_tag(forge, full, tag, str(doc["target_commitish"]), req.user)
            if not doc.get("published_at"):
                changes["published_at"] = changes["updated_at"]
        doc = forge.update("release", int(doc["id"]), changes)
        flag = data.get("make_latest")
        if flag is not None or "published_at" in changes:
            doc = make_latest(forge, full, doc, flag)
    if "published_at" in changes:
        release_event(forge, full, doc, created=False)
    return release_json(forge, full, doc)


@ROUTER.route("DELETE", "/repos/{owner}/{repo}/releases/{release_id}")
def delete_release(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    with forge.lock:
        doc = get_release_doc(forge, full, req.params["release_id"])
        for asset in forge.find("asset", full, release_id=doc["id"]):
            forge.delete("asset", int(asset["id"]))
            asset_path(forge, int(asset["id"])).unlink(missing_ok=True)
        forge.delete("release", int(doc["id"]))
    return Response(204)


# ---- generated notes ----------------------------------------------------------------------


def previous_tag(forge: Forge, full: str, tag: str, head: str) -> str | None:
    """The newest published release's tag that is an ancestor of ``head`` (not ``tag``)."""
    candidates = sorted(
        (d for d in forge.find("release", full) if not d["draft"] and d["tag_name"] != tag),
        key=lambda d: d["id"],
        reverse=True,
    )
    for doc in candidates:
        sha = forge.resolve(full, f"refs/tags/{doc['tag_name']}")
        if sha is None or sha == head:
            continue
        try:
            forge.git(full, "merge-base", "--is-ancestor", sha, head)
        except ApiError:
            continue
        return str(doc["tag_name"])
    return None


def release_notes(
    forge: Forge, full: str, tag: str, target: str | None, prev: str | None
) -> dict[str, str]:
    """GitHub's generated notes: merged pull requests since the previous tag, and a
    "Full Changelog" line (``prev`` None: the previous published release's tag)."""
    repo = forge.repo(*full.split("/", 1))
    head = forge.resolve(full, f"refs/tags/{tag}") or forge.resolve(
        full, str(target or repo.get("default_branch", "main"))
    )
    if head is None:
        raise not_found()
    if prev:
        if forge.resolve(full, f"refs/tags/{prev}") is None:
            raise validation_failed("Release", "invalid", "previous_tag_name")
    else:
        prev = previous_tag(forge, full, tag, head)
    since = forge.resolve(full, f"refs/tags/{prev}") if prev else None
    pulls = merged_pulls_between(forge, full, since, head)
    html = forge.repo_html(full)
    lines = []
    if pulls:
        lines.append("## What's Changed")
        for doc in sorted(pulls, key=lambda d: d["number"]):
            author = doc.get("user") or forge.login
            lines.append(f"* {doc['title']} by @{author} in {html}/pull/{doc['number']}")
        lines.append("")
        lines.append("")
    if prev:
        lines.append(f"**Full Changelog**: {html}/compare/{prev}...{tag}")
    else:
        lines.append(f"**Full Changelog**: {html}/commits/{tag}")
    return {"name": tag, "body": "\n".join(lines)}


@ROUTER.route("POST", "/repos/{owner}/{repo}/releases/generate-notes")
def generate_notes(forge: Forge, req: Request) -> dict[str, str]:
    full = full_name(forge, req)
    data = body_dict(req)
    tag = require_str(data, "tag_name", "Release")
    return release_notes(
        forge, full, tag, data.get("target_commitish"), data.get("previous_tag_name")
    )


# ---- assets -------------------------------------------------------------------------------


@ROUTER.route("POST", "/uploads/repos/{owner}/{repo}/releases/{release_id}/assets")
def upload_asset(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    release = get_release_doc(forge, full, req.params["release_id"])
    name = req.query.get("name", "")
    content_type = req.headers.get("content-type") or "application/octet-stream"
    doc = store_asset(
        forge, full, release, name, req.body, content_type, req.query.get("label"), req.user
    )
    return Response(201, asset_json(forge, full, doc))


@ROUTER.route("GET", "/repos/{owner}/{repo}/releases/{release_id}/assets")
def list_assets(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    release = get_release_doc(forge, full, req.params["release_id"])
    docs = forge.find("asset", full, release_id=release["id"])
    return paginate(forge, req, [asset_json(forge, full, d) for d in docs])


@ROUTER.route("GET", "/repos/{owner}/{repo}/releases/assets/{asset_id}")
def get_asset(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    doc = forge.get("asset", req.params["asset_id"], repo=full)
    if "application/octet-stream" in req.headers.get("accept", ""):
        # GitHub redirects to another host; PyGithub refuses same-host redirects outside
        # /api/, so the bytes are answered directly.
        return asset_download(forge, doc)
    return Response(200, asset_json(forge, full, doc))


def asset_download(forge: Forge, doc: dict[str, Any]) -> Response:
    """The asset's bytes (counted as a download)."""
    with forge.lock:
        doc = forge.get("asset", doc["id"])
        forge.update("asset", int(doc["id"]), {"download_count": doc.get("download_count", 0) + 1})
    data = asset_path(forge, int(doc["id"])).read_bytes()
    headers = {"Content-Disposition": f'attachment; filename="{doc["name"]}"'}
    return Response(200, data, headers, content_type="application/octet-stream")


@ROUTER.route("PATCH", "/repos/{owner}/{repo}/releases/assets/{asset_id}")
def update_asset(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    data = body_dict(req)
    with forge.lock:
        doc = forge.get("asset", req.params["asset_id"], repo=full)
        changes: dict[str, Any] = {"updated_at": forge.now_iso()}
        name = data.get("name")
        if name and name != doc["name"]:
            if forge.find_one("asset", full, release_id=doc["release_id"], name=name):
                raise validation_failed("ReleaseAsset", "already_exists", "name")
            changes["name"] = name
        for key in ("label", "state"):
            if key in data:
                changes[key] = data[key]
        doc = forge.update("asset", int(doc["id"]), changes)
    return asset_json(forge, full, doc)


@ROUTER.route("DELETE", "/repos/{owner}/{repo}/releases/assets/{asset_id}")
def delete_asset(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    with forge.lock:
        doc = forge.get("asset", req.params["asset_id"], repo=full)
        forge.delete("asset", int(doc["id"]))
        asset_path(forge, int(doc["id"])).unlink(missing_ok=True)
    return Response(204)


@ROUTER.route("GET", "/web/{owner}/{repo}/releases/download/{tag}/{name:path}")
def browser_download(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    if forge.repo(*full.split("/", 1)).get("private"):
        raise not_found()  # anonymous: a private repository's assets need a login
    release = release_for_tag(forge, full, req.params["tag"])
    if release is None:
        raise not_found()
    doc = forge.find_one("asset", full, release_id=release["id"], name=req.params["name"])
    if doc is None:
        raise not_found()
    return asset_download(forge, doc)
