"""The `tag` stage: a signed annotated tag on the right commit, and only that tag pushed.

rc: the head of the version branch. Final with a ``release_branch``: the release PR is merged
into it first (a merge commit, never squash), and the tag goes on that merge commit. Final
without one: the head of the version branch.
"""

from __future__ import annotations

from releaser.api import (
    Access,
    Action,
    Check,
    Outcome,
    Pending,
    RemoteError,
    Step,
    StepContext,
    StepFailed,
)
from steps import _release as rel
from steps._release import RELEASE_PR, RELEASE_TAG, TAG_TARGET
from steps._versions import version_changes


def tag_message(ctx: StepContext) -> str:
    project = ctx.config.project
    template = project.rc_tag_message if ctx.version.is_rc else project.tag_message
    return ctx.fmt(str(template))


def tagger(ctx: StepContext) -> str:
    """``Name <email>``: the driver's identity (``[git]``, else the repository's git config),
    else the forge login."""
    author = ctx.author()
    if author is not None:
        return f"{author['name']} <{author['email']}>"
    login = ctx.forge.login()
    return f"{login} <{login}@users.noreply.github.com>"


def _ci_commit(ctx: StepContext) -> tuple[str | None, str]:
    """(the commit CI must be green on, what it is) or (None, why it isn't known yet).

    The commit the tag goes on; for a final merged into a release branch, the release PR's
    head (what the merge brings in: the merge commit is the forge's, made under the release
    branch's own protection)."""
    branch = rel.release_branch(ctx)
    if ctx.version.is_final and branch:
        pr = ctx.need(RELEASE_PR)
        if pr is None:
            return None, (
                f"no release PR from {ctx.version_branch} into {branch}: "
                f"run `releaser prepare {ctx.version}`"
            )
        return pr.head_sha, f"head of the release PR #{pr.number}"
    target = ctx.need(TAG_TARGET)
    return (target.sha, target.where) if target.sha else (None, target.blocked)


def _required_checks(ctx: StepContext) -> list[str]:
    """``[gates] checks``, plus (``ci = "required"``) what branch protection requires of the
    version branch and of the release PR's base."""
    gates = ctx.config.gates
    names = [str(n) for n in gates.checks or []]
    if gates.ci == "required":
        for name in (ctx.version_branch, rel.release_pr_base(ctx)):
            branch = ctx.forge.branch(name)
            names += branch.required_checks if branch is not None else ()
    return list(dict.fromkeys(names))


def _state(checks: list[Check]) -> str:
    states = {c.state for c in checks}
    return next(s for s in ("failure", "pending", "success") if s in states)


class CIGreen(Step):
    """Check that CI is green on the release commit before it is merged or tagged.

    The release commit is the one `push-tag` tags (the head of the version branch), or, for a
    final merged into a release branch, the release PR's head. `[gates] ci` says which of
    its commit statuses and check runs count: "required" (the default), those branch
    protection requires of the version branch and of the release PR's base, plus `[gates]
    checks`; "all", every one reported; "off", none (the step is skipped). Pending or not yet
    reported ones are waited for; a red one stops the release, naming it.

    Why: the tag starts the builds that publish the release, and can't be taken back once
    others fetched it: tagging a commit whose tests fail publishes a broken release.
    By hand: look at the checks of the commit to tag (`gh pr checks` on the release PR, or
    `gh api repos/OWNER/REPO/commits/SHA/check-runs` and `.../status`); wait until every
    required one is green, and fix or re-run a red one, before tagging.
    """

    name = "ci-green"
    configured_by = ("gates",)
    needs = (TAG_TARGET, RELEASE_PR)

    def applies(self, ctx: StepContext) -> bool:
        gates = ctx.config.gates
        return gates.ci != "off" and gates.applies(ctx.version)

    def writes_to(self, ctx: StepContext) -> list[Access]:
        return []

    def check(self, ctx: StepContext) -> Outcome:
        sha, where = _ci_commit(ctx)
        if sha is None:
            return Outcome.blocked(where)
        url = rel.commit_url(ctx, sha)
        reported: dict[str, list[Check]] = {}
        for check in ctx.forge.checks(sha):
            reported.setdefault(check.name, []).append(check)
        wanted = _required_checks(ctx)
        if ctx.config.gates.ci == "all":
            wanted = list(dict.fromkeys([*reported, *wanted]))
        on = f"{rel.short(sha)} ({where})"
        if not wanted:
            return Outcome.done(f"no checks required of {on}", url)
        red = [n for n in wanted if n in reported and _state(reported[n]) == "failure"]
        if red:
            failing = [c for n in red for c in reported[n] if c.state == "failure"]
            named = ", ".join(f"{c.name} ({c.detail})" for c in failing)
            return Outcome.failed(
                f"red checks on {on}: {named}: fix the cause (or re-run them), then re-run "
                "this command; the release waits for them to be green",
                failing[0].url or url,
            )
        pending = [n for n in wanted if n in reported and _state(reported[n]) == "pending"]
        missing = [n for n in wanted if n not in reported]
        if pending or missing:
            parts = [f"{', '.join(pending)} pending"] if pending else []
            parts += [f"{', '.join(missing)} not reported yet"] if missing else []
            return Outcome.running(f"checks on {on}: {'; '.join(parts)}", url)
        return Outcome.done(f"green on {on}: {', '.join(wanted)}", url)


