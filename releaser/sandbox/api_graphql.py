"""GraphQL at ``POST {base}/api/graphql`` (GitHub Enterprise's layout; ``/api/v3/graphql`` too).

The schema (``graphql_schema.SDL``) is a subset of GitHub's: ``viewer``, ``node``/``nodes``,
``repository`` with refs, pull requests, releases and issues, and the mutations
``markPullRequestReadyForReview`` and ``enablePullRequestAutoMerge``. A request is
authenticated like REST (401 for a bad token), logged like REST (a mutation counts as a
write), and admin faults match its path. Resolver errors answer 200 with GitHub's
``{"data": ..., "errors": [{"type", "message", "path", "locations"}]}``; something that cannot
be read is ``NOT_FOUND`` (``Could not resolve to a Repository with the name 'o/r'.``), a
write without the role ``FORBIDDEN``.

Auto-merge needs the repository's ``allow_auto_merge`` (``PATCH /repos/{o}/{r}``), as on
GitHub; enabled, the forge merges the pull request as soon as its base branch's rules pass
(at once when nothing is required), see :mod:`releaser.sandbox.automerge`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from releaser.sandbox import automerge, gitdata, people
from releaser.sandbox.api_pulls import current_shas
from releaser.sandbox.forge import Forge
from releaser.sandbox.graphql_schema import (
    SDL,
    Problem,
    blob_obj,
    connection,
    issue_obj,
    object_obj,
    ordered,
    pull_obj,
    ref_obj,
    release_obj,
    repo_obj,
    tree_entry_obj,
    tree_obj,
    user_obj,
)
from releaser.sandbox.http import ROUTER, ApiError, Request, Response

if TYPE_CHECKING:
    from graphql import GraphQLResolveInfo, GraphQLSchema

_schema: GraphQLSchema | None = None
_schema_lock = threading.Lock()
MERGE_METHODS = {"MERGE": "merge", "SQUASH": "squash", "REBASE": "rebase"}


def _forge(info: GraphQLResolveInfo) -> Forge:
    forge: Forge = info.context["forge"]
    return forge


def _user(info: GraphQLResolveInfo) -> str:
    return str(info.context["user"])


# ---- lookups ------------------------------------------------------------------------------


def _repo_doc(info: GraphQLResolveInfo, full: str) -> dict[str, Any]:
    forge = _forge(info)
    try:
        doc = forge.repo(*full.split("/", 1))
    except ApiError:
        doc = None
    if doc is None or people.role(forge, _user(info), doc) is None:
        raise Problem("NOT_FOUND", f"Could not resolve to a Repository with the name '{full}'.")
    return doc


def _node(info: GraphQLResolveInfo, node_id: str) -> dict[str, Any]:
    """The object a global id names, if the viewer can read it."""
    forge = _forge(info)
    prefix, _, rest = node_id.partition("_")
    missing = Problem("NOT_FOUND", f"Could not resolve to a node with the global id of '{node_id}'")
    try:
        if prefix == "U":
            for doc in forge.find("user", ""):
                if forge.user_json(str(doc["login"]))["node_id"] == node_id:
                    return user_obj(forge, str(doc["login"]))
            raise missing
        if prefix == "R":
            doc = next(d for d in forge.find("repo", "") if str(d["id"]) == rest)
            return repo_obj(forge, _repo_doc(info, str(doc["full_name"])))
        if prefix == "REF":
            full, _, name = rest.partition(":")
            _repo_doc(info, full)
            ref = gitdata.get_ref(forge, full, name)
            if ref is None:
                raise missing
            return ref_obj(forge, full, ref)
        kinds = {"PR": "issue", "I": "issue", "RE": "release"}
        if prefix not in kinds:
            raise missing
        row = forge._db.execute(
            "SELECT repo FROM docs WHERE id = ? AND kind = ?", (int(rest), kinds[prefix])
        ).fetchone()
        if row is None:
            raise missing
        full = str(row[0])
        _repo_doc(info, full)
        doc = forge.get(kinds[prefix], int(rest))
    except (StopIteration, ValueError, ApiError):
        raise missing from None
    except Problem:
        raise missing from None
    if prefix == "RE":
        return release_obj(forge, full, doc)
    if prefix == "PR" and doc.get("pull"):
        return pull_obj(forge, full, doc)
    if prefix == "I" and not doc.get("pull"):
        return issue_obj(forge, full, doc)
    raise missing


# ---- resolvers: queries -------------------------------------------------------------------


def resolve_viewer(root: Any, info: GraphQLResolveInfo) -> dict[str, Any]:
    return user_obj(_forge(info), _user(info))


def resolve_node(root: Any, info: GraphQLResolveInfo, id: str) -> dict[str, Any]:
    return _node(info, id)


def resolve_nodes(root: Any, info: GraphQLResolveInfo, ids: list[str]) -> list[Any]:
    out: list[Any] = []
    for node_id in ids:
        try:
            out.append(_node(info, node_id))
        except Problem:
            out.append(None)
    return out


def resolve_repository(
    root: Any, info: GraphQLResolveInfo, owner: str, name: str, **_: Any
) -> dict[str, Any]:
    return repo_obj(_forge(info), _repo_doc(info, f"{owner}/{name}"))


def resolve_default_branch_ref(repo: dict[str, Any], info: GraphQLResolveInfo) -> Any:
    forge = _forge(info)
    branch = str(repo["_doc"].get("default_branch", "main"))
    ref = gitdata.get_ref(forge, repo["_full"], f"refs/heads/{branch}")
    return ref_obj(forge, repo["_full"], ref) if ref else None


def resolve_ref(repo: dict[str, Any], info: GraphQLResolveInfo, qualifiedName: str) -> Any:
    forge = _forge(info)
    name = qualifiedName if qualifiedName.startswith("refs/") else None
    candidates = [name] if name else [f"refs/heads/{qualifiedName}", f"refs/tags/{qualifiedName}"]
    for candidate in candidates:
        ref = gitdata.get_ref(forge, repo["_full"], candidate)
        if ref is not None:
            return ref_obj(forge, repo["_full"], ref)
    return None


def resolve_refs(
    repo: dict[str, Any], info: GraphQLResolveInfo, refPrefix: str, **args: Any
) -> Any:
    forge = _forge(info)
    prefix = refPrefix if refPrefix.endswith("/") else refPrefix + "/"
    refs = [
        ref_obj(forge, repo["_full"], r) for r in gitdata.list_refs(forge, repo["_full"], prefix)
    ]
    refs = [r for r in refs if r["prefix"] == prefix or prefix.startswith(r["prefix"])]
    for r in refs:  # a deeper prefix (refs/releaser/) names refs below it
        r["prefix"], r["name"] = prefix, r["id"].split(":", 1)[1][len(prefix) :]
    if args.get("query"):
        refs = [r for r in refs if str(args["query"]) in r["name"]]
    refs.sort(key=lambda r: r["name"])
    direction = args.get("direction") or (args.get("orderBy") or {}).get("direction")
    if direction == "DESC":
        refs.reverse()
    return connection(refs, "refs", args)


def resolve_ref_target(ref: dict[str, Any], info: GraphQLResolveInfo) -> Any:
    return object_obj(_forge(info), ref["_full"], ref["_sha"])


def resolve_tag_target(tag: dict[str, Any], info: GraphQLResolveInfo) -> Any:
    return object_obj(_forge(info), tag["_full"], tag["_target"])


def resolve_commit_tree(commit: dict[str, Any], info: GraphQLResolveInfo) -> Any:
    return tree_obj(_forge(info), commit["_full"], commit["oid"], commit["_tree"])


def resolve_commit_file(commit: dict[str, Any], info: GraphQLResolveInfo, path: str) -> Any:
    listings = info.context.setdefault("listings", {})
    return tree_entry_obj(_forge(info), commit["_full"], commit["oid"], path, listings)


def resolve_entry_object(entry: dict[str, Any], info: GraphQLResolveInfo) -> Any:
    forge, full = _forge(info), entry["_full"]
    if entry["type"] == "blob":
        readers = info.context.setdefault("blob_readers", {})
        return blob_obj(forge, full, entry["_commit"], entry["oid"], readers)
    if entry["type"] == "tree":
        return tree_obj(forge, full, entry["_commit"], entry["oid"])
    return None  # a submodule's commit lives in another repository


def resolve_object_repository(obj: dict[str, Any], info: GraphQLResolveInfo) -> Any:
    return repo_obj(_forge(info), _repo_doc(info, obj["_full"]))


def _pulls(info: GraphQLResolveInfo, full: str) -> list[dict[str, Any]]:
    return [d for d in _forge(info).find("issue", full) if d.get("pull")]


def resolve_pull_request(repo: dict[str, Any], info: GraphQLResolveInfo, number: int) -> Any:
    for doc in _pulls(info, repo["_full"]):
        if doc["number"] == number:
            return pull_obj(_forge(info), repo["_full"], doc)
    raise Problem("NOT_FOUND", f"Could not resolve to a PullRequest with the number of {number}.")


def resolve_pull_requests(repo: dict[str, Any], info: GraphQLResolveInfo, **args: Any) -> Any:
    forge, full = _forge(info), repo["_full"]
    docs = _pulls(info, full)
    if args.get("headRefName"):
        docs = [d for d in docs if d["pull"]["head_ref"] == args["headRefName"]]
    if args.get("baseRefName"):
        docs = [d for d in docs if d["pull"]["base_ref"] == args["baseRefName"]]
    if args.get("labels"):
        docs = [d for d in docs if set(args["labels"]) & set(d.get("labels", []))]
    objs = [pull_obj(forge, full, d) for d in _by_order(docs, args.get("orderBy"))]
    if args.get("states"):
        objs = [o for o in objs if o["state"] in args["states"]]
    return connection(objs, "pullRequests", args)


def _by_order(docs: list[dict[str, Any]], order: dict[str, Any] | None) -> list[dict[str, Any]]:
    keys = {"CREATED_AT": "created_at", "UPDATED_AT": "updated_at", "NAME": "name"}
    return ordered(docs, order, keys)


def resolve_release(repo: dict[str, Any], info: GraphQLResolveInfo, tagName: str) -> Any:
    forge, full = _forge(info), repo["_full"]
    doc = forge.find_one("release", full, tag_name=tagName)
    return release_obj(forge, full, doc) if doc else None


def resolve_releases(repo: dict[str, Any], info: GraphQLResolveInfo, **args: Any) -> Any:
    forge, full = _forge(info), repo["_full"]
    docs = _by_order(forge.find("release", full), args.get("orderBy"))
    return connection([release_obj(forge, full, d) for d in docs], "releases", args)


def resolve_issue(repo: dict[str, Any], info: GraphQLResolveInfo, number: int) -> Any:
    forge, full = _forge(info), repo["_full"]
    doc = forge.find_one("issue", full, number=number)
    if doc is None or doc.get("pull"):
        raise Problem("NOT_FOUND", f"Could not resolve to an Issue with the number of {number}.")
    return issue_obj(forge, full, doc)


def resolve_issues(repo: dict[str, Any], info: GraphQLResolveInfo, **args: Any) -> Any:
    forge, full = _forge(info), repo["_full"]
    docs = [d for d in forge.find("issue", full) if not d.get("pull")]
    if args.get("states"):
        docs = [d for d in docs if str(d["state"]).upper() in args["states"]]
    if args.get("labels"):
        docs = [d for d in docs if set(args["labels"]) & set(d.get("labels", []))]
    objs = [issue_obj(forge, full, d) for d in _by_order(docs, args.get("orderBy"))]
    return connection(objs, "issues", args)


def resolve_labels(obj: dict[str, Any], info: GraphQLResolveInfo, first: int | None = None) -> Any:
    names = obj["_labels"][: first if first is not None else None]
    return {"nodes": [{"name": n} for n in names], "totalCount": len(obj["_labels"])}


def resolve_merge_commit(pull: dict[str, Any], info: GraphQLResolveInfo) -> Any:
    sha = pull.get("_merge_sha")
    return object_obj(_forge(info), pull["_full"], sha) if pull["merged"] and sha else None


def resolve_tag_commit(release: dict[str, Any], info: GraphQLResolveInfo) -> Any:
    forge = _forge(info)
    sha = forge.resolve(release["_full"], f"refs/tags/{release['tagName']}")
    return object_obj(forge, release["_full"], sha) if sha else None


# ---- resolvers: mutations -----------------------------------------------------------------


def _pull_for_write(
    info: GraphQLResolveInfo, node_id: str, action: str
) -> tuple[str, dict[str, Any]]:
    forge = _forge(info)
    node = _node(info, node_id)
    if node["__typename"] != "PullRequest":
        raise Problem(
            "NOT_FOUND", f"Could not resolve to a PullRequest with the global id of '{node_id}'"
        )
    full = node["_full"]
    doc = forge.get("issue", int(node_id.split("_", 1)[1]))
    repo = forge.repo(*full.split("/", 1))
    author = str(doc.get("user", "")).lower() == _user(info).lower()
    if not author and not people.at_least(people.role(forge, _user(info), repo), "write"):
        raise Problem(
            "FORBIDDEN",
            f"{_user(info)} does not have the correct permissions to execute `{action}`",
        )
    return full, doc


def resolve_mark_ready(root: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> Any:
    forge = _forge(info)
    full, doc = _pull_for_write(info, input["pullRequestId"], "MarkPullRequestReadyForReview")
    if doc["state"] != "open":
        raise Problem("UNPROCESSABLE", "Pull request is closed")
    with forge.lock:
        doc = forge.get("issue", int(doc["id"]))
        pull = {**doc["pull"], "draft": False}
        doc = forge.update("issue", int(doc["id"]), {"pull": pull, "updated_at": forge.now_iso()})
    return {
        "clientMutationId": input.get("clientMutationId"),
        "pullRequest": pull_obj(forge, full, doc),
    }


def resolve_enable_auto_merge(root: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> Any:
    forge = _forge(info)
    full, doc = _pull_for_write(info, input["pullRequestId"], "EnablePullRequestAutoMerge")
    repo = forge.repo(*full.split("/", 1))
    if not people.at_least(people.role(forge, _user(info), repo), "write"):
        raise Problem(
            "FORBIDDEN",
            f"{_user(info)} does not have the correct permissions to execute "
            "`EnablePullRequestAutoMerge`",
        )
    if not repo.get("allow_auto_merge"):
        raise Problem("UNPROCESSABLE", "Auto merge is not allowed for this repository")
    if doc["state"] != "open" or doc["pull"].get("merged"):
        raise Problem(
            "UNPROCESSABLE", "Pull request is not in the correct state to enable auto-merge"
        )
    expected = input.get("expectedHeadOid")
    if expected and current_shas(forge, full, doc["pull"])[0] != expected:
        raise Problem("UNPROCESSABLE", "Head branch was modified. Review and try the merge again.")
    method = MERGE_METHODS[input.get("mergeMethod") or "MERGE"]
    doc = automerge.enable(forge, full, doc, _user(info), method)
    return {
        "clientMutationId": input.get("clientMutationId"),
        "actor": user_obj(forge, _user(info)),
        "pullRequest": pull_obj(forge, full, doc),
    }


# ---- schema and execution -----------------------------------------------------------------

RESOLVERS: dict[str, dict[str, Any]] = {
    "Query": {
        "viewer": resolve_viewer,
        "node": resolve_node,
        "nodes": resolve_nodes,
        "repository": resolve_repository,
    },
    "Mutation": {
        "markPullRequestReadyForReview": resolve_mark_ready,
        "enablePullRequestAutoMerge": resolve_enable_auto_merge,
    },
    "Repository": {
        "defaultBranchRef": resolve_default_branch_ref,
        "ref": resolve_ref,
        "refs": resolve_refs,
        "pullRequest": resolve_pull_request,
        "pullRequests": resolve_pull_requests,
        "release": resolve_release,
        "releases": resolve_releases,
        "issue": resolve_issue,
        "issues": resolve_issues,
    },
    "Ref": {"target": resolve_ref_target, "repository": resolve_object_repository},
    "Tag": {"target": resolve_tag_target, "repository": resolve_object_repository},
    "Commit": {
        "repository": resolve_object_repository,
        "tree": resolve_commit_tree,
        "file": resolve_commit_file,
    },
    "Tree": {"repository": resolve_object_repository},
    "Blob": {"repository": resolve_object_repository},
    "TreeEntry": {"object": resolve_entry_object},
    "PullRequest": {
        "mergeCommit": resolve_merge_commit,
        "labels": resolve_labels,
        "repository": resolve_object_repository,
    },
    "Issue": {"labels": resolve_labels, "repository": resolve_object_repository},
    "Release": {"tagCommit": resolve_tag_commit, "repository": resolve_object_repository},
}


def schema() -> GraphQLSchema:
    """The executable schema (built once, on first use)."""
    global _schema
    with _schema_lock:
        if _schema is None:
            from graphql import GraphQLObjectType, build_schema

            built = build_schema(SDL)
            for type_name, fields in RESOLVERS.items():
                gql_type = built.type_map[type_name]
                assert isinstance(gql_type, GraphQLObjectType)
                for field_name, resolver in fields.items():
                    gql_type.fields[field_name].resolve = resolver
            _schema = built
        return _schema


def error_json(error: Any) -> dict[str, Any]:
    """A graphql-core error in GitHub's shape."""
    out: dict[str, Any] = {"message": error.message}
    original = getattr(error, "original_error", None)
    if isinstance(original, Problem):
        out["type"] = original.type
    if error.path is not None:
        out["path"] = list(error.path)
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if "type" not in out and error.path is None:
        out["extensions"] = {
            "code": "graphqlParseFailed" if "Syntax" in error.message else "invalid"
        }
    return out


