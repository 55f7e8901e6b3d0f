"""Release drivers on separate "machines" for tests: each has its own HOME, XDG_CACHE_HOME,
working copy (a copy of the project's releaser.toml), driver name and host name.

``Machine.cli`` runs the CLI in-process (fast); ``Machine.spawn`` runs it as a subprocess
(real exit codes, killable), optionally starting at an exact instant so two machines race.
``Machine.context`` builds a Context for in-process runs from threads.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from typer.testing import Result

from tests.steps.conftest import TOKEN_ENV, Project

REPO_ROOT = Path(__file__).resolve().parent.parent

# Imports releaser first, says it is ready, then waits for the go file: two processes start
# the command itself at the same moment whatever their start-up times.
RACE_PRELUDE = """\
import os, sys, time
from releaser.cli import main
import releaser.commands.stage, releaser.ledger_store, releaser.forge  # noqa: F401
go = sys.argv[1]
if go:
    open(go + f".ready.{os.getpid()}", "w").close()
    while not os.path.exists(go):
        time.sleep(0.002)
sys.argv = ["releaser", *sys.argv[2:]]
main()
"""


def race(procs: list[Any], go: Path, timeout: float = 60) -> None:
    """Start processes spawned with ``go=go`` together, once all of them are ready."""
    deadline = time.monotonic() + timeout
    while len(list(go.parent.glob(go.name + ".ready.*"))) < len(procs):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            raise AssertionError("the racing processes did not get ready")
        time.sleep(0.01)
    go.touch()


class Machine:
    """One release driver's machine."""

    def __init__(self, project: Project, name: str, driver: str, host: str) -> None:
        self.project = project
        self.name = name
        self.driver = driver
        self.host = host
        root = project.root / "machines" / name
        self.home = root / "home"
        self.cache = root / "cache"
        self.work = root / "work"
        for path in (self.home, self.cache, self.work):
            path.mkdir(parents=True, exist_ok=True)
        (self.work / "releaser.toml").write_text(project.config_path.read_text())
        self.token = _user_token(project, driver)  # each driver is a forge user of their own

    @property
    def env(self) -> dict[str, str]:
        return {
            TOKEN_ENV: self.token,
            "HOME": str(self.home),
            "XDG_CACHE_HOME": str(self.cache),
            "RELEASER_DRIVER": self.driver,
            "RELEASER_HOST": self.host,
            "CI": "true",
        }

    def cli(self, *args: str) -> Result:
        """``releaser ARGS`` in-process, in this machine's working copy and environment."""
        from typer.testing import CliRunner

        from releaser.cli import app

        with contextlib.chdir(self.work):
            return CliRunner().invoke(app, list(args), env=self.env)

    def spawn(self, *args: str, go: Path | None = None, log: Path | None = None) -> Any:
        """``releaser ARGS`` in a subprocess (its own process group); output to ``log``.

        With ``go``, the process waits for that file before running (see ``race``).
        """
        return spawn(self.work, self.env, args, go, log)

    def context(self, version: str, **options: Any) -> Any:
        """A Context as this machine's driver (non-interactive, --yes), for threads."""
        from releaser.commands import make_context
        from releaser.config import load_config
        from releaser.context import Options
        from releaser.ledger import open_ledger
        from releaser.secrets import Secrets
        from releaser.ui import UI
        from releaser.version import Version

        options.setdefault("non_interactive", True)
        options.setdefault("yes", True)
        options.setdefault("driver", self.driver)
        out = io.StringIO()
        ui = UI(out=out, err=out)
        ctx = make_context(
            load_config(self.work / "releaser.toml"),
            Version.parse(version),
            Options(**options),
            ui,
            Secrets(ui.redactor, environ={TOKEN_ENV: self.token}),
        )
        ledger = open_ledger(ctx)
        ledger.host = self.host
        ctx.__dict__["ledger"] = ledger
        ctx.__dict__["out"] = out
        return ctx


