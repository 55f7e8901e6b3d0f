"""Expected errors, each with the exit code of DESIGN §4 (contract).

Exit codes: 0 done; 1 a step failed or is blocked; 2 bad usage, config or version (nothing
was written); 3 operator input needed in non-interactive mode; 4 remote work still running
(``--no-wait``); 130 interrupted (safe to re-run).

An expected error prints one message and a hint naming the fix, never a traceback (``-v`` or
``RELEASER_DEBUG=1`` show it).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INPUT_NEEDED = 3
EXIT_STILL_RUNNING = 4
EXIT_INTERRUPTED = 130


class ReleaserError(Exception):
    """An expected error: one message, a hint naming the fix, an exit code."""

    exit_code: int = EXIT_FAILED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(ReleaserError):
    """Bad usage, version or config: nothing was written."""

    exit_code = EXIT_USAGE


class StepFailed(ReleaserError):
    """A step is FAILED or BLOCKED: a human has to act."""

    exit_code = EXIT_FAILED


class InputNeeded(ReleaserError):
    """A question came up in non-interactive mode."""

    exit_code = EXIT_INPUT_NEEDED


class StillRunning(ReleaserError):
    """Remote work is still running and ``--no-wait`` was given."""

    exit_code = EXIT_STILL_RUNNING


class ClaimHeld(ReleaserError):
    """Another driver holds the release's claim."""

    exit_code = EXIT_FAILED


class Interrupted(ReleaserError):
    exit_code = EXIT_INTERRUPTED


class RemoteError(ReleaserError):
    """A service answered in a way the step can't act on (auth, permission, 5xx after retries)."""

    exit_code = EXIT_FAILED
