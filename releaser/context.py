"""The Context a command builds once and hands to every step (as a ``StepContext``).

It holds the config, the version, the options, the UI and the credentials, and creates the
service clients on first use (offline commands stay fast): the forge facade (``forge``), git
(``git``), the ledger, the other services (``services``). It owns the command's one
:class:`~releaser.memo.Memo`, hands declared results to steps (``need`` / ``peek``), and
knows which step is running in each thread, so a step's ledger records carry its name.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from releaser.errors import UsageError
from releaser.memo import Memo
from releaser.secrets import Secrets
from releaser.step import Pending, Result, Step, skip_reason
from releaser.ui import UI

if TYPE_CHECKING:
    from releaser.api import Answer, Intent, ProgressView, StagePlan
    from releaser.clients.git import Git
    from releaser.clients.github import GitHubAPI
    from releaser.clients.http import RetryPolicy
    from releaser.config import Config
    from releaser.forge import Forge
    from releaser.ledger import Ledger
    from releaser.sandbox.server import SandboxServer
    from releaser.services import Services
    from releaser.version import Version

T = TypeVar("T")


@dataclass(frozen=True)
class Options:
    """The command line's options, as the commands hand them over (one typed object)."""

    dry_run: bool = False
    yes: bool = False
    non_interactive: bool = False
    verbose: bool = False
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    no_wait: bool = False
    take_over: bool = False
    replace_assets: bool = False
    allow_older: bool = False  # a version below the latest of its line, on purpose
    adopt: bool = False  # a version tagged outside releaser: the steps after the tag only
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
    token_env: str = "GITHUB_TOKEN"
    sandbox: SandboxServer | None = None


class UndeclaredResult(Exception):
    """A step or result asked for a result it does not declare in ``needs`` (a bug)."""


