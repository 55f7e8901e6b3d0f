"""REST repositories and git data against the sandbox forge, with PyGithub and raw HTTP.

Every JSON body of these endpoints is validated against GitHub's published schemas.
"""

from __future__ import annotations

import base64

import pytest
from github import GithubException, InputGitAuthor, InputGitTreeElement

from releaser.sandbox.server import SandboxServer
from tests.sandbox.helpers import api, make_repo, sandbox_github
from tests.sandbox.schemas import validate

REPO = "release-bot/demo"


@pytest.fixture
def repo(sandbox: SandboxServer) -> str:
    return make_repo(sandbox, REPO, {"README.md": "# demo\n", "src/app.py": "VERSION = '1.0'\n"})


def test_create_repo_auto_init_and_get(sandbox: SandboxServer) -> None:
    with api(sandbox) as client:
        resp = client.post(
            "user/repos",
            json={"name": "fresh", "auto_init": True, "default_branch": "trunk"},
        )
        assert resp.status_code == 201
        body = resp.json()
        validate("repos/get", 200, body)
        assert body["full_name"] == "release-bot/fresh"
        assert body["default_branch"] == "trunk"
        assert body["clone_url"] == f"{sandbox.info()['git_url']}/release-bot/fresh.git"
        again = client.post("user/repos", json={"name": "fresh"})
        assert again.status_code == 422
        assert again.json()["errors"][0]["message"] == "name already exists on this account"
        org = client.post("orgs/acme/repos", json={"name": "tool"})
        assert org.status_code == 201
        assert org.json()["owner"]["type"] == "Organization"
        validate("repos/get", 200, client.get("repos/acme/tool").json())
    repo = sandbox_github(sandbox).get_repo("release-bot/fresh")
    assert repo.default_branch == "trunk"
    readme = repo.get_contents("README.md", ref="trunk")
    assert not isinstance(readme, list)
    assert readme.decoded_content.startswith(b"# fresh")


def test_unknown_repo_is_404_in_githubs_shape(sandbox: SandboxServer) -> None:
    with api(sandbox) as client:
        resp = client.get("repos/nobody/nothing")
    assert resp.status_code == 404
    assert resp.json()["message"] == "Not Found"
    assert "documentation_url" in resp.json()


def test_branches_tags_and_commits(sandbox: SandboxServer, repo: str) -> None:
    gh = sandbox_github(sandbox)
    r = gh.get_repo(repo)
    assert [b.name for b in r.get_branches()] == ["main"]
    head = r.get_branch("main").commit.sha
    r.create_git_ref("refs/heads/feature/x", head)
    assert r.get_branch("feature/x").commit.sha == head
    r.create_git_ref("refs/tags/v1.0.0", head)
    assert [(t.name, t.commit.sha) for t in r.get_tags()] == [("v1.0.0", head)]
    commit = r.get_commit("main")
    assert commit.sha == head
    assert [f.filename for f in commit.files] == ["README.md", "src/app.py"]
    with api(sandbox) as client:
        validate("repos/list-branches", 200, client.get(f"repos/{repo}/branches").json())
        validate("repos/get-branch", 200, client.get(f"repos/{repo}/branches/main").json())
        validate("repos/list-tags", 200, client.get(f"repos/{repo}/tags").json())
        validate("repos/list-commits", 200, client.get(f"repos/{repo}/commits").json())
        validate("repos/get-commit", 200, client.get(f"repos/{repo}/commits/{head}").json())
        assert client.get(f"repos/{repo}/branches/nope").status_code == 404


