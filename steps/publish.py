"""The `publish` stage, GitHub part: the release, its assets, and the signed checksums.

The release is found by its tag and created once (a race is resolved by re-reading it).
Assets come from the build's artifacts, a local directory, or the build itself
(``assets_from``); an asset already on the release with the same bytes (sha256) is kept, a
different one is an error unless ``--replace-assets``. ``SHA256SUMS`` lists every other
asset and is signed (``SHA256SUMS.asc``) when ``[signing] gpg_key`` is set.

Local files are read only when there is something to upload: ``status`` of a published
release, from any machine, reads the forge alone.
"""

from __future__ import annotations

import fnmatch
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from releaser.api import (
    Action,
    AlreadyExists,
    Asset,
    Outcome,
    Pending,
    Release,
    RemoteError,
    Result,
    Status,
    Step,
    StepContext,
    gpg,
)
from steps import _release as rel
from steps._changelog import CHANGELOG_SECTION
from steps._release import GITHUB_RELEASE, RELEASE_TAG, TRACKING_ISSUE
from steps._workflows import WorkflowRuns, WorkflowState, workflow_states
from steps.build import BUILD_STATES

TRACKING_LINK = "Tracking issue: #{number}"


def _github(ctx: StepContext) -> Any:
    return ctx.config.publish.github


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


# -- the release ------------------------------------------------------------------------


def release_notes(ctx: StepContext) -> str:
    """This version's changelog section without its heading."""
    if ctx.config.changelog is None:
        return ""
    text = ctx.need(CHANGELOG_SECTION).strip()
    heading = ctx.fmt(str(ctx.config.changelog.heading)).strip()
    first, _, rest = text.partition("\n")
    return rest.strip() if first.strip() == heading else text


def release_body(ctx: StepContext) -> str:
    """What the release body must contain: the changelog section (``notes = "changelog"``)
    and a link to the tracking issue (``#N``: the same text whatever the forge's address).
    With ``notes = "generate"``, only the link (GitHub appends its generated notes)."""
    parts: list[str] = []
    if str(_github(ctx).notes) == "changelog":
        notes = release_notes(ctx)
        if notes:
            parts.append(notes)
    issue = ctx.need(TRACKING_ISSUE)
    if issue is not None:
        parts.append(TRACKING_LINK.format(number=issue.number))
    return "\n\n".join(parts).strip()


def _norm(text: str | None) -> str:
    return "\n".join(line.rstrip() for line in (text or "").replace("\r\n", "\n").split("\n"))


def release_differences(ctx: StepContext, release: Release) -> list[str]:
    diffs = []
    if release.draft:
        diffs.append("is a draft")
    if release.prerelease != ctx.version.is_rc:
        diffs.append("is a pre-release" if release.prerelease else "is not a pre-release")
    if release.name != ctx.tag:
        diffs.append(f"is named {release.name!r}")
    body = release_body(ctx)
    if body and _norm(body).strip() not in _norm(release.body):
        diffs.append(
            "body lacks the release notes"
            if str(_github(ctx).notes) == "changelog"
            else "body lacks the tracking issue link"
        )
    return diffs


