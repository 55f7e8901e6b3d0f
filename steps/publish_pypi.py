"""The `publish` stage, PyPI: the release's distributions uploaded once, verified by sha256.

The files come from ``dist_dir`` (``dist_from = "dir"``) or are the GitHub release's assets
that are this project's wheels and sdists (``"release"``: the bytes users download). The
index is read first (its JSON API, else its simple index): a file already there with the
same sha256 is skipped, one with other bytes stops the step (a file name can never be
reused on PyPI). A distribution whose metadata names another version or project is refused
before anything is sent (exit 2).

Local files are read only when a local ``dist_dir`` exists: ``status`` on another machine,
without it, reads the index alone.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from releaser.api import (
    Action,
    Asset,
    Dist,
    Outcome,
    Pending,
    RemoteError,
    Result,
    Step,
    StepContext,
    UsageError,
    read_dist,
)
from steps.publish import GITHUB_RELEASE, RELEASE_ASSETS, asset_sha256

DIST_SUFFIXES = (".whl", ".tar.gz", ".zip")


def _pypi(ctx: StepContext) -> Any:
    return ctx.config.publish.pypi


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def canonical(version: str) -> str:
    from packaging.version import InvalidVersion, Version

    try:
        return str(Version(version))
    except InvalidVersion:
        return version


def pypi_version(ctx: StepContext) -> str:
    """The release version as the index spells it (PEP 440: 1.2.0rc1 for v1.2.0-rc1)."""
    from packaging.version import InvalidVersion, Version

    try:
        return str(Version(str(ctx.version)))
    except InvalidVersion:
        raise UsageError(
            f"{ctx.version} is not a version a Python package index accepts (PEP 440)",
            "use a pre-release suffix like rc1, b1 or a1, or remove [publish.pypi]",
        ) from None


def index_page(ctx: StepContext) -> str:
    """The release's page on PyPI (or TestPyPI), else its JSON API document (any index)."""
    from urllib.parse import urlsplit

    section = _pypi(ctx)
    url = ctx.services.url(str(section.index_url)).rstrip("/")
    project = normalize(str(section.project))
    if urlsplit(url).hostname in ("pypi.org", "test.pypi.org"):
        return f"{url}/project/{project}/{pypi_version(ctx)}/"
    return f"{url}/pypi/{project}/{pypi_version(ctx)}/json"


INDEX_FILES: Result[dict[str, str]] = Result(
    "pypi-files",
    lambda ctx: ctx.services.pypi().files(str(_pypi(ctx).project), pypi_version(ctx)),
    pending="the files {by} would upload",
)


# -- the files to publish ------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A distribution to be on the index: its name, sha256, and where its bytes are."""

    filename: str
    sha256: str
    path: Path | None = None  # a local file (dist_dir)
    asset: Asset | None = None  # a release asset (dist_from = "release")


@dataclass(frozen=True)
class Candidates:
    files: list[Candidate]
    missing: str = ""  # why there are none (no dist_dir, no release)


def _dist_dir(ctx: StepContext) -> Path:
    path = Path(str(_pypi(ctx).dist_dir))
    return path if path.is_absolute() else ctx.config.root / path


def _refuse(ctx: StepContext, name: str, dist: Dist, where: str) -> None:
    """Exit 2 when a distribution is not this project's, or not this version."""
    project = str(_pypi(ctx).project)
    if normalize(dist.project) != normalize(project):
        raise UsageError(
            f"{name} is a distribution of {dist.project}, not of {project} ([publish.pypi] "
            "project)",
            f"remove it from {where}, or fix [publish.pypi] project",
        )
    if canonical(dist.version) != pypi_version(ctx):
        raise UsageError(
            f"{name} is version {dist.version}, not the release's {pypi_version(ctx)} "
            f"({ctx.tag}): nothing was uploaded",
            f"remove it from {where} and build this version (python -m build)",
        )


def _from_dir(ctx: StepContext) -> Candidates:
    directory = _dist_dir(ctx)
    paths = (
        sorted(p for p in directory.iterdir() if p.is_file() and p.name.endswith(DIST_SUFFIXES))
        if directory.is_dir()
        else []
    )
    if not paths:
        return Candidates([], f"no distributions in {directory}")
    out = []
    for path in paths:
        dist = read_dist(path)
        _refuse(ctx, path.name, dist, str(directory))
        out.append(Candidate(path.name, dist.sha256, path=path))
    return Candidates(out)


def _asset_version(name: str, project: str) -> str | None:
    """The version in a distribution's file name when it is ``project``'s, else None."""
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        canonicalize_name,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    try:
        if name.endswith(".whl"):
            found, version, _, _ = parse_wheel_filename(name)
        elif name.endswith((".tar.gz", ".zip")):
            found, version = parse_sdist_filename(name)
        else:
            return None
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return str(version) if found == canonicalize_name(project) else None


def _from_release(ctx: StepContext) -> Candidates:
    if ctx.need(GITHUB_RELEASE) is None:
        return Candidates([], f"no GitHub release for {ctx.tag} yet")
    project = str(_pypi(ctx).project)
    out = []
    for name, asset in sorted(ctx.need(RELEASE_ASSETS).items()):
        version = _asset_version(name, project)
        if version is None:
            continue
        if version != pypi_version(ctx):
            raise UsageError(
                f"the release asset {name} is version {version}, not the release's "
                f"{pypi_version(ctx)} ({ctx.tag}): nothing was uploaded",
                "replace the asset with this version's build (--replace-assets)",
            )
        out.append(Candidate(name, asset_sha256(ctx, asset), asset=asset))
    if not out:
        return Candidates([], f"the release {ctx.tag} has no wheel or sdist of {project}")
    return Candidates(out)


