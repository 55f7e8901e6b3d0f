"""Credentials: from the environment, a ``.env`` file, or a hidden prompt; never from argv.

Every value handed out is registered with the UI's redactor first, so it can't be printed,
logged or written into the ledger, an issue or an exception message that reaches the console.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from releaser.errors import UsageError
from releaser.redact import Redactor


class Secrets:
    def __init__(
        self,
        redactor: Redactor,
        env_files: list[Path] | None = None,
        environ: Mapping[str, str] | None = None,
        interactive: bool = False,
    ) -> None:
        self._redactor = redactor
        self._environ = dict(os.environ if environ is None else environ)
        self._file_values: dict[str, str] = {}
        self.interactive = interactive
        for path in env_files or []:
            if path.is_file():
                from dotenv import dotenv_values

                for key, value in dotenv_values(path).items():
                    if value is not None:
                        self._file_values.setdefault(key, value)
        # Register every value that is already known, so even an accidental print of the
        # environment can't leak one.
        for name, value in {**self._file_values, **self._environ}.items():
            if looks_secret(name):
                redactor.add(value)

    def source(self, name: str) -> str | None:
        """Where a credential comes from: "environment", ".env", or None when missing."""
        if self._environ.get(name):
            return "environment"
        if self._file_values.get(name):
            return ".env"
        return None

    def optional(self, name: str) -> str | None:
        raw = self._environ.get(name) or self._file_values.get(name)
        if not raw:
            return None
        self._redactor.add(raw)  # every form of it, the trailing newline included
        value = raw.strip()
        if looks_secret(name):
            _check_sendable(name, value)
        return value or None

    def get(self, name: str, purpose: str) -> str:
        """The credential in ``$name``; asks with a hidden prompt when interactive, else exit 2."""
        value = self.optional(name)
        if value:
            return value
        if self.interactive:
            from releaser import prompts

            value = prompts.secret(f"{purpose}: value of {name} (hidden)")
            if value:
                self._redactor.add(value)
                value = value.strip()
                _check_sendable(name, value)
                self._environ[name] = value
                return value
        raise UsageError(
            f"{name} is not set ({purpose})",
            f"export {name}=... or put it in .env (`releaser env` writes a template)",
        )


def looks_secret(name: str) -> bool:
    upper = name.upper()
    return any(w in upper for w in ("TOKEN", "SECRET", "PASSWORD", "PASSPHRASE", "KEY", "WEBHOOK"))


def _check_sendable(name: str, value: str) -> None:
    """A credential goes into HTTP headers: one that can't (spaces inside, characters outside
    Latin-1) is refused here, naming the variable, never showing the value."""
    if any(c.isspace() for c in value) or not all(ord(c) < 256 for c in value):
        raise UsageError(
            f"{name} holds characters a token can't have (a space, a line break or a "
            "non-Latin-1 character inside it)",
            f"copy the token again into {name} (only the token, on one line)",
        )
