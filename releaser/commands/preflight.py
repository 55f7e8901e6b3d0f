"""Before a stage command's first step: is this a version releaser should release?

- A version not tagged yet and below the latest release of its X.Y line (v1.2.0-rc2 once
  v1.2.0 is out) is refused (exit 2), naming the latest, unless ``--allow-older``
  (confirmed). Re-running a version releaser tagged is always allowed: it converges.
- A version already tagged, with no ledger (so not by releaser), was released elsewhere: said
  plainly, nothing written (exit 2), unless ``--adopt``: then only the stages that follow a tag
  run, and the ledger remembers the adoption for every later command.

Read-only: one listing of the tags and the ledger's tip (which the claim reads anyway).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from releaser.errors import InputNeeded, UsageError

if TYPE_CHECKING:
    from releaser.context import Context
    from releaser.step import Step

BEFORE_A_TAG = ("prepare", "tag")  # stages an adopted tag skips: it is made already


def check_remote_config(ctx: Context, stages: list[str], services: bool = False) -> None:
    """The steps' preflights (workflows, rooms, repositories the config names exist),
    read-only; UsageError (exit 2) listing every problem, before anything is written.
    ``services`` (``plan --check``): also probe every service the steps write to (a stage
    command probes them lazily, before its first write: ``Preflight``)."""
    from releaser.engine import selected
    from releaser.step import skip_reason

    problems: list[str] = []
    sections: dict[str, str] = {}  # a configured table -> the first step acting on it
    steps: list[Step] = []
    for stage in stages:
        for step in ctx.plans.get(stage, []):
            if skip_reason(step, ctx) is None and selected(step, ctx):
                steps.append(step)
                for section in step.configured_by:
                    sections.setdefault(section, step.name)
                with ctx.running(step):
                    problems += [f"{step.name}: {p}" for p in step.preflight(ctx)]
    if not ctx.options.dry_run and not ctx.options.interactive:
        problems += _missing_credentials(ctx, sections)
    if services:
        problems += _service_problems(ctx, steps)
    if problems:
        raise UsageError(
            "the configuration names what the forge or a service doesn't have:\n  "
            + "\n  ".join(problems),
            "fix releaser.toml or the variables named; `releaser plan VERSION --check` checks "
            "it without releasing",
        )


def _service_problems(ctx: Context, steps: list[Step]) -> list[str]:
    """The services ``steps`` write to, probed read-only at the same time."""
    from releaser.parallel import at_once
    from releaser.service_probes import for_steps, problem

    found = for_steps(ctx, steps)
    calls = [lambda probe=probe: problem(ctx, probe) for _, probe in found]
    results = at_once(calls, int(ctx.config.engine.concurrency))
    return [f"{step}: {p}" for (step, _), p in zip(found, results, strict=True) if p]


def _missing_credentials(ctx: Context, sections: dict[str, str]) -> list[str]:
    """The credentials the command's steps will need, missing from the environment and
    .env: found now, before the first write, not at the step that needs one after others
    wrote (a malformed one raises CredentialError, exit 2, here too). Interactive runs ask
    for a missing one at its step instead."""
    import re

    problems = []
    seen: set[str] = set()
    for name, key_path, _purpose in ctx.config.secret_envs(include_non_secret=False):
        table = re.sub(r"\[\d+\]", "", key_path).rsplit(".", 1)[0]
        step = sections.get(table)
        if step is None or name in seen:
            continue
        seen.add(name)
        if not ctx.secrets.optional(name):
            problems.append(
                f"{step}: {name} is not set ({key_path} names it): set it in the "
                "environment or .env (`releaser env` lists them)"
            )
    return problems


def check_release(ctx: Context, stages: list[str]) -> tuple[str, ...]:
    """Refuse what must not be released; the stages to skip (an adopted tag's)."""
    from steps._release import RELEASE_TAGS

    check_remote_config(ctx, stages)

    tags = ctx.need(RELEASE_TAGS)
    if not any(t == ctx.tag for _, t in tags):
        version = ctx.version
        line = [(v, t) for v, t in tags if (v.major, v.minor) == (version.major, version.minor)]
        latest = max(line) if line else None
        if latest is not None and version < latest[0]:
            _older(ctx, latest[1])
        return ()
    entries = ctx.ledger.entries()  # as the stage's claim read it just before
    if any(e.get("type") == "adopt" for e in entries):
        return BEFORE_A_TAG
    if entries:
        return ()  # releaser's own release: a re-run
    commit = ctx.git.resolve(ctx.tag) or "?"
    if not ctx.options.adopt:
        raise UsageError(
            f"{ctx.tag} is already tagged (on {commit[:12]}), not by releaser: this version "
            "was released elsewhere; nothing was written",
            f"release the next version; or, to run the steps that follow a tag (build, "
            f"publish, promote...) for {ctx.tag}: re-run with --adopt",
        )
    if not ctx.options.dry_run:
        ctx.ledger.append(
            {"type": "adopt", "tag": ctx.tag, "commit": commit, "by": ctx.ledger.driver}
        )
    ctx.ui.print(
        f"[cyan]adopting {ctx.tag} (tagged on {commit[:12]} outside releaser): "
        f"{', '.join(BEFORE_A_TAG)} are skipped; the steps that follow a tag run[/cyan]"
    )
    return BEFORE_A_TAG


def _older(ctx: Context, latest: str) -> None:
    line = f"{ctx.version.major}.{ctx.version.minor}"
    if not ctx.options.allow_older:
        raise UsageError(
            f"{ctx.tag} is below {latest}, the latest release of the {line} line: releasing "
            "it would move the release branch back; nothing was written",
            "release a version above it; or, if you mean it (a late rc of an old line), "
            "re-run with --allow-older",
        )
    question = f"{ctx.tag} is below {latest}, the latest of {line}: release it anyway?"
    if ctx.options.yes:
        ctx.ui.warn(f"{ctx.tag} is below {latest} (--allow-older --yes)")
        return
    if not ctx.options.interactive:
        raise InputNeeded(question, "re-run with --allow-older --yes to confirm it")
    from releaser import prompts

    if not prompts.confirm(question):
        raise UsageError("not confirmed", "release a version above it")
