"""Updating dependents: one commit per repository (releaser) against one commit per file.

Ten sandbox repositories of five files each are moved to a new version, with 50 ms of latency
injected into every request (the sandbox's ``delay`` fault), twice on the same forge in this
one run:

- batched: ``releaser downstream`` (all of a repository's files in ONE commit through the Git
  Data API, then its PR; repositories in parallel), the whole command timed: config, claim,
  checks, writes and the re-check that verifies them;
- per-file: what naive scripts do, one repository after the other: a branch, then for each
  file a read and a commit through the contents API, then the PR.

Last line:
    downstream: batched X s, per-file Y s, ratio Z, commits C
(C: the commits the batched update made in the dependents, from the forge's request log.)
"""

from __future__ import annotations

import atexit
import base64
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _kubo import seed_repo

REPOS = 10
FILES = 5
LATENCY_MS = 50
MARKER = "releaser: example-version"
TEXT = f"EXAMPLE_VERSION=1.1.0  # {MARKER}\nOTHER_SETTING=3\n"
NEW_TEXT = TEXT.replace("1.1.0", "1.2.0")


def make_repos(api: httpx.Client, prefix: str) -> list[str]:
    """``acme/{prefix}N``: one commit holding FILES files with a marked version line."""
    names = []
    for i in range(REPOS):
        full = f"acme/{prefix}{i}"
        seed_repo(api, full, {f"conf/{n}.env": TEXT for n in range(FILES)})
        names.append(full)
    return names


def per_file(api: httpx.Client, repos: list[str]) -> None:
    """One commit per file through the contents API, one repository after the other."""
    for repo in repos:
        default = api.get(f"repos/{repo}").raise_for_status().json()["default_branch"]
        head = api.get(f"repos/{repo}/git/ref/heads/{default}").raise_for_status().json()
        branch = "update-to-v1.2.0"
        api.post(
            f"repos/{repo}/git/refs",
            json={"ref": f"refs/heads/{branch}", "sha": head["object"]["sha"]},
        ).raise_for_status()
        for n in range(FILES):
            path = f"conf/{n}.env"
            current = api.get(f"repos/{repo}/contents/{path}", params={"ref": branch})
            current.raise_for_status()
            text = base64.b64decode(current.json()["content"]).decode()
            api.put(
                f"repos/{repo}/contents/{path}",
                json={
                    "message": f"Update {path} to 1.2.0",
                    "content": base64.b64encode(text.replace("1.1.0", "1.2.0").encode()).decode(),
                    "sha": current.json()["sha"],
                    "branch": branch,
                },
            ).raise_for_status()
        api.post(
            f"repos/{repo}/pulls",
            json={"title": "Update example to v1.2.0", "head": branch, "base": default},
        ).raise_for_status()


def main() -> None:
    from releaser.commands import make_context
    from releaser.commands.stage import run_stages
    from releaser.config import load_config
    from releaser.context import Context, Options
    from releaser.sandbox.seed import seed_example_project, write_example_config
    from releaser.secrets import Secrets
    from releaser.ui import UI
    from releaser.version import Version

    root = Path(tempfile.mkdtemp(prefix="bench-downstream-"))
    # The forge runs in its own process, as a real one does (in this one, its handlers would
    # share the client's interpreter lock).
    server = subprocess.Popen(
        [sys.executable, "-m", "releaser.sandbox.server", "--root", str(root / "forge")],
        stdout=subprocess.PIPE,
        text=True,
    )
    atexit.register(server.kill)  # a bench that fails leaves no forge behind
    assert server.stdout is not None
    info = json.loads(server.stdout.readline())
    headers = {"Authorization": f"token {info['token']}", "Accept": "application/vnd.github+json"}
    api = httpx.Client(base_url=info["api_url"] + "/", headers=headers, timeout=60)
    seed = seed_example_project(info["api_url"], info["git_url"], info["token"], work=root)
    batched_repos = make_repos(api, "batched")
    naive_repos = make_repos(api, "naive")
    api.post(f"repos/{seed.full_name}/releases", json={"tag_name": "v1.2.0"}).raise_for_status()
    files = ", ".join(f'"conf/{n}.env"' for n in range(FILES))
    entries = "".join(
        f'\n[[downstream]]\nrepo = "{repo}"\nfiles = [{files}]\nmarker = "{MARKER}"\n'
        for repo in batched_repos
    )
    forge = {"api_url": info["api_url"], "git_url": info["git_url"], "token_env": "SANDBOX_TOKEN"}
    config_path = write_example_config(
        root / "work", seed, forge, extra=entries + f"\n[engine]\nconcurrency = {REPOS}\n"
    )
    os.environ["XDG_CACHE_HOME"] = str(root / "cache")
    import steps  # noqa: F401  (imported before timing, as httpx is for the per-file side)

    def log() -> list[dict[str, Any]]:
        return list(httpx.get(info["admin_url"] + "/requests", timeout=30).json())

    def context() -> Context:
        ui = UI(out=io.StringIO(), err=io.StringIO())
        return make_context(
            load_config(config_path),
            Version.parse("v1.2.0"),
            Options(non_interactive=True, yes=True, driver="bench"),
            ui,
            Secrets(ui.redactor, environ={"SANDBOX_TOKEN": info["token"]}),
        )

    def batched() -> None:
        ctx = context()
        try:
            run_stages(ctx, ["downstream"])
        finally:
            ctx.close()

    # v1.2.0 was published above, outside releaser: adopted beforehand (`--adopt`), as a
    # release whose earlier stages ran elsewhere; the timed run is the update alone.
    adopting = context()
    tag = api.get(f"repos/{seed.full_name}/git/ref/tags/v1.2.0").json()["object"]["sha"]
    adopting.ledger.append({"type": "adopt", "tag": "v1.2.0", "commit": tag, "by": "bench"})
    adopting.close()

    # the sandbox loads its GraphQL engine on the first query; a forge in service has it
    api.post(info["api_url"].removesuffix("/v3") + "/graphql", json={"query": "{viewer{login}}"})
    httpx.post(
        info["admin_url"] + "/faults",
        json={"rules": [{"action": "delay", "ms": LATENCY_MS}]},
        timeout=30,
    ).raise_for_status()
    mark = len(log())
    started = time.monotonic()
    batched()
    batched_s = time.monotonic() - started
    entries_log = log()[mark:]
    started = time.monotonic()
    per_file(api, naive_repos)
    per_file_s = time.monotonic() - started
    httpx.delete(info["admin_url"] + "/faults", timeout=30).raise_for_status()

    ours = re.compile(r"/repos/[^/]+/batched\d+/git/commits$")
    commits = sum(1 for e in entries_log if e.get("write") and ours.search(e["path"]))
    for repo in batched_repos:  # the update really happened, in one commit each
        text = api.get(f"repos/{repo}/contents/conf/0.env", params={"ref": "update-to-v1.2.0"})
        assert base64.b64decode(text.json()["content"]).decode() == NEW_TEXT, repo
    api.close()
    server.terminate()
    server.wait(timeout=30)
    print(
        f"downstream: batched {batched_s:.2f} s, per-file {per_file_s:.2f} s, "
        f"ratio {per_file_s / batched_s:.1f}, commits {commits}"
    )
    if commits != REPOS:
        sys.exit(1)


if __name__ == "__main__":
    main()
