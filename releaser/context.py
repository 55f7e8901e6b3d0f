"""The Context a command builds once and hands to every step: config, version, options, UI,
credentials, and the service clients (created on first use, so offline commands stay fast).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from releaser.errors import UsageError
from releaser.secrets import Secrets
from releaser.ui import UI

if TYPE_CHECKING:
    from releaser.clients.git import Git
    from releaser.clients.github import GitHub
    from releaser.config import Config
    from releaser.ledger import Ledger
    from releaser.sandbox.server import SandboxServer
    from releaser.version import Version

T = TypeVar("T")


@dataclass
class Options:
    dry_run: bool = False
    yes: bool = False
    non_interactive: bool = False
    verbose: bool = False
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    no_wait: bool = False
    take_over: bool = False
    replace_assets: bool = False
    driver: str | None = None  # who drives (default: forge login)

    @property
    def interactive(self) -> bool:
        """Questions may be asked: a TTY, no CI=true, no --non-interactive."""
        if self.non_interactive or os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            return False
        return sys.stdin.isatty() and sys.stdout.isatty()


@dataclass
class ForgeEndpoint:
    api_url: str
    git_url: str  # repositories at {git_url}/{owner}/{name}.git
    token: str
    sandbox: SandboxServer | None = None


@dataclass
class Context:
    config: Config
    version: Version
    options: Options
    ui: UI
    secrets: Secrets
    # dry-run: steps the run has planned, treated as done when planning what follows
    planned: set[str] = field(default_factory=set)
    # per-command scratch space for steps (e.g. a computed changelog), keyed by step name
    cache: dict[str, Any] = field(default_factory=dict)
    _memo_locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False)
    _memo_guard: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()`` once per command for ``key``, even when `status` checks steps in
        parallel threads (one lock per key: concurrent callers wait for the first)."""
        if key not in self.cache:
            with self._memo_guard:
                lock = self._memo_locks.setdefault(key, threading.Lock())
            with lock:
                if key not in self.cache:
                    self.cache[key] = compute()
        value: T = self.cache[key]
        return value

    def forget_reads(self) -> None:
        """Forget what this command has read (after a write, or when a stage starts): the
        next check must see the forge as it is now, not as an earlier step saw it."""
        self.cache.clear()
        git = self.__dict__.get("git")
        if git is not None:
            git.forget()

    # -- names -------------------------------------------------------------------------

    def fmt(self, template: str) -> str:
        """A config template filled with this version's fields (``release-v{major}.{minor}``)."""
        return str(self.config.render(template, self.version))

    @property
    def tag(self) -> str:
        return self.fmt(self.config.project.tag)

    @property
    def version_branch(self) -> str:
        return self.fmt(self.config.project.version_branch)

    @property
    def repo_name(self) -> str:
        return str(self.config.project.repo)

    # -- services ----------------------------------------------------------------------

    @cached_property
    def forge(self) -> ForgeEndpoint:
        """Where the forge is: the configured sandbox (started in-process) or GitHub."""
        forge_cfg = self.config.forge
        if forge_cfg.sandbox:
            from releaser.sandbox.server import SandboxServer

            server = SandboxServer(Path(forge_cfg.sandbox)).start()
            info = server.info()
            self.ui.redactor.add(info["token"])
            self.ui.debug(f"sandbox forge at {info['api_url']}")
            return ForgeEndpoint(info["api_url"], info["git_url"], info["token"], server)
        token = self.secrets.get(forge_cfg.token_env, "GitHub token (scopes: repo, workflow)")
        git_url = forge_cfg.git_url or "https://github.com"
        return ForgeEndpoint(str(forge_cfg.api_url), str(git_url), token)

    @cached_property
    def github(self) -> GitHub:
        from releaser.clients.github import GitHub

        return GitHub(self.forge, self.repo_name, self.ui)

    @cached_property
    def git(self) -> Git:
        from releaser.clients.git import Git

        return Git(self.forge, self.repo_name, self.ui, self.work_dir / "git")

    @cached_property
    def ledger(self) -> Ledger:
        from releaser.ledger import open_ledger

        return open_ledger(self)

    @property
    def work_dir(self) -> Path:
        """Local scratch (clones); safe to delete: nothing here is the only copy of anything."""
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        path = base / "releaser" / self.repo_name.replace("/", "__")
        path.mkdir(parents=True, exist_ok=True)
        return path

    def close(self) -> None:
        github = self.__dict__.get("github")
        if github is not None:
            github.close()
        forge = self.__dict__.get("forge")
        if forge is not None and forge.sandbox is not None:
            forge.sandbox.stop()


def require(condition: bool, message: str, hint: str | None = None) -> None:
    if not condition:
        raise UsageError(message, hint)
