"""Git operations on the forge's bare repositories, through the real git CLI.

No HTTP here: creating repositories (with the ref-protection ``update`` hook), reading refs,
writing objects, building trees from file changes, and moving refs with compare-and-swap under
GitHub's rules (branches fast-forward only, tags immutable, ``refs/releaser/*`` fast-forward
only). Every ref change made here is announced with ``forge.notify_push``.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from releaser.sandbox import shacache
from releaser.sandbox.forge import git_env
from releaser.sandbox.http import ApiError, not_found

if TYPE_CHECKING:
    from releaser.sandbox.forge import Forge

ZERO = "0" * 40
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

REFUSALS_ENV = "SANDBOX_REFUSALS"  # a file of REF<TAB>message lines the forge decided
UPDATE_HOOK = """#!/bin/sh
# Installed by the sandbox forge: GitHub-like ref protection for pushes.
ref="$1"; old="$2"; new="$3"
zero=0000000000000000000000000000000000000000
if [ -n "$SANDBOX_REFUSALS" ] && [ -f "$SANDBOX_REFUSALS" ]; then
  tab=$(printf '\\t')
  while IFS="$tab" read -r refused message; do
    if [ "$refused" = "$ref" ]; then
      printf '%s\\n' "$message" | tr '\\037' '\\n' >&2
      exit 1
    fi
  done < "$SANDBOX_REFUSALS"
