"""Dependent repositories (``[[downstream]]``): what each must change, read and written.

One update is ONE commit per repository, made through the Git Data API (a tree with every
changed file, a commit on the base branch's head, a ref), then one pull request. The files
change by ``pattern`` (a regex's ``version`` group), by ``marker`` (the version on each line
carrying a marker comment) and/or by ``command`` (run in a shallow checkout, without
credentials). The commit carries trailers: ``Releaser-Step`` (releaser made it),
``Releaser-Release`` and ``Releaser-Update`` (the release and a fingerprint of the update),
so a later check recognises it without reading its files back. A re-run moves the branch
again only while its head is releaser's own commit, and only if it has not moved since it
was read (a lease).

Each repository is read in one request (``Forge.snapshot``: the base's head, the files to
edit in it, the PR branch's head) plus the pull request lookup.

Everything here runs in worker threads, one repository each: it uses the forge facade, the
memo behind it and working trees of its own only (all thread-safe), never the ledger (its
appends are serial by nature: one ref moved by compare-and-swap).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from releaser.api import (
    Action,
    AlreadyExists,
    Branch,
    Forge,
    Outcome,
    ProgressView,
    PullRequest,
    StepContext,
    StepFailed,
)
from steps._release import TRAILER

T = TypeVar("T")
R = TypeVar("R")

UPDATE_STEP = "update-dependents"
RELEASE_TRAILER = "Releaser-Release"  # which release a dependent's commit is for
UPDATE_TRAILER = "Releaser-Update"  # and which update (fingerprint())
# X.Y.Z[-pre], alone or after a "v" (v0.18.0, kubo@0.18.0, kubo-v0.18.0-rc1)
VERSION_TOKEN = re.compile(
    r"(?<![\w.])v?(?P<version>\d+\.\d+\.\d+(?:-[0-9A-Za-z][0-9A-Za-z.]*)?)(?![\w])"
)


@dataclass(frozen=True)
class Dependent:
    """One ``[[downstream]]`` entry for this release, its templates filled in."""

    index: int
    repo: str
    files: tuple[str, ...]
    pattern: str | None
    marker: str | None
    value: str  # what the version becomes
    command: str | None
    workflow: str | None
    inputs: dict[str, str]
    branch: str
    base: str | None  # None: the repository's default branch
    title: str
    reviewers: tuple[str, ...]
    auto_merge: bool
    merge_method: str
    workflow_ref: str | None
    label: str = ""  # the row of the progress board: the repository (with #i if repeated)

    @property
    def makes_pr(self) -> bool:
        return bool(self.files or self.command)

    @property
    def edits(self) -> bool:
        return bool(self.pattern or self.marker)


def dependents(ctx: StepContext) -> list[Dependent]:
    """The ``[[downstream]]`` entries that apply to this release (``only`` / ``skip``)."""
    out = []
    entries = list(ctx.config.downstream)
    repos = [str(d.repo) for d in entries]
    for i, d in enumerate(entries):
        if not d.applies(ctx.version):
            continue
        repo = str(d.repo)
        out.append(
            Dependent(
                index=i,
                repo=repo,
                files=tuple(str(f) for f in d.files),
                pattern=str(d.pattern) if d.pattern else None,
                marker=str(d.marker) if d.marker else None,
                value=ctx.fmt(str(d.format)),
                command=ctx.fmt(str(d.command)) if d.command else None,
                workflow=str(d.workflow) if d.workflow else None,
                inputs={str(k): ctx.fmt(str(v)) for k, v in (d.inputs or {}).items()},
                branch=ctx.fmt(str(d.branch)),
                base=ctx.fmt(str(d.base)) if d.base else None,
                title=ctx.fmt(str(d.pr_title)),
                reviewers=tuple(str(r).lstrip("@") for r in d.reviewers),
                auto_merge=bool(d.auto_merge),
                merge_method=str(d.merge_method),
                workflow_ref=ctx.fmt(str(d.workflow_ref)) if d.workflow_ref else None,
                label=repo if repos.count(repo) == 1 else f"{repo}#{i}",
            )
        )
    return out


def concurrently(
    ctx: StepContext, items: Sequence[T], work: Callable[[T], R]
) -> list[R | BaseException]:
    """``work(item)`` for every item, at most ``[engine] concurrency`` at once; each result or
    the exception it raised, in the order of ``items``."""

    def guarded(item: T) -> R | BaseException:
        try:
            return work(item)
        except Exception as exc:
            return exc

    if len(items) <= 1:
        return [guarded(item) for item in items]
    workers = max(1, min(len(items), int(ctx.config.engine.concurrency)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dependents") as pool:
        return list(pool.map(guarded, items))


def alongside(ctx: StepContext, work: Callable[[], R], read: Callable[[], object]) -> R:
    """``work()``, with ``read()`` (a memoised read needed next) made at the same time in
    another thread when ``[engine] concurrency`` allows; a failed ``read`` is left for its
    caller to make again."""
    if int(ctx.config.engine.concurrency) <= 1:
        return work()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dependents-read") as pool:
        pool.submit(read)  # waited for on leaving the block; its exception is dropped
        return work()


# -- edits --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """One file's change: its text before and after, the lines that change."""

    path: str
    old: str
    new: str
    lines: tuple[tuple[str, str], ...]  # (old line, new line)


