"""Git over smart HTTP through dulwich (no git CLI): a local bare mirror cache of the project's
repository, remote ref listing (peeled tags), annotated (optionally GPG-signed) tags, and
pushing exactly one ref.

Imported lazily (dulwich is imported inside the methods). Credentials go to dulwich as
username ``x-access-token`` + the token as password, never inside a URL, so nothing logged
carries them; every git operation is narrated with ``-v`` (``ui.debug``).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from releaser.errors import RemoteError

if TYPE_CHECKING:
    from dulwich.client import GitClient
    from dulwich.repo import Repo

    from releaser.context import ForgeEndpoint
    from releaser.memo import Memo
    from releaser.ui import UI

__all__ = ["Git", "RemoteTag", "TagInfo"]

USERNAME = "x-access-token"
_SHA = re.compile(r"[0-9a-f]{40}")


class RemoteTag(NamedTuple):
    """A tag as the remote lists it: the ref's object and the commit it peels to.

    For a lightweight tag both are the commit (``annotated`` is False).
    """

    sha: str
    commit: str

    @property
    def annotated(self) -> bool:
        return self.sha != self.commit


@dataclass(frozen=True)
class TagInfo:
    """An annotated tag object read from the mirror."""

    name: str
    sha: str
    target: str
    tagger: str
    tag_time: int
    message: str
    signed: bool


class Git:
    """The project's repository on the forge, through a local bare mirror under ``cache_dir``."""

    def __init__(
        self, forge: ForgeEndpoint, repo_name: str, ui: UI, cache_dir: Path, memo: Memo
    ) -> None:
        self.forge = forge
        self.repo_name = repo_name
        self.ui = ui
        self.url = f"{forge.git_url.rstrip('/')}/{repo_name}.git"
        ui.redactor.add(forge.token)
        digest = hashlib.sha256(self.url.encode()).hexdigest()[:10]
        self.path = Path(cache_dir) / f"{repo_name.replace('/', '__')}-{digest}.git"
        self.memo = memo  # the command's memo: ls-remote is read once until the engine forgets
        self.before_write: Callable[[], None] | None = None  # the claim's fence
        # The forge API's tag object by sha (``git/tags/{sha}``): read_tag asks it instead of
        # fetching a pack when set (one request; None: no such tag object).
        self.tag_reader: Callable[[str], dict[str, Any] | None] | None = None
        self._key = ("git", self.url, "refs")

    # -- plumbing ----------------------------------------------------------------------

    @cached_property
    def _transport(self) -> tuple[GitClient, str]:
        from dulwich.client import get_transport_and_path

        client, path = get_transport_and_path(
            self.url, username=USERNAME, password=self.forge.token, quiet=True
        )
        return client, path

    @cached_property
    def repo(self) -> Repo:
        """The local bare mirror (created on first use)."""
        from dulwich.repo import Repo

        if (self.path / "objects").is_dir():
            return Repo(str(self.path))
        self.path.mkdir(parents=True, exist_ok=True)
        return Repo.init_bare(str(self.path))

    def close(self) -> None:
        repo = self.__dict__.pop("repo", None)
        if repo is not None:
            repo.close()

    def _remote_error(self, what: str, exc: BaseException) -> RemoteError:
        text = self.ui.redactor.redact(str(exc).strip() or type(exc).__name__)
        return RemoteError(
            f"git {what} {self.url} failed: {text}",
            "check [forge] git_url / the token's access to the repository, then re-run",
        )

    # -- reading the remote ------------------------------------------------------------

    def ls_remote(self, refresh: bool = False) -> dict[str, str]:
        """Every ref of the remote (tags also as ``refs/tags/X^{}`` when annotated).

        Memoised for the command; ``refresh`` reads again.
        """
        if refresh:
            self.memo.drop(self._key)
        refs: dict[str, str] = self.memo.get(self._key, self._read_refs)
        return refs

    def _read_refs(self) -> dict[str, str]:
        client, path = self._transport
        self.ui.debug(f"git ls-remote {self.url}")
        try:
            result = client.get_refs(path.encode())
        except Exception as exc:
            raise self._remote_error("ls-remote", exc) from exc
        return {k.decode(): v.decode() for k, v in (result.refs or {}).items() if v is not None}

    def ref_sha(self, ref: str) -> str | None:
        """The sha a full ref (``refs/heads/main``) points at on the remote, or None."""
        return self.ls_remote().get(ref)

    def resolve(self, ref: str) -> str | None:
        """The commit a branch, tag, full ref or sha names on the remote (None: no such ref).

        Tags are peeled to their commit. A full sha is returned as is.
        """
        if _SHA.fullmatch(ref):
            return ref
        refs = self.ls_remote()
        for name in (f"refs/heads/{ref}", f"refs/tags/{ref}", ref):
            if name in refs:
                return refs.get(f"{name}^{{}}", refs[name])
        return None

    def tag_object(self, name: str) -> RemoteTag | None:
        """The remote tag ``name``: (tag object sha, commit sha), or None when absent."""
        refs = self.ls_remote()
        ref = name if name.startswith("refs/tags/") else f"refs/tags/{name}"
        sha = refs.get(ref)
        if sha is None:
            return None
        return RemoteTag(sha, refs.get(f"{ref}^{{}}", sha))

    # -- the mirror --------------------------------------------------------------------

    def has_object(self, sha: str) -> bool:
        from dulwich.objects import ObjectID

        return ObjectID(sha.encode()) in self.repo.object_store

    def fetch(self, refs: Iterable[str] | None = None) -> dict[str, str]:
        """Fetch ``refs`` (branch / tag names, full refs; None: every branch and tag) into
        the mirror, and point the mirror's refs at what the remote has. Returns ref -> sha
        for the refs fetched. A fetch is a read: nothing changes on the forge."""
        remote = self.ls_remote(refresh=True)
        if refs is None:
            wanted = {
                k: v
                for k, v in remote.items()
                if k.startswith(("refs/heads/", "refs/tags/")) and not k.endswith("^{}")
            }
        else:
            wanted = {}
            for ref in refs:
                for name in (ref, f"refs/heads/{ref}", f"refs/tags/{ref}"):
                    if name in remote and not name.endswith("^{}") and name != "HEAD":
                        wanted[name] = remote[name]
                        break
                else:
                    if _SHA.fullmatch(ref):
                        wanted[ref] = ref
        self._fetch_objects(wanted)
        return wanted

    def _fetch_objects(self, wanted: dict[str, str]) -> None:
        """Fetch the objects of ``wanted`` (ref -> sha) the mirror lacks; point its refs."""
        from dulwich.objects import ObjectID
        from dulwich.refs import Ref

        missing = sorted({sha for sha in wanted.values() if not self.has_object(sha)})
        if missing:
            client, path = self._transport
            self.ui.debug(f"git fetch {self.url} {' '.join(sorted(wanted))}")

            def determine_wants(_refs: Any, depth: Any = None) -> list[ObjectID]:
                return [ObjectID(sha.encode()) for sha in missing]

            try:
                client.fetch(
                    path.encode(),
                    self.repo,
                    determine_wants=determine_wants,  # type: ignore[arg-type]
                )
            except Exception as exc:
                raise self._remote_error("fetch", exc) from exc
        for ref, sha in wanted.items():
            if ref.startswith("refs/"):
                self.repo.refs[Ref(ref.encode())] = ObjectID(sha.encode())

    def read_tag(self, name: str) -> TagInfo | None:
        """The remote annotated tag ``name`` read from the mirror (fetched when needed).

        Memoised for the command: several steps read the release tag, and one fetch of the
        tag object the ls-remote named serves them all."""
        key = ("git", self.url, "tag", name)
        info: TagInfo | None = self.memo.get(key, lambda: self._read_tag(name))
        return info

    def _read_tag(self, name: str) -> TagInfo | None:
        from dulwich.objects import ObjectID, Tag

        remote = self.tag_object(name)
        if remote is None or not remote.annotated:
            return None
        if self.tag_reader is not None and not self.has_object(remote.sha):
            return _tag_info(remote.sha, self.tag_reader(remote.sha))
        ref = name if name.startswith("refs/tags/") else f"refs/tags/{name}"
        self._fetch_objects({ref: remote.sha})  # the sha ls-remote named: no second ls-remote
        obj = self.repo.object_store[ObjectID(remote.sha.encode())]
        if not isinstance(obj, Tag):
            return None
        return TagInfo(
            name=(obj.name or b"").decode(),
            sha=remote.sha,
            target=obj.object[1].decode(),
            tagger=(obj.tagger or b"").decode("utf-8", "replace"),
            tag_time=int(obj.tag_time or 0),
            message=(obj.message or b"").decode("utf-8", "replace"),
            signed=bool(obj.signature),
        )

    # -- writing -----------------------------------------------------------------------

    def create_tag(
        self,
        name: str,
        target_sha: str,
        message: str,
        tagger: str,
        gpg_key: str | None = None,
        gnupghome: str | os.PathLike[str] | None = None,
    ) -> str:
        """An annotated tag object on ``target_sha`` in the mirror (GPG-signed with
        ``gpg_key``); returns its sha. Nothing is pushed: see ``push_ref``."""
        from dulwich.objects import Commit, ObjectID, Tag

        if not self.has_object(target_sha):
            self.fetch([target_sha])
        if not self.has_object(target_sha):
            self.fetch(None)
        target = self.repo.object_store[ObjectID(target_sha.encode())]
        if not isinstance(target, Commit):
            raise RemoteError(f"{target_sha} is not a commit")
        tag = Tag()
        tag.name = name.encode()
        tag.object = (Commit, ObjectID(target_sha.encode()))
        tag.tagger = tagger.encode()
        tag.tag_time = int(time.time())
        tag.tag_timezone = 0
        tag.message = message.rstrip("\n").encode() + b"\n"
        if gpg_key:
            from releaser.clients.gpg import sign_detached

            self.ui.debug(f"gpg --detach-sign --armor --local-user {gpg_key} (tag {name})")
            tag.signature = sign_detached(tag.as_raw_string(), gpg_key, gnupghome)
        self.repo.object_store.add_object(tag)
        return tag.id.decode()

    def push_ref(self, ref: str, sha: str) -> None:
        """Push exactly ``ref`` = ``sha`` (never all tags); RemoteError with the forge's
        reason when it refuses (a moved tag, a non-fast-forward)."""
        from dulwich.objects import ObjectID
        from dulwich.refs import Ref

        if not ref.startswith("refs/"):
            raise ValueError(f"push_ref needs a full ref name, got {ref!r}")
        if self.before_write is not None:
            self.before_write()
        client, path = self._transport
        ref_b, sha_b = Ref(ref.encode()), ObjectID(sha.encode())
        self.ui.debug(f"git push {self.url} {sha}:{ref}")

        def update_refs(_remote: Any) -> dict[Ref, ObjectID]:
            return {ref_b: sha_b}

        def generate_pack_data(have: Any, want: Any, **kwargs: Any) -> Any:
            return self.repo.generate_pack_data(
                set(have), set(want), ofs_delta=kwargs.get("ofs_delta", False)
            )

        remote_said: list[bytes] = []
        try:
            result = client.send_pack(
                path.encode(), update_refs, generate_pack_data, progress=remote_said.append
            )
        except Exception as exc:
            raise self._remote_error("push", exc) from exc
        finally:
            self.memo.drop(self._key)
        status = (result.ref_status or {}).get(ref_b)
        if status is not None:
            reason = status.decode("utf-8", "replace") if isinstance(status, bytes) else status
            said = b"".join(remote_said).decode("utf-8", "replace").strip()
            if said:
                reason = f"{reason} ({self.ui.redactor.redact(' '.join(said.split()))})"
            raise RemoteError(
                f"the forge refused the push of {ref}: {reason}",
                "re-run the command: it re-checks the remote before writing again",
            )
        self.repo.refs[ref_b] = sha_b

    # -- local reads for steps ---------------------------------------------------------

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Whether ``ancestor`` is reachable from ``descendant`` (both in the mirror)."""
        from dulwich.objects import ObjectID

        for sha in (ancestor, descendant):
            if not self.has_object(sha):
                self.fetch(None)
                break
        walker = self.repo.get_walker(include=[ObjectID(descendant.encode())])
        return any(entry.commit.id.decode() == ancestor for entry in walker)

    # -- working trees for commands ------------------------------------------------------

    def checkout(
        self, dest: Path, ref: str, *, repo: str | None = None, depth: int | None = None
    ) -> Path:
        """A working tree of ``repo`` (default: the project's) at ``ref`` in ``dest``, made
        with the git CLI for commands that need files (a changelog generator, a downstream
        update). ``depth`` makes it shallow. The token goes in a header, never in the URL or
        ``.git/config``, and is not in the environment of what later runs there."""
        import base64
        import shutil
        import subprocess

        url = f"{self.forge.git_url.rstrip('/')}/{repo or self.repo_name}.git"
        basic = base64.b64encode(f"{USERNAME}:{self.forge.token}".encode()).decode()
        self.ui.redactor.add_basic(USERNAME, self.forge.token)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(
            GIT_TERMINAL_PROMPT="0",
            GIT_CONFIG_COUNT="1",
            GIT_CONFIG_KEY_0="http.extraHeader",
            GIT_CONFIG_VALUE_0=f"Authorization: Basic {basic}",
        )

        def git(*args: str, cwd: Path | None = None) -> None:
            self.ui.debug("git " + " ".join(args))
            proc = subprocess.run(
                ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
            )
            if proc.returncode != 0:
                raise RemoteError(
                    f"git {args[0]} of {url} failed: "
                    f"{self.ui.redactor.redact(proc.stderr.strip())}",
                    "check [forge] git_url and the token's access to the repository",
                )

        shallow = ["--depth", str(depth)] if depth else []
        if not (dest / ".git").is_dir():
            shutil.rmtree(dest, ignore_errors=True)
            dest.parent.mkdir(parents=True, exist_ok=True)
            git("init", "--quiet", str(dest))
        git("fetch", "--quiet", *shallow, "--tags", url, ref, cwd=dest)
        git("checkout", "--quiet", "--force", "--detach", "FETCH_HEAD", cwd=dest)
        return dest

    def run_command(
        self, command: str, cwd: Path, env: dict[str, str], timeout: float | None = None
    ) -> CommandResult:
        """Run a configured shell command in a working tree, with ``env`` added and every
        credential variable of this process removed (the command gets no token). After
        ``timeout`` seconds it is killed (return code 124, as ``timeout(1)`` says)."""
        import subprocess

        from releaser.secrets import looks_secret

        clean = {k: v for k, v in os.environ.items() if not looks_secret(k)}
        clean.update(env)
        self.ui.debug(f"run in {cwd.name}: {command}")
        with subprocess.Popen(
            command,
            shell=True,
            cwd=cwd,
            env=clean,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # its own process group: a timeout stops all of it
        ) as proc:
            try:
                stdout, stderr = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                import signal

                os.killpg(proc.pid, signal.SIGKILL)
                stdout, _ = proc.communicate()
                return CommandResult(124, stdout, f"killed after {timeout:.0f}s")
        lines = stderr.strip().splitlines()
        return CommandResult(
            proc.returncode, stdout, self.ui.redactor.redact(lines[-1] if lines else "")
        )


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str
    last_error: str  # the last line of stderr, redacted


SIGNATURE = "-----BEGIN PGP SIGNATURE-----"


def _tag_info(sha: str, data: dict[str, Any] | None) -> TagInfo | None:
    """A tag object as the forge's API gives it, as a :class:`TagInfo` (what the mirror's
    copy would say: the API appends a signature to the message; git keeps it apart)."""
    if data is None:
        return None
    from datetime import datetime

    tagger = data.get("tagger") or {}
    when = str(tagger.get("date") or "")
    stamp = int(datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()) if when else 0
    message = str(data.get("message") or "")
    signature = (data.get("verification") or {}).get("signature")
    if SIGNATURE in message:
        message = message[: message.index(SIGNATURE)]
    return TagInfo(
        name=str(data.get("tag") or ""),
        sha=sha,
        target=str((data.get("object") or {}).get("sha") or ""),
        tagger=f"{tagger.get('name', '')} <{tagger.get('email', '')}>",
        tag_time=stamp,
        message=message,
        signed=bool(signature) or SIGNATURE in str(data.get("message") or ""),
    )
