"""REST: git data — refs, blobs, trees, commits and annotated tags."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from releaser.sandbox import gitdata, protection, render
from releaser.sandbox.forge import Forge
from releaser.sandbox.http import (
    ROUTER,
    ApiError,
    Request,
    Response,
    full_name,
    not_found,
    paginate,
    require_str,
    validation_failed,
)

ZERO = "0" * 40
_SIG = "-----BEGIN PGP SIGNATURE-----"
_MODES = {
    "100644": "blob",
    "100755": "blob",
    "120000": "blob",
    "040000": "tree",
    "160000": "commit",
}


def _sha_param(value: Any, name: str = "sha") -> str:
    if not isinstance(value, str) or not gitdata.is_sha(value):
        raise validation_failed("Git", "invalid", name)
    return value.lower()


# ---- refs ---------------------------------------------------------------------------------


def ref_json(forge: Forge, full: str, ref: gitdata.Ref) -> dict[str, Any]:
    api = forge.repo_api(full)
    kinds = {"commit": "commits", "tag": "tags", "tree": "trees", "blob": "blobs"}
    return {
        "ref": ref.name,
        "node_id": render.node_id("REF", f"{full}:{ref.name}"),
        "url": f"{api}/git/{quote(ref.name)}",
        "object": {
            "type": ref.type,
            "sha": ref.sha,
            "url": f"{api}/git/{kinds.get(ref.type, 'commits')}/{ref.sha}",
        },
    }


def _ref_name(raw: str) -> str:
    raw = raw.strip("/")
    return raw if raw.startswith("refs/") else f"refs/{raw}"


@ROUTER.route("GET", "/repos/{owner}/{repo}/git/ref/{ref:path}")
def get_ref(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    ref = gitdata.get_ref(forge, full, _ref_name(req.params["ref"]))
    if ref is None:
        raise not_found()
    return ref_json(forge, full, ref)


@ROUTER.route("GET", "/repos/{owner}/{repo}/git/refs")
def list_refs(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    refs = gitdata.list_refs(forge, full, "refs/")
    _empty_check(refs)
    return paginate(forge, req, [ref_json(forge, full, r) for r in refs])


def _empty_check(refs: list[gitdata.Ref]) -> None:
    if not refs:
        raise ApiError(409, "Git Repository is empty.")


@ROUTER.route("GET", "/repos/{owner}/{repo}/git/refs/{ref:path}")
def get_refs(forge: Forge, req: Request) -> Any:
    """The exact ref as an object; else (legacy GitHub) the refs below it as a list."""
    full = full_name(forge, req)
    name = _ref_name(req.params["ref"])
    ref = gitdata.get_ref(forge, full, name)
    if ref is not None:
        return ref_json(forge, full, ref)
    below = [r for r in gitdata.list_refs(forge, full, name) if r.name.startswith(name + "/")]
    if not below:
        raise not_found()
    return paginate(forge, req, [ref_json(forge, full, r) for r in below])


@ROUTER.route("GET", "/repos/{owner}/{repo}/git/matching-refs/{ref:path}")
def matching_refs(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    prefix = _ref_name(req.params["ref"])
    refs = [r for r in gitdata.list_refs(forge, full, "refs/") if r.name.startswith(prefix)]
    return paginate(forge, req, [ref_json(forge, full, r) for r in refs])


@ROUTER.route("GET", "/repos/{owner}/{repo}/git/matching-refs")
def matching_refs_all(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    refs = gitdata.list_refs(forge, full, "refs/")
    return paginate(forge, req, [ref_json(forge, full, r) for r in refs])


@ROUTER.route("POST", "/repos/{owner}/{repo}/git/refs")
def create_ref(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    data = req.json()
    name = require_str(data, "ref", "Reference")
    sha = require_str(data, "sha", "Reference")
    with forge.lock:
        protection.guard_update(forge, full, req.user, name, ZERO, sha.lower())
        ref = gitdata.create_ref(forge, full, name, sha.lower())
    return Response(201, ref_json(forge, full, ref))


@ROUTER.route("PATCH", "/repos/{owner}/{repo}/git/refs/{ref:path}")
def update_ref(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    data = req.json()
    sha = require_str(data, "sha", "Reference")
    name = _ref_name(req.params["ref"])
    with forge.lock:
        current = gitdata.get_ref(forge, full, name)
        if current is not None and current.sha != sha.lower() and gitdata.is_sha(sha):
            protection.guard_update(forge, full, req.user, name, current.sha, sha.lower())
        force = bool(data.get("force", False))
        ref = gitdata.move_ref(forge, full, name, sha.lower(), force=force)
    return ref_json(forge, full, ref)


@ROUTER.route("DELETE", "/repos/{owner}/{repo}/git/refs/{ref:path}")
def delete_ref(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    name = _ref_name(req.params["ref"])
    with forge.lock:
        current = gitdata.get_ref(forge, full, name)
        if current is not None:
            protection.guard_update(forge, full, req.user, name, current.sha, ZERO)
        gitdata.delete_ref(forge, full, name)
    return Response(204)


# ---- blobs --------------------------------------------------------------------------------


@ROUTER.route("POST", "/repos/{owner}/{repo}/git/blobs")
def create_blob(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    data = req.json()
    content = data.get("content")
    if not isinstance(content, str):
        raise validation_failed("Blob", "missing_field", "content")
    encoding = data.get("encoding", "utf-8")
    if encoding == "base64":
        try:
            raw = base64.b64decode(content)
        except (binascii.Error, ValueError) as exc:
            raise ApiError(422, "content is not valid Base64") from exc
    elif encoding in ("utf-8", "utf8"):
        raw = content.encode()
    else:
        raise validation_failed("Blob", "invalid", "encoding")
    sha = gitdata.write_blob(forge, full, raw)
    return Response(201, {"sha": sha, "url": f"{forge.repo_api(full)}/git/blobs/{sha}"})


@ROUTER.route("GET", "/repos/{owner}/{repo}/git/blobs/{sha}")
def get_blob(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    sha = req.params["sha"].lower()
    raw = gitdata.read_object(forge, full, sha, "blob")
    return {
        "sha": sha,
        "node_id": render.node_id("B", sha),
        "size": len(raw),
        "url": f"{forge.repo_api(full)}/git/blobs/{sha}",
        "content": base64.encodebytes(raw).decode(),
        "encoding": "base64",
    }


# ---- trees --------------------------------------------------------------------------------


def tree_json(forge: Forge, full: str, sha: str, recursive: bool) -> dict[str, Any]:
    if gitdata.object_type(forge, full, sha) != "tree":
        raise not_found()
    args = ["ls-tree", "-l", "-z"] + (["-r", "-t"] if recursive else []) + [sha]
    out = gitdata.run(forge, full, *args)
    api = forge.repo_api(full)
    entries = []
    for item in out.split("\0"):
        if not item:
            continue
        meta, path = item.split("\t", 1)
        mode, kind, obj, size = meta.split()
        entry: dict[str, Any] = {"path": path, "mode": mode, "type": kind, "sha": obj}
        if kind == "blob":
            entry["size"] = int(size)
            entry["url"] = f"{api}/git/blobs/{obj}"
        elif kind == "tree":
            entry["url"] = f"{api}/git/trees/{obj}"
        entries.append(entry)
    return {"sha": sha, "url": f"{api}/git/trees/{sha}", "tree": entries, "truncated": False}


@ROUTER.route("GET", "/repos/{owner}/{repo}/git/trees/{sha:path}")
def get_tree(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    given = req.params["sha"]
    sha = given.lower() if gitdata.is_sha(given) else None
    if sha is None or gitdata.object_type(forge, full, sha) != "tree":
        peeled = gitdata.run(
            forge, full, "rev-parse", "--verify", "--quiet", f"{given}^{{tree}}", check=False
        ).strip()
        if not peeled:
            raise not_found()
        sha = peeled
    recursive = req.query.get("recursive", "") not in ("", "0", "false")
    return tree_json(forge, full, sha, recursive)


@ROUTER.route("POST", "/repos/{owner}/{repo}/git/trees")
def create_tree(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    data = req.json()
    entries = data.get("tree")
    if not isinstance(entries, list):
        raise validation_failed("Tree", "missing_field", "tree")
    base = data.get("base_tree")
    if base is not None:
        base = _sha_param(base, "base_tree")
        if gitdata.object_type(forge, full, base) != "tree":
            raise ApiError(422, "Invalid tree info")
    builder = gitdata.TreeBuilder(forge, full, base)
    try:
        for entry in entries:
            _apply_entry(forge, full, builder, entry)
        sha = builder.write()
    finally:
        builder.close()
    return Response(201, tree_json(forge, full, sha, recursive=False))


def _apply_entry(forge: Forge, full: str, builder: gitdata.TreeBuilder, entry: Any) -> None:
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        raise ApiError(422, "Invalid tree info", [{"field": "tree", "code": "invalid"}])
    path = entry["path"].strip("/")
    mode = str(entry.get("mode", "100644"))
    if mode not in _MODES:
        raise ApiError(422, f"Invalid tree info: mode {mode} is not valid")
    kind = str(entry.get("type", _MODES[mode]))
    if "content" in entry and entry.get("sha") is not None:
        raise ApiError(422, "Only one of content or sha may be given")
    if "content" in entry:
        builder.set_content(path, str(entry["content"]).encode(), mode)
        return
    if "sha" in entry and entry["sha"] is None:
        builder.remove(path)
        return
    sha = _sha_param(entry.get("sha"), "tree.sha")
    actual = gitdata.object_type(forge, full, sha)
    if kind == "commit" and mode == "160000":
        builder.set(path, sha, mode)
        return
    if actual is None or actual != kind:
        raise ApiError(422, f"Invalid tree info: {sha} is not a {kind}")
    if kind == "tree":
        builder.add_tree(path, sha)
    else:
        builder.set(path, sha, mode)


# ---- commits ------------------------------------------------------------------------------


@ROUTER.route("POST", "/repos/{owner}/{repo}/git/commits")
def create_commit(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    data = req.json()
    message = data.get("message")
    if not isinstance(message, str):
        raise validation_failed("Commit", "missing_field", "message")
    tree = _sha_param(data.get("tree"), "tree")
    if gitdata.object_type(forge, full, tree) != "tree":
        raise ApiError(422, "Tree SHA does not exist")
    parents = data.get("parents", [])
    if not isinstance(parents, list):
        raise validation_failed("Commit", "invalid", "parents")
    for parent in parents:
        if gitdata.object_type(forge, full, _sha_param(parent, "parents")) != "commit":
            raise ApiError(422, "Parent SHA does not exist or is not a commit object")
    author = _identity(data.get("author"), "author")
    committer = _identity(data.get("committer"), "committer")
    sha = gitdata.commit_tree(
        forge, full, tree, [p.lower() for p in parents], message, author, committer
    )
    info = render.read_commit(forge, full, sha)
    return Response(201, render.git_commit_json(forge, full, info))


def _identity(value: Any, name: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not value.get("name") or not value.get("email"):
        raise validation_failed("Commit", "invalid", name)
    return value


@ROUTER.route("GET", "/repos/{owner}/{repo}/git/commits/{sha}")
def get_git_commit(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    sha = req.params["sha"].lower()
    if not gitdata.is_sha(sha) or gitdata.object_type(forge, full, sha) != "commit":
        raise not_found()
    return render.git_commit_json(forge, full, render.read_commit(forge, full, sha))


# ---- annotated tags -----------------------------------------------------------------------


def _tagger_line(forge: Forge, tagger: dict[str, Any] | None) -> str:
    tagger = tagger or {"name": "Sandbox Forge", "email": "forge@sandbox.invalid"}
    date = tagger.get("date")
    if date:
        when = datetime.fromisoformat(str(date).replace("Z", "+00:00"))
    else:
        when = datetime.fromtimestamp(forge.clock.now(), UTC)
    offset = when.strftime("%z") or "+0000"
    return f"{tagger['name']} <{tagger['email']}> {int(when.timestamp())} {offset}"


@ROUTER.route("POST", "/repos/{owner}/{repo}/git/tags")
def create_tag(forge: Forge, req: Request) -> Response:
    full = full_name(forge, req)
    data = req.json()
    tag, message = require_str(data, "tag", "Tag"), data.get("message")
    if not isinstance(message, str):
        raise validation_failed("Tag", "missing_field", "message")
    obj = _sha_param(data.get("object"), "object")
    kind = str(data.get("type", "commit"))
    if gitdata.object_type(forge, full, obj) != kind:
        raise ApiError(422, "Object does not exist")
    tagger = _identity(data.get("tagger"), "tagger")
    text = (
        f"object {obj}\ntype {kind}\ntag {tag}\ntagger {_tagger_line(forge, tagger)}\n\n{message}"
    )
    if not text.endswith("\n"):
        text += "\n"
    sha = gitdata.run(forge, full, "mktag", input=text.encode()).strip()
    return Response(201, tag_json(forge, full, sha))


def tag_json(forge: Forge, full: str, sha: str) -> dict[str, Any]:
    raw = gitdata.read_object(forge, full, sha, "tag").decode("utf-8", "replace")
    head, _, message = raw.partition("\n\n")
    fields: dict[str, str] = {}
    for line in head.splitlines():
        key, _, value = line.partition(" ")
        fields.setdefault(key, value)
    signature = None
    if _SIG in message:
        message, _, rest = message.partition(_SIG)
        signature = _SIG + rest
    tagger = {"name": "", "email": "", "date": "1970-01-01T00:00:00Z"}
    m = re.match(r"^(.*) <(.*)> (\d+) ([+-]\d{4})$", fields.get("tagger", ""))
    if m:
        stamp = datetime.fromtimestamp(int(m.group(3)), UTC)
        tagger = {
            "name": m.group(1),
            "email": m.group(2),
            "date": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    api = forge.repo_api(full)
    kind = fields.get("type", "commit")
    kinds = {"commit": "commits", "tag": "tags", "tree": "trees", "blob": "blobs"}
    verification = render.verification_json()
    if signature is not None:
        verification.update(
            reason="unknown_key", signature=signature, payload=raw.replace(signature, "")
        )
    return {
        "node_id": render.node_id("TAG", sha),
        "tag": fields.get("tag", ""),
        "sha": sha,
        "url": f"{api}/git/tags/{sha}",
        "message": message,
        "tagger": tagger,
        "object": {
            "type": kind,
            "sha": fields.get("object", ""),
            "url": f"{api}/git/{kinds.get(kind, 'commits')}/{fields.get('object', '')}",
        },
        "verification": verification,
    }


@ROUTER.route("GET", "/repos/{owner}/{repo}/git/tags/{sha}")
def get_tag(forge: Forge, req: Request) -> dict[str, Any]:
    full = full_name(forge, req)
    return tag_json(forge, full, req.params["sha"].lower())