def edit_text(dep: Dependent, path: str, text: str) -> Edit:
    """``text`` with every pattern match's ``version`` group and the first version on every
    marked line set to ``dep.value``. StepFailed when neither finds anything."""
    spans: list[tuple[int, int]] = []
    if dep.pattern:
        spans += [m.span("version") for m in re.finditer(dep.pattern, text, re.MULTILINE)]
    if dep.marker:
        offset = 0
        for line in text.splitlines(keepends=True):
            at = line.find(dep.marker)
            if at >= 0:
                before = line[:at] if at > 0 else line
                found = VERSION_TOKEN.search(before) or VERSION_TOKEN.search(line)
                if found is None:
                    raise StepFailed(
                        f"{dep.repo}: {path} has a line marked {dep.marker!r} without a version"
                        f": {line.strip()!r}",
                        f"put the version on that line, or fix downstream[{dep.index}].marker",
                    )
                start, end = found.span("version")
                spans.append((offset + start, offset + end))
            offset += len(line)
    if not spans:
        what = " and ".join(
            f"{name} {value!r}"
            for name, value in (("pattern", dep.pattern), ("marker", dep.marker))
            if value
        )
        raise StepFailed(
            f"{dep.repo}: {path}: {what} finds no version to update",
            f"fix downstream[{dep.index}] in releaser.toml (or the file in {dep.repo})",
        )
    new = text
    for start, end in sorted(set(spans), reverse=True):
        new = new[:start] + dep.value + new[end:]
    old_lines, new_lines = text.splitlines(), new.splitlines()
    lines = tuple((a, b) for a, b in zip(old_lines, new_lines, strict=False) if a != b)
    return Edit(path, text, new, lines)


def diff(edits: Sequence[Edit]) -> str:
    out = []
    for e in edits:
        out.append(f"{e.path}:")
        for old, new in e.lines:
            out += [f"- {old.strip()}", f"+ {new.strip()}"]
    return "\n".join(out)


# -- the state of one dependent -------------------------------------------------------------------


@dataclass(frozen=True)
class UpdateState:
    """Where one dependent's update stands, and what ``run()`` would still do.

    ``todo`` holds, in order: ``commit`` (make the one commit), ``branch`` (create the branch
    at it) or ``force`` (move our own branch to it), ``pr`` (open the PR) or ``retitle``
    (the open PR now carries another release), ``reviewers``, ``auto-merge``.
    """

    dep: Dependent
    outcome: Outcome
    base_name: str = ""
    base: Branch | None = None
    head: Branch | None = None  # the PR branch, when it exists
    pull: PullRequest | None = None  # the PR of this update (open, merged or closed)
    edits: tuple[Edit, ...] = ()  # pattern / marker edits read from base (commands: in run)
    todo: tuple[str, ...] = ()
    missing_reviewers: tuple[str, ...] = ()
    board: str = ""  # the progress board's word for it


