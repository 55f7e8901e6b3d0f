"""The commands: each takes parsed arguments and a Context, and runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from releaser.config import Config
    from releaser.context import Context, Options
    from releaser.secrets import Secrets
    from releaser.step import Step
    from releaser.ui import UI
    from releaser.version import Version


def make_context(
    config: Config, version: Version, options: Options, ui: UI, secrets: Secrets
) -> Context:
    """A Context for a command, with the release process (``steps.PLANS``) it runs.

    The commands are the layer that knows both the machinery and the steps: the context
    gets the plans from here, so nothing under ``releaser/`` below the commands imports
    ``steps``.
    """
    from releaser.context import Context
    from steps import PLANS, STAGE_HELP

    return Context(
        config=config,
        version=version,
        options=options,
        ui=ui,
        secrets=secrets,
        plans=PLANS,
        stage_help=STAGE_HELP,
    )


def check_step_names(plans: Mapping[str, list[Step]], config: Config, options: Options) -> None:
    """Every step named on the command line (``--only``, ``--skip``) or in ``[steps.NAME]``
    exists: a typo is an error (exit 2) suggesting the closest name, never silently ignored
    (``--skip`` of a mistyped name would run the step the operator meant to skip)."""
    import difflib

    from releaser.errors import UsageError

    names = sorted({step.name for steps in plans.values() for step in steps})
    given = [("--only", n) for n in options.only] + [("--skip", n) for n in options.skip]
    given += [(f"[steps.{n}]", n) for n in (config.data.get("steps") or {})]
    for where, name in given:
        if name in names:
            continue
        close = difflib.get_close_matches(name.replace("_", "-"), names, n=1, cutoff=0.6)
        meant = f"; did you mean {close[0]!r}?" if close else ""
        raise UsageError(
            f"{where}: no step is named {name!r}{meant}",
            "`releaser plan VERSION` lists the steps of a release by name",
        )


def check_only_in(plans: Mapping[str, list[Step]], stages: list[str], only: Iterable[str]) -> None:
    """Every ``--only`` step belongs to a stage the command runs: `releaser tag --only
    tracking-issue` would otherwise do nothing and say it is done (exit 2, naming the
    command that runs it)."""
    from releaser.errors import UsageError

    for name in only:
        if any(step.name == name for stage in stages for step in plans.get(stage, [])):
            continue
        owner = next((s for s, steps in plans.items() if any(x.name == name for x in steps)), None)
        if owner is None:
            continue  # an unknown name: check_step_names says so
        raise UsageError(
            f"--only {name}: {name} is a step of `{owner}`, which this command doesn't run",
            f"run `releaser {owner} VERSION --only {name}`",
        )
