"""The `publish` stage, GitHub part: the release, its assets, and the signed checksums.

The release is found by its tag and created once (a 422 ``already_exists`` race is resolved by
re-reading it). Assets come from the build's artifacts, a local directory, or the build
itself (``assets_from``); an asset already on the release with the same bytes (sha256) is
kept, a different one is an error unless ``--replace-assets``. ``SHA256SUMS`` lists every
other asset and is signed (``SHA256SUMS.asc``) when ``[signing] gpg_key`` is set.
"""

from __future__ import annotations

import fnmatch
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from releaser.errors import RemoteError
from releaser.step import Action, Outcome, Status, Step
from steps import _release as rel
from steps.build import BuildWorkflows, WorkflowRuns, configured

if TYPE_CHECKING:
    from github.GitRelease import GitRelease
    from github.GitReleaseAsset import GitReleaseAsset

    from releaser.context import Context

TRACKING_LINK = "Tracking issue: {url}"


def _github(ctx: Context) -> Any:
    return ctx.config.publish.github


def _signature_name(ctx: Context) -> str:
    return f"{_github(ctx).checksums}.asc"


def _signs_checksums(ctx: Context) -> bool:
    return bool(rel.gpg_key(ctx) and _github(ctx).sign_checksums)


# -- the release ------------------------------------------------------------------------


def changelog_section(ctx: Context) -> str:
    """This version's changelog section without its heading: the release body."""

    def read() -> str:
        if ctx.config.changelog is None:
            return ""
        from steps._changelog import changelog_section as section

        text = str(section(ctx)).strip()
        heading = ctx.config.render(str(ctx.config.changelog.heading), ctx.version)
        first, _, rest = text.partition("\n")
        return rest.strip() if first.strip() == heading.strip() else text

    return rel.memo(ctx, "changelog_section", read)


def release_body(ctx: Context) -> str:
    """What the release body must contain: the changelog section (``notes = "changelog"``)
    and a link to the tracking issue. With ``notes = "generate"``, only the link (GitHub
    appends its generated notes when the release is created)."""
    parts: list[str] = []
    if str(_github(ctx).notes) == "changelog":
        section = changelog_section(ctx)
        if section:
            parts.append(section)
    issue = rel.tracking_issue(ctx)
    if issue is not None:
        parts.append(TRACKING_LINK.format(url=issue.html_url))
    return "\n\n".join(parts).strip()


def _norm(text: str | None) -> str:
    return "\n".join(line.rstrip() for line in (text or "").replace("\r\n", "\n").split("\n"))


