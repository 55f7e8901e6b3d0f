"""`releaser env`: a ``.env`` template naming every credential the config needs.

Each variable gets a comment saying what it is for, which config key names it, and the token
scopes or permissions it needs; every value is left empty. An existing file is never
overwritten without ``--force``: instead the command lists the variables it lacks, as lines
ready to append. The file is added to the repository's ``.gitignore`` (once). No value is
ever printed: not from the file, not from the environment.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from releaser.errors import UsageError

if TYPE_CHECKING:
    from releaser.config import Config
    from releaser.ui import UI

__all__ = [
    "SCOPES",
    "EnvVar",
    "ensure_gitignored",
    "env_vars",
    "render_template",
    "write_env_template",
]

# How to get the credential a key names, and what it must be allowed to do. Keyed by the
# key's path with array indexes removed (``promote.matrix.token_env``).
SCOPES: dict[str, tuple[str, ...]] = {
    "forge.token_env": (
        "classic token (Settings > Developer settings > Tokens (classic)): scopes repo, workflow",
        "fine-grained token: on the project and downstream repositories, read and write for",
        "  Contents, Pull requests, Issues, Actions (Metadata read is implied)",
        "GitHub Actions: the job's GITHUB_TOKEN with the permissions in the release workflow",
    ),
    "publish.docker.username_env": ("the registry account that pushes the image",),
    "publish.docker.password_env": (
        "an access token rather than the password (Docker Hub: Account settings > Security,",
        "  permission Read & Write); ghcr.io: a GitHub token with write:packages",
    ),
    "publish.npm.token_env": (
        "an npm automation token (npmjs.com > Access Tokens > Generate > Automation),",
        "  or a granular token with read and write on the package",
    ),
    "publish.pypi.token_env": (
        "a PyPI API token scoped to the project (pypi.org > Account settings > API tokens);",
        "  the value starts with pypi-",
    ),
    "promote.matrix.token_env": (
        "the access token of the account that posts (Element: Settings > Help & About >",
        "  Access Token); the account must have joined the room",
    ),
    "promote.discourse.api_key_env": (
        "a user API key that can create and pin topics (Admin > API > New API Key,",
        "  user level: the posting user; scopes: topics write, or global)",
    ),
    "promote.reddit.client_id_env": (
        'a "script" app at https://www.reddit.com/prefs/apps (the id under its name)',
    ),
    "promote.reddit.client_secret_env": ("the secret of that script app",),
    "promote.reddit.username_env": ("the Reddit account that posts (a developer of the app)",),
    "promote.reddit.password_env": ("that account's password (no 2FA on script apps)",),
    "promote.discord.webhook_env": (
        "Server settings > Integrations > Webhooks > New webhook > Copy URL",
        "  (the URL itself is the secret)",
    ),
    "signing.gpg_home_env": (
        "not a secret: the directory holding the signing key (default ~/.gnupg)",
    ),
}


@dataclass
class EnvVar:
    """One variable the config names, with every key that names it."""

    name: str
    purposes: list[str] = field(default_factory=list)
    key_paths: list[str] = field(default_factory=list)
    secret: bool = True

    @property
    def scopes(self) -> list[str]:
        lines: list[str] = []
        for path in self.key_paths:
            for line in SCOPES.get(_generic(path), ()):
                if line not in lines:
                    lines.append(line)
        return lines


def _generic(key_path: str) -> str:
    """``promote.matrix[1].token_env`` -> ``promote.matrix.token_env``."""
    import re

    return re.sub(r"\[\d+\]", "", key_path)


def env_vars(config: Config) -> list[EnvVar]:
    """Every variable ``config`` names, once each, in schema order."""
    secret_names = {name for name, _, _ in config.secret_envs(include_non_secret=False)}
    found: dict[str, EnvVar] = {}
    for name, key_path, purpose in config.secret_envs():
        var = found.setdefault(name, EnvVar(name, secret=name in secret_names))
        if purpose and purpose not in var.purposes:
            var.purposes.append(purpose)
        var.key_paths.append(key_path)
    return list(found.values())


def render_template(config: Config, variables: list[EnvVar]) -> str:
    lines = [
        f"# Credentials for releaser ({config.path.name} in {config.root.name}/).",
        "# Written by `releaser env`; fill in the values. `releaser doctor` checks them.",
        "# Never commit this file (it is in .gitignore). Variables already set in the",
        "# environment win over this file. Write values unquoted: bin/releaser-docker passes",
        "# the file to `docker run --env-file`, which keeps quotes as part of the value.",
        "",
    ]
    for var in variables:
        for purpose in var.purposes or [var.name]:
            lines.append(f"# {purpose}")
        lines.append(f"#   named by: {', '.join(var.key_paths)}")
        for scope in var.scopes:
            lines.append(f"#   {scope}")
        if not var.secret:
            lines.append("#   (optional)")
        lines.append(f"{var.name}=")
        lines.append("")
    return "\n".join(lines)


def _defined(path: Path) -> dict[str, bool]:
    """The variables a .env file defines: name -> whether it has a non-empty value."""
    from dotenv import dotenv_values

    return {k: bool(v) for k, v in dotenv_values(path).items()}


def write_env_template(config: Config, output: Path, force: bool, ui: UI) -> Path | None:
    """Write the template to ``output``; with an existing file and no ``force``, say what it
    lacks and exit 2. Returns the path written (None when the config names no variable)."""
    variables = env_vars(config)
    if not variables:
        ui.print("the config names no credentials: nothing to write (`releaser doctor` checks)")
        return None
    if output.exists() and not force:
        absent, empty = _report_missing(output, variables, ui)
        if absent:
            todo = f"append the lines above to {output} and fill them in"
        elif empty:
            todo = f"fill in the empty values in {output}"
        else:
            todo = "it names everything: `releaser doctor` checks the values"
        raise UsageError(
            f"{output} exists: not overwritten",
            f"{todo}; or `releaser env --force` replaces it with an empty template (its "
            "values are lost)",
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_template(config, variables), encoding="utf-8")
    output.chmod(0o600)
    from rich.markup import escape

    ui.print(f"wrote {escape(str(output))}: {len(variables)} variable(s), values empty")
    for var in variables:
        ui.print(f"  {escape(var.name)}  [dim]{escape('; '.join(var.purposes))}[/dim]")
    ignored = ensure_gitignored(output, config.root)
    if ignored:
        ui.print(f"added {ignored} to {config.root / '.gitignore'}")
    ui.print("fill in the values, then run `releaser doctor`")
    return output


def _report_missing(
    output: Path, variables: list[EnvVar], ui: UI
) -> tuple[list[EnvVar], list[EnvVar]]:
    """Say which variables ``output`` lacks or leaves empty (names only); return both."""
    import os

    defined = _defined(output)
    absent = [v for v in variables if v.name not in defined]
    empty = [v for v in variables if v.name in defined and not defined[v.name]]
    if not absent and not empty:
        ui.print(f"{output} names every variable the config needs ({len(variables)})")
        return absent, empty
    if empty:
        names = ", ".join(v.name for v in empty)
        ui.print(f"{output} leaves empty: {names}")
    if absent:
        ui.print(f"{output} lacks {len(absent)} variable(s) the config needs:")
        for var in absent:
            where = " (set in the environment)" if os.environ.get(var.name) else ""
            ui.text(f"{var.name}=  # {'; '.join(var.purposes) or var.name}{where}")
    return absent, empty


def ensure_gitignored(path: Path, root: Path) -> str | None:
    """Add ``path`` to ``root/.gitignore`` unless git already ignores it; the pattern added."""
    try:
        rel = path.resolve().relative_to(root.resolve())
    except ValueError:
        return None  # outside the repository: nothing to protect there
    pattern = "/" + rel.as_posix() if len(rel.parts) > 1 else rel.as_posix()
    try:
        probe = subprocess.run(
            ["git", "-C", str(root), "check-ignore", "-q", "--no-index", rel.as_posix()],
            capture_output=True,
            check=False,
        )
        if probe.returncode == 0:
            return None
    except OSError:
        pass
    gitignore = root / ".gitignore"
    existing = gitignore.read_text(encoding="utf-8") if gitignore.is_file() else ""
    lines = {line.strip() for line in existing.splitlines()}
    if {pattern, "/" + pattern.lstrip("/"), rel.as_posix()} & lines:
        return None
    prefix = "" if not existing or existing.endswith("\n") else "\n"
    with gitignore.open("a", encoding="utf-8") as f:
        f.write(f"{prefix}{pattern}\n")
    return pattern