class GitHubRelease(Step):
    """Publish the GitHub release for the tag.

    Pre-release for rcs; named after the tag; the body is this version's changelog section and
    a link to the tracking issue (or GitHub's generated notes with `notes = "generate"`). An
    existing release is only updated where it differs, never duplicated.

    Why: the release page is where users find what changed and download the assets.
    By hand: `gh release create {tag} --title {tag} --notes-file notes.md` (add
    `--prerelease` for an rc).
    """

    name = "github-release"
    configured_by = ("publish.github", "changelog")
    needs = (RELEASE_TAG, GITHUB_RELEASE, CHANGELOG_SECTION, TRACKING_ISSUE)
    makes = (GITHUB_RELEASE,)

    def applies(self, ctx: StepContext) -> bool:
        return _github(ctx) is not None

    def check(self, ctx: StepContext) -> Outcome:
        if ctx.need(RELEASE_TAG) is None:
            return Outcome.blocked(rel.tag_missing(ctx))
        release = ctx.need(GITHUB_RELEASE)
        if release is None:
            return Outcome.todo(f"no release for {ctx.tag} yet")
        diffs = release_differences(ctx, release)
        if diffs:
            return Outcome.todo(f"the release {'; '.join(diffs)}")
        kind = "pre-release" if release.prerelease else "release"
        return Outcome.done(f"{kind} {release.name}", release.html_url)

    def plan(self, ctx: StepContext) -> list[Action]:
        release = ctx.peek(GITHUB_RELEASE)
        try:
            body = release_body(ctx)
        except Pending as pending:
            body = f"({pending})"
        flags = "pre-release" if ctx.version.is_rc else "release (not a pre-release)"
        notes = str(_github(ctx).notes)
        preview = body + ("\n\n(+ GitHub's generated notes)" if notes == "generate" else "")
        if release is None or isinstance(release, Pending):
            return [Action("create", f"GitHub {flags} {ctx.tag} named {ctx.tag}", preview)]
        diffs = "; ".join(release_differences(ctx, release))
        return [Action("update", f"GitHub release {ctx.tag} ({diffs})", preview)]

    def run(self, ctx: StepContext) -> None:
        release = ctx.need(GITHUB_RELEASE)
        body = release_body(ctx)
        if release is None:
            try:
                ctx.forge.create_release(
                    ctx.tag,
                    name=ctx.tag,
                    body=body,
                    draft=False,
                    prerelease=ctx.version.is_rc,
                    generate_release_notes=str(_github(ctx).notes) == "generate",
                    make_latest="false" if ctx.version.is_rc else "true",
                )
                return
            except AlreadyExists:
                # made meanwhile (another driver, or our own lost answer): update it
                release = ctx.forge.release(ctx.tag)
                if release is None:
                    raise RemoteError(
                        "the forge says the release exists but it can't be read"
                    ) from None
        new_body = release.body
        if body and _norm(body).strip() not in _norm(new_body):
            new_body = body
        ctx.forge.update_release(
            release.id, name=ctx.tag, body=new_body, draft=False, prerelease=ctx.version.is_rc
        )


PUBLISH_STATES: Result[list[WorkflowState]] = Result(
    "publish-states",
    lambda ctx: workflow_states(ctx, "publish-workflows", "publish"),
    needs=(RELEASE_TAG,),
    pending="the runs {by} would start",
)


class PublishWorkflows(WorkflowRuns):
    """Dispatch the publish-stage workflows once the release exists, and wait for them.

    The `[[build.workflows]]` with `stage = "publish"`: e.g. a workflow attaching assets to
    the release, or publishing a package built from them.

    Why: some publishing only makes sense once the GitHub release exists.
    By hand: `gh workflow run FILE --ref {tag}`, then watch it with `gh run watch`.
    """

    name = "publish-workflows"
    configured_by = ("build.workflows",)
    stage_key = "publish"
    states = PUBLISH_STATES
    needs = (RELEASE_TAG, GITHUB_RELEASE, PUBLISH_STATES)
    makes = (PUBLISH_STATES,)

    def precondition(self, ctx: StepContext) -> str | None:
        blocked = super().precondition(ctx)
        if blocked:
            return blocked
        if ctx.need(GITHUB_RELEASE) is None:
            return f"no GitHub release for {ctx.tag} yet (step github-release)"
        return None


# -- assets -----------------------------------------------------------------------------


RELEASE_ASSETS: Result[dict[str, Asset]] = Result(
    "release-assets",
    lambda ctx: _remote_assets(ctx),
    needs=(GITHUB_RELEASE,),
    pending="the assets {by} would upload",
)


def _remote_assets(ctx: StepContext) -> dict[str, Asset]:
    release = ctx.need(GITHUB_RELEASE)
    return {} if release is None else {a.name: a for a in ctx.forge.assets(release)}


def asset_sha256(ctx: StepContext, asset: Asset) -> str:
    """An asset's sha256: the forge's ``digest``, else of its downloaded bytes."""
    return asset.sha256 or rel.sha256(ctx.forge.download(asset.url))