def release_differences(ctx: Context, release: GitRelease) -> list[str]:
    diffs = []
    if release.draft:
        diffs.append("is a draft")
    if bool(release.prerelease) != ctx.version.is_rc:
        diffs.append("is a pre-release" if release.prerelease else "is not a pre-release")
    if (release.name or "") != ctx.tag:
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
    By hand: `gh release create vX.Y.Z --title vX.Y.Z --notes-file notes.md` (add
    `--prerelease` for an rc).
    """

    name = "github-release"

    def applies(self, ctx: Context) -> bool:
        return _github(ctx) is not None

    def check(self, ctx: Context) -> Outcome:
        if rel.remote_tag(ctx) is None:
            return Outcome.blocked(rel.tag_missing(ctx))
        release = rel.github_release(ctx)
        if release is None:
            return Outcome.todo(f"no release for {ctx.tag} yet")
        diffs = release_differences(ctx, release)
        if diffs:
            return Outcome.todo(f"the release {'; '.join(diffs)}")
        kind = "pre-release" if release.prerelease else "release"
        return Outcome.done(f"{kind} {release.name}", release.html_url)

    def plan(self, ctx: Context) -> list[Action]:
        release = rel.github_release(ctx)
        body = release_body(ctx)
        flags = "pre-release" if ctx.version.is_rc else "release (not a pre-release)"
        notes = str(_github(ctx).notes)
        preview = body + ("\n\n(+ GitHub's generated notes)" if notes == "generate" else "")
        if release is None:
            return [Action("create", f"GitHub {flags} {ctx.tag} named {ctx.tag}", preview)]
        diffs = "; ".join(release_differences(ctx, release))
        return [Action("update", f"GitHub release {ctx.tag} ({diffs})", preview)]

    def run(self, ctx: Context) -> None:
        from github import GithubException

        release = rel.github_release(ctx)
        body = release_body(ctx)
        generate = str(_github(ctx).notes) == "generate"
        if release is None:
            try:
                ctx.github.repo.create_git_release(
                    ctx.tag,
                    name=ctx.tag,
                    message=body,
                    draft=False,
                    prerelease=ctx.version.is_rc,
                    generate_release_notes=generate,
                    make_latest="false" if ctx.version.is_rc else "true",
                )
                return
            except GithubException as exc:
                if exc.status != 422 or "already_exists" not in str(exc.data):
                    raise
            rel.forget(ctx, "github_release")  # someone made it meanwhile: update it
            release = rel.github_release(ctx)
            if release is None:
                raise RemoteError("the forge says the release exists but it can't be read")
        new_body = release.body or ""
        if body and _norm(body).strip() not in _norm(new_body):
            new_body = body
        release.update_release(
            name=ctx.tag,
            message=new_body,
            draft=False,
            prerelease=ctx.version.is_rc,
        )


class PublishWorkflows(WorkflowRuns):
    """Dispatch the publish-stage workflows once the release exists, and wait for them.

    The `[[build.workflows]]` with `stage = "publish"`: e.g. a workflow attaching assets to
    the release, or publishing a package built from them.

    Why: some publishing only makes sense once the GitHub release exists.
    By hand: `gh workflow run FILE --ref vX.Y.Z`, then watch it with `gh run watch`.
    """

    name = "publish-workflows"
    stage_key = "publish"

    def precondition(self, ctx: Context) -> str | None:
        blocked = super().precondition(ctx)
        if blocked:
            return blocked
        if rel.github_release(ctx) is None:
            return f"no GitHub release for {ctx.tag} yet (step github-release)"
        return None


# -- assets -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AssetPlan:
    upload: list[str]  # names to upload
    replace: list[str]  # names whose content differs, to delete and upload again
    kept: list[str]  # names already there with the same content
    conflicts: list[str]  # differing content, without --replace-assets


def remote_assets(ctx: Context, release: GitRelease) -> dict[str, GitReleaseAsset]:
    return rel.memo(ctx, f"assets:{release.id}", lambda: {a.name: a for a in release.get_assets()})


def asset_sha256(ctx: Context, asset: GitReleaseAsset) -> str:
    """The sha256 of an asset: its ``digest`` field, else of its downloaded bytes."""
    digest = asset.raw_data.get("digest") or ""
    if isinstance(digest, str) and digest.startswith("sha256:"):
        return digest.split(":", 1)[1]
    return rel.memo(ctx, f"asset-sha:{asset.id}", lambda: rel.sha256(asset_bytes(ctx, asset)))


def asset_bytes(ctx: Context, asset: GitReleaseAsset) -> bytes:
    return rel.memo(ctx, f"asset-bytes:{asset.id}", lambda: rel.download(ctx, asset.url))


def _excluded(ctx: Context) -> set[str]:
    name = str(_github(ctx).checksums or "")
    return {name, f"{name}.asc"} if name else set()


def build_runs(ctx: Context) -> tuple[list[Any], str | None]:
    """The successful build runs of the tag in the project repository, or why there are none."""
    states = [s for s in BuildWorkflows().states(ctx) if s.repo == ctx.repo_name]
    pending = [s for s in states if s.outcome.status is not Status.DONE or s.run is None]
    if pending:
        return [], "; ".join(s.outcome.detail for s in pending)
    return [s.run for s in states], None


def local_assets(ctx: Context) -> tuple[dict[str, bytes], str | None]:
    """The assets to publish (name -> bytes) from ``assets_from``, or why they aren't known."""
    gh = _github(ctx)
    source = str(gh.assets_from)
    if source == "release":
        return {}, None
    if source == "dir":
        directory = Path(str(gh.assets_dir))
        if not directory.is_absolute():
            directory = ctx.config.root / directory
        if not directory.is_dir():
            return {}, f"the assets directory {directory} doesn't exist: build the assets first"
        files = sorted(p for p in directory.iterdir() if p.is_file())
        return {p.name: p.read_bytes() for p in files if p.name not in _excluded(ctx)}, None

    def from_artifacts() -> tuple[dict[str, bytes], str | None]:
        if not configured(ctx, "build"):
            return {}, 'assets_from = "artifacts" needs [[build.workflows]]'
        runs, pending = build_runs(ctx)
        if pending:
            return {}, f"the build hasn't succeeded yet ({pending}): run `releaser build`"
        out: dict[str, bytes] = {}
        origin: dict[str, str] = {}
        for run in runs:
            for artifact in run.get_artifacts():
                data = rel.download(ctx, artifact.archive_download_url)
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
                        origin[name] = str(artifact.name)
        return {k: v for k, v in out.items() if k not in _excluded(ctx)}, None

    return rel.memo(ctx, "local_assets", from_artifacts)


