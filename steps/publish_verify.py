"""The release's assets as a user gets them: downloaded anonymously, checked, smoke-tested.

Every asset is downloaded from its browser URL without a token (what a user's ``curl``
gets), hashed, and compared with the release's ``SHA256SUMS``; ``SHA256SUMS.asc`` is
verified in a fresh keyring holding only the release key (the ``key_asset`` the release
carries, else the configured key exported from the local keyring). Then each
``[[publish.smoke]]`` command runs on the assets it matches, each in a clean temporary
directory: it must succeed and print the release version.

The downloads and checks are one declared result (:data:`ARTIFACT_CHECK`), read by
``verify-artifacts`` (publish) and by ``release-verified``, the first step of promote: a
failure here stops the release from being announced. Smoke tests are local work, so their
passing is recorded in the ledger, keyed by the exact bytes and commands tested: a re-run
downloads and hashes again (a tampered asset is caught), but doesn't re-run passed tests.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from releaser.api import (
    Action,
    Asset,
    Outcome,
    Result,
    Step,
    StepContext,
    StepFailed,
    gpg,
)
from steps import _release as rel
from steps.publish import GITHUB_RELEASE, RELEASE_ASSETS, _github, key_asset

VERIFY_STEP = "verify-artifacts"


@dataclass(frozen=True)
class Smoke:
    """One smoke test: a command on one downloaded asset."""

    asset: str
    sha256: str
    path: Path
    command: str  # the template, {file} not filled yet
    expect: str
    timeout: float

    def line(self, path: Path, ctx: StepContext) -> str:
        return ctx.fmt(self.command, file=shlex.quote(str(path)))


@dataclass(frozen=True)
class Verification:
    """What a user downloading the release would find."""

    blocked: str = ""  # why it can't be checked yet (no release, no checksums yet)
    problems: list[str] = field(default_factory=list)  # each a reason not to promote
    checked: list[str] = field(default_factory=list)  # what passed, in words
    smoke: list[Smoke] = field(default_factory=list)
    smoke_key: str = ""  # the ledger key of this set of smoke tests
    smoke_passed: str | None = None  # the ledger's summary once they all passed
    verified_key: str = ""  # the ledger key of this whole verification (verified_key())
    url: str | None = None  # the release page


def _downloads(ctx: StepContext) -> Path:
    folder = ctx.work_dir / "verify" / re.sub(r"[^A-Za-z0-9._-]", "_", ctx.tag)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def parse_sums(text: str) -> dict[str, str]:
    """``<sha256>  <name>`` (or ``<sha256> *<name>``) lines: {name: sha256}."""
    out = {}
    for line in text.splitlines():
        match = re.fullmatch(r"([0-9a-fA-F]{64}) [ *](.+)", line.strip())
        if match:
            out[match.group(2)] = match.group(1).lower()
    return out


def _smoke_tests(ctx: StepContext, files: dict[str, tuple[str, Path]]) -> list[Smoke]:
    tests = []
    for section in ctx.config.publish.smoke:
        if not section.applies(ctx.version):
            continue
        pattern = ctx.fmt(str(section.assets))
        for name in sorted(files):
            if fnmatchcase(name, pattern):
                sha, path = files[name]
                tests.append(
                    Smoke(
                        name,
                        sha,
                        path,
                        str(section.command),
                        ctx.fmt(str(section.expect)),
                        float(section.timeout),
                    )
                )
    return tests


def verified_key(ctx: StepContext, assets: dict[str, Asset]) -> str:
    """One ledger key for a whole verification: the release's assets as the forge lists them
    (a replaced asset gets a new id) and every setting the verification depends on."""
    github = _github(ctx)
    smoke = [
        [ctx.fmt(str(s.assets)), str(s.command), ctx.fmt(str(s.expect))]
        for s in ctx.config.publish.smoke
        if s.applies(ctx.version)
    ]
    listed = [[n, a.id, a.size, a.sha256, a.download_url] for n, a in sorted(assets.items())]
    settings = [str(github.checksums or ""), rel.gpg_key(ctx), bool(github.sign_checksums)]
    blob = json.dumps([listed, smoke, settings, key_asset(ctx)], default=str).encode()
    return "verified " + hashlib.sha256(blob).hexdigest()[:24]


def _smoke_key(tests: list[Smoke]) -> str:
    """One ledger key for this exact set of bytes, commands and expectations."""
    blob = json.dumps([[t.asset, t.sha256, t.command, t.expect] for t in tests]).encode()
    return "smoke " + hashlib.sha256(blob).hexdigest()[:24]


def _signature(ctx: StepContext, sums: bytes, files: dict[str, tuple[str, Path]]) -> str:
    """Verify the checksums' signature with the release key only; "" when it is good,
    else the problem. (Raises nothing: a missing key is a problem to report.)"""
    key = rel.gpg_key(ctx)
    assert key is not None
    sig_name = f"{_github(ctx).checksums}.asc"
    signature_file = files.get(sig_name)
    if signature_file is None:
        return f"{sig_name} is not on the release (step checksums signs it)"
    key_name = key_asset(ctx)
    if key_name is not None:
        published = files.get(key_name)
        if published is None:
            return f"{key_name} (the release key) is not on the release (step checksums)"
        public = published[1].read_bytes()
        fingerprints = gpg.key_fingerprints(public)
        wanted = key.upper().removeprefix("0X")
        if not any(f.endswith(wanted) for f in fingerprints):
            return (
                f"{key_name} holds {', '.join(fingerprints) or 'no key'}, not the release key "
                f"{key} ([signing] gpg_key)"
            )
    else:
        exported = gpg.export_public_key(key, rel.gnupg_home(ctx))
        if exported is None:
            return (
                f"the release key {key} is not in this machine's keyring to check "
                f"{sig_name} with: import its public key, or publish it with "
                "[publish.github] key_asset"
            )
        public = exported
    signer = gpg.verify_with_public_key(sums, signature_file[1].read_bytes(), public)
    if signer is None:
        return f"{sig_name} is not a good signature of the checksums by the release key {key}"
    return ""


def _verify(ctx: StepContext) -> Verification:
    release = ctx.need(GITHUB_RELEASE)
    if release is None:
        return Verification(blocked=f"no GitHub release for {ctx.tag} yet (step github-release)")
    assets = ctx.need(RELEASE_ASSETS)
    if not assets:
        return Verification(blocked="the release has no assets yet (step release-assets)")
    whole = verified_key(ctx, assets)
    trusted = ctx.intent(whole, step=VERIFY_STEP)
    if trusted is not None and trusted.done:
        # these very assets (ids, sizes, digests) verified and smoke-tested, with these
        # settings: a re-check doesn't download them again
        return Verification(checked=[trusted.evidence or "verified"], url=release.html_url)
    web = ctx.services.web()
    folder = _downloads(ctx)
    github = _github(ctx)
    sums_name = str(github.checksums or "")
    made = {sums_name, f"{sums_name}.asc", key_asset(ctx) or ""} - {""}
    patterns = [ctx.fmt(str(s.assets)) for s in ctx.config.publish.smoke if s.applies(ctx.version)]
    files: dict[str, tuple[str, Path]] = {}  # name -> (sha256, path) as downloaded
    problems: list[str] = []
    reachable = 0  # assets nothing compares: only their download is started
    for name, asset in sorted(assets.items()):
        compared = bool(sums_name) or any(fnmatchcase(name, p) for p in patterns)
        url = asset.download_url
        if url and not compared:
            if web.available(url) == 200:
                reachable += 1
                continue
            data = None
        else:
            data = web.fetch(url) if url else None
        if data is None:
            problems.append(
                f"{name} can't be downloaded anonymously from {url or 'its page'} "
                "(users can't get it either: a private repository, or a draft release?)"
            )
            continue
        path = folder / Path(name).name
        path.write_bytes(data)
        files[name] = (rel.sha256(data), path)
    checked: list[str] = []
    if sums_name:
        if sums_name not in assets:
            return Verification(
                blocked=f"{sums_name} is not on the release yet (step checksums)",
                url=release.html_url,
            )
        if sums_name in files:
            sums_bytes = files[sums_name][1].read_bytes()
            listed = parse_sums(sums_bytes.decode("utf-8", "replace"))
            matched = 0
            for name in sorted(set(files) - made):
                actual = files[name][0]
                expected = listed.get(name)
                if expected is None:
                    problems.append(f"{name} is not listed in {sums_name}")
                elif expected != actual:
                    problems.append(
                        f"{name} downloads with sha256 {actual}, but {sums_name} says {expected}"
                    )
                else:
                    matched += 1
            for name in sorted(set(listed) - set(assets)):
                problems.append(f"{sums_name} lists {name}, which is not on the release")
            if matched:
                checked.append(f"{matched} asset(s) match {sums_name}")
            if rel.gpg_key(ctx) and github.sign_checksums:
                problem = _signature(ctx, sums_bytes, files)
                if problem:
                    problems.append(problem)
                else:
                    checked.append(f"{sums_name}.asc: good signature by {rel.gpg_key(ctx)}")
    smoke = _smoke_tests(ctx, {n: v for n, v in files.items() if n not in made})
    key = _smoke_key(smoke) if smoke else ""
    passed = None
    if smoke:
        record = ctx.intent(key, step=VERIFY_STEP)
        passed = (record.evidence or "passed") if record is not None and record.done else None
    if reachable:
        checked.append(f"{reachable} asset(s) downloadable anonymously")
    elif not checked and not smoke:
        checked.append(f"{len(files)} asset(s) downloaded anonymously")
    return Verification(
        problems=problems,
        checked=checked,
        smoke=smoke,
        smoke_key=key,
        smoke_passed=passed,
        url=release.html_url,
        verified_key=whole,
    )


ARTIFACT_CHECK: Result[Verification] = Result(
    "artifact-check",
    _verify,
    needs=(GITHUB_RELEASE, RELEASE_ASSETS),
    pending="the assets as {by} would leave them",
)


def _expect_pattern(expect: str) -> re.Pattern[str]:
    """``expect`` as a whole word of the output: 1.2.0 is not found in 1.2.0-rc1 nor
    1.2.0rc1, but is in "mylib 1.2.0" and "v1.2.0"."""
    return re.compile(r"(?<![0-9.])" + re.escape(expect) + r"(?![0-9A-Za-z.+-])")


def _summary(verification: Verification, smoke: str | None = None) -> str:
    parts = list(verification.checked)
    if smoke:
        parts.append(f"smoke: {smoke}")
    return "; ".join(parts)


class VerifyArtifacts(Step):
    """The release's assets, downloaded as a user does, match their checksums and work.

    Each asset is downloaded anonymously from its browser URL and hashed: it must match
    `SHA256SUMS`, whose signature must verify with the release key alone (`key_asset`, or
    `[signing] gpg_key` exported from the keyring). Each `[[publish.smoke]]` command then
    runs on the assets it matches, in a clean temporary directory without credentials, and
    must print the release version (`expect`). A failure stops the release here: promote
    checks it again (`release-verified`) before announcing anything. Once all passed, the
    ledger records it for these very assets (ids, sizes, digests) and settings: later checks
    trust that record and download nothing; a replaced asset (a new id) is verified again.

    Why: the release is what users download, not what the build produced: a broken upload,
    a tampered file or a wrong key must be caught before anyone is told to download it.
    By hand: download every asset from the release page, `sha256sum -c SHA256SUMS`,
    `gpg --verify SHA256SUMS.asc SHA256SUMS` with only the release key imported, then install
    the package (or run the binary with `--version`) in a clean directory.
    """

    name = VERIFY_STEP
    configured_by = ("publish.github", "publish.smoke", "signing")
    needs = (ARTIFACT_CHECK,)
    makes = (ARTIFACT_CHECK,)

    def applies(self, ctx: StepContext) -> bool:
        return _github(ctx) is not None

    def check(self, ctx: StepContext) -> Outcome:
        verification = ctx.need(ARTIFACT_CHECK)
        if verification.blocked:
            return Outcome.blocked(verification.blocked)
        if verification.problems:
            return Outcome.failed("; ".join(verification.problems), verification.url)
        if verification.smoke and verification.smoke_passed is None:
            names = ", ".join(sorted({t.asset for t in verification.smoke}))
            return Outcome.todo(
                f"{_summary(verification)}; {len(verification.smoke)} smoke test(s) to run on "
                f"{names}"
            )
        return Outcome.done(_summary(verification, verification.smoke_passed), verification.url)

    def plan(self, ctx: StepContext) -> list[Action]:
        verification = ctx.need(ARTIFACT_CHECK)
        return [
            Action(
                "run",
                f"smoke test of {t.asset} in a clean directory",
                f"{t.line(Path(t.asset), ctx)}\nmust print {t.expect}",
            )
            for t in verification.smoke
        ] + [Action("record", "the smoke tests' success in the ledger")]

    def run(self, ctx: StepContext) -> None:
        verification = ctx.need(ARTIFACT_CHECK)
        results = []
        for test in verification.smoke:
            results.append(self._smoke(ctx, test))
        ctx.record_result(verification.smoke_key, "; ".join(results))
        # every asset matched and every smoke test passed: later checks trust this
        summary = _summary(verification, "; ".join(results))
        ctx.record_result(verification.verified_key, summary)

    def _smoke(self, ctx: StepContext, test: Smoke) -> str:
        with tempfile.TemporaryDirectory(prefix="releaser-smoke-") as tmp:
            path = Path(tmp) / Path(test.asset).name
            shutil.copyfile(test.path, path)
            if rel.sha256(path.read_bytes()) != test.sha256:
                raise StepFailed(
                    f"{test.asset} changed on disk while testing it",
                    "re-run: it is downloaded again",
                )
            command = test.line(path, ctx)
            done = ctx.git.run_command(command, Path(tmp), {}, timeout=test.timeout)
        output = done.stdout.strip()
        last = output.splitlines()[-1] if output else ""
        if done.returncode != 0:
            why = done.last_error or last or "no output"
            raise StepFailed(
                f"smoke test of {test.asset} failed: `{command}` exited with "
                f"{done.returncode}: {why}",
                "fix the build (or the [[publish.smoke]] command), then re-run",
            )
        if not _expect_pattern(test.expect).search(output):
            raise StepFailed(
                f"smoke test of {test.asset} printed {last!r}, not the release version "
                f"{test.expect}",
                "the asset is not this release's build: rebuild it, or fix [[publish.smoke]] "
                "expect",
            )
        return f"{test.asset} printed {test.expect}"


class ReleaseVerified(Step):
    """The release's downloads verify, checked again before anything is announced.

    Reads what `verify-artifacts` checks (downloads, checksums, signature, smoke tests)
    again: an asset changed since publish stops the promote stage.

    Why: announcing a release whose downloads are broken or tampered sends every user to
    them.
    By hand: verify the downloads as `verify-artifacts` says, before announcing.
    """

    name = "release-verified"
    configured_by = ("publish.github",)
    needs = (ARTIFACT_CHECK,)
    _asking = threading.local()  # applies() reads the plan, which asks applies() again

    def applies(self, ctx: StepContext) -> bool:
        """With a GitHub release, and only when the promote stage has something to do."""
        if _github(ctx) is None:
            return False
        if getattr(self._asking, "now", False):
            return True
        self._asking.now = True
        try:
            stages = {plan.stage: plan.steps for plan in ctx.release_plan()}
        finally:
            self._asking.now = False
        return any(step is not self for step in stages.get("promote", []))

    def check(self, ctx: StepContext) -> Outcome:
        verification = ctx.need(ARTIFACT_CHECK)
        if verification.blocked:
            return Outcome.blocked(
                f"{verification.blocked}: run `releaser publish {ctx.version}` first"
            )
        if verification.problems:
            return Outcome.failed(
                "the release's downloads fail verification: " + "; ".join(verification.problems),
                verification.url,
            )
        if verification.smoke and verification.smoke_passed is None:
            return Outcome.blocked(
                f"the smoke tests haven't passed on these assets yet: `releaser publish "
                f"{ctx.version}` runs them (step {VERIFY_STEP})"
            )
        return Outcome.done(_summary(verification, verification.smoke_passed), verification.url)