def test_contents_put_get_delete(sandbox: SandboxServer, repo: str) -> None:
    r = sandbox_github(sandbox).get_repo(repo)
    created = r.create_file("docs/new.md", "add docs", "hello\n", branch="main")
    assert r.get_branch("main").commit.sha == created["commit"].sha
    current = r.get_contents("docs/new.md")
    assert not isinstance(current, list)
    assert current.decoded_content == b"hello\n"
    updated = r.update_file("docs/new.md", "edit docs", "bye\n", current.sha, branch="main")
    assert updated["commit"].parents[0].sha == created["commit"].sha  # type: ignore[union-attr]
    with pytest.raises(GithubException) as stale:
        r.update_file("docs/new.md", "stale", "x\n", current.sha, branch="main")
    assert stale.value.status == 409
    with api(sandbox) as client:
        missing_sha = client.put(
            f"repos/{repo}/contents/docs/new.md",
            json={"message": "m", "content": base64.b64encode(b"y").decode()},
        )
        assert missing_sha.status_code == 422
        put = client.put(
            f"repos/{repo}/contents/other.txt",
            json={"message": "m", "content": base64.b64encode(b"y").decode()},
        )
        assert put.status_code == 201
        validate("repos/create-or-update-file-contents", 201, put.json())
        got = client.get(f"repos/{repo}/contents/other.txt")
        validate("repos/get-content", 200, got.json())
        listing = client.get(f"repos/{repo}/contents", params={"ref": "main"})
        validate("repos/get-content", 200, listing.json())
        assert {e["name"] for e in listing.json()} == {"README.md", "src", "docs", "other.txt"}
        deleted = client.request(
            "DELETE",
            f"repos/{repo}/contents/other.txt",
            json={"message": "rm", "sha": put.json()["content"]["sha"]},
        )
        assert deleted.status_code == 200
        validate("repos/delete-file", 200, deleted.json())
        assert client.get(f"repos/{repo}/contents/other.txt").status_code == 404


def test_compare_statuses(sandbox: SandboxServer, repo: str) -> None:
    r = sandbox_github(sandbox).get_repo(repo)
    base = r.get_branch("main").commit.sha
    r.create_git_ref("refs/heads/side", base)
    r.create_file("a.txt", "one", "1\n", branch="main")
    r.create_file("b.txt", "two", "2\n", branch="main")
    cmp = r.compare(base, "main")
    assert (cmp.status, cmp.ahead_by, cmp.behind_by) == ("ahead", 2, 0)
    assert [c.commit.message for c in cmp.commits] == ["one", "two"]
    assert sorted(f.filename for f in cmp.files) == ["a.txt", "b.txt"]
    assert r.compare("main", base).status == "behind"
    assert r.compare("main", "main").status == "identical"
    r.create_file("c.txt", "side", "3\n", branch="side")
    assert r.compare("main", "side").status == "diverged"
    with api(sandbox) as client:
        body = client.get(f"repos/{repo}/compare/{base}...main").json()
        validate("repos/compare-commits-with-basehead", 200, body)
        assert client.get(f"repos/{repo}/compare/nope...main").status_code == 404


def test_merges_and_dispatches(sandbox: SandboxServer, repo: str) -> None:
    r = sandbox_github(sandbox).get_repo(repo)
    r.create_git_ref("refs/heads/topic", r.get_branch("main").commit.sha)
    r.create_file("t.txt", "topic work", "t\n", branch="topic")
    r.create_file("m.txt", "main work", "m\n", branch="main")
    merged = r.merge("main", "topic", "Merge topic")
    assert merged is not None
    assert len(merged.parents) == 2
    assert r.merge("main", "topic") is None  # nothing to merge: 204
    with api(sandbox) as client:
        resp = client.post(f"repos/{repo}/dispatches", json={"event_type": "release"})
        assert resp.status_code == 204
        assert (
            client.post(f"repos/{repo}/merges", json={"base": "x", "head": "main"}).status_code
            == 404
        )
    assert sandbox.forge.find("dispatch", repo)[0]["event_type"] == "release"


def test_user_and_rate_limit(sandbox: SandboxServer) -> None:
    gh = sandbox_github(sandbox)
    assert gh.get_user().login == "release-bot"
    assert gh.get_rate_limit().resources.core.limit == 5000
    with api(sandbox) as client:
        validate("users/get-authenticated", 200, client.get("user").json())
        validate("rate-limit/get", 200, client.get("rate_limit").json())