def candidates(ctx: StepContext) -> Candidates:
    if str(_pypi(ctx).dist_from) == "release":
        return _from_release(ctx)
    return _from_dir(ctx)


@dataclass(frozen=True)
class IndexPlan:
    upload: list[Candidate]
    there: list[str]
    conflicts: list[str]  # "name: index sha256 A, ours B"


def plan_index(ctx: StepContext, files: list[Candidate]) -> IndexPlan:
    index = ctx.need(INDEX_FILES)
    upload, there, conflicts = [], [], []
    for candidate in files:
        theirs = index.get(candidate.filename)
        if theirs is None:
            upload.append(candidate)
        elif theirs and theirs != candidate.sha256:
            conflicts.append(
                f"{candidate.filename} (the index's sha256 {theirs}, ours {candidate.sha256})"
            )
        else:
            there.append(candidate.filename)
    return IndexPlan(upload, there, conflicts)


def _upload_key(filename: str, sha256: str) -> str:
    return f"uploaded {filename} {sha256[:16]}"


def _uploaded(ctx: StepContext, candidate: Candidate) -> bool:
    """Whether the index answered our upload of exactly this file (the ledger says)."""
    record = ctx.intent(_upload_key(candidate.filename, candidate.sha256))
    return record is not None and record.done


class PyPIUpload(Step):
    """The release's distributions are on the package index, each with our sha256.

    Uploads the wheels and sdists of `dist_dir` (or, with `dist_from = "release"`, the
    release's assets) that the index doesn't have, with twine's upload form; then the JSON
    API must list every file with the same sha256. A file there with other bytes stops the
    step; a distribution of another version or project is refused (exit 2).

    Why: `pip install` gets the release from the index, and must get exactly what was built.
    By hand: `twine upload dist/*` (twine skips nothing: upload only the missing files), then
    compare `sha256sum dist/*` with the index's JSON API.
    """

    name = "pypi-upload"
    configured_by = ("publish.pypi",)
    needs = (INDEX_FILES, GITHUB_RELEASE, RELEASE_ASSETS)
    makes = (INDEX_FILES,)
    dangerous = True  # a file name can never be uploaded twice

    def applies(self, ctx: StepContext) -> bool:
        section = _pypi(ctx)
        return section is not None and section.applies(ctx.version)

    def check(self, ctx: StepContext) -> Outcome:
        section = _pypi(ctx)
        index = ctx.need(INDEX_FILES)
        found = candidates(ctx)
        if found.missing:
            if index:
                return Outcome.done(
                    f"{len(index)} file(s) of {section.project} {pypi_version(ctx)} on the index "
                    f"({found.missing} here to compare)",
                    index_page(ctx),
                )
            return Outcome.blocked(
                f"{found.missing}, and none on the index: build them (python -m build)"
            )
        plan = plan_index(ctx, found.files)
        if plan.conflicts:
            return Outcome.failed(
                f"the index already has {'; '.join(plan.conflicts)}: a file name can never be "
                "uploaded again; release the next version",
                index_page(ctx),
            )
        if plan.upload:
            names = ", ".join(c.filename for c in plan.upload)
            sent = [c for c in plan.upload if _uploaded(ctx, c)]
            if len(sent) == len(plan.upload):  # the index lags behind (a CDN, a mirror)
                return Outcome.running(
                    f"uploaded, but the index doesn't list {names} yet", index_page(ctx)
                )
            return Outcome.todo(f"to upload to {section.repository_url}: {names}")
        return Outcome.done(
            f"{len(plan.there)} file(s) of {section.project} {pypi_version(ctx)} on the index, "
            "each with our sha256",
            index_page(ctx),
        )

    def plan(self, ctx: StepContext) -> list[Action]:
        section = _pypi(ctx)
        index = ctx.peek(INDEX_FILES)
        found = candidates(ctx)
        todo = found.files if isinstance(index, Pending) else plan_index(ctx, found.files).upload
        return [
            Action("upload", f"{c.filename} to {section.repository_url}", f"sha256 {c.sha256}")
            for c in todo
        ]

    def run(self, ctx: StepContext) -> None:
        section = _pypi(ctx)
        found = candidates(ctx)
        if found.missing:
            raise RemoteError(found.missing, "build the distributions first")
        plan = plan_index(ctx, found.files)
        if not plan.upload:
            return
        ctx.require_secret(str(section.token_env), f"PyPI API token (upload {section.project})")
        paths = [self._local(ctx, c) for c in plan.upload]
        for done in ctx.services.pypi().upload(paths):
            if done.uploaded:  # the index answered: remembered while it may not list it yet
                ctx.record_result(_upload_key(done.filename, done.sha256), index_page(ctx))

    def _local(self, ctx: StepContext, candidate: Candidate) -> Path:
        """The file to upload: the local one, or the release asset downloaded and checked."""
        if candidate.path is not None:
            return candidate.path
        assert candidate.asset is not None
        data = ctx.forge.download(candidate.asset.url)
        digest = hashlib.sha256(data).hexdigest()
        if digest != candidate.sha256:
            raise RemoteError(
                f"the release asset {candidate.filename} downloaded with sha256 {digest}, not "
                f"{candidate.sha256}",
                "re-run; if it persists, check the asset on the release",
            )
        folder = ctx.work_dir / "pypi" / ctx.tag
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / candidate.filename
        path.write_bytes(data)
        dist = read_dist(path)
        _refuse(ctx, candidate.filename, dist, "the release")
        return path
