"""The `publish` stage, npm: the version is published and its dist-tag points to it.

The package is published by a workflow (releaser never runs ``npm publish``); this step
reads the registry: the version must be there, and the dist-tag of this release kind
(``final_tag``, ``latest`` by default; ``rc_tag``, ``next``) must point to it. With
``token_env`` the step moves a wrong dist-tag; without, it verifies only.
"""

from __future__ import annotations

from typing import Any

from releaser.api import Action, Outcome, Result, Step, StepContext


def _npm(ctx: StepContext) -> Any:
    return ctx.config.publish.npm


def npm_version(ctx: StepContext) -> str:
    """The version as npm spells it (semver, no "v")."""
    return ctx.fmt("{version}")


def dist_tag(ctx: StepContext) -> str:
    """The dist-tag that must point to this release ("" when not checked)."""
    section = _npm(ctx)
    return str(section.rc_tag if ctx.version.is_rc else section.final_tag)


def version_page(registry: str, name: str, version: str) -> str:
    """npmjs.com's page of the version, else the registry's document of it."""
    registry = registry.rstrip("/")
    if registry == "https://registry.npmjs.org":
        return f"https://www.npmjs.com/package/{name}/v/{version}"
    return f"{registry}/{name}/{version}"


NPM_PACKAGE: Result[Any] = Result(
    "npm-package",
    lambda ctx: ctx.services.npm().package(str(_npm(ctx).package)),
    pending="the package as {by} would leave it",
)


class NpmPackage(Step):
    """The npm package has this version, and its dist-tag points to it.

    The version must be published (by the publish workflow); `final_tag` (`latest`) must
    point to a final, `rc_tag` (`next`) to a release candidate. With `token_env` a wrong
    dist-tag is moved (`npm dist-tag add`); without a token the step verifies only.

    Why: `npm install PACKAGE` installs what `latest` names; testers install `@next`.
    By hand: `npm view PACKAGE dist-tags`, then `npm dist-tag add PACKAGE@{version} latest`
    (`next` for an rc).
    """

    name = "npm-package"
    configured_by = ("publish.npm",)
    needs = (NPM_PACKAGE,)
    makes = (NPM_PACKAGE,)

    def applies(self, ctx: StepContext) -> bool:
        section = _npm(ctx)
        return section is not None and section.applies(ctx.version)

    def check(self, ctx: StepContext) -> Outcome:
        section = _npm(ctx)
        name, version, tag = str(section.package), npm_version(ctx), dist_tag(ctx)
        package = ctx.need(NPM_PACKAGE)
        if package is None or version not in package.versions:
            where = "has no package" if package is None else "has no version"
            return Outcome.blocked(
                f"{section.registry} {where} {name}@{version} yet: it is published by the "
                "publish workflow (releaser publish runs it) or `npm publish`"
            )
        evidence = version_page(str(section.registry), name, version)
        if not tag:
            return Outcome.done(f"{name}@{version} published", evidence)
        current = package.dist_tags.get(tag)
        if current == version:
            mode = "" if section.token_env else " (verify only)"
            return Outcome.done(f"{name}@{version} published; {tag} -> {version}{mode}", evidence)
        now = f"points at {current}" if current else "is not set"
        if not section.token_env:
            return Outcome.failed(
                f"the dist-tag {tag} of {name} {now}, not {version} (verify only: no "
                f"[publish.npm] token_env): `npm dist-tag add {name}@{version} {tag}`"
            )
        return Outcome.todo(f"the dist-tag {tag} of {name} {now}, not {version}")

    def plan(self, ctx: StepContext) -> list[Action]:
        section = _npm(ctx)
        return [
            Action(
                "set",
                f"npm dist-tag {dist_tag(ctx)} of {section.package} to {npm_version(ctx)}",
                f"on {section.registry}",
            )
        ]

    def run(self, ctx: StepContext) -> None:
        section = _npm(ctx)
        ctx.require_secret(
            str(section.token_env), f"npm token (set the dist-tags of {section.package})"
        )
        ctx.services.npm().set_dist_tag(str(section.package), dist_tag(ctx), npm_version(ctx))