@dataclass
class Context:
    config: Config
    version: Version
    options: Options
    ui: UI
    secrets: Secrets
    plans: dict[str, list[Step]] = field(default_factory=dict)  # the release process
    stage_help: dict[str, str] = field(default_factory=dict)
    memo: Memo = field(default_factory=Memo)
    show_progress: bool = False  # the engine drives steps: their progress boards are shown
    # dry run: result -> the planned step that would change it
    _pending: dict[int, str] = field(default_factory=dict, repr=False)
    _local: threading.local = field(default_factory=threading.local, repr=False)

    # -- names -------------------------------------------------------------------------

    def fmt(self, template: str, **extra: Any) -> str:
        """A config template filled with this version's fields (``release-v{major}.{minor}``)."""
        return str(self.config.render(template, self.version, **extra))

    @property
    def tag(self) -> str:
        return self.fmt(self.config.project.tag)

    @property
    def version_branch(self) -> str:
        return self.fmt(self.config.project.version_branch)

    @property
    def repo_name(self) -> str:
        return str(self.config.project.repo)

    def debug(self, text: str) -> None:
        self.ui.debug(text)

    def progress(self, title: str, items: Sequence[str]) -> ProgressView:
        """A progress board of ``items`` (repositories...) a step updates as it works: live
        on a terminal, a plain line per change elsewhere, silent outside the engine
        (``status``). The same title gives the same board until the stage ends."""
        if not self.show_progress:
            from releaser.ui import QuietBoard

            return QuietBoard()
        return self.ui.board(title, items)

    def by_hand(self, text: str) -> str:
        """A step's by-hand text for this release: the version fields, plus the names of this
        project's branches and tracking issue (``{version_branch}``, ``{default_branch}``,
        ``{release_branch}``, ``{issue_title}``)."""
        if "{" not in text:
            return text
        project = self.config.project
        release_branch = project.release_branch
        return self.fmt(
            text,
            version_branch=self.version_branch,
            default_branch=str(project.default_branch),
            release_branch=self.fmt(str(release_branch)) if release_branch else "",
            issue_title=self.fmt(str(self.config.tracking_issue.title)),
        )

    def author(self) -> dict[str, str] | None:
        """Who commits and tags: ``[git] author_name`` / ``author_email``, else the
        repository's git identity (``git config user.name`` where releaser.toml is), else None
        (the forge then uses the token's user)."""
        return self._identity

    @cached_property
    def _identity(self) -> dict[str, str] | None:
        git = self.config.git
        name, email = git.author_name, git.author_email
        if not (name and email):
            import subprocess

            def config(key: str) -> str:
                proc = subprocess.run(
                    ["git", "-C", str(self.config.root), "config", "--get", key],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                return proc.stdout.strip()

            name = name or config("user.name")
            email = email or config("user.email")
        return {"name": str(name), "email": str(email)} if name and email else None

    def now(self) -> float:
        """The forge's time (every driver's shared clock), once the forge has answered."""
        api = self.__dict__.get("api")
        return api.now() if api is not None else time.time()

    # -- declared results --------------------------------------------------------------

    @contextmanager
    def running(self, step: Step | Result[Any] | None) -> Iterator[None]:
        """Mark ``step`` as the one this thread runs (ledger records, declared needs)."""
        stack: list[Any] = self._stack()
        stack.append(step)
        try:
            yield
        finally:
            stack.pop()

    def _stack(self) -> list[Any]:
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    @property
    def current_step(self) -> Step | None:
        return next((s for s in reversed(self._stack()) if isinstance(s, Step)), None)

    def need(self, result: Result[T]) -> T:
        """A declared result (computed once per command): raises Pending in a dry run when a
        planned step would change it."""
        stack = self._stack()
        asker = stack[-1] if stack else None
        if asker is not None and result not in asker.needs:
            raise UndeclaredResult(
                f"{getattr(asker, 'name', asker)} asks for {result.name} without declaring it "
                "in needs"
            )
        by = self._pending.get(id(result))
        if by is not None and not getattr(self._local, "as_is", False):
            raise Pending(result, by)

        def compute() -> T:
            with self.running(result):
                try:
                    return result.compute(self)
                except Pending as inner:
                    raise Pending(result, inner.by) from None

        return self.memo.get(("result", result.name), compute)

    def current(self, result: Result[T]) -> T:
        """A result as the services hold it now, even when a planned step would change it
        (a dry-run plan describing a change relative to what is there: "after X")."""
        if not self._pending:
            return self.need(result)
        previous = getattr(self._local, "as_is", False)
        self._local.as_is = True
        try:
            return result.compute(self)
        finally:
            self._local.as_is = previous

    def peek(self, result: Result[T]) -> T | Pending:
        """Like ``need``, but a pending result is returned (its text says what would make it)."""
        try:
            return self.need(result)
        except Pending as pending:
            return pending

    def mark_planned(self, step: Step) -> None:
        """Dry run: ``step`` is planned; what it makes is pending from now on."""
        for result in step.makes:
            self._pending[id(result)] = step.name  # the last planned writer names it
        self.forget_reads()

    def forget_reads(self) -> None:
        """Forget what this command has read (after a write, or while waiting): the next
        check must see the services as they are now."""
        self.memo.forget()

    # -- the release process -----------------------------------------------------------

    def release_plan(self) -> list[StagePlan]:
        """The stages of this release with the steps that apply (checklists, PR bodies)."""
        from releaser.api import StagePlan

        out = []
        for stage, steps in self.plans.items():
            applying = [s for s in steps if skip_reason(s, self) is None]
            if applying:
                out.append(StagePlan(stage, self.stage_help.get(stage, ""), applying))
        return out

    def for_version(self, version: Version) -> Context:
        """This project for another release (the next one's names, plan and checklist):
        the same config, options and forge clients; its own results (and ledger)."""
        other = Context(
            config=self.config,
            version=version,
            options=self.options,
            ui=self.ui,
            secrets=self.secrets,
            plans=self.plans,
            stage_help=self.stage_help,
        )
        for shared in ("endpoint", "api", "forge"):
            other.__dict__[shared] = getattr(self, shared)
        return other

    # -- the ledger, for the running step ----------------------------------------------

    def _step_name(self) -> str:
        step = self.current_step
        if step is None:
            raise UndeclaredResult("ledger records are made by steps only")
        return step.name

    def intent(self, key: str, step: str | None = None) -> Intent | None:
        from releaser.api import Intent

        found = self.ledger.intent(step or self._step_name(), key)
        if found is None:
            return None
        return Intent(
            key=key,
            done=found.get("type") == "result",
            evidence=found.get("evidence"),
            detail=str(found.get("detail") or ""),
            by=str(found.get("by") or ""),
            at=str(found.get("at") or ""),
        )

    def record_intent(self, key: str, detail: str) -> None:
        self.ledger.record_intent(self._step_name(), key, detail)

    def record_result(self, key: str, evidence: str | None) -> None:
        self.ledger.record_result(self._step_name(), key, evidence)

    def record_unsent(self, key: str, detail: str) -> None:
        self.ledger.record_unsent(self._step_name(), key, detail)

    def answer(self, step: str | None = None) -> Answer | None:
        """The operator's latest answer "done" to ``step`` (default: the running one); None
        when there is none, or the latest answer is "it did not happen" (``--retry``)."""
        from releaser.api import Answer

        found = self.ledger.answer(step or self._step_name())
        return None if found is None else Answer(found.evidence, found.by, found.at)

    # -- credentials -------------------------------------------------------------------

    def secret(self, name: str) -> str | None:
        return self.secrets.optional(name)

    def env(self, name: str) -> str | None:
        """A setting from the environment or .env that is not a credential (GNUPGHOME)."""
        return os.environ.get(name) or self.secrets.optional(name)

    def require_secret(self, name: str, purpose: str) -> str:
        return self.secrets.get(name, purpose)

    # -- services ----------------------------------------------------------------------

    @cached_property
    def endpoint(self) -> ForgeEndpoint:
        """Where the forge is: the configured sandbox (started in-process) or GitHub."""
        forge_cfg = self.config.forge
        if forge_cfg.sandbox:
            from releaser.sandbox.server import SandboxServer

            server = SandboxServer(Path(forge_cfg.sandbox)).start()
            info = server.info()
            self.ui.redactor.add(info["token"])
            self.ui.debug(f"sandbox forge at {info['api_url']}")
            return ForgeEndpoint(info["api_url"], info["git_url"], info["token"], sandbox=server)
        token_env = str(forge_cfg.token_env)
        token = self.secrets.get(token_env, "GitHub token (scopes: repo, workflow)")
        git_url = forge_cfg.git_url or "https://github.com"
        return ForgeEndpoint(str(forge_cfg.api_url), str(git_url), token, token_env)

    @cached_property
    def api(self) -> GitHubAPI:
        from releaser.clients.github import GitHubAPI

        endpoint = self.endpoint
        api = GitHubAPI(
            endpoint.api_url,
            endpoint.token,
            self.ui,
            token_env=endpoint.token_env,
            local=endpoint.sandbox is not None or _is_loopback(endpoint.api_url),
            retry=self.retry_policy(),
        )
        api.before_write = self.fence
        # status starts every check at once: what bounds the forge's load is this
        api.in_flight = threading.BoundedSemaphore(max(1, int(self.config.engine.concurrency)))
        return api

    def fence(self) -> None:
        """Before every write: while this command holds the release's claim, check it is
        still ours (a driver taken over stops here, before writing)."""
        ledger = self.__dict__.get("ledger")
        if ledger is not None and ledger.held is not None:
            ledger.fence()

    def retry_policy(self) -> RetryPolicy:
        """How every client retries and how long it waits for a rate limit (config)."""
        from releaser.clients.http import RetryPolicy

        return RetryPolicy(max_wait=float(self.config.engine.rate_limit_wait))

    @cached_property
    def forge(self) -> Forge:
        from releaser.forge import Forge

        return Forge(self.api, self.memo, self.repo_name)

    @cached_property
    def git(self) -> Git:
        from releaser.clients.git import Git

        git = Git(self.endpoint, self.repo_name, self.ui, self.work_dir / "git", self.memo)
        git.before_write = self.fence
        git.tag_reader = lambda sha: self.forge.tag_object(sha)  # a tag: one API read
        return git

    @cached_property
    def ledger(self) -> Ledger:
        from releaser.ledger import open_ledger

        return open_ledger(self)

    @cached_property
    def services(self) -> Services:
        from releaser.services import Services

        return Services(self)

    @property
    def work_dir(self) -> Path:
        """Local scratch (clones); safe to delete: nothing here is the only copy of anything."""
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        path = base / "releaser" / self.repo_name.replace("/", "__")
        path.mkdir(parents=True, exist_ok=True)
        return path

    def close(self) -> None:
        services = self.__dict__.get("services")
        if services is not None:
            services.close()
        api = self.__dict__.get("api")
        if api is not None:
            api.close()
        git = self.__dict__.get("git")
        if git is not None:
            git.close()
        endpoint = self.__dict__.get("endpoint")
        if endpoint is not None and endpoint.sandbox is not None:
            endpoint.sandbox.stop()


def _is_loopback(url: str) -> bool:
    from urllib.parse import urlparse

    host = urlparse(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def require(condition: bool, message: str, hint: str | None = None) -> None:
    if not condition:
        raise UsageError(message, hint)