def test_pagination_with_link_headers(sandbox: SandboxServer, repo: str) -> None:
    r = sandbox_github(sandbox).get_repo(repo)
    head = r.get_branch("main").commit.sha
    for i in range(35):
        r.create_git_ref(f"refs/heads/b{i:02d}", head)
    with api(sandbox) as client:
        first = client.get(f"repos/{repo}/branches")
        assert len(first.json()) == 30
        assert 'rel="next"' in first.headers["Link"]
        second = client.get(first.links["next"]["url"])
        assert len(second.json()) == 6
    assert len(list(r.get_branches())) == 36
    assert r.get_branches().totalCount == 36


# ---- git data -----------------------------------------------------------------------------


def test_refs_create_update_refusals(sandbox: SandboxServer, repo: str) -> None:
    r = sandbox_github(sandbox).get_repo(repo)
    first = r.get_branch("main").commit.sha
    second = r.create_file("x.txt", "x", "x\n", branch="main")["commit"].sha
    ref = r.create_git_ref("refs/heads/release", first)
    assert ref.object.sha == first
    with pytest.raises(GithubException) as exists:
        r.create_git_ref("refs/heads/release", first)
    assert exists.value.status == 422
    assert exists.value.data["message"] == "Reference already exists"
    ref.edit(second)  # fast-forward
    assert r.get_git_ref("heads/release").object.sha == second
    with pytest.raises(GithubException) as nonff:
        ref.edit(first)
    assert nonff.value.status == 422
    assert nonff.value.data["message"] == "Update is not a fast forward"
    ref.edit(first, force=True)
    assert r.get_git_ref("heads/release").object.sha == first
    tag = r.create_git_ref("refs/tags/v1", first)
    with pytest.raises(GithubException) as moved:
        tag.edit(second, force=True)
    assert moved.value.status == 422
    with pytest.raises(GithubException) as deleted:
        tag.delete()
    assert deleted.value.status == 422
    state = r.create_git_ref("refs/releaser/state", second)
    with pytest.raises(GithubException):
        state.edit(first, force=True)
    r.get_git_ref("heads/release").delete()
    with pytest.raises(GithubException) as gone:
        r.get_git_ref("heads/release")
    assert gone.value.status == 404
    assert [x.ref for x in r.get_git_matching_refs("tags/")] == ["refs/tags/v1"]
    with api(sandbox) as client:
        validate("git/get-ref", 200, client.get(f"repos/{repo}/git/ref/heads/main").json())
        validate("git/get-ref", 200, client.get(f"repos/{repo}/git/refs/heads/main").json())
        matching = client.get(f"repos/{repo}/git/matching-refs/heads/")
        validate("git/list-matching-refs", 200, matching.json())
        made = client.post(f"repos/{repo}/git/refs", json={"ref": "refs/heads/y", "sha": first})
        validate("git/create-ref", 201, made.json())
        patched = client.patch(f"repos/{repo}/git/refs/heads/y", json={"sha": second})
        validate("git/update-ref", 200, patched.json())
        bad = client.post(f"repos/{repo}/git/refs", json={"ref": "main", "sha": first})
        assert bad.status_code == 422
        missing = client.post(
            f"repos/{repo}/git/refs", json={"ref": "refs/heads/z", "sha": "1" * 40}
        )
        assert missing.status_code == 422


