"""The `tag` stage: a signed annotated tag on the right commit, and only that tag pushed.

rc: the head of the version branch. Final with a ``release_branch``: the release PR is merged
into it first (a merge commit, never squash), and the tag goes on that merge commit. Final
without one: the head of the version branch.
"""

from __future__ import annotations

from releaser.api import Action, Outcome, Pending, RemoteError, Step, StepContext
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


def _superseded(ctx: StepContext, tagged: str, head: str) -> bool:
    """Whether a tag on ``tagged`` is this release's, made before its branch moved on to
    ``head``: an ancestor of it whose version files hold this version. (A tag on an older
    commit without the bump was made too early: that is a failure, not a release.)"""
    if not ctx.config.version_files or not ctx.git.is_ancestor(tagged, head):
        return False
    return not version_changes(ctx, tagged)