def fingerprint(dep: Dependent) -> str:
    """What an update is, in a few characters: the files, how they change and to what. A
    commit carrying it needs no reading back (it was made that way)."""
    what = [list(dep.files), dep.pattern, dep.marker, dep.value, dep.command]
    return hashlib.sha256(json.dumps(what).encode()).hexdigest()[:12]


def commit_message(ctx: StepContext, dep: Dependent, release_url: str) -> str:
    """The one commit's message: the PR title, the release, and releaser's trailers (the
    step; the release and the update it carries, which later checks recognise)."""
    name = ctx.config.project.name
    return (
        f"{dep.title}\n\n{name} {ctx.tag}: {release_url}\n\n"
        f"{TRAILER}: {UPDATE_STEP}\n{RELEASE_TRAILER}: {ctx.tag}\n"
        f"{UPDATE_TRAILER}: {fingerprint(dep)}\n"
    )


def _ours(message: str) -> bool:
    return f"\n{TRAILER}: {UPDATE_STEP}" in message


def _made_for(ctx: StepContext, dep: Dependent, message: str) -> bool:
    """Whether a commit message is releaser's commit of exactly this update."""
    text = message + "\n"
    return (
        _ours(message)
        and f"\n{RELEASE_TRAILER}: {ctx.tag}\n" in text
        and f"\n{UPDATE_TRAILER}: {fingerprint(dep)}\n" in text
    )


def _holds(
    ctx: StepContext, forge: Forge, dep: Dependent, sha: str, message: str | None = None
) -> bool:
    """Whether commit ``sha`` of the dependent holds this release's update: it is releaser's
    commit of it (or one made on top of that one); else, without a command whose effect
    can't be read back, every edited file holds the version."""
    if message is None:
        message = forge.commit_message(sha)
    if _made_for(ctx, dep, message):
        return True
    if dep.command:  # a maintainer's commits on top of ours keep the update
        return any(_made_for(ctx, dep, c.message) for c in forge.commits(sha, limit=20))
    for path in dep.files:
        found = forge.file(path, sha)
        if found is None:
            return False
        try:
            if edit_text(dep, path, found.text).lines:
                return False
        except StepFailed:
            return False
    return True


def unchanged_key(dep: Dependent) -> str:
    """The ledger key saying the command changed nothing on the base (evidence: its sha)."""
    return f"unchanged:{dep.repo}:{dep.branch}"