fi
case "$ref" in
  refs/tags/*)
    if [ "$old" != "$zero" ]; then
      echo "GH013: refusing to update or delete existing tag $ref (tags are immutable)" >&2
      exit 1
    fi ;;
  refs/heads/*|refs/releaser/*)
    [ "$old" = "$zero" ] && exit 0
    if [ "$new" = "$zero" ]; then
      case "$ref" in refs/releaser/*)
        echo "GH006: refusing to delete $ref" >&2; exit 1 ;;
      esac
      exit 0
    fi
    if ! git merge-base --is-ancestor "$old" "$new"; then
      echo "GH006: Protected branch update failed for $ref: not a fast-forward" >&2
      exit 1
    fi ;;
esac
exit 0
"""


def run(
    forge: Forge,
    full_name: str,
    *args: str,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> str:
    """git in the bare repository; ApiError 409 when it fails (unless ``check`` is false)."""
    proc = subprocess.run(
        ["git", "--git-dir", str(forge.repo_path(full_name)), *args],
        input=input,
        capture_output=True,
        env={**git_env(), **(env or {})},
    )
    if check and proc.returncode != 0:
        raise ApiError(409, f"git {args[0]} failed: {proc.stderr.decode().strip()}")
    return proc.stdout.decode("utf-8", "replace")


def ok(forge: Forge, full_name: str, *args: str) -> bool:
    proc = subprocess.run(
        ["git", "--git-dir", str(forge.repo_path(full_name)), *args],
        capture_output=True,
        env=git_env(),
    )
    return proc.returncode == 0


# ---- repositories ------------------------------------------------------------------------


def install_hooks(path: Path) -> None:
    hook = path / "hooks" / "update"
    hook.parent.mkdir(parents=True, exist_ok=True)
    if not hook.exists() or hook.read_text() != UPDATE_HOOK:
        hook.write_text(UPDATE_HOOK)
        hook.chmod(0o755)


def init_repo(forge: Forge, full_name: str, default_branch: str = "main") -> Path:
    path = forge.repo_path(full_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["git", "init", "--quiet", "--bare", "-b", default_branch, str(path)],
        check=True,
        capture_output=True,
        env=git_env(),
    )
    for key, value in (
        ("http.receivepack", "true"),
        ("http.uploadpack", "true"),
        ("receive.denyDeleteCurrent", "true"),
        ("uploadpack.allowAnySHA1InWant", "true"),
        ("core.logAllRefUpdates", "false"),
    ):
        run(forge, full_name, "config", key, value)
    install_hooks(path)
    return path


def set_head(forge: Forge, full_name: str, branch: str) -> None:
    run(forge, full_name, "symbolic-ref", "HEAD", f"refs/heads/{branch}")


# ---- refs ---------------------------------------------------------------------------------


@dataclass
class Ref:
    name: str  # refs/heads/main
    sha: str  # what the ref points at
    type: str  # commit, tag, tree, blob


def list_refs(forge: Forge, full_name: str, prefix: str = "refs/") -> list[Ref]:
    out = run(
        forge,
        full_name,
        "for-each-ref",
        "--format=%(refname)%00%(objectname)%00%(objecttype)",
        prefix,
    )
    refs = []
    for line in out.splitlines():
        name, sha, kind = line.split("\0")
        refs.append(Ref(name, sha, kind))
    return refs


def ref_map(forge: Forge, full_name: str) -> dict[str, str]:
    return {r.name: r.sha for r in list_refs(forge, full_name)}


def get_ref(forge: Forge, full_name: str, name: str) -> Ref | None:
    if not name.startswith("refs/"):
        return None
    for ref in list_refs(forge, full_name, name):
        if ref.name == name:
            return ref
    return None


def object_type(forge: Forge, full_name: str, sha: str) -> str | None:
    def read() -> str | None:
        out = run(forge, full_name, "cat-file", "-t", sha, check=False).strip()
        return out or None

    return shacache.kept((str(forge.repo_path(full_name)), "type", sha), (sha,), read)


def is_sha(value: str) -> bool:
    return len(value) == 40 and all(c in "0123456789abcdef" for c in value.lower())


def peel_commit(forge: Forge, full_name: str, sha: str) -> str | None:
    out = run(
        forge, full_name, "rev-parse", "--verify", "--quiet", f"{sha}^{{commit}}", check=False
    )
    return out.strip() or None


def is_ancestor(forge: Forge, full_name: str, old: str, new: str) -> bool:
    return ok(forge, full_name, "merge-base", "--is-ancestor", old, new)


def check_ref_name(name: str) -> None:
    if not name.startswith("refs/") or name.count("/") < 2:
        raise ApiError(422, "Reference name must start with 'refs/' and have at least two slashes.")
    bad = ("..", "//", "@{", "\\", " ", "~", "^", ":", "?", "*", "[")
    if any(b in name for b in bad) or name.endswith((".lock", "/", ".")):
        raise ApiError(422, f"{name} is not a valid ref name.")


def create_ref(forge: Forge, full_name: str, name: str, sha: str) -> Ref:
    """Create ``name`` at ``sha``; 422 when it exists or the object is missing."""
    check_ref_name(name)
    with forge.lock:
        kind = object_type(forge, full_name, sha) if is_sha(sha) else None
        if kind is None:
            raise ApiError(422, "Object does not exist")
        if get_ref(forge, full_name, name) is not None:
            raise ApiError(422, "Reference already exists")
        proc = _update_ref(forge, full_name, name, sha, ZERO)
        if proc.returncode != 0:
            raise ApiError(422, "Reference already exists")
    forge.notify_push(full_name, [(name, ZERO, sha)])
    return Ref(name, sha, kind)


def move_ref(
    forge: Forge,
    full_name: str,
    name: str,
    sha: str,
    *,
    force: bool = False,
    expected: str | None = None,
) -> Ref:
    """Move an existing ref under GitHub's rules; 422 on refusal, 409 when ``expected`` is stale.

    Branches move by fast-forward unless ``force``; tags never move; ``refs/releaser/*`` move
    by fast-forward only, force or not.
    """
    with forge.lock:
        current = get_ref(forge, full_name, name)
        if current is None:
            raise ApiError(422, "Reference does not exist")
        if expected is not None and current.sha != expected:
            raise ApiError(409, f"Reference {name} moved: it is at {current.sha}, not {expected}")
        kind = object_type(forge, full_name, sha) if is_sha(sha) else None
        if kind is None:
            raise ApiError(422, "Object does not exist")
        if current.sha == sha:
            return current
        if name.startswith("refs/tags/"):
            raise ApiError(422, "Reference cannot be updated: tags are immutable")
        fast_forward = kind == "commit" and is_ancestor(forge, full_name, current.sha, sha)
        only_ff = name.startswith("refs/releaser/")
        if not fast_forward and (only_ff or not force):
            raise ApiError(422, "Update is not a fast forward")
        proc = _update_ref(forge, full_name, name, sha, current.sha)
        if proc.returncode != 0:
            raise ApiError(409, f"Reference {name} moved concurrently")
    forge.notify_push(full_name, [(name, current.sha, sha)])
    return Ref(name, sha, kind)


def delete_ref(forge: Forge, full_name: str, name: str) -> None:
    with forge.lock:
        current = get_ref(forge, full_name, name)
        if current is None:
            raise ApiError(422, "Reference does not exist")
        if name.startswith(("refs/tags/", "refs/releaser/")):
            raise ApiError(422, f"Reference cannot be deleted: {name} is protected")
        proc = _update_ref(forge, full_name, name, None, current.sha)
        if proc.returncode != 0:
            raise ApiError(409, f"Reference {name} moved concurrently")
    forge.notify_push(full_name, [(name, current.sha, ZERO)])


def _update_ref(
    forge: Forge, full_name: str, name: str, new: str | None, old: str
) -> subprocess.CompletedProcess[bytes]:
    git_dir = str(forge.repo_path(full_name))
    args = ["-d", name, old] if new is None else [name, new, old]
    return subprocess.run(
        ["git", "--git-dir", git_dir, "update-ref", *args], capture_output=True, env=git_env()
    )


# ---- objects ------------------------------------------------------------------------------


def write_blob(forge: Forge, full_name: str, data: bytes) -> str:
    return run(forge, full_name, "hash-object", "-w", "--stdin", input=data).strip()


def read_object(forge: Forge, full_name: str, sha: str, kind: str) -> bytes:
    """Raw content of an object of ``kind``; 404 when missing or of another type."""
    if not is_sha(sha) or object_type(forge, full_name, sha) != kind:
        raise not_found()
    proc = subprocess.run(
        ["git", "--git-dir", str(forge.repo_path(full_name)), "cat-file", kind, sha],
        capture_output=True,
        env=git_env(),
    )
    if proc.returncode != 0:
        raise not_found()
    return proc.stdout


def identity_env(
    forge: Forge, author: dict[str, Any] | None, committer: dict[str, Any] | None
) -> dict[str, str]:
    """GIT_AUTHOR_*/GIT_COMMITTER_* from GitHub ``{name, email, date}`` objects; dates not
    given are the sandbox clock's."""
    now = forge.clock.git_date()
    env: dict[str, str] = {"GIT_AUTHOR_DATE": now, "GIT_COMMITTER_DATE": now}
    committer = committer or author
    for role, who in (("AUTHOR", author), ("COMMITTER", committer)):
        if not who:
            continue
        if who.get("name"):
            env[f"GIT_{role}_NAME"] = str(who["name"])
        if who.get("email"):
            env[f"GIT_{role}_EMAIL"] = str(who["email"])
        if who.get("date"):
            env[f"GIT_{role}_DATE"] = str(who["date"])
    return env


