"""Effects of successful simulated workflow runs: artifacts, real Python distributions built
from the run's commit (``python_dists``), release assets, an OCI image.

:mod:`releaser.sandbox.actions` completes runs; it applies their effects through the forge's
run hook, which this module registers when imported (``apply_effects``). Each effect is
idempotent (re-applying after a crash changes nothing already done) and reports a failure
as a message, which turns the run's conclusion into ``failure`` and lands in its job log.
Placeholders ``{tag}``, ``{version}`` (tag without a leading ``v``), ``{ref}``, ``{sha}``,
``{inputs.NAME}``, ... (see :mod:`releaser.sandbox.runs`) are expanded in names, contents
and targets.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from typing import Any
from urllib.parse import urljoin

import httpx

from releaser.sandbox.api_releases import release_for_tag, store_asset
from releaser.sandbox.forge import RUN_HOOKS, Forge
from releaser.sandbox.pydist import build as build_python_dists
from releaser.sandbox.runs import create_artifact, expand, guess_type, placeholders, run_tag

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def apply_effects(forge: Forge, full: str, run: dict[str, Any], log: list[str]) -> str | None:
    """Apply the run's effects in order; the first failure's message, or None."""
    effects = run.get("effects") or {}
    values = placeholders(run)
    try:
        for artifact in effects.get("artifacts") or []:
            name = expand(artifact.get("name", "artifact"), values)
            files = {
                expand(k, values): expand(v, values)
                for k, v in (artifact.get("files") or {}).items()
            }
            create_artifact(forge, full, run, name, files)
            log.append(f"Uploaded artifact {name} ({len(files)} file(s))")
        if effects.get("python_dists"):
            spec = effects["python_dists"] if isinstance(effects["python_dists"], dict) else {}
            name = expand(spec.get("artifact", "dist"), values)
            dists = build_python_dists(forge, full, str(run["head_sha"]), spec.get("package"))
            create_artifact(forge, full, run, name, dists)
            log.append(f"Built {', '.join(sorted(dists))}; uploaded artifact {name}")
        if effects.get("release_assets"):
            failure = attach_release_assets(
                forge, full, run, effects["release_assets"], values, log
            )
            if failure:
                return failure
        if effects.get("oci_push"):
            failure = oci_push(run, effects["oci_push"], values, log)
            if failure:
                return failure
    except Exception as exc:  # an effect must never break the forge
        return f"effect failed: {type(exc).__name__}: {exc}"
    return None


def attach_release_assets(
    forge: Forge,
    full: str,
    run: dict[str, Any],
    spec: Any,
    values: dict[str, str],
    log: list[str],
) -> str | None:
    files = spec.get("files") if isinstance(spec, dict) else None
    tag = run_tag(run)
    if not tag:
        return "release_assets: the run is not for a tag, so there is no release to attach to"
    release = release_for_tag(forge, full, tag)
    if release is None:
        return f"release_assets: no release for tag {tag}"
    for raw_name, content in (files or {}).items():
        name = expand(raw_name, values)
        if forge.find_one("asset", full, release_id=release["id"], name=name) is not None:
            log.append(f"Release asset {name} already attached to {tag}")
            continue
        data = expand(content, values).encode()
        store_asset(forge, full, release, name, data, guess_type(name))
        log.append(f"Attached {name} ({len(data)} bytes) to release {tag}")
    return None


# ---- OCI image push -----------------------------------------------------------------------


def tiny_image(label: str) -> tuple[bytes, bytes, bytes]:
    """(config, layer, manifest) bytes of a one-file OCI image, deterministic for ``label``."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        content = f"{label}\n".encode()
        info = tarfile.TarInfo("VERSION")
        info.size = len(content)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(content))
    tar_bytes = raw.getvalue()
    layer = gzip.compress(tar_bytes, mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"org.opencontainers.image.version": label}},
            "rootfs": {"type": "layers", "diff_ids": [sha256(tar_bytes)]},
        },
        sort_keys=True,
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER, "digest": sha256(layer), "size": len(layer)}],
        },
        sort_keys=True,
    ).encode()
    return config, layer, manifest


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_blob(client: httpx.Client, base: str, name: str, data: bytes) -> None:
    digest = sha256(data)
    if client.head(f"{base}/v2/{name}/blobs/{digest}").status_code == 200:
        return
    start = client.post(f"{base}/v2/{name}/blobs/uploads/")
    if start.status_code != 202:
        raise RuntimeError(f"blob upload start answered {start.status_code}: {start.text[:200]}")
    location = urljoin(f"{base}/v2/{name}/blobs/uploads/", start.headers["location"])
    sep = "&" if "?" in location else "?"
    put = client.put(
        f"{location}{sep}digest={digest}",
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    if put.status_code != 201:
        raise RuntimeError(f"blob upload answered {put.status_code}: {put.text[:200]}")


def oci_push(run: dict[str, Any], spec: Any, values: dict[str, str], log: list[str]) -> str | None:
    if not isinstance(spec, dict):
        return "oci_push: expected a mapping {registry, repository, tag}"
    registry = str(run.get("registry") or spec.get("registry") or "").rstrip("/")
    if not registry:
        return "oci_push: no registry configured (x-sandbox or POST /_admin/actions registry)"
    if "://" not in registry:
        registry = f"http://{registry}"
    name = expand(spec.get("repository", run.get("repo", "")), values).lower()
    tag = expand(spec.get("tag", "{tag}"), values)
    auth = None
    if spec.get("username"):
        auth = (str(spec["username"]), str(spec.get("password", "")))
    config, layer, manifest = tiny_image(f"{name}:{tag}")
    try:
        with httpx.Client(timeout=10.0, auth=auth) as client:
            push_blob(client, registry, name, config)
            push_blob(client, registry, name, layer)
            put = client.put(
                f"{registry}/v2/{name}/manifests/{tag}",
                content=manifest,
                headers={"Content-Type": OCI_MANIFEST},
            )
            if put.status_code != 201:
                return f"oci_push: manifest PUT answered {put.status_code}: {put.text[:200]}"
    except (httpx.HTTPError, RuntimeError, KeyError) as exc:
        return f"oci_push: pushing {name}:{tag} to {registry} failed: {exc}"
    log.append(f"Pushed {registry}/{name}:{tag} ({sha256(manifest)})")
    return None


if apply_effects not in RUN_HOOKS:
    RUN_HOOKS.append(apply_effects)
