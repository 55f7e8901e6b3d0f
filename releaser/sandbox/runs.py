"""Helpers about one workflow run document: its tag, its placeholders, time stamps, artifacts.

Used by :mod:`.actions` (the runs' life cycle) and by :mod:`.effects` (what a successful run
does); nothing here starts, settles or completes a run. ``placeholders`` gives the values
``expand`` puts into ``{name}`` placeholders: ``{tag}``, ``{version}`` (the tag without a
leading ``v``), ``{ref}``, ``{ref_name}``, ``{sha}``, ``{run_id}``, ``{run_number}``,
``{workflow}``, ``{event}``, ``{repo}``, ``{inputs.NAME}``.

Documents: ``artifact`` (run_id, name, size_in_bytes, digest, created_at, expires_at; the
zip in ``ROOT/artifacts/ID.zip``).
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
import re
import zipfile
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from releaser.sandbox.forge import Forge


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def short_ref(ref: str) -> str:
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref


def run_tag(run: dict[str, Any]) -> str | None:
    """The tag a run is about: its ref when that is a tag, else a ``tag`` input."""
    ref = str(run.get("ref", ""))
    if ref.startswith("refs/tags/"):
        return ref[len("refs/tags/") :]
    tag = (run.get("inputs") or {}).get("tag")
    return str(tag) if tag else None


def placeholders(run: dict[str, Any]) -> dict[str, str]:
    tag = run_tag(run) or ""
    values = {
        "tag": tag,
        "version": tag[1:] if tag.startswith("v") else tag,
        "ref": str(run.get("ref", "")),
        "ref_name": short_ref(str(run.get("ref", ""))),
        "sha": str(run.get("head_sha", "")),
        "run_id": str(run.get("id", "")),
        "run_number": str(run.get("run_number", "")),
        "workflow": str(run.get("name", "")),
        "event": str(run.get("event", "")),
        "repo": str(run.get("repo", "")),
    }
    for key, value in (run.get("inputs") or {}).items():
        values[f"inputs.{key}"] = str(value)
    return values


def expand(text: Any, values: dict[str, str]) -> str:
    """Replace ``{name}`` placeholders that are known; leave others alone."""
    return re.sub(r"\{([A-Za-z0-9_.-]+)\}", lambda m: values.get(m.group(1), m.group(0)), str(text))


def guess_type(name: str) -> str:
    if name.endswith((".tar.gz", ".tgz")):
        return "application/gzip"
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def zip_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


# ---- artifacts ----------------------------------------------------------------------------


def artifact_path(forge: Forge, artifact_id: int) -> Path:
    directory = forge.root / "artifacts"
    directory.mkdir(exist_ok=True)
    return directory / f"{artifact_id}.zip"


def create_artifact(
    forge: Forge,
    full: str,
    run: dict[str, Any],
    name: str,
    files: Mapping[str, str | bytes],
) -> dict[str, Any]:
    """Store an artifact of ``run`` (idempotent: an existing one of that name is kept)."""
    existing = forge.find_one("artifact", full, run_id=run["id"], name=name)
    if existing is not None:
        return existing
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for filename, text in sorted(files.items()):
            zf.writestr(zip_info(filename), text)
    data = buf.getvalue()
    created = datetime.fromtimestamp(forge.clock.now(), UTC)
    doc = forge.insert(
        "artifact",
        full,
        {
            "run_id": run["id"],
            "name": name,
            "size_in_bytes": len(data),
            "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "expires_at": (created + timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )
    artifact_path(forge, int(doc["id"])).write_bytes(data)
    return doc
