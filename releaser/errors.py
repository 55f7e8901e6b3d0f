"""Expected errors, each with the exit code of docs/architecture.md, "The engine" (contract).

Exit codes: 0 done; 1 a step failed or is blocked; 2 bad usage, config, version or
credentials, a missing permission included (nothing was written); 3 operator input needed
in non-interactive mode, or an approval by someone else; 4 remote work still running
(``--no-wait``, a soak); 130 interrupted (safe to re-run).

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


class TakenOver(ClaimHeld):
    """Another driver took the release over while this one held it: stop before writing."""


class MalformedLedger(ReleaserError):
    """The ledger on the forge doesn't have the shape releaser writes (edited by hand)."""

    exit_code = EXIT_FAILED


class Interrupted(ReleaserError):
    exit_code = EXIT_INTERRUPTED


class RemoteError(ReleaserError):
    """A service answered in a way the step can't act on (auth, permission, 5xx after retries)."""

    exit_code = EXIT_FAILED


class CredentialError(UsageError):
    """A service refused a credential or its scope (exit 2: nothing was written)."""


class Unreachable(RemoteError):
    """A service could not be reached at all (connection refused, DNS, timeout)."""


class HTTPError(RemoteError):
    """A service answered with an error status the caller did not expect.

    ``status``, ``body`` (decoded JSON or text) and ``headers`` let the caller decide (a 422
    ``already_exists`` after an ambiguous write, say); the message is ready to print.
    """

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        status: int,
        body: object = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.status = status
        self.body = body
        self.headers = headers or {}


class AmbiguousWrite(RemoteError):
    """A write was sent but its answer was lost: it may or may not have been applied.

    Never retried blindly: the engine re-checks remote state, and a step that can't tell
    asks the operator.
    """


class RateLimited(StillRunning):
    """A service's rate limit lasts longer than the configured wait (exit 4: re-run later)."""


def describe_exception(exc: BaseException) -> str:
    """A one-line description of an unexpected exception (no traceback)."""
    if isinstance(exc, ReleaserError):
        return exc.message
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip(": ")
