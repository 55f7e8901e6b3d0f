#!/usr/bin/env python3
"""Build ``operations.json`` (beside this file) from GitHub's published OpenAPI description.

The sandbox forge's tests validate response bodies against these schemas. The source is the
``@octokit/openapi`` npm package, version 23.0.2 (``npm pack @octokit/openapi@23.0.2``, files
``generated/api.github.com.json`` and ``generated/ghes-3.19.json``). Operations GitHub.com no
longer describes (tag protection, retired in favour of rulesets) come from the GitHub
Enterprise Server description, whose layout the sandbox follows::

    cd "$(mktemp -d)" && npm pack @octokit/openapi@23.0.2 && tar xzf octokit-openapi-23.0.2.tgz
    python tests/sandbox/github-api/extract.py package/generated

Every ``$ref`` is resolved in place (a recursive reference is left as ``{"$ref", "x-circular"}``)
so a schema can be validated on its own. ``OPERATIONS`` lists what is included; the output
records, per operation, the spec file it came from.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

VERSION = "23.0.2"
PRIMARY = "api.github.com.json"
FALLBACK = "ghes-3.19.json"  # only for operations the primary description lacks
OUT = Path(__file__).with_name("operations.json")

OPERATIONS = (
    # actions
    "actions/create-workflow-dispatch",
    "actions/download-artifact",
    "actions/download-job-logs-for-workflow-run",
    "actions/download-workflow-run-logs",
    "actions/get-workflow",
    "actions/get-workflow-run",
    "actions/list-jobs-for-workflow-run",
    "actions/list-repo-workflows",
    "actions/list-workflow-run-artifacts",
    "actions/list-workflow-runs",
    "actions/list-workflow-runs-for-repo",
    "actions/re-run-workflow-failed-jobs",
    # checks and statuses
    "checks/list-for-ref",
    "checks/list-suites-for-ref",
    "repos/create-commit-status",
    "repos/get-combined-status-for-ref",
    "repos/list-commit-statuses-for-ref",
    # git data
    "git/create-blob",
    "git/create-commit",
    "git/create-ref",
    "git/create-tag",
    "git/create-tree",
    "git/delete-ref",
    "git/get-blob",
    "git/get-commit",
    "git/get-ref",
    "git/get-tag",
    "git/get-tree",
    "git/list-matching-refs",
    "git/update-ref",
    # issues
    "issues/add-labels",
    "issues/create",
    "issues/create-comment",
    "issues/create-label",
    "issues/get",
    "issues/list-comments",
    "issues/list-for-repo",
    "issues/list-labels-on-issue",
    "issues/remove-label",
    "issues/update",
    "issues/update-comment",
    "reactions/list-for-issue-comment",
    "search/issues-and-pull-requests",
    # pulls and reviews
    "pulls/check-if-merged",
    "pulls/create",
    "pulls/create-review",
    "pulls/get",
    "pulls/get-review",
    "pulls/list",
    "pulls/list-reviews",
    "pulls/merge",
    "pulls/request-reviewers",
    "pulls/update",
    # repositories, branches, protections, contents, releases
    "repos/compare-commits-with-basehead",
    "repos/create-dispatch-event",
    "repos/create-or-update-file-contents",
    "repos/create-release",
    "repos/create-tag-protection",
    "repos/delete-branch-protection",
    "repos/delete-file",
    "repos/delete-release",
    "repos/delete-release-asset",
    "repos/delete-tag-protection",
    "repos/generate-release-notes",
    "repos/get",
    "repos/get-branch",
    "repos/get-branch-protection",
    "repos/get-commit",
    "repos/get-content",
    "repos/get-latest-release",
    "repos/get-release",
    "repos/get-release-asset",
    "repos/get-release-by-tag",
    "repos/list-branches",
    "repos/list-commits",
    "repos/list-release-assets",
    "repos/list-releases",
    "repos/list-tag-protection",
    "repos/list-tags",
    "repos/merge",
    "repos/update-branch-protection",
    "repos/update-release",
    "repos/update-release-asset",
    "repos/upload-release-asset",
    # people: users, collaborators, teams
    "repos/get-collaborator-permission-level",
    "repos/list-collaborators",
    "teams/get-membership-for-user-in-org",
    "teams/list-members-in-org",
    "users/get-authenticated",
    # meta
    "rate-limit/get",
)
METHODS = ("get", "put", "post", "patch", "delete")


class Spec:
    """One OpenAPI description: operations by id, and ``$ref`` resolution."""

    def __init__(self, path: Path) -> None:
        self.name = path.name
        self.doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        self.by_id: dict[str, tuple[str, str, dict[str, Any], dict[str, Any]]] = {}
        for url, item in self.doc["paths"].items():
            for method, op in item.items():
                if method in METHODS:
                    self.by_id[op["operationId"]] = (url, method, op, item)

    def _target(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise ValueError(f"external $ref {ref!r}")
        node: Any = self.doc
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def resolve(self, node: Any, seen: tuple[str, ...] = ()) -> Any:
        if isinstance(node, list):
            return [self.resolve(item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if ref is None:
            return {key: self.resolve(value, seen) for key, value in node.items()}
        if ref in seen:
            return {"$ref": ref, "x-circular": True}
        out = self.resolve(self._target(ref), (*seen, ref))
        if isinstance(out, dict) and ref.startswith("#/components/schemas/"):
            out = {**out}
            out.setdefault("x-schema-name", ref.rsplit("/", 1)[1])
        return out

    def operation(self, op_id: str) -> dict[str, Any]:
        url, method, op, item = self.by_id[op_id]
        responses: dict[str, Any] = {}
        for status, raw in op.get("responses", {}).items():
            resp = self.resolve(raw)
            entry: dict[str, Any] = {"description": resp.get("description")}
            if resp.get("headers"):
                entry["headers"] = sorted(resp["headers"])
            for ctype, media in (resp.get("content") or {}).items():
                entry.setdefault("content", {})[ctype] = {"schema": media.get("schema")}
            responses[status] = entry
        params = [self.resolve(p) for p in [*item.get("parameters", []), *op.get("parameters", [])]]
        out: dict[str, Any] = {
            "method": method.upper(),
            "path": url,
            "summary": op.get("summary"),
            "docs": (op.get("externalDocs") or {}).get("url"),
            "servers": op.get("servers"),
            "spec": self.name,
            "responses": responses,
            "parameters": [
                {k: p.get(k) for k in ("name", "in", "required", "schema")} for p in params
            ],
        }
        if op.get("requestBody"):
            body = self.resolve(op["requestBody"])
            out["requestBody"] = {ct: m.get("schema") for ct, m in body.get("content", {}).items()}
        if op.get("x-github-breaking-changes"):
            out["breaking_changes"] = op["x-github-breaking-changes"]
        return out


def extract(generated: Path) -> dict[str, Any]:
    primary, fallback = Spec(generated / PRIMARY), Spec(generated / FALLBACK)
    operations: dict[str, Any] = {}
    missing: list[str] = []
    for op_id in sorted(OPERATIONS):
        spec = primary if op_id in primary.by_id else fallback
        if op_id not in spec.by_id:
            missing.append(op_id)
            continue
        operations[op_id] = spec.operation(op_id)
    return {
        "source": {
            "package": f"@octokit/openapi@{VERSION}",
            "files": [f"generated/{PRIMARY}", f"generated/{FALLBACK}"],
            "openapi": primary.doc.get("openapi"),
            "info_version": primary.doc["info"].get("version"),
        },
        "included": sorted(operations),
        "missing": missing,
        "operations": operations,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("generated", type=Path, help="the package's generated/ directory")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    result = extract(args.generated)
    args.out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{len(result['operations'])} operations -> {args.out}; missing: {result['missing']}")
    return 1 if result["missing"] else 0


if __name__ == "__main__":
    sys.exit(main())