def commit_tree(
    forge: Forge,
    full_name: str,
    tree: str,
    parents: list[str],
    message: str,
    author: dict[str, Any] | None = None,
    committer: dict[str, Any] | None = None,
) -> str:
    args = ["commit-tree", tree]
    for parent in parents:
        args += ["-p", parent]
    return run(
        forge,
        full_name,
        *args,
        input=message.encode(),
        env=identity_env(forge, author, committer),
    ).strip()


class TreeBuilder:
    """Edit a tree through a temporary index: ``set``/``remove``/``add_tree``, then ``write``.

    The index is listed once and the edits are staged in memory, then applied by one
    ``update-index`` (before ``add_tree``'s ``read-tree``, and at ``write``): a tree of many
    files costs a few git processes more than a tree of one, not several per file.
    """

    def __init__(self, forge: Forge, full_name: str, base_tree: str | None) -> None:
        self.forge = forge
        self.full_name = full_name
        fd, name = tempfile.mkstemp(prefix="index-", dir=forge.repo_path(full_name))
        os.close(fd)
        os.unlink(name)  # git wants to create it itself
        self.index = name
        self.env = {"GIT_INDEX_FILE": name, "GIT_LITERAL_PATHSPECS": "1"}
        self._git("read-tree", base_tree or "--empty")
        self._paths: set[str] | None = None  # the index's paths, as staged so far
        self._staged: list[str] = []  # --index-info records not applied yet
        self._contents: list[tuple[str, bytes, str]] = []  # (path, data, mode) to write

    def _git(self, *args: str, input: bytes | None = None) -> str:
        return run(self.forge, self.full_name, *args, input=input, env=self.env)

    def _listing(self) -> set[str]:
        if self._paths is None:
            out = self._git("ls-files", "-z")
            self._paths = {p for p in out.split("\0") if p}
        return self._paths

    def paths_under(self, path: str) -> list[str]:
        """The index's files at ``path`` or below it (a directory)."""
        prefix = path.rstrip("/") + "/"
        return sorted(p for p in self._listing() if p == path or p.startswith(prefix))

    def set(self, path: str, sha: str, mode: str = "100644") -> None:
        self.remove(path)
        self._staged.append(f"{mode} {sha}\t{path}\0")
        self._listing().add(path)

    def set_content(self, path: str, data: bytes, mode: str = "100644") -> None:
        """Stage ``data`` at ``path``; the blobs of a tree are written together at ``write``."""
        self.remove(path)
        self._contents.append((path, data, mode))
        self._listing().add(path)

    def add_tree(self, path: str, sha: str) -> None:
        self.remove(path)
        self._flush()
        self._git("read-tree", f"--prefix={path.rstrip('/')}/", sha)
        self._paths = None  # read-tree added files: list again when asked

    def remove(self, path: str) -> None:
        """Drop ``path`` (a file, or everything below a directory) from the index."""
        prefix = path.rstrip("/") + "/"
        self._contents = [c for c in self._contents if c[0] != path and not c[0].startswith(prefix)]
        listing = self._listing()
        for victim in self.paths_under(path):
            self._staged.append(f"0 {ZERO}\t{victim}\0")
            listing.discard(victim)

    def _write_blobs(self) -> None:
        """Write the staged contents as blobs in one ``hash-object`` and stage them."""
        if not self._contents:
            return
        contents, self._contents = self._contents, []
        with tempfile.TemporaryDirectory(dir=self.forge.repo_path(self.full_name)) as tmp:
            names = []
            for i, (_, data, _) in enumerate(contents):
                name = os.path.join(tmp, str(i))
                Path(name).write_bytes(data)
                names.append(name)
            out = self._git(
                "hash-object",
                "-w",
                "--no-filters",
                "--stdin-paths",
                input="\n".join(names).encode() + b"\n",
            )
        for (path, _, mode), sha in zip(contents, out.split(), strict=True):
            self._staged.append(f"{mode} {sha}\t{path}\0")

    def _flush(self) -> None:
        self._write_blobs()
        if self._staged:
            records, self._staged = "".join(self._staged), []
            self._git("update-index", "-z", "--index-info", input=records.encode())

    def write(self) -> str:
        try:
            self._flush()
            return self._git("write-tree").strip()
        finally:
            Path(self.index).unlink(missing_ok=True)

    def close(self) -> None:
        Path(self.index).unlink(missing_ok=True)