class MergeReleasePR(Step):
    """Merge the release PR into the release branch with a merge commit.

    Finals are tagged on the long-lived release branch; the merge commit is what the tag
    (and every patch release after it) builds on.

    Why: the final must be what was reviewed in the release PR, merged with a merge commit
    (never squash or rebase) so the version branch's commits stay in the release history.
    By hand: on the release PR, "Create a merge commit" (never squash or rebase), or
    `git checkout release && git merge --no-ff release-vX.Y && git push origin release`.
    """

    name = "merge-release-pr"
    dangerous = True
    only = ("final",)
    needs = (RELEASE_PR,)
    makes = (RELEASE_PR,)

    def applies(self, ctx: StepContext) -> bool:
        return rel.release_branch(ctx) is not None

    def check(self, ctx: StepContext) -> Outcome:
        branch = rel.release_branch(ctx)
        pr = ctx.need(RELEASE_PR)
        if pr is None:
            return Outcome.blocked(
                f"no release PR from {ctx.version_branch} into {branch}: "
                f"run `releaser prepare v{ctx.version}`"
            )
        if pr.merged:
            return Outcome.done(
                f"PR #{pr.number} merged into {branch} as {rel.short(pr.merge_commit_sha)}",
                pr.html_url,
            )
        if pr.state == "closed":
            return Outcome.failed(
                f"the release PR #{pr.number} was closed without merging: reopen it "
                "(or open a new one with `releaser prepare`), then re-run",
                pr.html_url,
            )
        if pr.draft:
            return Outcome.blocked(
                f"the release PR #{pr.number} is still a draft: mark it ready for review once "
                f"its checks pass ({pr.html_url}), then re-run"
            )
        if pr.mergeable is False:
            return Outcome.failed(
                f"the release PR #{pr.number} has conflicts with {branch}: resolve them on "
                f"{ctx.version_branch} (`git merge origin/{branch}`), push, then re-run",
                pr.html_url,
            )
        return Outcome.todo(f"PR #{pr.number} is open, head {rel.short(pr.head_sha)}")

    def plan(self, ctx: StepContext) -> list[Action]:
        pr = ctx.need(RELEASE_PR)
        if pr is None:
            return [Action("merge", f"the release PR into {rel.release_branch(ctx)}")]
        return [
            Action(
                "merge",
                f"PR #{pr.number} {ctx.version_branch} -> {rel.release_branch(ctx)} "
                "(merge commit, never squash)",
                f"{pr.title}\n{pr.html_url}\nhead {pr.head_sha}",
            )
        ]

    def run(self, ctx: StepContext) -> None:
        pr = ctx.need(RELEASE_PR)
        if pr is None:
            raise RemoteError("the release PR disappeared", "re-run the command")
        ctx.forge.merge_pull(pr.number, pr.head_sha, "merge")

    def writes_to(self, ctx: StepContext) -> list[Access]:
        pr = ctx.need(RELEASE_PR)
        branch = rel.release_branch(ctx)
        why = f"merge the release PR into {branch}"
        if pr is not None and pr.state == "open":
            why = f"merge the release PR #{pr.number} into {branch}"
            if ctx.forge.pull(pr.number).mergeable_state == "blocked":
                why += " (its branch protection blocks the merge: reviews or checks missing)"
                return [Access(ctx.repo_name, "admin", why)]
        return [Access(ctx.repo_name, "write", why)]

    def approval_subject(self, ctx: StepContext) -> str | None:
        pr = ctx.need(RELEASE_PR)
        if pr is None:
            raise StepFailed(
                f"nothing to approve yet: no release PR into {rel.release_branch(ctx)}"
            )
        return f"merge PR #{pr.number} at {pr.head_sha} into {rel.release_branch(ctx)}"


class TagCommitReady(Step):
    """Check that the commit to tag exists.

    rc: the head of the version branch. Final with a release branch: the merge commit of the
    release PR. Final without one: the head of the version branch.

    Why: the tag must point at exactly the commit that was prepared and reviewed.
    By hand: `git ls-remote origin release-vX.Y` (rc), or look up the merge commit of the
    release PR into the release branch (final).
    """

    name = "tag-commit-ready"
    needs = (TAG_TARGET,)

    def check(self, ctx: StepContext) -> Outcome:
        target = ctx.need(TAG_TARGET)
        if target.sha is None:
            return Outcome.blocked(target.blocked)
        return Outcome.done(
            f"{target.where} is {rel.short(target.sha)}", rel.commit_url(ctx, target.sha)
        )