def read_update(ctx: StepContext, dep: Dependent) -> UpdateState:
    """The state of one dependent's update (reads only)."""
    forge = ctx.forge.other(dep.repo)
    # the base's head with the files to edit in it, and the PR branch's head: one read; the
    # branch's pull requests (whatever their base) at the same time
    edited = dep.files if dep.edits and not dep.command else ()
    snapshot = alongside(
        ctx,
        lambda: forge.snapshot(dep.base, edited, also=(dep.branch,)),
        lambda: forge.pulls_from(dep.branch),
    )
    if snapshot is None:
        where = f"no branch {dep.base}" if dep.base else "no default branch (it is empty)"
        return UpdateState(
            dep,
            Outcome.failed(f"{dep.repo} has {where}: fix downstream[{dep.index}].base"),
            str(dep.base),
            board="failed",
        )
    tip = snapshot.others[dep.branch]
    head = tip.branch if tip else None
    current = tip is not None and _holds(ctx, forge, dep, tip.branch.sha, tip.message)
    base = snapshot.branch
    base_name = base.name
    pull = forge.find_pull(dep.branch, base_name)
    # a merged or closed PR of an earlier release on a reused branch name is not this update's
    if pull is not None and pull.status in ("merged", "closed"):
        message = tip.message if tip and tip.branch.sha == pull.head_sha else None
        pull = pull if _holds(ctx, forge, dep, pull.head_sha, message) else None
    make = _maker(dep, base_name, base, head, pull)
    if pull is not None and pull.status == "merged":
        return make(Outcome.done(f"{dep.repo}: PR #{pull.number} merged", pull.html_url), "merged")
    if pull is not None and pull.status == "closed":
        return make(
            Outcome.done(
                f"{dep.repo}: PR #{pull.number} was closed unmerged by a maintainer: not reopened",
                pull.html_url,
            ),
            "closed by a maintainer",
        )
    todo: list[str] = []
    if head is not None and not current:
        if not _ours(tip.message if tip else ""):
            where = f"PR #{pull.number}" if pull else f"branch {dep.branch}"
            return make(
                Outcome.failed(
                    f"{dep.repo}: {where} has commits not made by releaser and lacks the "
                    f"update to {ctx.tag}: update it by hand, or delete the branch (or set "
                    f"downstream[{dep.index}].branch) and re-run"
                ),
                "failed",
            )
        todo += ["commit", "force"]
    edits: tuple[Edit, ...] = ()
    if head is None:
        if dep.edits and not dep.command:
            edits = tuple(_base_edits(forge, dep, base))
            if not any(e.lines for e in edits):
                return make(
                    Outcome.done(f"{dep.repo}: {base_name} holds {dep.value} already"),
                    "up to date",
                )
        elif dep.command:
            said = ctx.intent(unchanged_key(dep), step=UPDATE_STEP)
            if said is not None and said.done and said.evidence == base.sha:
                return make(
                    Outcome.done(
                        f"{dep.repo}: `{dep.command}` changes nothing on {base_name} "
                        f"({base.sha[:7]})"
                    ),
                    "up to date",
                )
        todo += ["commit", "branch"]
    elif "commit" in todo and dep.edits and not dep.command:
        edits = tuple(_base_edits(forge, dep, base))
    if pull is None:
        todo.append("pr")
    elif "force" in todo:
        todo.append("retitle")
    missing = _missing_reviewers(forge, dep, pull)
    if missing:
        todo.append("reviewers")
    if dep.auto_merge and (pull is None or not pull.auto_merge):
        todo.append("auto-merge")
    if not todo:
        assert pull is not None
        return make(Outcome.done(f"{dep.repo}: PR #{pull.number} open", pull.html_url), "PR open")
    outcome = Outcome.todo(f"{dep.repo}: {_describe(todo, dep, pull)}")
    return UpdateState(
        dep, outcome, base_name, base, head, pull, edits, tuple(todo), tuple(missing), "to do"
    )


def _maker(
    dep: Dependent,
    base_name: str,
    base: Branch,
    head: Branch | None,
    pull: PullRequest | None,
) -> Callable[[Outcome, str], UpdateState]:
    def make(outcome: Outcome, board: str) -> UpdateState:
        return UpdateState(dep, outcome, base_name, base, head, pull, board=board)

    return make


def _base_edits(forge: Forge, dep: Dependent, base: Branch) -> list[Edit]:
    edits = []
    for path in dep.files:
        found = forge.file(path, base.sha)
        if found is None:
            raise StepFailed(
                f"{dep.repo}: {path} does not exist on {base.name}",
                f"fix downstream[{dep.index}].files in releaser.toml",
            )
        edits.append(edit_text(dep, path, found.text))
    return edits


def _missing_reviewers(forge: Forge, dep: Dependent, pull: PullRequest | None) -> list[str]:
    """Configured reviewers neither requested nor reviewing yet (all of them: no PR yet)."""
    wanted = [r for r in dep.reviewers if pull is None or r != pull.user]
    if pull is None or not wanted:
        return wanted
    missing = [r for r in wanted if r not in pull.requested_reviewers]
    if missing:  # GitHub drops a reviewer from the requested list once they reviewed
        reviewed = set(forge.reviewed_by(pull.number))
        missing = [r for r in missing if r not in reviewed]
    return missing


def _describe(todo: list[str], dep: Dependent, pull: PullRequest | None) -> str:
    words = {
        "commit": "to commit",
        "branch": f"branch {dep.branch} to create",
        "force": f"branch {dep.branch} to move (it holds an older update)",
        "pr": "PR to open",
        "retitle": f"PR #{pull.number if pull else '?'} to retitle",
        "reviewers": "reviewers to request",
        "auto-merge": "auto-merge to enable",
    }
    return ", ".join(words[t] for t in todo if t in words)


