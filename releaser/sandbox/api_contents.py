"""REST: commits, compare and repository contents."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

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

MAX_COMPARE_COMMITS = 250


ZERO = "0" * 40


def _repo(forge: Forge, req: Request) -> dict[str, Any]:
    return forge.repo(req.params["owner"], req.params["repo"])


def _has_commits(forge: Forge, full_name: str) -> bool:
    return bool(gitdata.list_refs(forge, full_name, "refs/heads/"))


def _empty_check(forge: Forge, full_name: str) -> None:
    if not _has_commits(forge, full_name):
        raise ApiError(409, "Git Repository is empty.")


# ---- commits ------------------------------------------------------------------------------


def _epoch(value: str, name: str) -> int:
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(422, f"Invalid value for parameter '{name}'") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


@ROUTER.route("GET", "/repos/{owner}/{repo}/commits")
def list_commits(forge: Forge, req: Request) -> Response:
    doc = _repo(forge, req)
    full = str(doc["full_name"])
    _empty_check(forge, full)
    start = req.query.get("sha") or str(doc.get("default_branch", "main"))
    sha = forge.resolve(full, start)
    if sha is None:
        raise ApiError(404, f"No commit found for SHA: {start}")
    args = ["rev-list", sha]
    if req.query.get("since"):
        args.append(f"--max-age={_epoch(req.query['since'], 'since')}")
    if req.query.get("until"):
        args.append(f"--min-age={_epoch(req.query['until'], 'until')}")
    if req.query.get("author"):
        args.append(f"--author={req.query['author']}")
    if req.query.get("committer"):
        args.append(f"--committer={req.query['committer']}")
    args.append("--")
    if req.query.get("path"):
        args.append(req.query["path"])
    shas = gitdata.run(forge, full, *args).split()
    resp = paginate(forge, req, shas)
    resp.body = [render.commit_json(forge, full, s) for s in resp.body]
    return resp


@ROUTER.route("GET", "/repos/{owner}/{repo}/commits/{ref:path}")
def get_commit(forge: Forge, req: Request) -> dict[str, Any]:
    full = str(_repo(forge, req)["full_name"])
    _empty_check(forge, full)
    ref = req.params["ref"]
    sha = forge.resolve(full, ref)
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {ref}")
    return render.commit_json(forge, full, sha, files=True)


# ---- compare ------------------------------------------------------------------------------


@ROUTER.route("GET", "/repos/{owner}/{repo}/compare/{basehead:path}")
def compare(forge: Forge, req: Request) -> Response:
    full = str(_repo(forge, req)["full_name"])
    basehead = req.params["basehead"]
    if "..." in basehead:
        base, head = basehead.split("...", 1)
    elif ".." in basehead:
        base, head = basehead.split("..", 1)
    else:
        raise not_found()
    base_sha, head_sha = forge.resolve(full, base), forge.resolve(full, head)
    if base_sha is None or head_sha is None:
        raise not_found()
    merge_base = gitdata.run(forge, full, "merge-base", base_sha, head_sha, check=False).strip()
    if not merge_base:
        raise ApiError(404, f"No common ancestor between {base} and {head}.")
    ahead = gitdata.run(forge, full, "rev-list", "--reverse", f"{base_sha}..{head_sha}").split()
    behind = int(gitdata.run(forge, full, "rev-list", "--count", f"{head_sha}..{base_sha}"))
    if not ahead and not behind:
        status = "identical"
    elif ahead and behind:
        status = "diverged"
    else:
        status = "ahead" if ahead else "behind"
    api = forge.repo_api(full)
    html = forge.repo_html(full)
    headers: dict[str, str] = {}
    page_commits = ahead[:MAX_COMPARE_COMMITS]
    if "page" in req.query or "per_page" in req.query:
        paged = paginate(forge, req, ahead)
        page_commits, headers = paged.body, paged.headers
    body = {
        "url": f"{api}/compare/{basehead}",
        "html_url": f"{html}/compare/{basehead}",
        "permalink_url": f"{html}/compare/{base_sha}...{head_sha}",
        "diff_url": f"{html}/compare/{basehead}.diff",
        "patch_url": f"{html}/compare/{basehead}.patch",
        "base_commit": render.commit_json(forge, full, base_sha),
        "merge_base_commit": render.commit_json(forge, full, merge_base),
        "status": status,
        "ahead_by": len(ahead),
        "behind_by": behind,
        "total_commits": len(ahead),
        "commits": [render.commit_json(forge, full, s) for s in page_commits],
        "files": render.diff_files(forge, full, merge_base, head_sha),
    }
    return Response(200, body, headers)


# ---- contents -----------------------------------------------------------------------------


def _entry(
    forge: Forge, full: str, ref: str, path: str, kind: str, sha: str, size: int
) -> dict[str, Any]:
    api = forge.repo_api(full)
    html = forge.repo_html(full)
    qpath = quote(path)
    url = f"{api}/contents/{qpath}?{urlencode({'ref': ref})}"
    git_kind = {"file": "blobs", "dir": "trees", "symlink": "blobs", "submodule": "trees"}[kind]
    git_url = f"{api}/git/{git_kind}/{sha}"
    html_url = f"{html}/{'tree' if kind == 'dir' else 'blob'}/{ref}/{qpath}"
    return {
        "type": kind,
        "size": size,
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": sha,
        "url": url,
        "git_url": git_url,
        "html_url": html_url,
        "download_url": f"{html}/raw/{ref}/{qpath}" if kind == "file" else None,
        "_links": {"self": url, "git": git_url, "html": html_url},
    }


_KINDS = {"blob": "file", "tree": "dir", "commit": "submodule"}


Entry = tuple[str, str, str, str, int]  # mode, type, sha, path, size


def _ls(forge: Forge, full: str, commit: str, path: str) -> list[Entry]:
    """``git ls-tree`` entries of ``path`` (``dir/`` for a directory's children)."""
    paths = [] if path in ("", ".") else [path]
    out = gitdata.run(forge, full, "ls-tree", "-l", "-z", commit, "--", *paths)
    entries: list[Entry] = []
    for item in out.split("\0"):
        if not item:
            continue
        meta, name = item.split("\t", 1)
        mode, kind, sha, size = meta.split()
        entries.append((mode, kind, sha, name, int(size) if size != "-" else 0))
    return entries


def _content_entry(
    forge: Forge, full: str, ref: str, mode: str, kind: str, sha: str, path: str, size: int
) -> dict[str, Any]:
    entry_kind = "symlink" if mode == "120000" else _KINDS.get(kind, "file")
    return _entry(forge, full, ref, path, entry_kind, sha, size)


def _ref_of(forge: Forge, req: Request, doc: dict[str, Any]) -> tuple[str, str]:
    full = str(doc["full_name"])
    ref = req.query.get("ref") or str(doc.get("default_branch", "main"))
    sha = forge.resolve(full, ref)
    if sha is None:
        if not _has_commits(forge, full):
            raise ApiError(404, "This repository is empty.")
        raise ApiError(404, f"No commit found for the ref {ref}")
    return ref, sha


@ROUTER.route("GET", "/repos/{owner}/{repo}/contents")
@ROUTER.route("GET", "/repos/{owner}/{repo}/contents/{path:path}")
def get_contents(forge: Forge, req: Request) -> Any:
    doc = _repo(forge, req)
    full = str(doc["full_name"])
    ref, commit = _ref_of(forge, req, doc)
    path = req.params.get("path", "").strip("/")
    if not path:
        return [_content_entry(forge, full, ref, *e) for e in _ls(forge, full, commit, ".")]
    found = [e for e in _ls(forge, full, commit, path) if e[3] == path]
    if not found:
        raise not_found()
    mode, kind, sha, name, size = found[0]
    if kind == "tree":
        listing = _ls(forge, full, commit, path + "/")
        return [_content_entry(forge, full, ref, *e) for e in listing]
    entry = _content_entry(forge, full, ref, mode, kind, sha, name, size)
    if entry["type"] == "submodule":
        entry["submodule_git_url"] = ""
        return entry
    data = gitdata.read_object(forge, full, sha, "blob")
    if entry["type"] == "symlink":
        entry["target"] = data.decode("utf-8", "replace")
        return entry
    entry["content"] = base64.encodebytes(data).decode()
    entry["encoding"] = "base64"
    return entry


def _file_commit(forge: Forge, full: str, sha: str) -> dict[str, Any]:
    return render.git_commit_json(forge, full, render.read_commit(forge, full, sha))


def _decode(content: Any) -> bytes:
    if not isinstance(content, str):
        raise validation_failed("Content", "missing_field", "content")
    try:
        return base64.b64decode(content, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(422, "content is not valid Base64") from exc


def _current_blob(forge: Forge, full: str, branch_sha: str | None, path: str) -> str | None:
    if branch_sha is None:
        return None
    for mode, kind, sha, name, _size in _ls(forge, full, branch_sha, path):
        if name == path and kind == "blob" and mode != "160000":
            return sha
    return None


@ROUTER.route("PUT", "/repos/{owner}/{repo}/contents/{path:path}")
def put_contents(forge: Forge, req: Request) -> Response:
    doc = _repo(forge, req)
    full = str(doc["full_name"])
    path = req.params["path"].strip("/")
    data = req.json()
    message = require_str(data, "message", "Content")
    content = _decode(data.get("content"))
    branch = str(data.get("branch") or doc.get("default_branch", "main"))
    with forge.lock:
        head = gitdata.branch_head(forge, full, branch)
        if head is None and _has_commits(forge, full):
            raise ApiError(404, f"Branch {branch} not found")
        current = _current_blob(forge, full, head, path)
        given = data.get("sha")
        if current is not None and not given:
            raise ApiError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
        if current is not None and given != current:
            raise ApiError(409, f"{path} does not match {given}")
        protection.guard_update(forge, full, req.user, f"refs/heads/{branch}", head or ZERO, None)
        sha = gitdata.commit_files(
            forge,
            full,
            branch,
            {path: content},
            message,
            author=data.get("author"),
            committer=data.get("committer"),
            expected_head=head,
        )
    blob = gitdata.write_blob(forge, full, content)
    body = {
        "content": _entry(forge, full, branch, path, "file", blob, len(content)),
        "commit": _file_commit(forge, full, sha),
    }
    return Response(200 if current else 201, body)


@ROUTER.route("DELETE", "/repos/{owner}/{repo}/contents/{path:path}")
def delete_contents(forge: Forge, req: Request) -> Response:
    doc = _repo(forge, req)
    full = str(doc["full_name"])
    path = req.params["path"].strip("/")
    data = req.json()
    message = require_str(data, "message", "Content")
    given = data.get("sha")
    if not given:
        raise validation_failed("Content", "missing_field", "sha")
    branch = str(data.get("branch") or doc.get("default_branch", "main"))
    with forge.lock:
        head = gitdata.branch_head(forge, full, branch)
        if head is None:
            raise ApiError(404, f"Branch {branch} not found")
        current = _current_blob(forge, full, head, path)
        if current is None:
            raise not_found()
        if given != current:
            raise ApiError(409, f"{path} does not match {given}")
        protection.guard_update(forge, full, req.user, f"refs/heads/{branch}", head, None)
        sha = gitdata.commit_files(
            forge,
            full,
            branch,
            {path: None},
            message,
            author=data.get("author"),
            committer=data.get("committer"),
            expected_head=head,
        )
    return Response(200, {"content": None, "commit": _file_commit(forge, full, sha)})


# ---- raw files, as a site built from the repository serves them -----------------------------


@ROUTER.route("GET", "/web/{owner}/{repo}/raw/{ref}/{path:path}")
def raw_file(forge: Forge, req: Request) -> Response:
    """``github.com/O/R/raw/REF/PATH``: a file's bytes at a branch, tag or sha, anonymously
    (a private repository's files are not found). Tests use it as a site that serves a
    repository's content once a PR is merged."""
    full = full_name(forge, req)
    if forge.repo(*full.split("/", 1)).get("private"):
        raise not_found()
    sha = forge.resolve(full, req.params["ref"])
    if sha is None:
        raise not_found()
    path = req.params["path"].strip("/")
    blob = gitdata.run(
        forge, full, "rev-parse", "--verify", "--quiet", f"{sha}:{path}", check=False
    ).strip()
    data = gitdata.read_object(forge, full, blob, "blob") if blob else None
    if data is None:
        raise not_found()
    return Response(200, data, content_type="text/plain; charset=utf-8")
