"""Validate response bodies against GitHub's published schemas (``github-api/operations.json``).

``validate("repos/get", 200, body)`` raises ``jsonschema.ValidationError`` when ``body`` does
not fit the response schema of that operation. OpenAPI 3.0's ``nullable`` is translated to
JSON Schema (``anyOf [..., null]``) first.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

# Extracted from @octokit/openapi by github-api/extract.py, which lists the operations included.
OPERATIONS = Path(__file__).with_name("github-api") / "operations.json"


@cache
def _operations() -> dict[str, Any]:
    data = json.loads(OPERATIONS.read_text())
    return dict(data["operations"])


def _convert(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_convert(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {
        k: _convert(v) for k, v in schema.items() if k not in ("nullable", "example", "examples")
    }
    if "properties" in schema:  # property names are not schemas
        out["properties"] = {k: _convert(v) for k, v in schema["properties"].items()}
    if schema.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def _schema(op_id: str, status: str) -> dict[str, Any]:
    op = _operations()[op_id]
    response = op["responses"][status]
    raw = response.get("content", {}).get("application/json", {}).get("schema")
    if raw is None:
        raise KeyError(f"{op_id} {status} has no JSON schema")
    return dict(_convert(raw))


def schema(op_id: str, status: int | str) -> dict[str, Any]:
    return _schema(op_id, str(status))


def validate(op_id: str, status: int | str, body: Any) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``body`` fits ``op_id``'s response schema."""
    jsonschema.validate(body, schema(op_id, status), cls=jsonschema.Draft7Validator)