def _excluded(ctx: StepContext) -> set[str]:
    name = str(_github(ctx).checksums or "")
    return {name, f"{name}.asc"} if name else set()


@dataclass(frozen=True)
class LocalAssets:
    files: dict[str, bytes]  # name -> bytes
    missing: str = ""  # why they can't be read (no directory, build not done)


def local_assets(ctx: StepContext) -> LocalAssets:
    """The assets to publish from ``assets_from`` (read only when about to upload)."""
    gh = _github(ctx)
    source = str(gh.assets_from)
    if source == "release":
        return LocalAssets({})
    if source == "dir":
        directory = Path(str(gh.assets_dir))
        if not directory.is_absolute():
            directory = ctx.config.root / directory
        if not directory.is_dir():
            return LocalAssets({}, f"the assets directory {directory} doesn't exist")
        files = sorted(p for p in directory.iterdir() if p.is_file())
        return LocalAssets({p.name: p.read_bytes() for p in files if p.name not in _excluded(ctx)})
    states = [s for s in ctx.need(BUILD_STATES) if s.repo == ctx.repo_name]
    pending = [s for s in states if s.outcome.status is not Status.DONE or s.run is None]
    if pending:
        what = "; ".join(s.outcome.detail for s in pending)
        return LocalAssets({}, f"the build hasn't succeeded yet ({what}): run `releaser build`")
    out: dict[str, bytes] = {}
    origin: dict[str, str] = {}
    for state in states:
        assert state.run is not None
        for artifact in ctx.forge.artifacts(state.run.id):
            data = ctx.forge.download(artifact.download_url)
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for info in archive.infolist():
                    if info.is_dir():
                        continue
                    name = info.filename.rsplit("/", 1)[-1]
                    if name in out:
                        raise RemoteError(
                            f"two build artifacts hold a file named {name} "
                            f"({origin[name]}, {artifact.name}): rename one in the workflow"
                        )
                    out[name] = archive.read(info)
                    origin[name] = artifact.name
    return LocalAssets({k: v for k, v in out.items() if k not in _excluded(ctx)})


@dataclass(frozen=True)
class AssetPlan:
    upload: list[str]  # names to upload
    replace: list[str]  # names whose content differs, to delete and upload again
    kept: list[str]  # names already there with the same content
    conflicts: list[str]  # differing content, without --replace-assets


def plan_assets(ctx: StepContext, local: dict[str, bytes]) -> AssetPlan:
    remote = ctx.need(RELEASE_ASSETS)
    upload, replace, kept, conflicts = [], [], [], []
    for name, data in sorted(local.items()):
        asset = remote.get(name)
        if asset is None:
            upload.append(name)
        elif asset_sha256(ctx, asset) == rel.sha256(data):
            kept.append(name)
        elif ctx.options.replace_assets:
            replace.append(name)
        else:
            conflicts.append(name)
    return AssetPlan(upload, replace, kept, conflicts)


