"""The commands: each takes parsed arguments and a Context, and runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from releaser.config import Config
    from releaser.context import Context, Options
    from releaser.secrets import Secrets
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
