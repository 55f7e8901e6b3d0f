"""The `publish` stage, container images: every configured tag on the registry, on one digest.

Each ``[[publish.docker]]`` table names an image on a registry (Docker Hub, GHCR, a private
one) and tags that must exist for this release. The source tag (``source_tag``, else the
first of ``tags``) is pushed by the build; every other tag must point to the same digest.
A tag that is missing or points elsewhere is copied from the source (the manifest's exact
bytes: never rebuilt, so the digest is the same) when the table has credentials; without
them the step only verifies, and says what to copy by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from releaser.api import Action, Outcome, RemoteError, Result, Step, StepContext


@dataclass(frozen=True)
class ImageTable:
    """One ``[[publish.docker]]`` table, rendered for this release."""

    registry: str
    image: str
    source: str
    targets: tuple[str, ...]
    username_env: str | None
    password_env: str | None

    @property
    def pushes(self) -> bool:
        """Whether releaser may write here (credentials configured), or only verifies."""
        return bool(self.password_env)

    def ref(self, tag: str) -> str:
        return f"{self.registry}/{self.image}:{tag}"


@dataclass(frozen=True)
class ImageState:
    """What the registry holds for one table: the source's digest and each target's."""

    table: ImageTable
    digest: str | None  # the source tag's; None: not pushed
    platforms: tuple[str, ...]  # of a multi-arch index; () for a single image
    targets: dict[str, str | None]  # tag -> digest (None: absent)

    @property
    def stale(self) -> list[str]:
        """Targets missing, or on another digest than the source."""
        return [tag for tag, digest in self.targets.items() if digest != self.digest]

    def describe(self, tag: str) -> str:
        digest = self.targets[tag]
        ref = self.table.ref(tag)
        if digest is None:
            return f"{ref} is missing"
        return f"{ref} points at {short(digest)}, not {self.table.source}'s {short(self.digest)}"


def short(digest: str | None) -> str:
    return (digest or "")[:19]  # "sha256:" + 12 hex digits


def tables(ctx: StepContext) -> list[ImageTable]:
    out = []
    for section in ctx.config.publish.docker:
        if not section.applies(ctx.version):
            continue
        tags = [ctx.fmt(str(t)) for t in section.tags]
        source = ctx.fmt(str(section.source_tag)) if section.source_tag else tags[0]
        out.append(
            ImageTable(
                registry=str(section.registry),
                image=str(section.image),
                source=source,
                targets=tuple(t for t in dict.fromkeys(tags) if t != source),
                username_env=str(section.username_env) if section.username_env else None,
                password_env=str(section.password_env) if section.password_env else None,
            )
        )
    return out


def _registry(ctx: StepContext, table: ImageTable) -> Any:
    return ctx.services.registry(table.registry, table.username_env, table.password_env)


def _states(ctx: StepContext) -> list[ImageState]:
    states = []
    for table in tables(ctx):
        registry = _registry(ctx, table)
        manifest = registry.manifest(table.image, table.source)
        if manifest is None:
            states.append(ImageState(table, None, (), {}))
            continue
        targets = {tag: registry.digest(table.image, tag) for tag in table.targets}
        states.append(ImageState(table, manifest.digest, tuple(manifest.platforms), targets))
    return states


IMAGE_TAGS: Result[list[ImageState]] = Result(
    "image-tags", _states, pending="the image tags as {by} would leave them"
)


def _by_hand(state: ImageState, tag: str) -> str:
    table = state.table
    return f"docker buildx imagetools create --tag {table.ref(tag)} {table.ref(table.source)}"


class DockerImages(Step):
    """Every configured image tag is on its registry, each on the release image's digest.

    The source tag (`source_tag`, else the first of `tags`) must have been pushed by the
    build; every other tag (`latest`, `release`...) must point to its digest, multi-arch
    indexes included. A missing or stale tag is copied from the source tag (the manifest's
    exact bytes: never rebuilt) when the table has `password_env`; without credentials the
    step verifies only and names the command to run.

    Why: users pull `latest` (or the version tag) and must get exactly the image that was
    built and tested for this release.
    By hand: `docker buildx imagetools inspect IMAGE:v{version}`, then for each other tag
    `docker buildx imagetools create --tag IMAGE:TAG IMAGE:v{version}` (copies the manifest;
    nothing is rebuilt).
    """

    name = "docker-images"
    configured_by = ("publish.docker",)
    needs = (IMAGE_TAGS,)
    makes = (IMAGE_TAGS,)

    def applies(self, ctx: StepContext) -> bool:
        return bool(tables(ctx))

    def check(self, ctx: StepContext) -> Outcome:
        states = ctx.need(IMAGE_TAGS)
        absent = [s for s in states if s.digest is None]
        if absent:
            refs = ", ".join(s.table.ref(s.table.source) for s in absent)
            return Outcome.blocked(
                f"{refs} not pushed yet: the build pushes it (`releaser build {ctx.version}`); "
                "releaser copies tags, it never builds images"
            )
        verify_only = [(s, t) for s in states if not s.table.pushes for t in s.stale]
        if verify_only:
            problems = "; ".join(s.describe(t) for s, t in verify_only)
            fixes = "; ".join(f"`{_by_hand(s, t)}`" for s, t in verify_only)
            return Outcome.failed(
                f"{problems} (verify only: no [publish.docker] password_env to copy it): "
                f"copy it by hand: {fixes}"
            )
        todo = [(s, t) for s in states for t in s.stale]
        if todo:
            return Outcome.todo(
                "to copy: " + "; ".join(f"{s.table.ref(t)} from {s.table.source}" for s, t in todo)
            )
        parts = []
        for state in states:
            table = state.table
            platforms = f" ({', '.join(state.platforms)})" if state.platforms else ""
            same = f"; {', '.join(table.targets)} on the same digest" if table.targets else ""
            mode = "pushes" if table.pushes else "verify only"
            parts.append(
                f"{table.ref(table.source)} {short(state.digest)}{platforms}{same} ({mode})"
            )
        first = states[0]
        evidence = f"{first.table.registry}/{first.table.image}@{first.digest}"
        return Outcome.done("; ".join(parts), evidence)

    def plan(self, ctx: StepContext) -> list[Action]:
        actions = []
        for state in ctx.need(IMAGE_TAGS):
            table = state.table
            for tag in state.stale:
                platforms = ", ".join(state.platforms) or "one image"
                actions.append(
                    Action(
                        "copy",
                        f"{table.ref(tag)} from {table.source} ({state.digest})",
                        f"the manifest's exact bytes ({platforms}); nothing is rebuilt",
                    )
                )
        return actions

    def run(self, ctx: StepContext) -> None:
        for state in ctx.need(IMAGE_TAGS):
            table = state.table
            if not state.stale or not table.password_env:
                continue
            purpose = f"registry password or access token for {table.registry} (push {table.image})"
            ctx.require_secret(table.password_env, purpose)
            if table.username_env:
                ctx.require_secret(table.username_env, f"registry user name for {table.registry}")
            registry = _registry(ctx, table)
            manifest = registry.manifest(table.image, table.source)
            if manifest is None or manifest.digest != state.digest:
                raise RemoteError(
                    f"{table.ref(table.source)} changed while copying it "
                    f"(now {short(manifest.digest) if manifest else 'missing'})",
                    "re-run: the step reads the registry again before copying",
                )
            for tag in state.stale:
                registry.put_manifest(table.image, tag, manifest)
