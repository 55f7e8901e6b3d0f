"""A release at Kubo's size on the sandbox, shared by the benches (status, rerun, wait).

docs/examples/kubo.toml's stages on the sandbox forge and its own services, plus one real
local registry:

- the sandbox forge, in its own process as a real one is (``python -m
  releaser.sandbox.server``), seeded with the example project (real wheel and sdist), a
  dependent application with a test workflow, a distributions repository and an
  infrastructure team's repository;
- its Matrix, Discourse (posting and pinning), Reddit and Discord emulations and its package
  index;
- a container registry (Debian's ``docker-registry``, as ``scripts/test`` installs it: the
  one server the sandbox lacks), holding the image the build pushed.

npm is the one kubo.toml table left out (it needs Verdaccio, a Node install). The config
makes 36 steps apply to the final ``v1.2.0``: ``python bench/status.py`` prints which.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.services.oci: the registry the tests use

VERSION = "v1.2.0"
IMAGE = "acme/example"
SMOKE = (
    'python3 -c "import zipfile,sys; print(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2])'
    '.decode())" {file} example/__init__.py'
)


@dataclass
class Kubo:
    """A seeded forge and its config; ``context()`` is a fresh machine's view of it."""

    base: Path
    info: dict[str, str]
    config: Path
    env: dict[str, str]
    registry: Any

    def context(self, cache: str, *, concurrency: int | None = None, version: str = VERSION) -> Any:
        from releaser.commands import make_context
        from releaser.config import load_config
        from releaser.context import Options
        from releaser.secrets import Secrets
        from releaser.ui import UI
        from releaser.version import Version

        os.environ["XDG_CACHE_HOME"] = str(self.base / "cache" / cache)
        path = self.config
        if concurrency is not None:  # the same file, but for [engine] concurrency
            path = path.with_name(f"releaser-{concurrency}.toml")
            text = re.sub(r"(?m)^concurrency = \d+$", "", self.config.read_text())
            engine = f"\n[engine]\nconcurrency = {concurrency}\n"
            path.write_text(text.replace("\n[engine]\n", engine))
        config = load_config(path)
        ui = UI(out=io.StringIO(), err=io.StringIO())
        return make_context(
            config,
            Version.parse(version),
            Options(non_interactive=True, yes=True, driver="bench"),
            ui,
            Secrets(ui.redactor, environ=dict(self.env)),
        )

    def admin(self, path: str, body: Any = None, method: str = "POST") -> Any:
        answer = httpx.request(method, f"{self.info['admin_url']}/{path}", json=body, timeout=30)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        answer = httpx.get(
            f"{self.info['admin_url']}/requests", params={"since": since}, timeout=60
        )
        return list(answer.json())

    def log_size(self) -> int:
        return len(self.requests())

    def release(self, stages: list[str] | None = None) -> list[Any]:
        """Drive the release through ``stages`` (default: all of them), pushing the image the
        build would push once the build stage is done."""
        from releaser.commands.stage import run_stages
        from steps import PLANS, STAGES

        results = []
        for stage in stages or [s for s in STAGES if PLANS[s]]:
            ctx = self.context("driver")
            try:
                results += run_stages(ctx, [stage])
            finally:
                ctx.close()
            if stage == "build" and self.registry.manifest_digest(IMAGE, VERSION) is None:
                self.registry.push_index(IMAGE, VERSION, "example 1.2.0", ["linux/amd64"])
        return results

    def release_again(self) -> list[Any]:
        """``releaser release VERSION``: every stage in one command, from a fresh machine."""
        from releaser.commands.stage import run_stages
        from steps import PLANS, STAGES

        ctx = self.context("again")
        try:
            return list(run_stages(ctx, [s for s in STAGES if PLANS[s]]))
        finally:
            ctx.close()


def _api(info: dict[str, str]) -> httpx.Client:
    headers = {"Authorization": f"token {info['token']}", "Accept": "application/vnd.github+json"}
    return httpx.Client(base_url=info["api_url"] + "/", headers=headers, timeout=60)