def branch_head(forge: Forge, full_name: str, branch: str) -> str | None:
    ref = get_ref(forge, full_name, f"refs/heads/{branch}")
    return ref.sha if ref else None


def commit_files(
    forge: Forge,
    full_name: str,
    branch: str,
    changes: dict[str, bytes | None],
    message: str,
    *,
    author: dict[str, Any] | None = None,
    committer: dict[str, Any] | None = None,
    expected_head: str | None = None,
) -> str:
    """Commit ``changes`` (path -> bytes, or None to delete) on top of ``branch``.

    Creates the branch when it does not exist (an empty repository). The branch moves by
    compare-and-swap from the head the commit was built on; ``notify_push`` announces it.
    """
    with forge.lock:
        head = branch_head(forge, full_name, branch)
        if expected_head is not None and head != expected_head:
            raise ApiError(409, f"{branch} moved: it is at {head}")
        base_tree = peel_tree(forge, full_name, head) if head else None
        builder = TreeBuilder(forge, full_name, base_tree)
        try:
            for path, data in changes.items():
                if data is None:
                    builder.remove(path)
                else:
                    builder.set_content(path, data)
            tree = builder.write()
        finally:
            builder.close()
        sha = commit_tree(
            forge, full_name, tree, [head] if head else [], message, author, committer
        )
        ref = f"refs/heads/{branch}"
        proc = _update_ref(forge, full_name, ref, sha, head or ZERO)
        if proc.returncode != 0:
            raise ApiError(409, f"{branch} moved concurrently")
    forge.notify_push(full_name, [(ref, head or ZERO, sha)])
    return sha


def peel_tree(forge: Forge, full_name: str, sha: str) -> str:
    return run(forge, full_name, "rev-parse", f"{sha}^{{tree}}").strip()


def merge_commits(
    forge: Forge,
    full_name: str,
    ours: str,
    theirs: str,
    message: str,
    author: dict[str, Any] | None = None,
) -> str | None:
    """A merge commit of ``theirs`` into ``ours`` (not moved); None on conflict."""
    proc = subprocess.run(
        [
            "git",
            "--git-dir",
            str(forge.repo_path(full_name)),
            "merge-tree",
            "--write-tree",
            "--no-messages",
            ours,
            theirs,
        ],
        capture_output=True,
        env=git_env(),
    )
    if proc.returncode != 0:
        return None
    tree = proc.stdout.decode().split("\n", 1)[0].strip()
    return commit_tree(forge, full_name, tree, [ours, theirs], message, author)