class ReleaseAssets(Step):
    """Attach the release assets to the GitHub release.

    From the tag's build artifacts (`assets_from = "artifacts"`), a local directory
    (`"dir"`), or attached by the build itself (`"release"`: only `expect_assets` is
    verified). An asset already there with the same bytes is kept; one with other bytes
    stops the step unless `--replace-assets`. Without the local directory (another
    machine), assets already on the release count as done.

    Why: users download the release from its assets; each must be exactly what was built.
    By hand: `gh release upload {tag} dist/*` (without `--clobber` unless replacing on
    purpose).
    """

    name = "release-assets"
    configured_by = ("publish.github", "build.workflows")
    needs = (GITHUB_RELEASE, RELEASE_ASSETS, BUILD_STATES)
    makes = (RELEASE_ASSETS,)

    def applies(self, ctx: StepContext) -> bool:
        return _github(ctx) is not None

    def check(self, ctx: StepContext) -> Outcome:
        release = ctx.peek(GITHUB_RELEASE)
        if release is None or isinstance(release, Pending):
            # Before the release exists the assets are still to come from their source: a
            # missing source is a blocker now (a dry run says so), not after the release.
            local = local_assets(ctx)
            if local.missing:
                return Outcome.blocked(f"{local.missing}: build the assets first")
            if isinstance(release, Pending):
                raise release
            return Outcome.blocked(f"no GitHub release for {ctx.tag} yet (step github-release)")
        remote = ctx.need(RELEASE_ASSETS)
        published = set(remote) - _excluded(ctx)
        source = str(_github(ctx).assets_from)
        local = local_assets(ctx)
        if local.missing and not published:
            return Outcome.blocked(f"{local.missing}: build the assets first")
        names = set(local.files) | published
        missing = [
            pattern
            for pattern in (ctx.fmt(str(p)) for p in _github(ctx).expect_assets)
            if not any(fnmatch.fnmatchcase(n, pattern) for n in names)
        ]
        if missing:
            where = "on the release" if source == "release" else f"in the {source} assets"
            return Outcome.failed(
                f"no asset matches {', '.join(missing)} {where} "
                f"(found: {', '.join(sorted(names)) or 'none'}): check the build's output",
                release.html_url,
            )
        if source != "release" and not names:
            return Outcome.failed(f"no assets found in the {source}: check the build's output")
        plan = plan_assets(ctx, local.files)
        if plan.conflicts:
            return Outcome.failed(
                f"assets already on the release with other content: {', '.join(plan.conflicts)}"
                ": re-run with --replace-assets to replace them (only if nobody downloaded "
                "them yet), or release the next version",
                release.html_url,
            )
        if plan.upload or plan.replace:
            parts = [f"{len(plan.upload)} to upload"] if plan.upload else []
            parts += [f"{len(plan.replace)} to replace"] if plan.replace else []
            return Outcome.todo(", ".join(parts))
        return Outcome.done(_plural(len(names), "asset"), release.html_url)

    def plan(self, ctx: StepContext) -> list[Action]:
        local = local_assets(ctx).files
        release = ctx.peek(GITHUB_RELEASE)
        if release is None or isinstance(release, Pending):
            return [
                Action("upload", f"{name} ({len(data)} bytes)", f"sha256 {rel.sha256(data)}")
                for name, data in sorted(local.items())
            ]
        plan = plan_assets(ctx, local)
        actions = [
            Action("replace", f"asset {name}", f"sha256 {rel.sha256(local[name])}")
            for name in plan.replace
        ]
        actions += [
            Action(
                "upload", f"{name} ({len(local[name])} bytes)", f"sha256 {rel.sha256(local[name])}"
            )
            for name in plan.upload
        ]
        return actions

    def run(self, ctx: StepContext) -> None:
        release = ctx.need(GITHUB_RELEASE)
        if release is None:
            raise RemoteError(f"no GitHub release for {ctx.tag}")
        local = local_assets(ctx)
        if local.missing:
            raise RemoteError(local.missing)
        plan = plan_assets(ctx, local.files)
        remote = ctx.need(RELEASE_ASSETS)
        for name in plan.replace:
            ctx.forge.delete_asset(remote[name].id)
        for name in plan.replace + plan.upload:
            ctx.forge.upload_asset(release, name, local.files[name], "application/octet-stream")


# -- checksums --------------------------------------------------------------------------


def _signature_name(ctx: StepContext) -> str:
    return f"{_github(ctx).checksums}.asc"


def _signs_checksums(ctx: StepContext) -> bool:
    return bool(rel.gpg_key(ctx) and _github(ctx).sign_checksums)


def checksums_text(ctx: StepContext) -> bytes:
    """``<sha256>  <name>`` for every other asset of the release, sorted by name."""
    remote = ctx.need(RELEASE_ASSETS)
    names = sorted(set(remote) - _excluded(ctx))
    return "".join(f"{asset_sha256(ctx, remote[n])}  {n}\n" for n in names).encode()


