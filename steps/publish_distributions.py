"""The `publish` stage, a distributions repository: the version added by one PR, then live.

Kubo's binaries reach dist.ipfs.tech through a PR to ipfs/distributions that runs
``./dist.sh add-version``. The configured ``command`` runs in a shallow checkout of the
repository's base branch (no credentials in its environment); its changes become ONE commit
made through the Git Data API on ``branch``, and one PR. On a re-run the PR is found again
(by its branch), updated where it differs, never opened twice; a merged one is waited on
until ``verify_url`` answers 200, a closed one is reported.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from releaser.api import (
    Action,
    Forge,
    Outcome,
    Pending,
    PullRequest,
    RemoteError,
    Result,
    Step,
    StepContext,
    StepFailed,
)
from steps import _release as rel
from steps._release import GITHUB_RELEASE

STEP = "distributions-pr"


def _section(ctx: StepContext) -> Any:
    return ctx.config.publish.distributions


def _forge(ctx: StepContext) -> Forge:
    return ctx.forge.other(str(_section(ctx).repo))


def _branch(ctx: StepContext) -> str:
    return ctx.fmt(str(_section(ctx).branch))


def _base(ctx: StepContext) -> str:
    base = _section(ctx).base
    return ctx.fmt(str(base)) if base else _forge(ctx).repository().default_branch


def _release_url(ctx: StepContext) -> str:
    release = ctx.peek(GITHUB_RELEASE)
    if release is None or isinstance(release, Pending):
        return rel.tag_url(ctx)
    return release.html_url


def _title(ctx: StepContext) -> str:
    return ctx.fmt(str(_section(ctx).pr_title), release_url=_release_url(ctx))


def _command(ctx: StepContext) -> str:
    return ctx.fmt(str(_section(ctx).command))


def _body(ctx: StepContext) -> str:
    text = ctx.fmt(str(_section(ctx).pr_body), release_url=_release_url(ctx))
    return f"{text}\n\nMade by releaser: `{_command(ctx)}` on the base branch, in one commit."


DIST_PR: Result[PullRequest | None] = Result(
    "distributions-pr",
    lambda ctx: _forge(ctx).find_pull(_branch(ctx), _base(ctx)),
    pending="the PR {by} would open",
)


def _verify_url(ctx: StepContext) -> str | None:
    url = _section(ctx).verify_url
    return ctx.fmt(str(url)) if url else None


def _ours(ctx: StepContext, sha: str) -> bool:
    """Whether ``sha`` on the branch is the commit this step makes (its trailer)."""
    message = _forge(ctx).commit(sha).message
    return f"\n{rel.TRAILER}: {STEP}" in message


class DistributionsPR(Step):
    """The distributions repository has this version, by one PR, and serves it.

    `command` runs in a shallow checkout of the repository's base branch, with no
    credentials in its environment; what it changes becomes one commit on `branch` (Git Data
    API) and one PR. With `merge = true` releaser merges the PR, else its reviewers do; with
    `verify_url` the step then waits (up to `timeout` seconds after the merge) until that URL
    answers 200. A re-run finds the PR again: it is updated, never opened twice; a PR closed
    without merging stops the step.

    Why: distributions sites (dist.ipfs.tech) are built from that repository; users and
    installers download the release from there.
    By hand: clone the distributions repository, run the command, commit, push a branch,
    open the PR, get it merged, then check that the version's page answers.
    """

    name = STEP
    configured_by = ("publish.distributions",)
    needs = (DIST_PR, GITHUB_RELEASE)
    makes = (DIST_PR,)

    def applies(self, ctx: StepContext) -> bool:
        section = _section(ctx)
        return section is not None and section.applies(ctx.version)

    def check(self, ctx: StepContext) -> Outcome:
        section = _section(ctx)
        repo = str(section.repo)
        url = _verify_url(ctx)
        pr = ctx.need(DIST_PR)
        status = ctx.services.web().status(url) if url else 0
        where = f" ({repo}#{pr.number} {pr.status})" if pr is not None else ""
        if url and status == 200:
            return Outcome.done(f"{url} answers 200{where}", url)
        if pr is None:
            branch = _forge(ctx).branch(_branch(ctx))
            if branch is not None and not _ours(ctx, branch.sha):
                return Outcome.failed(
                    f"{repo} already has a branch {branch.name} without releaser's commit: "
                    "delete it, or set [publish.distributions] branch to another name"
                )
            if branch is not None:
                return Outcome.todo(f"open the PR from {branch.name} in {repo}")
            return Outcome.todo(f"no PR in {repo} adding {ctx.tag} yet")
        if pr.status == "closed":
            return Outcome.failed(
                f"{repo}#{pr.number} was closed without merging: reopen it and re-run, or "
                f"publish {ctx.tag} there by hand",
                pr.html_url,
            )
        if pr.status == "merged":
            if not url:
                return Outcome.done(f"{repo}#{pr.number} merged", pr.html_url)
            merged = pr.merged_at.timestamp() if pr.merged_at else ctx.now()
            waited = ctx.now() - merged
            timeout = float(section.timeout)
            answer = f"answers {status}" if status else "can't be reached"
            if waited > timeout:
                return Outcome.failed(
                    f"{url} still {answer} {waited:.0f}s after {repo}#{pr.number} was merged "
                    f"(timeout {timeout:.0f}s): check the site's deployment",
                    pr.html_url,
                )
            return Outcome.running(
                f"{repo}#{pr.number} merged {waited:.0f}s ago; waiting for {url} to answer 200 "
                f"(it {answer})",
                pr.html_url,
            )
        if pr.title != _title(ctx):
            return Outcome.todo(f"{repo}#{pr.number} is titled {pr.title!r}: to update")
        if section.merge:
            return Outcome.todo(f"{repo}#{pr.number} to merge")
        if url:
            return Outcome.running(
                f"waiting for {repo}#{pr.number} to be merged by its reviewers, then for {url} "
                "to answer 200",
                pr.html_url,
            )
        return Outcome.done(f"{repo}#{pr.number} open for review", pr.html_url)

    def plan(self, ctx: StepContext) -> list[Action]:
        section = _section(ctx)
        repo = str(section.repo)
        pr = ctx.peek(DIST_PR)
        actions = []
        if pr is None or isinstance(pr, Pending):
            branch = _forge(ctx).branch(_branch(ctx))
            if branch is None:
                actions.append(
                    Action(
                        "commit",
                        f"what `{_command(ctx)}` changes in {repo} ({_base(ctx)}) to a new "
                        f"branch {_branch(ctx)}",
                        "one commit, made through the Git Data API",
                    )
                )
            actions.append(
                Action("open", f'PR "{_title(ctx)}" in {repo}: {_branch(ctx)} -> {_base(ctx)}')
            )
        elif pr.title != _title(ctx):
            actions.append(Action("update", f'{repo}#{pr.number} title to "{_title(ctx)}"'))
        if section.merge:
            target = f"{repo}#{pr.number}" if isinstance(pr, PullRequest) else "the PR"
            actions.append(Action("merge", target))
        return actions

    def run(self, ctx: StepContext) -> None:
        section = _section(ctx)
        forge = _forge(ctx)
        pr = ctx.need(DIST_PR)
        if pr is None:
            branch = forge.branch(_branch(ctx))
            if branch is None:
                self._commit(ctx)
            pr = forge.create_pull(_branch(ctx), _base(ctx), _title(ctx), _body(ctx))
        elif pr.status in ("open", "draft") and pr.title != _title(ctx):
            pr = forge.update_pull(pr.number, title=_title(ctx))
        if section.merge and pr.status in ("open", "draft"):
            forge.merge_pull(pr.number, pr.head_sha)

    def _commit(self, ctx: StepContext) -> None:
        """Run the command on the base branch; its changes as one commit on a new branch."""
        forge = _forge(ctx)
        base_name = _base(ctx)
        base = forge.branch(base_name)
        if base is None:
            raise RemoteError(
                f"{forge.repo} has no branch {base_name}",
                "set [publish.distributions] base to the branch PRs go into",
            )
        work = ctx.work_dir / "distributions" / re.sub(r"[^A-Za-z0-9._-]", "_", forge.repo)
        shutil.rmtree(work, ignore_errors=True)  # a clean tree: nothing left from a run before
        ctx.git.checkout(work, base_name, repo=forge.repo, depth=1)
        head = ctx.git.run_command("git rev-parse HEAD", work, {}).stdout.strip()
        if head != base.sha:
            raise RemoteError(
                f"{forge.repo} {base_name} moved while checking it out ({head[:12]})",
                "re-run: it starts again from the new head",
            )
        command = _command(ctx)
        done = ctx.git.run_command(command, work, {})
        if done.returncode != 0:
            raise StepFailed(
                f"`{command}` failed in {forge.repo} (exit {done.returncode}): "
                f"{done.last_error or 'no message'}",
                "fix the command ([publish.distributions] command), then re-run",
            )
        files = changed_files(ctx, work)
        if not files:
            raise StepFailed(
                f"`{command}` changed nothing in {forge.repo}: is {ctx.tag} there already?",
                f"check {forge.repo}, then confirm by hand (`releaser confirm {ctx.version} "
                f"{STEP} --evidence URL`) or fix the command",
            )
        message = rel.trailer(_title(ctx), STEP)
        sha, _ = forge.make_commit(base.sha, base.tree_sha, files, message, ctx.author())
        forge.create_branch(_branch(ctx), sha)


def changed_files(ctx: StepContext, work: Path) -> dict[str, str | bytes | None]:
    """What a command changed in a checkout: path -> text, bytes, or None (deleted)."""
    status = ctx.git.run_command("git status --porcelain=v1 -z --untracked-files=all", work, {})
    if status.returncode != 0:
        raise RemoteError(f"git status failed in the checkout: {status.last_error}")
    out: dict[str, str | bytes | None] = {}
    for entry in status.stdout.split("\0"):
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        target = work / path
        if "D" in code or not target.exists():
            out[path] = None
        elif target.is_file():
            data = target.read_bytes()
            try:
                out[path] = data.decode("utf-8")
            except UnicodeDecodeError:
                out[path] = data
    return out
