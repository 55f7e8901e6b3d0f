"""GraphQL: GitHub's names and shapes, ids shared with REST, errors, mutations, auto-merge."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from releaser.sandbox.admin_client import SandboxAdmin
from releaser.sandbox.server import SandboxServer
from tests.sandbox.helpers import api, make_repo

REPO = "release-bot/gql"

REPO_QUERY = """
query Repo($owner: String!, $name: String!) {
  viewer { login }
  repository(owner: $owner, name: $name) {
    id nameWithOwner url
    defaultBranchRef { name target { oid } }
    ref(qualifiedName: "refs/tags/v1.0.0") { name target { oid ... on Tag { target { oid } } } }
    refs(refPrefix: "refs/tags/", first: 10) {
      nodes { name target { oid ... on Tag { target { oid } } } }
      pageInfo { hasNextPage endCursor }
    }
    pullRequests(headRefName: "feature", baseRefName: "main", states: [OPEN], first: 5,
                 orderBy: {field: CREATED_AT, direction: DESC}) {
      nodes { id number title state isDraft merged url headRefName baseRefName headRefOid
              mergeCommit { oid } }
    }
    releases(first: 5, orderBy: {field: CREATED_AT, direction: DESC}) {
      nodes { id tagName name isDraft isPrerelease url description }
    }
    issues(first: 5, states: [OPEN], labels: ["release"],
           orderBy: {field: CREATED_AT, direction: ASC}) {
      nodes { id number title state url body }
    }
  }
}
"""


def graphql_url(sandbox: SandboxServer) -> str:
    return sandbox.info()["api_url"].removesuffix("/v3") + "/graphql"


def gql(
    sandbox: SandboxServer,
    query: str,
    token: str | None = None,
    url: str | None = None,
    **variables: Any,
) -> httpx.Response:
    return httpx.post(
        url or graphql_url(sandbox),
        json={"query": query, "variables": variables},
        headers={"Authorization": f"bearer {token or sandbox.info()['token']}"},
        timeout=30,
    )


def data(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return dict(body["data"])


@pytest.fixture
def repo(sandbox: SandboxServer) -> str:
    make_repo(sandbox, REPO, {"README.md": "# gql\n"})
    with api(sandbox) as client:
        main = client.get(f"repos/{REPO}/git/ref/heads/main").json()["object"]["sha"]
        tag = client.post(
            f"repos/{REPO}/git/tags",
            json={"tag": "v1.0.0", "message": "v1.0.0", "object": main, "type": "commit"},
        ).json()
        client.post(f"repos/{REPO}/git/refs", json={"ref": "refs/tags/v1.0.0", "sha": tag["sha"]})
        client.post(f"repos/{REPO}/git/refs", json={"ref": "refs/tags/v0.9.0", "sha": main})
        client.post(f"repos/{REPO}/git/refs", json={"ref": "refs/heads/feature", "sha": main})
        client.put(
            f"repos/{REPO}/contents/f.txt",
            json={"message": "feature", "content": "Zg==", "branch": "feature"},
        ).raise_for_status()
    return REPO


def rest(sandbox: SandboxServer, method: str, path: str, **body: Any) -> dict[str, Any]:
    with api(sandbox) as client:
        response = client.request(method, path, json=body or None)
        response.raise_for_status()
        return dict(response.json())


def test_repository_query_in_githubs_shapes(sandbox: SandboxServer, repo: str) -> None:
    pull = rest(
        sandbox, "POST", f"repos/{REPO}/pulls", title="Feature", head="feature", base="main"
    )
    release = rest(sandbox, "POST", f"repos/{REPO}/releases", tag_name="v1.0.0", body="notes")
    issue = rest(sandbox, "POST", f"repos/{REPO}/issues", title="Release v2", labels=["release"])
    rest(sandbox, "POST", f"repos/{REPO}/issues", title="Other")
    repo_rest = rest(sandbox, "GET", f"repos/{REPO}")
    main = rest(sandbox, "GET", f"repos/{REPO}/git/ref/heads/main")["object"]["sha"]
    tag_obj = rest(sandbox, "GET", f"repos/{REPO}/git/ref/tags/v1.0.0")["object"]["sha"]

    got = data(gql(sandbox, REPO_QUERY, owner="release-bot", name="gql"))
    assert got["viewer"] == {"login": "release-bot"}
    r = got["repository"]
    assert (r["id"], r["nameWithOwner"], r["url"]) == (
        repo_rest["node_id"],
        REPO,
        repo_rest["html_url"],
    )
    assert r["defaultBranchRef"] == {"name": "main", "target": {"oid": main}}
    assert r["ref"] == {"name": "v1.0.0", "target": {"oid": tag_obj, "target": {"oid": main}}}
    assert r["refs"]["nodes"] == [
        {"name": "v0.9.0", "target": {"oid": main}},
        {"name": "v1.0.0", "target": {"oid": tag_obj, "target": {"oid": main}}},
    ]
    assert r["refs"]["pageInfo"]["hasNextPage"] is False
    (pr,) = r["pullRequests"]["nodes"]
    assert pr == {
        "id": pull["node_id"],
        "number": pull["number"],
        "title": "Feature",
        "state": "OPEN",
        "isDraft": False,
        "merged": False,
        "url": pull["html_url"],
        "headRefName": "feature",
        "baseRefName": "main",
        "headRefOid": pull["head"]["sha"],
        "mergeCommit": None,
    }
    (rel,) = r["releases"]["nodes"]
    assert rel == {
        "id": release["node_id"],
        "tagName": "v1.0.0",
        "name": None,
        "isDraft": False,
        "isPrerelease": False,
        "url": release["html_url"],
        "description": "notes",
    }
    (iss,) = r["issues"]["nodes"]  # pull requests are not issues; the label filters
    assert (iss["id"], iss["number"], iss["state"], iss["url"]) == (
        issue["node_id"],
        issue["number"],
        "OPEN",
        issue["html_url"],
    )

    # node(id:) finds what REST named
    for node_id, typename in (
        (pull["node_id"], "PullRequest"),
        (issue["node_id"], "Issue"),
        (release["node_id"], "Release"),
        (repo_rest["node_id"], "Repository"),
        (repo_rest["owner"]["node_id"], "User"),
    ):
        node = data(gql(sandbox, "query($id: ID!) { node(id: $id) { __typename id } }", id=node_id))
        assert node["node"] == {"__typename": typename, "id": node_id}


def test_pagination(sandbox: SandboxServer, repo: str) -> None:
    query = """query($after: String) { repository(owner: "release-bot", name: "gql") {
        refs(refPrefix: "refs/tags/", first: 1, after: $after) {
          nodes { name } pageInfo { hasNextPage endCursor } totalCount } } }"""
    first = data(gql(sandbox, query))["repository"]["refs"]
    assert [n["name"] for n in first["nodes"]] == ["v0.9.0"]
    assert first["pageInfo"]["hasNextPage"] is True and first["totalCount"] == 2
    second = data(gql(sandbox, query, after=first["pageInfo"]["endCursor"]))["repository"]["refs"]
    assert [n["name"] for n in second["nodes"]] == ["v1.0.0"]
    assert second["pageInfo"]["hasNextPage"] is False

    unbounded = gql(
        sandbox, '{ repository(owner: "release-bot", name: "gql") { releases { totalCount } } }'
    )
    assert unbounded.status_code == 200
    (error,) = unbounded.json()["errors"]
    assert error["type"] == "MISSING_PAGINATION_BOUNDARIES"
    assert error["path"] == ["repository", "releases"]


def test_errors_in_githubs_shape(sandbox: SandboxServer, repo: str) -> None:
    missing = gql(sandbox, '{ repository(owner: "release-bot", name: "nope") { id } }')
    assert missing.status_code == 200
    assert missing.json()["data"] == {"repository": None}
    (error,) = missing.json()["errors"]
    assert error["type"] == "NOT_FOUND"
    assert error["message"] == "Could not resolve to a Repository with the name 'release-bot/nope'."
    assert error["path"] == ["repository"]
    assert error["locations"] == [{"line": 1, "column": 3}]

    bad_token = gql(sandbox, "{ viewer { login } }", token="ghp_wrong")
    assert bad_token.status_code == 401
    assert bad_token.json()["message"] == "Bad credentials"

    syntax = gql(sandbox, "{ viewer { login }")
    assert syntax.status_code == 200 and syntax.json()["errors"][0]["message"]
    unknown_field = gql(sandbox, "{ viewer { nope } }")
    assert "nope" in unknown_field.json()["errors"][0]["message"]

    with SandboxAdmin(sandbox.info()["admin_url"]) as admin:
        rest(sandbox, "PATCH", f"repos/{REPO}", private=True)
        stranger = admin.create_user("carol")["token"]
        hidden = gql(sandbox, '{ repository(owner: "release-bot", name: "gql") { id } }', stranger)
        assert hidden.json()["errors"][0]["type"] == "NOT_FOUND"
        assert data(gql(sandbox, "{ viewer { login } }", stranger))["viewer"]["login"] == "carol"


def test_v3_path_and_request_log_and_faults(sandbox: SandboxServer, repo: str) -> None:
    admin_url = sandbox.info()["admin_url"]
    httpx.delete(f"{admin_url}/requests")
    v3 = sandbox.info()["api_url"] + "/graphql"
    assert data(gql(sandbox, "{ viewer { login } }", url=v3))["viewer"]["login"] == "release-bot"
    data(gql(sandbox, "query Who { viewer { login } }"))
    log = httpx.get(f"{admin_url}/requests").json()
    assert [(e["method"], e["path"], e["status"], e["write"]) for e in log] == [
        ("POST", "/api/v3/graphql", 200, False),
        ("POST", "/api/graphql", 200, False),
    ]
    httpx.post(
        f"{admin_url}/faults", json={"path": "/graphql$", "action": "error", "status": 502}
    ).raise_for_status()
    assert gql(sandbox, "{ viewer { login } }").status_code == 502


def draft_pull(sandbox: SandboxServer) -> dict[str, Any]:
    return rest(
        sandbox, "POST", f"repos/{REPO}/pulls", title="F", head="feature", base="main", draft=True
    )


READY = """mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id,
  clientMutationId: "c1"}) { clientMutationId pullRequest { id isDraft } } }"""
AUTO = """mutation($id: ID!) { enablePullRequestAutoMerge(input: {pullRequestId: $id,
  mergeMethod: SQUASH}) { actor { login } pullRequest { state merged autoMergeRequest {
  mergeMethod enabledBy { login } } mergeCommit { oid } } } }"""


def test_mark_ready_for_review(sandbox: SandboxServer, repo: str) -> None:
    pull = draft_pull(sandbox)
    with SandboxAdmin(sandbox.info()["admin_url"]) as admin:
        reader = admin.create_user("alice")["token"]
        no_repo_scope = admin.create_user("olga", scopes="read:org")["token"]
    denied = gql(sandbox, READY, reader, id=pull["node_id"])
    assert denied.json()["errors"][0]["type"] == "FORBIDDEN"
    refused = gql(sandbox, READY, no_repo_scope, id=pull["node_id"])
    assert refused.status_code == 403  # a mutation is a write: the token lacks `repo`
    assert data(gql(sandbox, "{ viewer { login } }", no_repo_scope))["viewer"]["login"] == "olga"
    done = data(gql(sandbox, READY, id=pull["node_id"]))["markPullRequestReadyForReview"]
    assert done == {
        "clientMutationId": "c1",
        "pullRequest": {"id": pull["node_id"], "isDraft": False},
    }
    assert rest(sandbox, "GET", f"repos/{REPO}/pulls/{pull['number']}")["draft"] is False
    log = httpx.get(sandbox.info()["admin_url"] + "/requests").json()
    graphql = [(e["status"], e["write"]) for e in log if e["path"] == "/api/graphql"]
    assert graphql[-2:] == [(200, False), (200, True)]  # a query reads, a mutation writes


def test_auto_merge_at_once_when_clean(sandbox: SandboxServer, repo: str) -> None:
    pull = rest(sandbox, "POST", f"repos/{REPO}/pulls", title="F", head="feature", base="main")
    not_allowed = gql(sandbox, AUTO, id=pull["node_id"])
    (error,) = not_allowed.json()["errors"]
    assert (error["type"], error["message"]) == (
        "UNPROCESSABLE",
        "Auto merge is not allowed for this repository",
    )
    assert rest(sandbox, "PATCH", f"repos/{REPO}", allow_auto_merge=True)["allow_auto_merge"]
    merged = data(gql(sandbox, AUTO, id=pull["node_id"]))["enablePullRequestAutoMerge"]
    assert merged["actor"] == {"login": "release-bot"}
    assert merged["pullRequest"]["state"] == "MERGED" and merged["pullRequest"]["merged"]
    rest_pull = rest(sandbox, "GET", f"repos/{REPO}/pulls/{pull['number']}")
    assert rest_pull["merged"] is True
    assert merged["pullRequest"]["mergeCommit"]["oid"] == rest_pull["merge_commit_sha"]
    main = rest(sandbox, "GET", f"repos/{REPO}/git/ref/heads/main")["object"]["sha"]
    assert main == rest_pull["merge_commit_sha"]


def test_auto_merge_waits_for_required_checks_and_reviews(
    sandbox: SandboxServer, repo: str
) -> None:
    rest(sandbox, "PATCH", f"repos/{REPO}", allow_auto_merge=True)
    rest(
        sandbox,
        "PUT",
        f"repos/{REPO}/branches/main/protection",
        required_status_checks={"strict": False, "contexts": ["ci"]},
        enforce_admins=False,
        required_pull_request_reviews={"required_approving_review_count": 1},
        restrictions=None,
    )
    pull = rest(sandbox, "POST", f"repos/{REPO}/pulls", title="F", head="feature", base="main")
    waiting = data(gql(sandbox, AUTO, id=pull["node_id"]))["enablePullRequestAutoMerge"]
    assert waiting["pullRequest"]["state"] == "OPEN"  # even for an admin: it waits for the rules
    assert waiting["pullRequest"]["autoMergeRequest"] == {
        "mergeMethod": "SQUASH",
        "enabledBy": {"login": "release-bot"},
    }
    rest_pull = rest(sandbox, "GET", f"repos/{REPO}/pulls/{pull['number']}")
    assert rest_pull["auto_merge"]["merge_method"] == "squash"
    rest(
        sandbox,
        "POST",
        f"repos/{REPO}/statuses/{pull['head']['sha']}",
        state="success",
        context="ci",
    )
    assert rest(sandbox, "GET", f"repos/{REPO}/pulls/{pull['number']}")["merged"] is False
    with SandboxAdmin(sandbox.info()["admin_url"]) as admin:
        carol = admin.create_user("carol")["token"]
        admin.add_collaborator(REPO, "carol", "write")
    approve = httpx.post(
        f"{sandbox.info()['api_url']}/repos/{REPO}/pulls/{pull['number']}/reviews",
        json={"event": "APPROVE"},
        headers={"Authorization": f"token {carol}"},
    )
    assert approve.status_code == 200
    final = rest(sandbox, "GET", f"repos/{REPO}/pulls/{pull['number']}")
    assert final["merged"] is True
    assert final["merged_by"]["login"] == "release-bot"  # who enabled it


def test_graphql_is_imported_on_first_use_only(tmp_path: Path) -> None:
    probe = f"""