def spawn(
    work: Path, env: dict[str, str], args: tuple[str, ...], go: Path | None, log: Path | None
) -> Any:
    """``releaser ARGS`` in a subprocess in ``work`` with ``env`` added (its own process
    group), output to ``log`` (default: a new file beside ``work``), as ``proc.log``. With
    ``go``, the process waits for that file before running (see ``race``)."""
    full = {**os.environ, **env, "PYTHONPATH": str(REPO_ROOT)}
    log = log or (work.parent / f"out-{time.monotonic_ns()}.log")
    argv = [sys.executable, "-c", RACE_PRELUDE, str(go or ""), *args]
    with log.open("w") as out:
        proc = subprocess.Popen(
            argv,
            cwd=work,
            env=full,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    proc.log = log  # type: ignore[attr-defined]
    return proc


def _user_token(project: Project, login: str) -> str:
    """A token of the sandbox user ``login`` (created the first time), an admin of the
    project's repository: two drivers are two people, as on GitHub."""
    from releaser.sandbox.admin_client import SandboxAdmin

    with SandboxAdmin(project.info["admin_url"]) as admin:
        if login in {u["login"] for u in admin.users()}:
            token = admin.add_token(login)
        else:
            token = str(admin.create_user(login)["token"])
        admin.add_collaborator(project.seed.full_name, login, "admin")
    return token


def requests_since(project: Project, mark: int) -> list[dict[str, Any]]:
    """The forge's request log from entry ``mark`` on."""
    import httpx

    url = project.info["admin_url"] + "/requests"
    response = httpx.get(url, params={"since": mark}, timeout=30)
    response.raise_for_status()
    return list(response.json())


def output(proc: Any) -> str:
    return Path(proc.log).read_text()


def ledger_entries(project: Project, tag: str) -> list[dict[str, Any]]:
    """The ledger of ``tag`` as stored on the forge (read without releaser's code)."""
    text = project.file("ledger.json", f"refs/releaser/{tag}")
    return list(json.loads(text)["entries"]) if text else []


def forge_state(project: Project) -> dict[str, Any]:
    """Branches, tags, releases, PRs and issues, with everything run-specific left out
    (shas, times, ports): what two ways of running a release must agree on."""
    repo = project.repo
    base = project.info["api_url"].split("/api/")[0]

    def norm(text: str | None) -> str:
        return (text or "").replace(base, "FORGE")

    return {
        "branches": sorted(b.name for b in repo.get_branches()),
        "tags": sorted(t.name for t in repo.get_tags()),
        "releases": sorted(
            (r.tag_name, r.name, r.prerelease, r.draft, sorted(a.name for a in r.get_assets()))
            for r in repo.get_releases()
        ),
        "pulls": sorted(
            (p.title, p.state, p.merged, p.head.ref, p.base.ref)
            for p in repo.get_pulls(state="all")
        ),
        "issues": sorted(
            (i.title, i.state, norm(i.body))
            for i in repo.get_issues(state="all")
            if i.pull_request is None
        ),
    }


UNREFERENCED = re.compile(r"/git/(blobs|trees|commits)$")


def visible(entry: dict[str, Any]) -> bool:
    """Whether a logged write changed what anyone can see: a write the forge refused did
    not (a ledger append on a stale tip is refused by the compare-and-swap: that is its
    fence), nor did creating a blob, tree or commit (no ref points at it; the ref write that
    would publish it is fenced)."""
    return (
        bool(entry.get("write"))
        and (entry.get("status") or 0) < 400
        and not (entry["method"] == "POST" and UNREFERENCED.search(entry["path"]))
    )


def ledger_writes(writes: list[dict[str, Any]]) -> set[int]:
    """Indices, in a list of write requests, of those that make up ledger appends: the tree
    and commit POSTs, then the creation or move of ``refs/releaser/...``."""
    skip: set[int] = set()
    for i, entry in enumerate(writes):
        ref = entry["path"] + str(entry.get("ref"))
        if "/git/refs" in entry["path"] and "refs/releaser/" in ref:
            skip.add(i)
            for j in (i - 1, i - 2):  # the commit and tree POSTs just before it
                if j >= 0 and re.search(r"/git/(commits|trees)$", writes[j]["path"]):
                    skip.add(j)
    return skip
