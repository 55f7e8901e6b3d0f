"""Release versions: parsing, release kinds (rc / final / patch), ordering and derived names.

A version is ``X.Y.Z`` with an optional pre-release suffix (``X.Y.Z-rc1``), written with or
without a leading ``v``. Release kinds (docs/architecture.md): ``rc`` is any pre-release,
``final`` is no suffix, ``patch`` is a final or an rc with ``Z > 0``. Config sections and
steps select kinds with ``only = [...]`` / ``skip = [...]`` (see :meth:`Version.matches`).

Stdlib only: imported by ``releaser.config`` at CLI start-up.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import total_ordering
from typing import Any

from releaser.errors import UsageError

KINDS: tuple[str, ...] = ("rc", "final", "patch")
"""Valid release kind names for ``only`` / ``skip``."""

ACCEPTED_FORMS = (
    "v1.2.3, 1.2.3, v1.2.3-rc1 (or another pre-release suffix: lowercase letters and a number "
    "from 1, e.g. -rc.2, -beta1)"
)
# A release's pre-release suffix, as an operator types it: rc1, rc.2, beta3, alpha.1.
_RELEASE_PRE_RE = re.compile(r"[a-z]+\.?[1-9][0-9]*")

# The fields every template may use (``Version.fields()``), with a description each; the
# config reference (docs/configuration.md) is rendered from this table.
FIELD_DOCS: dict[str, str] = {
    "version": 'the full version without "v": 0.18.0-rc1',
    "base": "X.Y.Z without the pre-release suffix: 0.18.0",
    "major": "X: 0",
    "minor": "Y: 18",
    "patch": "Z: 0",
    "pre": 'the pre-release suffix without the dash: rc1 ("" for a final)',
    "next_minor": "Y + 1: 19",
    "next_major": "X + 1: 1",
    "release_line": "X.Y: 0.18",
    "next_dev": "the default branch's next development version: 0.19.0-dev",
}
VERSION_FIELDS: frozenset[str] = frozenset(FIELD_DOCS)

_NUM = r"(?:0|[1-9][0-9]*)"
_IDENT = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_VERSION_RE = re.compile(
    rf"v?(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_IDENT}(?:\.{_IDENT})*))?"
)
_PRE_RE = re.compile(rf"{_IDENT}(?:\.{_IDENT})*")
_MAX_LEN = 64


class VersionError(UsageError):
    """A version string that isn't ``[v]X.Y.Z[-pre]`` (exit 2)."""


def _problem(text: str) -> str:
    """Why ``text`` is not a version, as precisely as we can tell."""
    body = text[1:] if text.startswith("v") else text
    if not text:
        return "is empty"
    if len(text) > _MAX_LEN:
        return f"is longer than {_MAX_LEN} characters"
    if "+" in text:
        return "has build metadata (+...), which tags, image tags and package versions can't hold"
    core, _, pre = body.partition("-")
    parts = core.split(".")
    if text.startswith("V"):
        return 'starts with "V": use a lowercase "v" or none'
    if not all(p.isdigit() for p in parts):
        return "is not X.Y.Z with numbers"
    if len(parts) != 3:
        return f"has {len(parts)} numeric part{'s' if len(parts) != 1 else ''}, not 3 (X.Y.Z)"
    if any(len(p) > 1 and p.startswith("0") for p in parts):
        return "has a number with a leading zero"
    if "-" in body and not pre:
        return 'ends with "-" but has no pre-release suffix'
    if pre and not _PRE_RE.fullmatch(pre):
        return (
            "has a pre-release suffix that isn't dot-separated letters, digits and hyphens "
            "(with no empty parts and no leading zeros in numeric parts)"
        )
    return "is not a version"


def _ident_key(ident: str) -> tuple[Any, ...]:
    """Precedence of one pre-release identifier: numeric ones sort before alphanumeric ones,
    and inside an alphanumeric identifier digit runs compare numerically (rc2 < rc10)."""
    if ident.isdigit():
        return (0, int(ident))
    chunks = re.findall(r"\d+|\D+", ident)
    return (1, tuple((0, int(c), c) if c.isdigit() else (1, 0, c) for c in chunks))


def template_fields(template: str) -> list[str]:
    """The field names a ``str.format`` template uses, in order.

    Raises ValueError for a malformed template (unbalanced braces), a positional field
    (``{}``, ``{0}``) or a field with attribute / index access (``{version.x}``, ``{a[0]}``).
    """
    names: list[str] = []
    for _literal, name, spec, _conv in string.Formatter().parse(template):
        if name is None:
            continue
        if not name or not name.isidentifier():
            shown = "{" + name + "}"
            raise ValueError(f"{shown} is not a field name (use a name like {{version}})")
        if spec and ("{" in spec):
            raise ValueError(f"nested fields in {{{name}:{spec}}} are not supported")
        names.append(name)
    return names


def format_template(template: str, fields: dict[str, Any]) -> str:
    """``template.format(**fields)``, with a UsageError naming an unknown or malformed field."""
    try:
        used = template_fields(template)
    except ValueError as exc:
        raise UsageError(
            f"bad template {template!r}: {exc}",
            "write literal braces as {{ and }}; fields: " + ", ".join(sorted(fields)),
        ) from None
    unknown = [n for n in used if n not in fields]
    if unknown:
        raise UsageError(
            f"unknown field {{{unknown[0]}}} in template {template!r}",
            "available fields: " + ", ".join("{" + f + "}" for f in sorted(fields)),
        )
    try:
        return template.format(**fields)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"bad template {template!r}: {exc}") from None


