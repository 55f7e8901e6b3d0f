"""Permissions and services, checked before a command's first write, so a stage never stops
half-way for lack of one.

Every step says what its writes need (``Step.writes_to(ctx)``: a role on a repository, and
an OAuth scope such as ``workflow`` to dispatch); every stage command also writes the
release's ledger and claim (write on the project's repository). Right before the first
write of a command (never for a re-run with nothing to do), :class:`Preflight` asks the
forge who the token is (``GET /user``: its login and scopes) and its role on each
repository (the ``permissions`` of ``GET /repos/{repo}``), for the step about to write and
every step after it in the command (each stage of ``release`` checks again before its own
first write). Where one is missing it stops, having written nothing,
with one message naming each repository, the permission, why it is needed and who has it
(exit 2: credentials, as for a token the forge refuses).

At the same time (the reads and probes at once, at most ``[engine] concurrency``), it probes,
read-only, every other service those steps write to (the tables they are ``configured_by``:
:mod:`releaser.service_probes`): the Matrix token and room, the Discourse key and category,
the Reddit app and account, the Discord webhook, a container registry's login, the npm
token, the package index's upload token. A
credential a service refuses, or a room or category it doesn't have, stops the command the
same way (:class:`ServiceRefused`, exit 2), one message listing each with the variable or
key to fix, never a secret's value. A probe that passed is not made again in the command.
A dry run reports what would stop it ("would stop before the first write: ...") and exits 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from releaser.errors import ReleaserError, UsageError
from releaser.forge import ROLES, at_least, lacks
from releaser.step import Access, Pending, Step, skip_reason

if TYPE_CHECKING:
    from releaser.context import Context

MAX_NAMED = 5  # people named as having a permission


REPO_SCOPES = frozenset({"repo", "public_repo"})


class PermissionMissing(UsageError):
    """The token lacks a role or scope the command's writes need (exit 2, nothing written)."""


class ServiceRefused(UsageError):
    """A service the command's writes go to refuses its credential, or lacks the room or
    category the config names (exit 2, nothing written)."""


def ledger_access(ctx: Context) -> Access:
    why = f"the release's ledger and claim (refs/releaser/{ctx.tag})"
    return Access(ctx.repo_name, "write", why)


def require_ledger_write(ctx: Context, what: str) -> None:
    """Before a command records ``what`` in the ledger (an answer, an approval): the token
    may write to the repository, or one message (exit 2) and nothing written."""
    role = ctx.forge.my_role()
    if lacks(role, "write"):
        login = ctx.forge.login()
        raise PermissionMissing(
            f"{login} may not record {what}: the release's ledger (refs/releaser/{ctx.tag}) "
            f"needs write on {ctx.repo_name}, and {login} has {role or 'no'} access",
            f"ask someone with write access (or an admin of {ctx.repo_name} for access): "
            "nothing was written",
        )


