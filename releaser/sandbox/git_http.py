"""Git smart HTTP for the forge's bare repositories, through the real ``git http-backend`` CGI.

``{git_url}/{owner}/{repo}.git/...``: clone and fetch of a public repository are anonymous;
a private one needs a token of a user who can read it (401 without credentials, 404 without
access). A push (``git-receive-pack``) needs a token (the Basic password) of a user with
``write`` on the repository (else 403, as GitHub answers). Ref protection is the ``update``
hook installed in every repository (see ``gitdata.UPDATE_HOOK``), fed per push with the refusals
the forge decided from the pushed commands (branch protection, tag protection; see
:mod:`releaser.sandbox.protection`). After a push the refs are compared and the changes
announced with ``forge.notify_push``.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from releaser.sandbox import gitdata, people, protection
from releaser.sandbox.forge import git_env
from releaser.sandbox.http import ApiError, Response

if TYPE_CHECKING:
    from releaser.sandbox.forge import Forge

GIT_PREFIX = "/git/"
_SUFFIXES = ("/info/refs", "/git-upload-pack", "/git-receive-pack", "/HEAD", "/objects/")


def split_path(path: str) -> tuple[str, str] | None:
    """``owner/repo.git/info/refs`` -> (``owner/repo``, ``/info/refs``), else None."""
    parts = path.split("/")
    if len(parts) < 3:
        return None
    owner, repo, rest = parts[0], parts[1], "/" + "/".join(parts[2:])
    if repo.endswith(".git"):
        repo = repo[: -len(".git")]
    if not owner or not repo:
        return None
    return f"{owner}/{repo}", rest


def is_push(path: str, query: str) -> bool:
    return path.endswith("/git-receive-pack") or "service=git-receive-pack" in query


def is_write(method: str, path: str) -> bool:
    """A fetch (``git-upload-pack`` POST) is a read; a receive-pack POST is a write."""
    if method in ("GET", "HEAD"):
        return False
    return not path.endswith("/git-upload-pack")


def handle(
    forge: Forge,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    login: str | None,
) -> Response:
    """Answer a git request from ``login`` (None: anonymous); ``path`` is below ``/git/``."""
    split = split_path(path)
    if split is None:
        raise ApiError(404, "Repository not found")
    url_name, rest = split
    try:
        owner, name = url_name.split("/", 1)
        repo = forge.repo(owner, name)
    except ApiError:
        raise ApiError(404, "Repository not found") from None
    full_name = str(repo["full_name"])
    if not rest.startswith(_SUFFIXES):
        raise ApiError(404, "Not Found")
    push = is_push(rest, query)
    role = people.role(forge, login, repo)
    if login is None and (push or role is None):
        raise ApiError(
            401,
            "Authentication required",
            headers={"WWW-Authenticate": 'Basic realm="sandbox forge"'},
        )
    if role is None:
        raise ApiError(404, "Repository not found")
    if push and not people.at_least(role, "write"):
        raise ApiError(403, f"Permission to {full_name}.git denied to {login}.")
    if headers.get("content-encoding", "").lower() == "gzip":
        body = gzip.decompress(body)
    repo_dir = forge.repo_path(full_name)
    gitdata.install_hooks(repo_dir)
    env = git_env()
    env.update(
        GIT_PROJECT_ROOT=str(forge.root / "repos"),
        GIT_HTTP_EXPORT_ALL="1",
        PATH_INFO=f"/{full_name}.git{rest}",
        REQUEST_METHOD=method,
        QUERY_STRING=query,
        CONTENT_TYPE=headers.get("content-type", ""),
        CONTENT_LENGTH=str(len(body)),
        REMOTE_USER=login or "anonymous",
        REMOTE_ADDR="127.0.0.1",
        SERVER_PROTOCOL="HTTP/1.1",
        GATEWAY_INTERFACE="CGI/1.1",
    )
    if "git-protocol" in headers:
        env["HTTP_GIT_PROTOCOL"] = headers["git-protocol"]
    if push and method == "POST":
        with forge.lock:
            refusals = _refusals(forge, full_name, login, pushed_commands(body))
            if refusals:
                env[gitdata.REFUSALS_ENV] = str(refusals)
            try:
                before = gitdata.ref_map(forge, full_name)
                out = _backend(body, env)
                after = gitdata.ref_map(forge, full_name)
            finally:
                if refusals:
                    refusals.unlink(missing_ok=True)
        changes = [
            (ref, before.get(ref, gitdata.ZERO), after.get(ref, gitdata.ZERO))
            for ref in sorted(set(before) | set(after))
            if before.get(ref) != after.get(ref)
        ]
        if changes:
            forge.notify_push(full_name, changes)
    else:
        out = _backend(body, env)
    return _cgi_response(out)


def pushed_commands(body: bytes) -> list[tuple[str, str, str]]:
    """The ``(old, new, ref)`` commands at the start of a receive-pack request (pkt-lines up to
    the first flush; the pack follows)."""
    commands = []
    pos = 0
    while pos + 4 <= len(body):
        try:
            size = int(body[pos : pos + 4], 16)
        except ValueError:
            break
        if size == 0:
            break
        line = body[pos + 4 : pos + size].split(b"\0", 1)[0].decode("utf-8", "replace").strip()
        pos += size
        parts = line.split(" ")
        if len(parts) == 3 and all(gitdata.is_sha(p) for p in parts[:2]):
            commands.append((parts[0], parts[1], parts[2]))
    return commands


def _refusals(
    forge: Forge, full_name: str, login: str | None, commands: list[tuple[str, str, str]]
) -> Path | None:
    """A file of ``REF<TAB>message`` lines (newlines in messages as \\x1f) for the update hook,
    or None when protection refuses nothing. Fast-forwards are the hook's own check."""
    lines = []
    for old, new, ref in commands:
        refusal = protection.update_refusal(
            forge, full_name, login, ref, old, new, check_fast_forward=False
        )
        if refusal is not None:
            lines.append(f"{ref}\t{refusal.replace(chr(10), chr(31))}\n")
    if not lines:
        return None
    directory = forge.root / "tmp"
    directory.mkdir(exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="refusals-", dir=directory)
    with os.fdopen(fd, "w") as f:
        f.write("".join(lines))
    return Path(name)


def _backend(body: bytes, env: dict[str, str]) -> bytes:
    proc = subprocess.run(
        ["git", "http-backend"], input=body, capture_output=True, env=env, check=False
    )
    if proc.returncode != 0 and not proc.stdout:
        raise ApiError(500, f"git http-backend failed: {proc.stderr.decode().strip()}")
    return proc.stdout


def _cgi_response(out: bytes) -> Response:
    head, sep, body = out.partition(b"\r\n\r\n")
    if not sep:
        head, _, body = out.partition(b"\n\n")
    status = 200
    content_type = "application/octet-stream"
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key.lower() == "status":
            status = int(value.split()[0])
        elif key.lower() == "content-type":
            content_type = value
        elif key:
            headers[key] = value
    return Response(status, body, headers, content_type=content_type)
