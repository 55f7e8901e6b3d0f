"""The step contract: Status, Outcome, Action, the Step base class, and declared Results.

A step checks remote state before acting, acts only where something is missing, and says
what it would write. The engine (``releaser.engine``) does the logging, skipping, asking,
waiting and error wrapping around steps; steps never print or prompt themselves.

Docstring convention, checked by the contract tests and rendered into docs/runbook.md::

    One-line summary of what the step makes true.

    Longer description (optional).

    Why: the reason the release needs it.
    By hand: the commands or clicks that do it without the tool.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

if TYPE_CHECKING:
    from releaser.api import StepContext as Context

T = TypeVar("T")

KINDS = ("rc", "final", "patch")


class Status(StrEnum):
    DONE = "done"  # the evidence says so
    TODO = "todo"  # missing: run() will make it so
    RUNNING = "running"  # remote work in progress (a workflow run)
    BLOCKED = "blocked"  # a precondition another step owns is missing
    FAILED = "failed"  # needs a human; the detail says what
    UNKNOWN = "unknown"  # the remote can't tell: ask the operator


@dataclass(frozen=True)
class Outcome:
    """What ``check()`` found: a status, one line of detail, and evidence (URL, sha, id)."""

    status: Status
    detail: str = ""
    evidence: str | None = None
    until: float | None = None  # RUNNING: the forge time it can't be done before (a soak)

    @classmethod
    def done(cls, detail: str = "", evidence: str | None = None) -> Outcome:
        return cls(Status.DONE, detail, evidence)

    @classmethod
    def todo(cls, detail: str = "") -> Outcome:
        return cls(Status.TODO, detail)

    @classmethod
    def running(
        cls, detail: str = "", evidence: str | None = None, until: float | None = None
    ) -> Outcome:
        """Remote work in progress; ``until``: not done before that forge time (a wait
        beyond ``[engine] wait_timeout`` then exits 4 at once, saying when to re-run)."""
        return cls(Status.RUNNING, detail, evidence, until)

    @classmethod
    def blocked(cls, detail: str) -> Outcome:
        return cls(Status.BLOCKED, detail)

    @classmethod
    def failed(cls, detail: str, evidence: str | None = None) -> Outcome:
        return cls(Status.FAILED, detail, evidence)

    @classmethod
    def unknown(cls, question: str) -> Outcome:
        return cls(Status.UNKNOWN, question)


@dataclass(frozen=True)
class Action:
    """One write a step would make: ``create branch release-v1.2 at 3f2a1c0``."""

    verb: str  # create, update, push, upload, merge, comment, post, close, dispatch
    target: str  # what is written, precisely enough to review
    detail: str = ""  # a body or content preview, shown indented

    def __str__(self) -> str:
        return f"{self.verb} {self.target}"


@dataclass(frozen=True)
class Access:
    """A permission a step's writes need: a role on a repository (``read``, ``triage``,
    ``write``, ``maintain`` or ``admin``), and an OAuth scope of the token when one is
    needed (``workflow`` to dispatch), with why, in words (``"push the tag v1.2.0"``)."""

    repo: str
    permission: str
    why: str
    scope: str | None = None


@dataclass(frozen=True)
class StepDoc:
    summary: str
    description: str
    why: str
    by_hand: str


class Result(Generic[T]):
    """A lookup steps share, declared: a step lists the results it ``needs`` and the engine
    hands them over (``ctx.need(RESULT)``), computed once per command (memoised with every
    other read, forgotten after each write).

    A step that writes what a result reads lists it in ``makes``. In a dry run, once such a
    step is planned, the result is *pending*: ``ctx.need`` raises :class:`Pending` (the engine
    says the step would run after that one) and ``ctx.peek`` returns the Pending, whose text
    (``pending``, e.g. "the commit {by} would make") a plan can show instead of a wrong value.
    A result computed from pending ones is pending too.
    """

    def __init__(
        self,
        name: str,
        compute: Callable[[Context], T],
        *,
        needs: tuple[Result[Any], ...] = (),
        pending: str = "what {by} would make",
    ) -> None:
        self.name = name
        self.compute = compute
        self.needs = needs
        self.pending = pending

    def __repr__(self) -> str:
        return f"Result({self.name})"


class Pending(Exception):
    """A result a step planned earlier in this dry run would change: not known yet."""

    def __init__(self, result: Result[Any], by: str) -> None:
        super().__init__(result.pending.format(by=by))
        self.result = result
        self.by = by

    def __str__(self) -> str:
        return self.result.pending.format(by=self.by)


class Step:
    """Base class: override ``check`` (read-only), ``plan`` and ``run`` (the writes)."""

    name: ClassVar[str] = ""  # stable id: --only/--skip, ledger, checklist, runbook
    dangerous: ClassVar[bool] = False  # irreversible: plan shown and confirmed unless --yes
    only: ClassVar[tuple[str, ...]] = ()  # release kinds it is for (empty: all)
    skip: ClassVar[tuple[str, ...]] = ()  # release kinds it is not for
    manual: ClassVar[bool] = False  # no API: the operator does it and confirms
    poll_interval: ClassVar[float | None] = None  # seconds between checks while RUNNING
    needs: ClassVar[tuple[Result[Any], ...]] = ()  # results check/plan/run read (ctx.need)
    makes: ClassVar[tuple[Result[Any], ...]] = ()  # results its writes change
    configured_by: ClassVar[tuple[str, ...]] = ()  # releaser.toml tables it acts on

    # -- the contract ------------------------------------------------------------------

    def applies(self, ctx: Context) -> bool:
        """Whether the step is part of this release beyond its kinds (e.g. config present)."""
        return True

    def check(self, ctx: Context) -> Outcome:
        """Read remote state; never write."""
        raise NotImplementedError

    def plan(self, ctx: Context) -> list[Action]:
        """The exact writes ``run()`` would make now."""
        return []

    def run(self, ctx: Context) -> None:
        """Make the writes; safe to interrupt and re-run (``check()`` sees partial work)."""
        raise NotImplementedError(f"{self.name} has no automatic action")

    def preflight(self, ctx: Context) -> list[str]:
        """Problems with the remote objects the config names (a workflow, a room, a
        repository that does not exist), read-only, each naming the key to fix. Run before a
        stage's first write and by ``releaser plan --check``; a problem stops the command
        (exit 2) before anything is written."""
        return []

    def by_hand_plan(self, ctx: Context) -> list[Action]:
        """What the operator posts (or looks for) by hand when the step asks: shown with the
        question, exactly (a forum topic's title, tags and body). Empty: the by-hand text
        says it all."""
        return []

    def writes_to(self, ctx: Context) -> list[Access]:
        """The permissions its writes need, checked before a stage's first write (so a
        missing one stops the stage before it starts, never half-way). Default: write on
        the project's repository for a step that writes (overrides ``run``), none otherwise."""
        if type(self).run is Step.run:
            return []
        return [Access(ctx.repo_name, "write", f"the writes of {self.name}")]

    def approval_subject(self, ctx: Context) -> str | None:
        """What an approval of this step approves, in one short line naming exactly what it
        would do (``tag v1.2.0 on 3f2a...``): an approval given for another subject doesn't
        count. None (the default): an approval of the step for this release is enough."""
        return None

    def describe(self, ctx: Context) -> str:
        """One line said before the step acts: what it checks or does, and why."""
        doc = self.doc()
        return f"{doc.summary} Why: {doc.why}" if doc.why else doc.summary

    # -- documentation -----------------------------------------------------------------

    @classmethod
    def doc(cls) -> StepDoc:
        return parse_doc(inspect.getdoc(cls) or "")

    @classmethod
    def kind_label(cls) -> str:
        """``rc only``, ``final only``, ``not for patch``... (empty for every release)."""
        parts = [f"{' / '.join(cls.only)} only"] if cls.only else []
        parts += [f"not for {k}" for k in cls.skip]
        return ", ".join(parts)