class Preflight:
    """Checks, once per command, the permissions of the writes still to come."""

    def __init__(self, ctx: Context, stages: list[str]) -> None:
        self.ctx = ctx
        self.steps: list[Step] = [step for stage in stages for step in ctx.plans.get(stage, [])]
        self.checked = False
        self.problem: str | None = None  # a dry run's finding (a live run raises it)
        self.stopped_by = ""  # what the dry run's finding is about: permissions, services
        self.passed: set[tuple[str, str]] = set()  # service probes that passed: not again

    def next_stage(self) -> None:
        """A new stage of the command: it checks again before its own first write (what
        later steps need may have changed: a merge the forge now blocks)."""
        if self.problem is None:
            self.checked = False

    def __call__(self) -> None:
        """Raise PermissionMissing or ServiceRefused when something the writes need is
        missing (a dry run notes it)."""
        if self.checked:
            return
        self.checked = True
        steps = self.remaining()
        probes = self.service_probes(steps)
        permissions, found = self.find_problem(steps, [c for _, c in probes])
        refused = [f"{step}: {p}" for (step, _), p in zip(probes, found, strict=True) if p]
        services = None
        if refused:
            services = "the services this command writes to refuse it:\n  " + "\n  ".join(refused)
        problems = [p for p in (permissions, services) if p]
        if not problems:
            return
        problem = "; and ".join(problems)
        if self.ctx.options.dry_run:
            self.problem = problem
            self.stopped_by = "permissions" if permissions else "services"
            from rich.markup import escape

            shown = escape(problem)  # "[promote.matrix] room" is text, not markup
            self.ctx.ui.print(f"  [yellow]would stop before the first write:[/yellow] {shown}")
            return
        if permissions:
            raise PermissionMissing(
                problem,
                "use a token of someone who has these permissions (or ask for them)"
                + (", and fix the credentials or keys named" if services else "")
                + ", then re-run: nothing was written",
            )
        raise ServiceRefused(
            problem,
            "fix the variables or releaser.toml keys named (`releaser doctor` checks them), "
            "then re-run: nothing was written",
        )

    def noted(self, exc: ReleaserError) -> bool:
        """Whether a dry run already reported ``exc`` (a step meeting the refused credential
        it found): the dry run goes on, and exits 1 for it at the end."""
        return (
            self.ctx.options.dry_run
            and self.problem is not None
            and isinstance(exc, UsageError)
            and exc.message in self.problem
        )

    def service_probes(self, steps: list[Step]) -> list[tuple[str, Callable[[], str | None]]]:
        """(the first step writing to it, a probe returning its problem or None) for every
        service the steps write to, besides the forge; those passed already are left out."""
        from releaser.service_probes import for_steps, problem

        ctx = self.ctx
        calls: list[tuple[str, Callable[[], str | None]]] = []
        for step_name, probe in for_steps(ctx, steps):
            key = (probe.section, probe.label)
            if key in self.passed:
                continue

            def call(probe: Any = probe, key: tuple[str, str] = key) -> str | None:
                found = problem(ctx, probe)
                if found is None:
                    self.passed.add(key)
                return found

            calls.append((step_name, call))
        return calls

    def allows(self) -> bool:
        """Whether the token has what the command's writes need (read-only; for a record made
        outside any claim, such as a wait's: a reader's run writes nothing at all)."""
        return self.find_problem(self.remaining())[0] is None

    def remaining(self) -> list[Step]:
        """The step about to write and every step after it that this command would run."""
        from releaser.engine import selected

        ctx = self.ctx
        current = ctx.current_step
        start = next((i for i, s in enumerate(self.steps) if s is current), 0)
        return [s for s in self.steps[start:] if skip_reason(s, ctx) is None and selected(s, ctx)]

    def needs(self, steps: list[Step]) -> list[Access]:
        ctx = self.ctx
        found = [ledger_access(ctx)]
        for step in steps:
            with ctx.running(step):
                try:
                    found += step.writes_to(ctx)
                except Pending:  # a dry run: what it writes depends on a planned step
                    found += Step.writes_to(step, ctx)  # the default
                except UsageError:
                    raise  # a refused credential
                except ReleaserError as exc:  # its inputs can't be read yet: the default
                    ctx.debug(f"{step.name}: writes judged by default ({exc.message})")
                    found += Step.writes_to(step, ctx)
        return found

    def find_problem(
        self, steps: list[Step], more: Sequence[Callable[[], str | None]] = ()
    ) -> tuple[str | None, list[str | None]]:
        """The permissions ``steps`` lack (None: none), and the results of ``more`` (the
        service probes), all read at the same time."""
        from releaser.parallel import at_once

        ctx = self.ctx
        by_repo: dict[str, list[Access]] = {}
        for access in self.needs(steps):
            by_repo.setdefault(access.repo, []).append(access)
        # who the token is, its role on each repository and the services: at the same time
        reads: list[Callable[[], Any]] = [ctx.forge.viewer]
        reads += [ctx.forge.other(repo).my_role for repo in by_repo]
        reads += more
        viewer, *answers = at_once(reads, int(ctx.config.engine.concurrency))
        roles, found = answers[: len(by_repo)], answers[len(by_repo) :]
        return self._lacking(by_repo, viewer, roles), found

    def _lacking(
        self, by_repo: dict[str, list[Access]], viewer: Any, roles: list[Any]
    ) -> str | None:
        ctx = self.ctx
        lines = []
        for (repo, accesses), role in zip(by_repo.items(), roles, strict=True):
            needed = max((a.permission for a in accesses), key=ROLES.index)
            if lacks(role, needed):
                why = _reasons(a.why for a in accesses if not at_least(role, a.permission))
                has = f"has {role}" if role else "can't see it"
                has = f"{viewer.login or 'the token'} {has}"
                who = self.who_has(repo, needed)
                lines.append(f"{needed} on {repo} ({has}), for {why}; {who}")
            writes = [a for a in accesses if a.permission != "read"]
            if writes and viewer.scopes is not None and not REPO_SCOPES & set(viewer.scopes):
                # A classic token writes to no repository without `repo` (`public_repo`
                # suffices for a public one on GitHub): the forge would refuse the first write.
                have = ", ".join(sorted(viewer.scopes)) or "none"
                why = _reasons(a.why for a in writes)
                lines.append(f"the token scope repo (it has: {have}), for {why} in {repo}")
            for access in accesses:
                scope = access.scope
                if scope and viewer.scopes is not None and scope not in viewer.scopes:
                    have = ", ".join(sorted(viewer.scopes)) or "none"
                    lines.append(
                        f"the token scope {scope} (it has: {have}), for {access.why} in {repo}"
                    )
        if not lines:
            return None
        unique = list(dict.fromkeys(lines))
        source = f"the token in {ctx.endpoint.token_env}" if ctx.endpoint.sandbox is None else ""
        login = viewer.login or "this app token"
        whose = f"{login} ({source})" if source else login
        return f"{whose} lacks what this command's writes need: " + " | ".join(unique)

    def who_has(self, repo: str, needed: str) -> str:
        people = self.ctx.forge.other(repo).people_with(needed)
        if people is None:
            owner = repo.split("/", 1)[0]
            return (
                f"who has it can't be listed with this token (that needs push access): ask "
                f"an admin of {repo} or an owner of {owner}"
            )
        if not people:
            return f"nobody has it: ask an owner of {repo.split('/', 1)[0]}"
        named = ", ".join(people[:MAX_NAMED]) + (" ..." if len(people) > MAX_NAMED else "")
        return f"{needed} or more: {named}"


def _reasons(whys: Iterable[str]) -> str:
    return ", ".join(dict.fromkeys(whys))