def plan_assets(ctx: Context, release: GitRelease, local: dict[str, bytes]) -> AssetPlan:
    remote = remote_assets(ctx, release)
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


def _upload(ctx: Context, release: GitRelease, name: str, data: bytes, content_type: str) -> None:
    from github import GithubException

    ctx.ui.debug(f"POST uploads releases/{release.id}/assets?name={name} ({len(data)} bytes)")
    try:
        release.upload_asset_from_memory(io.BytesIO(data), len(data), name, content_type)
    except GithubException as exc:
        if exc.status == 422 and "already_exists" in str(exc.data):
            return  # uploaded by an earlier, interrupted attempt: the check compares content
        raise


class ReleaseAssets(Step):
    """Attach the release assets to the GitHub release.

    From the tag's build artifacts (`assets_from = "artifacts"`), a local directory
    (`"dir"`), or attached by the build itself (`"release"`: only `expect_assets` is
    verified). An asset already there with the same bytes is kept; one with other bytes
    stops the step unless `--replace-assets`.

    Why: users download the release from its assets; each must be exactly what was built.
    By hand: `gh release upload vX.Y.Z dist/*` (without `--clobber` unless replacing on
    purpose).
    """

    name = "release-assets"

    def applies(self, ctx: Context) -> bool:
        return _github(ctx) is not None

    def check(self, ctx: Context) -> Outcome:
        release = rel.github_release(ctx)
        if release is None:
            return Outcome.blocked(f"no GitHub release for {ctx.tag} yet (step github-release)")
        local, blocked = local_assets(ctx)
        if blocked:
            return Outcome.blocked(blocked)
        remote = remote_assets(ctx, release)
        source = str(_github(ctx).assets_from)
        names = set(local) | (set(remote) - _excluded(ctx))
        missing = [
            pattern
            for pattern in (
                ctx.config.render(str(p), ctx.version) for p in _github(ctx).expect_assets
            )
            if not any(fnmatch.fnmatchcase(n, pattern) for n in names)
        ]
        if missing:
            where = "on the release" if source == "release" else f"in the {source} assets"
            return Outcome.failed(
                f"no asset matches {', '.join(missing)} {where} "
                f"(found: {', '.join(sorted(names)) or 'none'}): check the build's output",
                release.html_url,
            )
        if source != "release" and not local:
            return Outcome.failed(f"no assets found in the {source}: check the build's output")
        plan = plan_assets(ctx, release, local)
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
        count = len(names)
        return Outcome.done(f"{count} asset{'s' if count != 1 else ''}", release.html_url)

    def plan(self, ctx: Context) -> list[Action]:
        release = rel.github_release(ctx)
        local, _ = local_assets(ctx)
        if release is None:
            return [
                Action("upload", f"{name} ({len(data)} bytes)", f"sha256 {rel.sha256(data)}")
                for name, data in sorted(local.items())
            ]
        plan = plan_assets(ctx, release, local)
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

    def run(self, ctx: Context) -> None:
        release = rel.github_release(ctx)
        if release is None:
            raise RemoteError(f"no GitHub release for {ctx.tag}")
        local, blocked = local_assets(ctx)
        if blocked:
            raise RemoteError(blocked)
        plan = plan_assets(ctx, release, local)
        remote = remote_assets(ctx, release)
        for name in plan.replace:
            ctx.ui.debug(f"DELETE releases/assets/{remote[name].id} ({name})")
            remote[name].delete_asset()
            _upload(ctx, release, name, local[name], "application/octet-stream")
        for name in plan.upload:
            _upload(ctx, release, name, local[name], "application/octet-stream")