class Checksums(Step):
    """Attach SHA256SUMS (and its GPG signature) listing every other release asset.

    `<sha256>  <name>` lines, sorted by name; with `[signing] gpg_key`, a detached armored
    signature `SHA256SUMS.asc` too.

    Why: users verify what they downloaded against the checksums, and the checksums against
    the release key.
    By hand: download the assets, `sha256sum * | sort -k2 > SHA256SUMS`,
    `gpg --armor --detach-sign SHA256SUMS`, then `gh release upload {tag} SHA256SUMS
    SHA256SUMS.asc`.
    """

    name = "checksums"
    configured_by = ("publish.github", "signing")
    needs = (GITHUB_RELEASE, RELEASE_ASSETS)
    makes = (RELEASE_ASSETS,)

    def applies(self, ctx: StepContext) -> bool:
        return _github(ctx) is not None and bool(_github(ctx).checksums)

    def _state(self, ctx: StepContext) -> tuple[Outcome, list[str]]:
        """The outcome and the names of the files to (re)write."""
        name = str(_github(ctx).checksums)
        release = ctx.need(GITHUB_RELEASE)
        if release is None:
            return Outcome.blocked(f"no GitHub release for {ctx.tag} yet"), []
        remote = ctx.need(RELEASE_ASSETS)
        if not set(remote) - _excluded(ctx):
            return Outcome.blocked("the release has no assets yet (step release-assets)"), []
        expected = checksums_text(ctx)
        todo: list[str] = []
        stale: list[str] = []
        current = remote.get(name)
        if current is None:
            todo.append(name)
        elif asset_sha256(ctx, current) != rel.sha256(expected):
            stale.append(name)
        if _signs_checksums(ctx):
            sig_name = _signature_name(ctx)
            sig = remote.get(sig_name)
            if sig is None:
                todo.append(sig_name)
            elif name in todo or name in stale:
                stale.append(sig_name)
            else:
                signature = ctx.forge.download(sig.url)
                if not gpg.verify_detached(
                    expected, signature, rel.gpg_key(ctx), rel.gnupg_home(ctx)
                ):
                    stale.append(sig_name)
        if stale and not ctx.options.replace_assets:
            return (
                Outcome.failed(
                    f"{', '.join(stale)} on the release doesn't match its assets: re-run with "
                    "--replace-assets to rewrite it",
                    release.html_url,
                ),
                [],
            )
        todo += stale
        if todo:
            return Outcome.todo(f"to write: {', '.join(todo)}"), todo
        signed = " (signed)" if _signs_checksums(ctx) else ""
        count = len(set(remote) - _excluded(ctx))
        return Outcome.done(f"{name} lists {_plural(count, 'asset')}{signed}", release.html_url), []

    def check(self, ctx: StepContext) -> Outcome:
        return self._state(ctx)[0]

    def plan(self, ctx: StepContext) -> list[Action]:
        name = str(_github(ctx).checksums)
        everything = [name] + ([_signature_name(ctx)] if _signs_checksums(ctx) else [])
        assets = ctx.peek(RELEASE_ASSETS)
        if isinstance(assets, Pending):
            todo, preview = everything, f"(sha256 of {assets})"
        else:
            todo = self._state(ctx)[1] or everything
            preview = checksums_text(ctx).decode()
        actions = []
        for item in todo:
            if item == name:
                actions.append(Action("upload", f"{name} (sha256 of every other asset)", preview))
            else:
                actions.append(Action("upload", f"{item} (signed with GPG key {rel.gpg_key(ctx)})"))
        return actions

    def run(self, ctx: StepContext) -> None:
        release = ctx.need(GITHUB_RELEASE)
        if release is None:
            raise RemoteError(f"no GitHub release for {ctx.tag}")
        _, todo = self._state(ctx)
        name = str(_github(ctx).checksums)
        expected = checksums_text(ctx)
        remote = ctx.need(RELEASE_ASSETS)
        for item in todo:
            if item in remote:
                ctx.forge.delete_asset(remote[item].id)
            if item == name:
                ctx.forge.upload_asset(release, name, expected, "text/plain")
            else:
                key = rel.gpg_key(ctx)
                assert key is not None
                signature = gpg.sign_detached(expected, key, rel.gnupg_home(ctx))
                ctx.forge.upload_asset(release, item, signature, "application/pgp-signature")
