"""Helpers for the tag / build / publish / merge / next step tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any


def make_version_branch(project: Any, name: str = "release-v1.2", base: str = "main") -> str:
    """Create the version branch at ``base``'s head (what `prepare` does first)."""
    sha = project.repo.get_branch(base).commit.sha
    project.repo.create_git_ref(f"refs/heads/{name}", sha)
    return str(sha)


def gpg_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["GNUPGHOME"] = str(home)
    return env


def make_gpg_key(home: Path) -> str:
    """A throwaway ed25519 signing key in ``home`` (mode 700); its fingerprint."""
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o700)
    subprocess.run(
        [
            "gpg",
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            "Release Bot <bot@example.invalid>",
            "ed25519",
            "sign",
            "never",
        ],
        env=gpg_env(home),
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        ["gpg", "--list-secret-keys", "--with-colons"],
        env=gpg_env(home),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr"))


def writes(entries: list[dict[str, Any]]) -> list[str]:
    return [f"{e['method']} {e['path']}" for e in entries]
