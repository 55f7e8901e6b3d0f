"""The step API: everything a step may use, and all that modules under ``steps/`` import.

A step is a :class:`Step` subclass (the contract: ``applies`` / ``check`` / ``plan`` /
``run``, documented in docs/writing-a-step.md) that receives a :class:`StepContext`:

- ``ctx.config``, ``ctx.version``, ``ctx.options``, ``ctx.tag``, ``ctx.version_branch``,
  ``ctx.fmt(template)``: what is released, and how the project names things;
- ``ctx.forge``: the forge facade (:class:`~releaser.forge.Forge`: branches, files, commits,
  pull requests, issues and comments, releases and assets, workflow runs), plain dataclasses
  out, every error mapped once;
- ``ctx.git``: tags (read, create signed, push one ref), ancestry, working trees;
- ``ctx.services``: the other services' clients (chat, forums, registries);
- ``ctx.need(RESULT)`` / ``ctx.peek(RESULT)``: results the step declares in ``needs``;
- ``ctx.intent`` / ``record_intent`` / ``record_result`` / ``record_unsent``: the ledger's
  memory of writes
  that can't be looked up (see :func:`releaser.announce.post_once`);
- ``ctx.answer()``: the operator's answer to the running step's question (a link), if any;
- ``ctx.secret(NAME)``: an optional credential (never printed);
- ``ctx.for_version(VERSION)``: the same project for another release (its names, plan and
  checklist: the next release's tracking issue).
- ``ctx.progress(title, items)``: a board showing each item's state while a step works on
  several at once (``update(item, state, detail)``; thread-safe).

Steps never print, prompt, sleep or catch the engine's errors: the engine narrates, asks,
waits and wraps errors around them. ``tests/test_import_rules.py`` keeps ``steps/`` on this
module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from releaser import checklist
from releaser.announce import Channel, Post, announcement, post_once
from releaser.clients import gpg
from releaser.clients.git import RemoteTag, TagInfo
from releaser.clients.pypi import Dist, FileConflict, read_dist
from releaser.errors import (
    AmbiguousWrite,
    HTTPError,
    RemoteError,
    StepFailed,
    UsageError,
)
from releaser.forge import AlreadyExists, Comparison, Forge
from releaser.models import (
    Artifact,
    Asset,
    Branch,
    Check,
    Comment,
    Commit,
    File,
    Issue,
    Job,
    Person,
    PullRequest,
    Ref,
    Release,
    Repository,
    Viewer,
    Workflow,
    WorkflowRun,
)
from releaser.pages import links_to
from releaser.stages import STAGE_HELP, STAGES
from releaser.step import Access, Action, Outcome, Pending, Result, Status, Step, skip_reason
from releaser.version import Version, VersionError

if TYPE_CHECKING:
    from releaser.clients.git import Git
    from releaser.config import Config
    from releaser.context import Options
    from releaser.services import Services

T = TypeVar("T")

__all__ = [
    "STAGES",
    "STAGE_HELP",
    "Access",
    "Action",
    "AlreadyExists",
    "AmbiguousWrite",
    "Answer",
    "Artifact",
    "Asset",
    "Branch",
    "Channel",
    "Check",
    "Comment",
    "Commit",
    "Comparison",
    "Dist",
    "File",
    "FileConflict",
    "Forge",
    "HTTPError",
    "Intent",
    "Issue",
    "Job",
    "Outcome",
    "Pending",
    "Person",
    "Post",
    "ProgressView",
    "PullRequest",
    "Ref",
    "Release",
    "RemoteError",
    "RemoteTag",
    "Repository",
    "Result",
    "StagePlan",
    "Status",
    "Step",
    "StepContext",
    "StepFailed",
    "TagInfo",
    "UsageError",
    "Version",
    "VersionError",
    "Viewer",
    "Workflow",
    "WorkflowRun",
    "announcement",
    "checklist",
    "gpg",
    "links_to",
    "post_once",
    "read_dist",
    "skip_reason",
]


@dataclass(frozen=True)
class Intent:
    """What the ledger remembers of a write that can't be looked up on its service."""

    key: str
    done: bool  # False: the intent was recorded, but not the result (a crash, a lost answer)
    evidence: str | None
    detail: str
    by: str
    at: str


@dataclass(frozen=True)
class Answer:
    """What the operator answered to a step's question ("done, with a link"), recorded in the
    ledger from a prompt or ``releaser confirm VERSION STEP --evidence URL``."""

    evidence: str | None  # the link given (None: "done" without one)
    by: str
    at: str


@dataclass(frozen=True)
class StagePlan:
    """One stage of this release and the steps of it that apply."""

    stage: str
    help: str
    steps: list[Step]


class ProgressView(Protocol):
    """A progress board (``ctx.progress``): one row per item, its state and a detail.

    States are short words the operator reads ("reading", "committing", "PR open", "tests
    running", "passed", "failed"); the detail is a URL or a reason. Updating an item to the
    state it has is free; the board is thread-safe, so workers of one step update it.
    """

    def update(self, item: str, state: str, detail: str = "") -> None: ...


class StepContext(Protocol):
    """What a step may use (the real ``releaser.context.Context`` provides it)."""

    config: Config
    version: Version
    options: Options

    @property
    def tag(self) -> str: ...

    @property
    def version_branch(self) -> str: ...

    @property
    def repo_name(self) -> str: ...

    def fmt(self, template: str, **extra: Any) -> str: ...

    @property
    def forge(self) -> Forge: ...

    @property
    def git(self) -> Git: ...

    @property
    def services(self) -> Services: ...

    @property
    def work_dir(self) -> Path: ...

    def need(self, result: Result[T]) -> T: ...

    def peek(self, result: Result[T]) -> T | Pending: ...

    def current(self, result: Result[T]) -> T: ...

    def release_plan(self) -> list[StagePlan]: ...

    def for_version(self, version: Version) -> StepContext: ...

    def intent(self, key: str, step: str | None = None) -> Intent | None: ...

    def record_intent(self, key: str, detail: str) -> None: ...

    def record_result(self, key: str, evidence: str | None) -> None: ...

    def record_unsent(self, key: str, detail: str) -> None: ...

    def answer(self, step: str | None = None) -> Answer | None: ...

    def secret(self, name: str) -> str | None: ...

    def env(self, name: str) -> str | None: ...

    def require_secret(self, name: str, purpose: str) -> str: ...

    def debug(self, text: str) -> None: ...

    def progress(self, title: str, items: Sequence[str]) -> ProgressView: ...

    def author(self) -> dict[str, str] | None: ...

    def now(self) -> float: ...