_documents: dict[str, tuple[Any, list[Any]]] = {}  # query text -> (document, errors)
_documents_lock = threading.Lock()
MAX_DOCUMENTS = 256


def _document(text: str) -> tuple[Any, list[Any]]:
    """The parsed and validated query (None and the errors when it is not valid), kept by
    its text: parsing and validating a query costs more than running it, and a client sends
    the same few queries with other variables."""
    with _documents_lock:
        found = _documents.get(text)
    if found is not None:
        return found
    from graphql import GraphQLError, parse, validate

    try:
        document = parse(text)
    except GraphQLError as error:
        return None, [error]
    found = (document, list(validate(schema(), document)))
    with _documents_lock:
        if len(_documents) < MAX_DOCUMENTS:
            _documents[text] = found
    return found


@ROUTER.route("POST", "/graphql")
def graphql_endpoint(forge: Forge, req: Request) -> Response:
    from graphql import ExecutionResult, execute_sync

    data = req.json()
    if not isinstance(data, dict) or not isinstance(data.get("query"), str):
        message = "A query attribute must be specified and must be a string."
        return Response(200, {"errors": [{"message": message}]})
    variables = data.get("variables") or {}
    if not isinstance(variables, dict):
        return Response(200, {"errors": [{"message": "Variables are invalid JSON."}]})
    document, errors = _document(data["query"])
    if document is None or errors:
        result = ExecutionResult(None, errors)
    else:
        context: dict[str, Any] = {"forge": forge, "user": req.user or forge.login}
        try:
            result = execute_sync(
                schema(),
                document,
                variable_values=variables,
                operation_name=data.get("operationName"),
                context_value=context,
            )
        finally:
            for reader in context.get("blob_readers", {}).values():
                reader.close()
    body: dict[str, Any] = {}
    if result.data is not None or not result.errors:
        body["data"] = result.data
    if result.errors:
        body["errors"] = [error_json(e) for e in result.errors]
    return Response(200, body)