import sys
from pathlib import Path
from releaser.sandbox.server import SandboxServer
server = SandboxServer(Path({str(tmp_path / "forge")!r})).start()
before = "graphql" in sys.modules
import httpx
info = server.info()
httpx.post(info["api_url"] + "/graphql", json={{"query": "{{ viewer {{ login }} }}"}},
           headers={{"Authorization": "bearer " + info["token"]}})
after = "graphql" in sys.modules
server.stop()
print(before, after)
"""
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "True"]


def test_cursor_is_opaque_offset() -> None:
    from releaser.sandbox.graphql_schema import connection

    items = [{"n": i} for i in range(5)]
    page = connection(items, "x", {"last": 2})
    assert [i["n"] for i in page["nodes"]] == [3, 4]
    before = connection(items, "x", {"last": 2, "before": page["pageInfo"]["startCursor"]})
    assert [i["n"] for i in before["nodes"]] == [1, 2]
    assert json.loads(json.dumps(page))["pageInfo"]["hasPreviousPage"] is True
    assert base64.b64decode(page["pageInfo"]["endCursor"]) == b"cursor:4"


CI = """\
name: CI
on: {push: {branches: ["**"]}}
jobs:
  test: {runs-on: ubuntu-latest, steps: [{run: make test}]}
x-sandbox: {duration: 3}
"""


def test_auto_merge_when_a_workflow_check_turns_green(sandbox: SandboxServer) -> None:
    with SandboxAdmin(sandbox.info()["admin_url"]) as admin:
        admin.freeze()
        make_repo(sandbox, REPO, {".github/workflows/ci.yml": CI})
        rest(sandbox, "PATCH", f"repos/{REPO}", allow_auto_merge=True)
        rest(
            sandbox,
            "PUT",
            f"repos/{REPO}/branches/main/protection",
            required_status_checks={"strict": True, "contexts": ["test"]},
            enforce_admins=True,
            required_pull_request_reviews=None,
            restrictions=None,
        )
        main = rest(sandbox, "GET", f"repos/{REPO}/git/ref/heads/main")["object"]["sha"]
        rest(sandbox, "POST", f"repos/{REPO}/git/refs", ref="refs/heads/feature", sha=main)
        rest(
            sandbox,
            "PUT",
            f"repos/{REPO}/contents/f.txt",
            message="feature",
            content="Zg==",
            branch="feature",
        )
        pull = rest(sandbox, "POST", f"repos/{REPO}/pulls", title="F", head="feature", base="main")
        enabled = data(gql(sandbox, AUTO, id=pull["node_id"]))["enablePullRequestAutoMerge"]
        assert enabled["pullRequest"]["state"] == "OPEN"  # its CI run is queued
        admin.advance(2)
        assert rest(sandbox, "GET", f"repos/{REPO}/pulls/{pull['number']}")["merged"] is False
        admin.advance(2)  # the run completes: the next request merges it
        assert rest(sandbox, "GET", f"repos/{REPO}/pulls/{pull['number']}")["merged"] is True


def test_pygithub_mutations_through_graphql(sandbox: SandboxServer, repo: str) -> None:
    """PyGithub derives ``/api/graphql`` from a GitHub Enterprise base URL, as on GHE."""
    from tests.sandbox.helpers import sandbox_github

    rest(sandbox, "PATCH", f"repos/{REPO}", allow_auto_merge=True)
    number = draft_pull(sandbox)["number"]
    gh_pull = sandbox_github(sandbox).get_repo(REPO).get_pull(number)
    ready = gh_pull.mark_ready_for_review()
    assert ready["pullRequest"] == {"isDraft": False}
    enabled = gh_pull.enable_automerge(merge_method="REBASE")
    assert enabled["actor"]["login"] == "release-bot"
    assert sandbox_github(sandbox).get_repo(REPO).get_pull(number).merged is True


def test_files_of_a_commit_in_one_query(sandbox: SandboxServer) -> None:
    """``Commit.file(path:)`` and ``tree`` as on GitHub: the text of several files of exactly
    the commit a ref points at, in one request; binary files have no text."""
    make_repo(
        sandbox,
        REPO,
        {"README.md": "# gql\n", "conf/a.env": "A=1\n", "bin/blob": "\0\1binary"},
    )
    query = """query($owner: String!, $name: String!) { repository(owner: $owner, name: $name) {
      defaultBranchRef { name target { oid ... on Commit { tree { oid }
        readme: file(path: "README.md") { name path mode type object { oid ... on Blob {
          text byteSize isBinary isTruncated } } }
        nested: file(path: "conf/a.env") { object { ... on Blob { text } } }
        binary: file(path: "bin/blob") { object { ... on Blob { text isBinary } } }
        dir: file(path: "conf") { type object { oid } }
        missing: file(path: "nope.txt") { path } } } } } }"""
    head = data(gql(sandbox, query, owner="release-bot", name="gql"))["repository"]
    target = head["defaultBranchRef"]["target"]
    commit = rest(sandbox, "GET", f"repos/{REPO}/git/commits/{target['oid']}")
    assert target["tree"]["oid"] == commit["tree"]["sha"]
    readme = target["readme"]
    assert (readme["name"], readme["path"], readme["mode"], readme["type"]) == (
        "README.md",
        "README.md",
        0o100644,
        "blob",
    )
    blob = rest(sandbox, "GET", f"repos/{REPO}/contents/README.md")
    assert readme["object"] == {
        "oid": blob["sha"],
        "text": "# gql\n",
        "byteSize": 6,
        "isBinary": False,
        "isTruncated": False,
    }
    assert target["nested"]["object"]["text"] == "A=1\n"
    assert target["binary"]["object"] == {"text": None, "isBinary": True}
    assert target["dir"]["type"] == "tree" and target["dir"]["object"]["oid"]
    assert target["missing"] is None