class PushTag(Step):
    """Push the release tag, and only that tag, to the forge.

    An annotated tag (message from `tag_message` / `rc_tag_message`), GPG-signed when
    `[signing] gpg_key` is set, on the commit `tag-commit-ready` found.

    Why: the tag triggers the build workflows; pushing all local tags could publish stray ones,
    and a tag is immutable once others have fetched it.
    By hand: `git tag -s vX.Y.Z -m 'Release X.Y.Z' <commit>`, `git show vX.Y.Z` to check the
    signature and commit, then `git push origin vX.Y.Z` (never `git push --tags`).
    """

    name = "push-tag"
    configured_by = ("signing",)
    dangerous = True
    needs = (RELEASE_TAG, TAG_TARGET)
    makes = (RELEASE_TAG,)

    def check(self, ctx: StepContext) -> Outcome:
        tag = ctx.tag
        remote = ctx.need(RELEASE_TAG)
        target = ctx.need(TAG_TARGET)
        if remote is None:
            if target.sha is None:
                return Outcome.blocked(target.blocked)
            return Outcome.todo(f"{tag} doesn't exist yet ({target.where}: {target.sha})")
        if not remote.annotated:
            return Outcome.failed(
                f"{tag} exists as a lightweight tag on {remote.commit} (no message, no "
                "signature), probably made by a release created on the forge: if no build "
                f"used it, delete it and that release by hand (`git push origin :refs/tags/{tag}`)"
                " and re-run; otherwise release the next version",
                rel.tag_url(ctx),
            )
        if target.sha is None:
            return Outcome.failed(
                f"{tag} already exists on {remote.commit}, but the commit it should be on isn't "
                f"known: {target.blocked}"
            )
        if remote.commit != target.sha and _superseded(ctx, remote.commit, target.sha):
            # Tagged earlier on this branch, which has moved on since (a later rc, the final):
            # the tag is done; the newer commits are simply not part of this release.
            return Outcome.done(
                f"{tag} on {remote.commit} ({target.where} has moved on since, to "
                f"{rel.short(target.sha)}: those commits are not in {tag})",
                rel.tag_url(ctx),
            )
        if remote.commit != target.sha:
            return Outcome.failed(
                f"{tag} already exists on {remote.commit}, but the release commit "
                f"({target.where}) is {target.sha}: if no build used the tag, delete it by hand "
                f"(`git push origin :refs/tags/{tag}`) and re-run; otherwise release the next "
                "version",
                rel.tag_url(ctx),
            )
        signed = ""
        if rel.gpg_key(ctx):
            info = ctx.git.read_tag(tag)
            signed = ", signed" if info and info.signed else ", NOT signed"
        return Outcome.done(
            f"{tag} (tag object {rel.short(remote.sha)}{signed}) on {target.sha}",
            rel.tag_url(ctx),
        )

    def plan(self, ctx: StepContext) -> list[Action]:
        target = ctx.peek(TAG_TARGET)
        on = str(target) if isinstance(target, Pending) else (target.sha or target.blocked)
        key = rel.gpg_key(ctx)
        signing = f"signed with GPG key {key}" if key else "not signed (no [signing] gpg_key)"
        message = tag_message(ctx)
        return [
            Action(
                "push",
                f"tag {ctx.tag} on {on} (that tag only)",
                f"annotated, {signing}\nmessage: {message}",
            )
        ]

    def run(self, ctx: StepContext) -> None:
        target = ctx.need(TAG_TARGET)
        if target.sha is None:
            raise RemoteError(target.blocked)
        sha = ctx.git.create_tag(
            ctx.tag,
            target.sha,
            tag_message(ctx),
            tagger(ctx),
            gpg_key=rel.gpg_key(ctx),
            gnupghome=rel.gnupg_home(ctx),
        )
        ctx.git.push_ref(f"refs/tags/{ctx.tag}", sha)

    def writes_to(self, ctx: StepContext) -> list[Access]:
        return [Access(ctx.repo_name, "write", f"push the tag {ctx.tag}")]

    def approval_subject(self, ctx: StepContext) -> str | None:
        target = ctx.need(TAG_TARGET)
        if target.sha is None:
            raise StepFailed(f"nothing to approve yet: {target.blocked}")
        return f"tag {ctx.tag} on {target.sha}"


def _superseded(ctx: StepContext, tagged: str, head: str) -> bool:
    """Whether a tag on ``tagged`` is this release's, made before its branch moved on to
    ``head``: an ancestor of it whose version files hold this version. (A tag on an older
    commit without the bump was made too early: that is a failure, not a release.)"""
    if not ctx.config.version_files or not ctx.git.is_ancestor(tagged, head):
        return False
    return not version_changes(ctx, tagged)
