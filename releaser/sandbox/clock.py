"""The sandbox forge's clock: the one source of time for everything the forge says.

Timestamps in bodies, the ``Date`` header, rate-limit resets, git commits the forge writes and
the progress of simulated workflow runs (queued -> in_progress -> completed) all read
``forge.clock.now()``. Two modes:

``system``  system time plus an offset (0 by default): time runs.
``manual``  frozen at a value until advanced or set: tests step through time at will.

The mode, offset and frozen value are a forge setting, so a restarted forge keeps them. Time
never runs backwards through a mode change: freezing keeps the current value, and going back to
``system`` keeps the offset that makes time continue from the frozen value (``reset`` goes back
to plain system time).

Admin API (no auth)::

    GET  /_admin/clock   -> {"now": epoch_float, "mode": "system"|"manual", "offset": seconds,
                             "iso": "2024-01-02T03:04:05Z"}
    POST /_admin/clock   with any of, applied in this order:
         {"mode": "manual"}     freeze at the current time
         {"mode": "system"}     let time run again (from the current value)
         {"reset": true}        plain system time (offset 0)
         {"set": epoch}         jump to that time (either mode)
         {"advance": seconds}   move forward (seconds >= 0)
         -> the same object as GET
"""

from __future__ import annotations

import email.utils
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from releaser.sandbox.http import ROUTER, ApiError, Request, body_dict

if TYPE_CHECKING:
    from releaser.sandbox.forge import Forge

SETTING = "clock"
MODES = ("system", "manual")


class Clock:
    """Sandbox time; state persisted through the forge's settings."""

    def __init__(self, forge: Forge) -> None:
        self._forge = forge
        self._lock = threading.Lock()
        saved = forge.setting(SETTING, {})
        saved = saved if isinstance(saved, dict) else {}
        self._mode = str(saved["mode"]) if saved.get("mode") in MODES else "system"
        self._offset = float(saved.get("offset", 0.0))
        self._frozen = float(saved.get("frozen", time.time()))

    # ---- reading ------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return self._mode

    def now(self) -> float:
        """Sandbox time as a Unix epoch (float seconds)."""
        with self._lock:
            return self._frozen if self._mode == "manual" else time.time() + self._offset

    def iso(self, ts: float | None = None) -> str:
        """``2024-01-02T03:04:05Z`` (GitHub's timestamp format) for ``ts`` or now."""
        value = self.now() if ts is None else ts
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def http_date(self) -> str:
        """Now in RFC 7231 IMF-fixdate form, for the ``Date`` header."""
        return email.utils.formatdate(self.now(), usegmt=True)

    def git_date(self) -> str:
        """Now in git's internal date format (``@epoch +0000``), for GIT_*_DATE."""
        return f"@{int(self.now())} +0000"

    def state(self) -> dict[str, Any]:
        now = self.now()
        return {
            "now": now,
            "mode": self._mode,
            "offset": now - time.time(),
            "iso": self.iso(now),
        }

    # ---- changing -----------------------------------------------------------------------

    def freeze(self) -> None:
        """Manual mode at the current time."""
        with self._lock:
            if self._mode == "system":
                self._frozen, self._mode = time.time() + self._offset, "manual"
            self._save()

    def run(self) -> None:
        """System mode, continuing from the current time."""
        with self._lock:
            if self._mode == "manual":
                self._offset, self._mode = self._frozen - time.time(), "system"
            self._save()

    def reset(self) -> None:
        """Plain system time."""
        with self._lock:
            self._mode, self._offset = "system", 0.0
            self._save()

    def set(self, epoch: float) -> None:
        with self._lock:
            if self._mode == "manual":
                self._frozen = float(epoch)
            else:
                self._offset = float(epoch) - time.time()
            self._save()

    def advance(self, seconds: float) -> float:
        """Move time forward; the new now."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            if self._mode == "manual":
                self._frozen += seconds
            else:
                self._offset += seconds
            self._save()
        return self.now()

    def _save(self) -> None:
        self._forge.set_setting(
            SETTING, {"mode": self._mode, "offset": self._offset, "frozen": self._frozen}
        )


# ---- admin API ----------------------------------------------------------------------------


@ROUTER.route("GET", "/_admin/clock")
def get_clock(forge: Forge, req: Request) -> dict[str, Any]:
    return forge.clock.state()


@ROUTER.route("POST", "/_admin/clock")
def post_clock(forge: Forge, req: Request) -> dict[str, Any]:
    data = body_dict(req)
    unknown = set(data) - {"mode", "reset", "set", "advance"}
    if unknown:
        raise ApiError(422, f"Unknown clock fields: {', '.join(sorted(unknown))}")
    mode = data.get("mode")
    if mode is not None and mode not in MODES:
        raise ApiError(422, "mode is 'system' or 'manual'")
    numbers: dict[str, float] = {}
    for key in ("set", "advance"):
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ApiError(422, f"{key} is a number of seconds")
            numbers[key] = float(value)
    if numbers.get("advance", 0.0) < 0:
        raise ApiError(422, "advance is >= 0: the clock only moves forward")
    clock = forge.clock
    if mode == "manual":
        clock.freeze()
    elif mode == "system":
        clock.run()
    if data.get("reset"):
        clock.reset()
    if "set" in numbers:
        clock.set(numbers["set"])
    if "advance" in numbers:
        clock.advance(numbers["advance"])
    return clock.state()