# -- plans --------------------------------------------------------------------------------------


def plan_update(state: UpdateState, body: str) -> list[Action]:
    """The writes ``write_update`` would make for a TODO state."""
    dep, base = state.dep, state.base
    actions = []
    where = f"{base.sha[:7]} ({state.base_name} head)" if base else state.base_name
    if "commit" in state.todo:
        if dep.command:
            files = ", ".join(dep.files) or "every file it changes"
            edited = f", after the {_edit_words(dep)} edits" if dep.edits else ""
            actions.append(
                Action(
                    "commit",
                    f"to {dep.repo}: one commit on {where} with {files}",
                    f"run `{dep.command}` in a shallow checkout of {dep.repo}@{state.base_name}"
                    f"{edited} (no credentials in its environment)",
                )
            )
        else:
            changed = [e for e in state.edits if e.lines]
            actions.append(
                Action(
                    "commit",
                    f"to {dep.repo}: one commit on {where} setting {dep.value} in "
                    f"{', '.join(e.path for e in changed)}",
                    diff(changed),
                )
            )
    if "branch" in state.todo:
        actions.append(Action("create", f"branch {dep.branch} in {dep.repo} at that commit"))
    if "force" in state.todo and state.head is not None:
        actions.append(
            Action(
                "update",
                f"branch {dep.branch} in {dep.repo} to that commit (forced: its head "
                f"{state.head.sha[:7]} is releaser's own commit)",
            )
        )
    if "pr" in state.todo:
        actions.append(
            Action(
                "create",
                f'pull request {dep.repo} {dep.branch} -> {state.base_name}: "{dep.title}"',
                body,
            )
        )
    if "retitle" in state.todo and state.pull is not None:
        actions.append(
            Action("update", f'pull request {dep.repo}#{state.pull.number}: "{dep.title}"', body)
        )
    pr = f"{dep.repo}#{state.pull.number}" if state.pull else "that pull request"
    if "reviewers" in state.todo:
        actions.append(Action("request", f"reviews on {pr}: {', '.join(state.missing_reviewers)}"))
    if "auto-merge" in state.todo:
        actions.append(Action("enable", f"auto-merge ({dep.merge_method}) on {pr}"))
    return actions


def _edit_words(dep: Dependent) -> str:
    return " and ".join(w for w, on in (("pattern", dep.pattern), ("marker", dep.marker)) if on)


# -- writing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    """What ``write_update`` did to one dependent."""

    pull: PullRequest | None = None
    unchanged_at: str | None = None  # the command changed nothing on this base commit


def write_update(
    ctx: StepContext,
    state: UpdateState,
    message: str,
    body: str,
    board: ProgressView,
) -> Written:
    """Make one dependent's TODO writes: the one commit, its branch, the PR, reviewers,
    auto-merge. Each part is skipped when the state says an earlier run made it."""
    dep = state.dep
    forge = ctx.forge.other(dep.repo)
    base = state.base
    assert base is not None
    pull = state.pull
    if "commit" in state.todo:
        board.update(dep.label, "reading", f"{dep.repo}@{state.base_name}")
        files = _command_files(ctx, dep, base) if dep.command else _edited(state)
        if not files:
            board.update(dep.label, "up to date", f"`{dep.command}` changes nothing")
            return Written(unchanged_at=base.sha)
        board.update(dep.label, "committing", ", ".join(sorted(files)))
        sha, _ = forge.make_commit(base.sha, base.tree_sha, files, message, ctx.author())
        if "force" in state.todo:
            _move_our_branch(forge, dep, state, sha)
        else:
            try:
                forge.create_branch(dep.branch, sha)
            except AlreadyExists:
                now = forge.branch(dep.branch, fresh=True)
                if now is None or not _holds(ctx, forge, dep, now.sha):
                    raise StepFailed(
                        f"{dep.repo}: branch {dep.branch} appeared while updating it",
                        "re-run the command: it reads the branch again",
                    ) from None
    if "pr" in state.todo:
        pull = forge.create_pull(dep.branch, state.base_name, dep.title, body)
    elif "retitle" in state.todo and pull is not None:
        pull = forge.update_pull(pull.number, title=dep.title, body=body)
    assert pull is not None
    board.update(dep.label, "PR open", pull.html_url)
    # a PR opened just now has no reviewers yet: all but its author are missing
    missing = (
        list(state.missing_reviewers)
        if state.pull
        else [r for r in dep.reviewers if r != pull.user]
    )
    if missing:
        forge.request_reviewers(pull.number, missing)
    if "auto-merge" in state.todo and not pull.auto_merge:
        forge.enable_auto_merge(pull, dep.merge_method.upper())
    return Written(pull=pull)