@total_ordering
@dataclass(frozen=True, order=False)
class Version:
    """A release version ``X.Y.Z[-pre]``; ``str()`` has no leading "v"."""

    major: int
    minor: int
    patch: int
    pre: str | None = None

    def __post_init__(self) -> None:
        for name in ("major", "minor", "patch"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise VersionError(f"version {name} must be a non-negative integer, got {value!r}")
        if self.pre is not None and not _PRE_RE.fullmatch(self.pre):
            raise VersionError(
                f"bad pre-release suffix {self.pre!r}", f"accepted forms: {ACCEPTED_FORMS}"
            )

    # -- parsing -------------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse ``v0.18.0``, ``0.18.0``, ``v0.18.0-rc1``, ``1.2.3-rc.2``...; VersionError else."""
        if not isinstance(text, str):
            raise VersionError(f"a version must be text, got {type(text).__name__}")
        stripped = text.strip()
        match = _VERSION_RE.fullmatch(stripped) if len(stripped) <= _MAX_LEN else None
        if match is None:
            raise VersionError(
                f"{text!r} is not a release version: it {_problem(stripped)}",
                f"accepted forms: {ACCEPTED_FORMS}",
            )
        return cls(
            int(match["major"]), int(match["minor"]), int(match["patch"]), match["pre"] or None
        )

    @classmethod
    def for_release(cls, text: str) -> Version:
        """A version to release, as an operator types it: ``parse``, and a pre-release suffix
        is lowercase letters and a number from 1 (``-rc1``, ``-rc.2``, ``-beta1``), so typos
        (``-rc``, ``-rc0``, ``-RC1``, ``-rc1-``) are refused before anything is written."""
        version = cls.parse(text)
        if version.pre is not None and not _RELEASE_PRE_RE.fullmatch(version.pre):
            raise VersionError(
                f"{text.strip()!r} is not a release version: its pre-release suffix "
                f"{version.pre!r} is not letters followed by a number from 1",
                f"accepted forms: {ACCEPTED_FORMS}",
            )
        return version

    # -- kinds ---------------------------------------------------------------------------

    @property
    def is_rc(self) -> bool:
        """Any pre-release suffix is a release candidate."""
        return self.pre is not None

    @property
    def is_final(self) -> bool:
        return self.pre is None

    @property
    def is_patch(self) -> bool:
        """A final or rc with Z > 0."""
        return self.patch > 0

    @property
    def kinds(self) -> frozenset[str]:
        """The kinds ``only`` / ``skip`` match against: {rc} or {final}, plus patch when Z > 0."""
        kinds = {"rc" if self.is_rc else "final"}
        if self.is_patch:
            kinds.add("patch")
        return frozenset(kinds)

    @property
    def kind(self) -> str:
        """One word for display: rc, patch or final."""
        if self.is_rc:
            return "rc"
        return "patch" if self.is_patch else "final"

    def matches(self, only: Sequence[str] | None = None, skip: Sequence[str] | None = None) -> bool:
        """Whether a step or config section with these ``only`` / ``skip`` lists applies.

        ``only`` empty or None: every kind; otherwise one of this version's kinds must be in
        it. ``skip``: none of this version's kinds may be in it.
        """
        check_kinds(only or (), "only")
        check_kinds(skip or (), "skip")
        if only and not self.kinds.intersection(only):
            return False
        return not (skip and self.kinds.intersection(skip))

    # -- derived names -------------------------------------------------------------------

    @property
    def base(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def release_line(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def final(self) -> Version:
        """The final this version leads to (itself for a final)."""
        return Version(self.major, self.minor, self.patch)

    def next_dev(self, suffix: str = "dev") -> Version:
        """The default branch's next development version after X.Y: ``X.(Y+1).0-<suffix>``."""
        return Version(self.major, self.minor + 1, 0, suffix)

    def previous_final(self) -> Version | None:
        """For a patch, the final it patches (X.Y.(Z-1)); None when Z == 0."""
        if self.patch == 0:
            return None
        return Version(self.major, self.minor, self.patch - 1)

    def fields(self, dev_suffix: str = "dev") -> dict[str, str | int]:
        """The fields templates may use (see FIELD_DOCS)."""
        return {
            "version": str(self),
            "base": self.base,
            "major": self.major,
            "minor": self.minor,
            "patch": self.patch,
            "pre": self.pre or "",
            "next_minor": self.minor + 1,
            "next_major": self.major + 1,
            "release_line": self.release_line,
            "next_dev": str(self.next_dev(dev_suffix)),
        }

    def format(self, template: str, dev_suffix: str = "dev", **extra: Any) -> str:
        """Fill a template (``release-v{major}.{minor}``) with :meth:`fields` and ``extra``.

        Raises UsageError naming an unknown field.
        """
        return format_template(template, {**self.fields(dev_suffix), **extra})

    # -- text and ordering ---------------------------------------------------------------

    def __str__(self) -> str:
        return f"{self.base}-{self.pre}" if self.pre else self.base

    def __repr__(self) -> str:
        return f"Version({str(self)!r})"

    @property
    def v(self) -> str:
        """``v0.18.0-rc1``."""
        return f"v{self}"

    def _key(self) -> tuple[Any, ...]:
        if self.pre is None:
            pre_key: tuple[Any, ...] = (1,)
        else:
            pre_key = (0, tuple(_ident_key(i) for i in self.pre.split(".")))
        return (self.major, self.minor, self.patch, pre_key)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()


def check_kinds(kinds: Iterable[str], what: str = "only") -> None:
    """Raise UsageError if any of ``kinds`` is not rc, final or patch."""
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise UsageError(
            f"{what}: unknown release kind {bad[0]!r}",
            "release kinds are " + ", ".join(KINDS),
        )