def test_blobs_trees_commits_tags(sandbox: SandboxServer, repo: str) -> None:
    r = sandbox_github(sandbox).get_repo(repo)
    head = r.get_branch("main").commit
    blob = r.create_git_blob("binary\x00data", "utf-8")
    assert r.get_git_blob(blob.sha).content
    element = InputGitTreeElement("bin/data", "100644", "blob", sha=blob.sha)
    inline = InputGitTreeElement("notes.txt", "100644", "blob", content="inline\n")
    tree = r.create_git_tree([element, inline], base_tree=r.get_git_tree(head.sha))
    paths = {e.path for e in r.get_git_tree(tree.sha, recursive=True).tree}
    assert {"README.md", "src/app.py", "bin/data", "notes.txt", "bin", "src"} <= paths
    author = InputGitAuthor("Ann", "ann@example.invalid", "2024-05-01T10:00:00Z")
    commit = r.create_git_commit("add data", tree, [head.commit], author=author)
    assert commit.author.name == "Ann"
    assert r.get_git_commit(commit.sha).parents[0].sha == head.sha
    tag = r.create_git_tag("v2.0.0", "Release 2.0.0\n", commit.sha, "commit", author)
    assert r.get_git_tag(tag.sha).tag == "v2.0.0"
    ref = r.create_git_ref("refs/tags/v2.0.0", tag.sha)
    assert ref.object.type == "tag"
    removal = InputGitTreeElement("notes.txt", "100644", "blob", sha=None)
    smaller = r.create_git_tree([removal], base_tree=tree)
    assert "notes.txt" not in {e.path for e in smaller.tree}
    with api(sandbox) as client:
        b = client.post(f"repos/{repo}/git/blobs", json={"content": "aGk=", "encoding": "base64"})
        validate("git/create-blob", 201, b.json())
        got = client.get(f"repos/{repo}/git/blobs/{b.json()['sha']}").json()
        validate("git/get-blob", 200, got)
        assert base64.b64decode(got["content"]) == b"hi"
        t = client.post(
            f"repos/{repo}/git/trees",
            json={"tree": [{"path": "a", "mode": "100644", "type": "blob", "content": "a"}]},
        )
        validate("git/create-tree", 201, t.json())
        validate("git/get-tree", 200, client.get(f"repos/{repo}/git/trees/{tree.sha}").json())
        c = client.post(
            f"repos/{repo}/git/commits",
            json={"message": "m", "tree": t.json()["sha"], "parents": [head.sha]},
        )
        validate("git/create-commit", 201, c.json())
        validate("git/get-commit", 200, client.get(f"repos/{repo}/git/commits/{commit.sha}").json())
        made = client.post(
            f"repos/{repo}/git/tags",
            json={"tag": "t", "message": "m", "object": commit.sha, "type": "commit"},
        )
        validate("git/create-tag", 201, made.json())
        validate("git/get-tag", 200, client.get(f"repos/{repo}/git/tags/{tag.sha}").json())
        assert client.get(f"repos/{repo}/git/blobs/{'0' * 40}").status_code == 404


def test_commit_listing_filters_and_pages(sandbox: SandboxServer, repo: str) -> None:
    r = sandbox_github(sandbox).get_repo(repo)
    for i in range(32):
        r.create_file(f"n/{i}.txt", f"note {i}", f"{i}\n", branch="main")
    commits = r.get_commits()
    assert len(list(commits)) == 33
    assert commits.totalCount == 33
    assert [c.commit.message for c in r.get_commits(path="src/app.py")] == ["Initial commit"]
    assert r.get_commits(path="n/5.txt")[0].commit.message == "note 5"
    assert len(list(r.get_commits(sha="main", path="n"))) == 32
    with api(sandbox) as client:
        future = client.get(f"repos/{repo}/commits", params={"since": "2999-01-01T00:00:00Z"})
        assert future.json() == []
        empty = client.post("user/repos", json={"name": "empty"})
        assert empty.status_code == 201
        assert client.get("repos/release-bot/empty/commits").status_code == 409


def test_concurrent_writes(sandbox: SandboxServer, repo: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    r = sandbox_github(sandbox).get_repo(repo)
    head = r.get_branch("main").commit.sha

    def work(i: int) -> int:
        with api(sandbox) as client:
            made = client.post(
                f"repos/{repo}/git/refs", json={"ref": f"refs/heads/t{i}", "sha": head}
            )
            put = client.put(
                f"repos/{repo}/contents/c{i}.txt",
                json={"message": f"c{i}", "content": base64.b64encode(b"c").decode()},
            )
            return made.status_code * 1000 + put.status_code

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(16)))
    # contents writes race on main: each either lands or answers 409, never corrupts
    assert all(res // 1000 == 201 and res % 1000 in (201, 409) for res in results)
    landed = sum(1 for res in results if res % 1000 == 201)
    assert len(list(r.get_commits())) == 1 + landed
    assert len(list(r.get_branches())) == 17