def seed_repo(api: httpx.Client, full: str, files: dict[str, str]) -> None:
    """Create ``full`` (an org's repository) with one commit of ``files`` on main."""
    owner, name = full.split("/")
    api.post(f"orgs/{owner}/repos", json={"name": name}).raise_for_status()
    tree = [{"path": p, "mode": "100644", "type": "blob", "content": t} for p, t in files.items()]
    sha = api.post(f"repos/{full}/git/trees", json={"tree": tree}).raise_for_status().json()
    commit = api.post(
        f"repos/{full}/git/commits",
        json={"message": "Initial commit", "tree": sha["sha"], "parents": []},
    ).raise_for_status()
    api.post(
        f"repos/{full}/git/refs", json={"ref": "refs/heads/main", "sha": commit.json()["sha"]}
    ).raise_for_status()


def config_text(info: dict[str, str], registry_host: str, channels: str) -> str:
    """The tables beyond the example project's: kubo.toml's, on the sandbox."""
    from releaser.sandbox.seed import DEPENDENT_CONFIG, DEPENDENT_REPO

    site = info["api_url"].removesuffix("/api/v3")
    return (
        channels
        + DEPENDENT_CONFIG
        + f"""
[prepare]
next_dev_pr = true

[[build.workflows]]
file = "test.yml"
repo = "{DEPENDENT_REPO}"
on = "dispatch"
ref = "main"
stage = "publish"
inputs = {{ example-version = "{{version}}" }}

[[publish.smoke]]
assets = "*.whl"
command = '{SMOKE}'

[publish.pypi]
project = "example"
dist_from = "release"
repository_url = "{info["pypi_upload_url"]}"
index_url = "{info["pypi_url"]}"
token_env = "SANDBOX_PYPI_TOKEN"

[[publish.docker]]
registry = "{registry_host}"
image = "{IMAGE}"
tags = ["v{{version}}"]

[publish.distributions]
repo = "acme/dists"
command = "echo v{{version}} >> example/versions"
merge = true
verify_url = "{site}/acme/dists/raw/main/example/versions"

[promote.tracking_issue]
early_testers = ["@alice", "@bob"]

[promote.infrastructure]
repo = "acme/infra"

[next.tracking_issue]
version = "{{major}}.{{next_minor}}.0-rc1"

[next.changelog]
path = "docs/changelogs/v{{major}}.{{next_minor}}.md"
title = "v{{major}}.{{next_minor}}"
content = "# example changelog v{{major}}.{{next_minor}}"

[engine]
poll_interval = 0.2
wait_timeout = 120
"""
    )


@contextlib.contextmanager
def kubo_release(prefix: str) -> Iterator[Kubo]:
    """A seeded, configured Kubo-size project (not released yet); servers stop on exit."""
    from releaser.sandbox.seed import (
        seed_channels,
        seed_dependent,
        seed_example_project,
        write_example_config,
    )
    from tests.services.oci import start_registry

    base = Path(tempfile.mkdtemp(prefix=prefix))
    server = subprocess.Popen(
        [sys.executable, "-m", "releaser.sandbox.server", "--root", str(base / "forge")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        info: dict[str, str] = json.loads(server.stdout.readline())
        with start_registry(base / "registry") as registry:
            seed = seed_example_project(
                info["api_url"], info["git_url"], info["token"], work=base, python_dists=True
            )
            channels = seed_channels(info)
            seed_dependent(info["api_url"], info["token"])
            with _api(info) as api:
                seed_repo(api, "acme/dists", {"example/versions": "v1.1.0\n"})
                seed_repo(api, "acme/infra", {"README.md": "deployments\n"})
            pypi = httpx.post(
                info["admin_url"] + "/pypi/tokens", json={"project": "example"}, timeout=30
            ).json()["token"]
            env = {"SANDBOX_TOKEN": info["token"], "SANDBOX_PYPI_TOKEN": pypi, **channels.env}
            forge = {
                "api_url": info["api_url"],
                "git_url": info["git_url"],
                "token_env": "SANDBOX_TOKEN",
            }
            extra = config_text(info, registry.host, channels.config)
            config = write_example_config(base / "work", seed, forge, extra=extra)
            yield Kubo(base, info, config, env, registry)
    finally:
        server.terminate()
        server.wait(timeout=30)