def _edited(state: UpdateState) -> dict[str, str]:
    return {e.path: e.new for e in state.edits if e.lines}


def _move_our_branch(forge: Forge, dep: Dependent, state: UpdateState, sha: str) -> None:
    """Force the branch to ``sha`` only if it still is where we read it (our own commit):
    a lease, so a maintainer's push since the check is never overwritten."""
    now = forge.branch(dep.branch, fresh=True)
    if state.head is None or now is None or now.sha != state.head.sha:
        raise StepFailed(
            f"{dep.repo}: branch {dep.branch} moved while updating it: not forced",
            "re-run the command: it reads the branch again",
        )
    forge.move_branch(dep.branch, sha, force=True)


def _command_files(ctx: StepContext, dep: Dependent, base: Branch) -> dict[str, str]:
    """Run the command in a shallow checkout of the base (after the pattern / marker edits);
    the files to commit: ``files`` as they are after it, or every file it changed."""
    assert dep.command is not None
    dest = ctx.work_dir / "downstream" / dep.repo.replace("/", "__") / dep.branch.replace("/", "_")
    shutil.rmtree(dest, ignore_errors=True)  # nothing left over from an earlier command
    clone = ctx.git.checkout(dest, base.name, repo=dep.repo, depth=1)
    head = ctx.git.run_command("git rev-parse HEAD", clone, {}).stdout.strip()
    if head != base.sha:
        raise StepFailed(
            f"{dep.repo}: {base.name} moved while updating it ({base.sha[:7]} -> {head[:7]})",
            "re-run the command: it reads the branch again",
        )
    if dep.edits:
        for path in dep.files:
            target = clone / path
            if not target.is_file():
                raise StepFailed(
                    f"{dep.repo}: {path} does not exist on {base.name}",
                    f"fix downstream[{dep.index}].files in releaser.toml",
                )
            target.write_text(edit_text(dep, path, target.read_text()).new)
    env = {"RELEASER_VERSION": str(ctx.version), "RELEASER_TAG": ctx.tag, "RELEASER_REPO": dep.repo}
    result = ctx.git.run_command(dep.command, clone, env)
    if result.returncode != 0:
        raise StepFailed(
            f"{dep.repo}: `{dep.command}` exited {result.returncode}: {result.last_error}",
            f"fix downstream[{dep.index}].command (it runs in a checkout of {dep.repo})",
        )
    status = ctx.git.run_command("git status --porcelain -z --untracked-files=all", clone, {})
    changed = _changed_paths(status.stdout)
    wanted = [p for p in changed if p in dep.files] if dep.files else changed
    out: dict[str, str] = {}
    for path in wanted:
        try:
            out[path] = (clone / path).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise StepFailed(
                f"{dep.repo}: `{dep.command}` changed {path}, which is not UTF-8 text",
                f"list only text files in downstream[{dep.index}].files",
            ) from None
    return out


def _changed_paths(porcelain: str) -> list[str]:
    """Modified and new files of ``git status --porcelain -z`` (deletions are left out)."""
    paths = []
    entries = porcelain.split("\0")
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        if code[0] in "RC":
            i += 1  # the source path of a rename or copy follows
        if "D" in code:
            continue
        paths.append(path)
    return sorted(paths)