_SECTION = re.compile(r"^(Why|By hand):\s*", re.MULTILINE)


def parse_doc(text: str) -> StepDoc:
    """Split a step docstring into summary, description, ``Why:`` and ``By hand:``."""
    parts = _SECTION.split(text.strip())
    head = parts[0].strip()
    sections = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    summary, _, description = head.partition("\n")
    return StepDoc(
        summary=summary.strip(),
        description=description.strip(),
        why=sections.get("Why", ""),
        by_hand=sections.get("By hand", ""),
    )


@dataclass
class StepResult:
    """What happened to one step in one command, for the summary table and the ledger."""

    step: str
    status: Status | str  # a Status, or "skipped" / "planned"
    detail: str = ""
    evidence: str | None = None
    acted: bool = False
    seconds: float = 0.0
    actions: list[Action] = field(default_factory=list)
    started_at: float | None = None  # the forge's time when the engine took the step up
    ended_at: float | None = None  # ... and when it was through with it


def skip_reason(step: Step, ctx: Context) -> str | None:
    """Why a step is not part of this release (None when it is).

    Kinds come from the step's ``only``/``skip``, overridden by ``[steps.NAME]``; then the
    step's own ``applies()`` (its config is present).
    """
    only, skip = step.only, step.skip
    override = ctx.config.step_override(step.name)
    if override is not None:
        if override.get("enabled") is False:
            return f"disabled by [steps.{step.name}]"
        only = tuple(override.get("only") or only)
        skip = tuple(override.get("skip") or skip)
    if not ctx.version.matches(only, skip):
        return f"not for {ctx.version.kind} releases"
    if not step.applies(ctx):
        return "not configured for this project"
    return None
