"""Git over smart HTTP: the git CLI and dulwich clone, fetch and push; GitHub-like refusals."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from dulwich import porcelain
from dulwich.objects import Commit
from dulwich.refs import Ref
from dulwich.repo import Repo

from releaser.sandbox.forge import PUSH_HOOKS, Forge
from releaser.sandbox.server import SandboxServer
from tests.sandbox.helpers import authed_git_url, git_env, make_repo, sandbox_github

REPO = "release-bot/proj"


@pytest.fixture
def repo(sandbox: SandboxServer) -> str:
    return make_repo(sandbox, REPO, {"README.md": "# proj\n"})


@pytest.fixture
def pushes() -> Iterator[list[tuple[str, list[tuple[str, str, str]]]]]:
    seen: list[tuple[str, list[tuple[str, str, str]]]] = []

    def hook(forge: Forge, full_name: str, updates: list[tuple[str, str, str]]) -> None:
        seen.append((full_name, updates))

    PUSH_HOOKS.append(hook)
    try:
        yield seen
    finally:
        PUSH_HOOKS.remove(hook)


def git(cwd: Path, *args: str, env: dict[str, str], check: bool = True) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout + proc.stderr


def clone(sandbox: SandboxServer, tmp_path: Path, env: dict[str, str]) -> Path:
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", authed_git_url(sandbox, REPO), str(work), env=env)
    return work


def test_git_cli_clone_push_branch_and_tag(
    sandbox: SandboxServer, repo: str, tmp_path: Path, pushes: list
) -> None:
    env = git_env(tmp_path)
    work = clone(sandbox, tmp_path, env)
    (work / "new.txt").write_text("new\n")
    git(work, "add", "new.txt", env=env)
    git(work, "commit", "-q", "-m", "add new", env=env)
    git(work, "tag", "-a", "v1.0.0", "-m", "v1.0.0", env=env)
    git(work, "push", "-q", "origin", "main", "v1.0.0", env=env)
    head = git(work, "rev-parse", "HEAD", env=env).strip()
    r = sandbox_github(sandbox).get_repo(repo)
    assert r.get_branch("main").commit.sha == head
    ref = r.get_git_ref("tags/v1.0.0")
    assert ref.object.type == "tag"
    assert r.get_git_tag(ref.object.sha).object.sha == head
    assert [t.name for t in r.get_tags()] == ["v1.0.0"]
    (changes,) = [u for name, u in pushes if name == REPO]
    assert {c[0] for c in changes} == {"refs/heads/main", "refs/tags/v1.0.0"}
    assert dict((c[0], c[2]) for c in changes)["refs/heads/main"] == head


def test_git_cli_refuses_force_push_and_tag_moves(
    sandbox: SandboxServer, repo: str, tmp_path: Path
) -> None:
    env = git_env(tmp_path)
    work = clone(sandbox, tmp_path, env)
    git(work, "tag", "v1", env=env)
    git(work, "push", "-q", "origin", "v1", env=env)
    git(work, "commit", "-q", "--amend", "-m", "rewritten", env=env)
    out = git(work, "push", "--force", "origin", "main", env=env, check=False)
    assert "[remote rejected] main -> main" in out
    git(work, "tag", "-f", "v1", env=env)
    out = git(work, "push", "--force", "origin", "v1", env=env, check=False)
    assert "[remote rejected] v1 -> v1" in out
    out = git(work, "push", "origin", ":refs/tags/v1", env=env, check=False)
    assert "[remote rejected]" in out
    r = sandbox_github(sandbox).get_repo(repo)
    assert r.get_git_ref("tags/v1").object.sha == r.get_branch("main").commit.sha
    # refs/releaser/* take fast-forwards only
    git(work, "push", "-q", "origin", "HEAD:refs/releaser/state", env=env)
    git(work, "reset", "-q", "--hard", "origin/main", env=env)
    out = git(work, "push", "--force", "origin", "HEAD:refs/releaser/state", env=env, check=False)
    assert "[remote rejected]" in out


def test_push_needs_the_token(sandbox: SandboxServer, repo: str, tmp_path: Path) -> None:
    env = git_env(tmp_path)
    work = tmp_path / "anon"
    anon_url = f"{sandbox.info()['git_url']}/{REPO}.git"
    git(tmp_path, "clone", "-q", anon_url, str(work), env=env)  # reads are anonymous
    git(work, "commit", "-q", "--allow-empty", "-m", "x", env=env)
    out = git(work, "push", "origin", "main", env=env, check=False)
    assert "Authentication failed" in out or "could not read Username" in out
    bad = authed_git_url(sandbox, REPO).replace(sandbox.forge.token, "wrong")
    out = git(work, "push", bad, "main", env=env, check=False)
    assert "Authentication failed" in out


def test_api_ref_is_fetchable_at_once(
    sandbox: SandboxServer, repo: str, tmp_path: Path, pushes: list
) -> None:
    env = git_env(tmp_path)
    work = clone(sandbox, tmp_path, env)
    r = sandbox_github(sandbox).get_repo(repo)
    commit = r.create_file("api.txt", "from the API", "api\n", branch="main")["commit"]
    r.create_git_ref("refs/tags/v9", commit.sha)
    git(work, "fetch", "-q", "--tags", "origin", env=env)
    assert git(work, "rev-parse", "origin/main", env=env).strip() == commit.sha
    assert git(work, "rev-parse", "v9", env=env).strip() == commit.sha
    assert (REPO, [("refs/tags/v9", "0" * 40, commit.sha)]) in pushes
    assert any(u[0][0] == "refs/heads/main" and u[0][2] == commit.sha for _, u in pushes)


def test_dulwich_clone_push_and_refusal(
    sandbox: SandboxServer, repo: str, tmp_path: Path, pushes: list
) -> None:
    url = f"{sandbox.info()['git_url']}/{REPO}.git"
    token = sandbox.forge.token
    target = tmp_path / "dul"
    errs = io.BytesIO()
    local = porcelain.clone(url, str(target), errstream=errs)
    (target / "d.txt").write_text("dulwich\n")
    porcelain.add(local, [str(target / "d.txt")])
    sha = porcelain.commit(
        local, message=b"dulwich commit", author=b"D <d@example.invalid>", committer=b"D <d@x>"
    )
    porcelain.tag_create(local, b"v2.0.0", message=b"v2", annotated=True, author=b"D <d@x>")
    result = porcelain.push(
        local,
        url,
        [b"refs/heads/main", b"refs/tags/v2.0.0"],
        username="x-access-token",
        password=token,
        errstream=errs,
        outstream=errs,
    )
    assert result.ref_status is not None
    assert result.ref_status.get(b"refs/heads/main") is None
    r = sandbox_github(sandbox).get_repo(repo)
    assert r.get_branch("main").commit.sha == sha.decode()
    assert any(name == REPO for name, _ in pushes)
    # a rewritten main is refused: only ref_status says so
    local2 = Repo(str(target))
    head_commit = local2[sha]
    assert isinstance(head_commit, Commit)
    local2.refs[Ref(b"refs/heads/main")] = head_commit.parents[0]
    refused = porcelain.push(
        local2,
        url,
        [b"+refs/heads/main:refs/heads/main"],
        username="x-access-token",
        password=token,
        errstream=errs,
        outstream=errs,
        force=True,
    )
    assert refused.ref_status is not None
    assert refused.ref_status.get(b"refs/heads/main")
    assert r.get_branch("main").commit.sha == sha.decode()
    local2.close()
    local.close()
    fetched = porcelain.fetch(Repo(str(target)), url)
    assert fetched.refs[Ref(b"refs/heads/main")] == sha


def test_chunked_push_and_gzipped_fetch(sandbox: SandboxServer, repo: str, tmp_path: Path) -> None:
    """A small http.postBuffer makes git stream the push chunked; many wants get gzipped."""
    env = git_env(tmp_path)
    work = clone(sandbox, tmp_path, env)
    for i in range(40):
        (work / f"f{i}.bin").write_bytes(bytes(range(256)) * 20 + str(i).encode())
        git(work, "add", ".", env=env)
        git(work, "commit", "-q", "-m", f"c{i}", env=env)
        git(work, "branch", f"b{i}", env=env)
    git(work, "-c", "http.postBuffer=1024", "push", "-q", "origin", "--all", env=env)
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", "--mirror", authed_git_url(sandbox, REPO), str(fresh), env=env)
    branches = git(fresh, "for-each-ref", "--format=%(refname)", "refs/heads/", env=env).split()
    assert len(branches) == 41
    log = (sandbox.forge.root / "requests.log").read_text()
    assert '"status": 500' not in log