# -- checksums --------------------------------------------------------------------------


def checksums_text(ctx: Context, release: GitRelease) -> bytes:
    """``<sha256>  <name>`` for every other asset of the release, sorted by name."""
    remote = remote_assets(ctx, release)
    names = sorted(set(remote) - _excluded(ctx))
    return "".join(f"{asset_sha256(ctx, remote[n])}  {n}\n" for n in names).encode()


class Checksums(Step):
    """Attach SHA256SUMS (and its GPG signature) listing every other release asset.

    `<sha256>  <name>` lines, sorted by name; with `[signing] gpg_key`, a detached armored
    signature `SHA256SUMS.asc` too.

    Why: users verify what they downloaded against the checksums, and the checksums against
    the release key.
    By hand: download the assets, `sha256sum * | sort -k2 > SHA256SUMS`,
    `gpg --armor --detach-sign SHA256SUMS`, then `gh release upload vX.Y.Z SHA256SUMS
    SHA256SUMS.asc`.
    """

    name = "checksums"

    def applies(self, ctx: Context) -> bool:
        return _github(ctx) is not None and bool(_github(ctx).checksums)

    def _state(self, ctx: Context) -> tuple[Outcome, list[str]]:
        """The outcome and the names of the files to (re)write."""
        name = str(_github(ctx).checksums)
        release = rel.github_release(ctx)
        if release is None:
            return Outcome.blocked(f"no GitHub release for {ctx.tag} yet"), []
        if "release-assets" in ctx.planned:
            return Outcome.blocked("the assets aren't uploaded yet (step release-assets)"), [name]
        remote = remote_assets(ctx, release)
        if not set(remote) - _excluded(ctx):
            return Outcome.blocked("the release has no assets yet (step release-assets)"), []
        expected = checksums_text(ctx, release)
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
                from releaser.clients.gpg import verify_detached

                good = verify_detached(
                    expected, asset_bytes(ctx, sig), rel.gpg_key(ctx), rel.gnupg_home(ctx)
                )
                if not good:
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
        return Outcome.done(f"{name} lists {count} assets{signed}", release.html_url), []

    def check(self, ctx: Context) -> Outcome:
        return self._state(ctx)[0]

    def plan(self, ctx: Context) -> list[Action]:
        release = rel.github_release(ctx)
        _, todo = self._state(ctx)
        name = str(_github(ctx).checksums)
        if not todo:
            todo = [name] + ([_signature_name(ctx)] if _signs_checksums(ctx) else [])
        preview = checksums_text(ctx, release).decode() if release is not None else ""
        actions = []
        for item in todo:
            if item == name:
                actions.append(Action("upload", f"{name} (sha256 of every other asset)", preview))
            else:
                actions.append(Action("upload", f"{item} (signed with GPG key {rel.gpg_key(ctx)})"))
        return actions

    def run(self, ctx: Context) -> None:
        from releaser.clients.gpg import sign_detached

        release = rel.github_release(ctx)
        if release is None:
            raise RemoteError(f"no GitHub release for {ctx.tag}")
        _, todo = self._state(ctx)
        name = str(_github(ctx).checksums)
        expected = checksums_text(ctx, release)
        remote = remote_assets(ctx, release)
        for item in todo:
            if item in remote:
                ctx.ui.debug(f"DELETE releases/assets/{remote[item].id} ({item})")
                remote[item].delete_asset()
            if item == name:
                _upload(ctx, release, name, expected, "text/plain")
            else:
                key = rel.gpg_key(ctx)
                assert key is not None
                signature = sign_detached(expected, key, rel.gnupg_home(ctx))
                _upload(ctx, release, item, signature, "application/pgp-signature")
