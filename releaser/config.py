"""releaser.toml: finding, loading and validating it against the schema.

The schema lives in ``releaser.config_schema`` (one source of truth: validation, defaults,
``docs/configuration.md``, ``releaser init``). Every problem of a file is reported at once in
one ConfigError (exit 2), one line per problem: ``releaser.toml:12: build.workflows[1].on:
"push" is not allowed; expected one of "tag", "dispatch"``.

Access is read-only and attribute-style: ``config.project.repo``,
``config.build.workflows[0].file``, ``config.forge.sandbox`` (an absolute Path or None).

Stdlib only at import time: the CLI imports this on every start.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from releaser.config_rules import check_rules
from releaser.config_schema import (
    FIELD_SETS,
    KIND_KEYS,
    NOT_ACTED_ON_YET,
    SECRET_KEY_NAMES,
    TABLES,
    TABLES_BY_NAME,
    Key,
    Table,
    children,
    leaf,
    schema_markdown,
)
from releaser.errors import UsageError
from releaser.version import KINDS, Version, template_fields

__all__ = [
    "CONFIG_NAME",
    "Config",
    "ConfigError",
    "Problem",
    "Section",
    "check_configuration_doc",
    "find_config",
    "load_config",
    "parse_config",
    "schema_markdown",
    "write_configuration_doc",
]

CONFIG_NAME = "releaser.toml"
DOCS_HINT = "every key is described in docs/configuration.md"


class _LazyRe:
    """A regex compiled on first use: keeps ``import releaser.config`` cheap."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._args = (pattern, flags)
        self._compiled: re.Pattern[str] | None = None

    def __getattr__(self, name: str) -> Any:
        if self._compiled is None:
            self._compiled = re.compile(*self._args)
        return getattr(self._compiled, name)


_ENV_NAME = _LazyRe(r"[A-Z_][A-Z0-9_]*")
_REPO = _LazyRe(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_URL = _LazyRe(r"https?://[^\s/?#]+(?:[/?#]\S*)?")
_GPG_KEY = _LazyRe(r"(?:0x)?(?:[0-9A-Fa-f]{8}|[0-9A-Fa-f]{16}|[0-9A-Fa-f]{40})")
_EMAIL = _LazyRe(r"[^@\s]+@[^@\s]+")
_HANDLE = _LazyRe(r"@?[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
_TEAM = _LazyRe(r"@?[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}/[A-Za-z0-9_.-]+")
_SECRET_KEY = _LazyRe(
    r"(?:.*_)?(?:" + "|".join(re.escape(n) for n in SECRET_KEY_NAMES) + r")", re.IGNORECASE
)
# Shapes of well-known credentials, so one pasted into any value is caught (and never echoed).
_CREDENTIAL = _LazyRe(
    r"gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|npm_[A-Za-z0-9]{30,}"
    r"|pypi-[A-Za-z0-9_-]{40,}|xox[abpr]-[A-Za-z0-9-]{10,}|glpat-[A-Za-z0-9_-]{20,}"
    r"|discord(?:app)?\.com/api/webhooks/\d+/\S+|syt_[A-Za-z0-9_]{20,}"
)
_SAMPLE_VERSION = Version(1, 2, 3, "rc1")
_SAMPLE_MESSAGE = {
    "name": "Example",
    "repo": "owner/name",
    "tag": "v1.2.3-rc1",
    "release_url": "https://github.com/owner/name/releases/tag/v1.2.3-rc1",
    "issue_url": "https://github.com/owner/name/issues/1",
    "changelog_url": "https://github.com/owner/name/blob/v1.2.3-rc1/CHANGELOG.md",
    "file": "/tmp/mylib-1.2.3rc1-py3-none-any.whl",  # smoke commands
    "highlights": "- Add a feature (#1)\n- Fix a bug (#2)",
}


# -- errors -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One problem of a config file: the key path (``build.workflows[1].on``), what is wrong,
    and the line it is on when it could be found."""

    path: str
    message: str
    line: int | None = None

    def render(self, file: str) -> str:
        where = f"{file}:{self.line}" if self.line else file
        if not self.path or self.message.startswith(self.path):  # the message names the key
            return f"{where}: {self.message}"
        return f"{where}: {self.path}: {self.message}"


class ConfigError(UsageError):
    """releaser.toml is missing, not TOML, or not valid (exit 2). ``problems`` lists them."""

    def __init__(
        self, message: str, hint: str | None = None, problems: list[Problem] | None = None
    ) -> None:
        super().__init__(message, hint)
        self.problems: list[Problem] = problems or []


# -- read-only access ---------------------------------------------------------------------


def _wrap(value: Any, path: str) -> Any:
    if isinstance(value, dict):
        return Section(value, path)
    if isinstance(value, list):
        return [_wrap(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


class Section(Mapping[str, Any]):
    """A read-only view of one table: ``section.key`` or ``section["key"]``."""

    __slots__ = ("_data", "_key_path")

    def __init__(self, data: dict[str, Any], key_path: str = "") -> None:
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_key_path", key_path)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return _wrap(self._data[name], f"{self._key_path}.{name}".lstrip("."))
        except KeyError:
            raise AttributeError(f"config {self._key_path or 'root'} has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("the config is read-only")

    def __getitem__(self, name: str) -> Any:
        return _wrap(self._data[name], f"{self._key_path}.{name}".lstrip("."))

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Section({self._key_path!r}, {self._data!r})"

    @property
    def key_path(self) -> str:
        """Where this table is in the file: ``build.workflows[0]``."""
        return str(self._key_path)

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the table's data."""
        import copy

        return copy.deepcopy(self._data)

    def applies(self, version: Version) -> bool:
        """Whether this table's ``only`` / ``skip`` select ``version`` (True without them)."""
        return version.matches(self._data.get("only") or (), self._data.get("skip") or ())


class Config:
    """A loaded, validated releaser.toml.

    ``path``: the file; ``root``: its directory; ``data``: the validated dict with defaults
    filled in (absent optional tables are None, absent arrays of tables []). Sections are
    attributes: ``config.project.repo``, ``config.publish.github`` (None when absent).
    """

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.root = path.parent
        self.data = data

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self.__dict__.get("data", {}):
            raise AttributeError(f"releaser.toml has no section {name!r}")
        return _wrap(self.data[name], name)

    def __repr__(self) -> str:
        return f"Config({str(self.path)!r})"

    def section(self, dotted: str) -> Any:
        """A table by its dotted name: ``config.section("publish.github")``."""
        value: Any = self.data
        for part in dotted.split("."):
            if not isinstance(value, dict) or part not in value:
                raise KeyError(dotted)
            value = value[part]
        return _wrap(value, dotted)

    # -- templates -------------------------------------------------------------------

    def template_fields(self, version: Version, **extra: Any) -> dict[str, Any]:
        """Every field a template may use for ``version``: version fields, name, repo, tag."""
        suffix = self.data["project"]["dev_suffix"]
        fields: dict[str, Any] = dict(version.fields(suffix))
        fields["name"] = self.data["project"]["name"]
        fields["repo"] = self.data["project"]["repo"]
        fields["tag"] = version.format(self.data["project"]["tag"], suffix)
        fields.update(extra)
        return fields

    def render(self, template: str, version: Version, **extra: Any) -> str:
        """Fill a config template (``Release v{version}``, ``{name} is out! {release_url}``)."""
        from releaser.version import format_template

        return format_template(template, self.template_fields(version, **extra))

    def tag_for(self, version: Version) -> str:
        return self.render(self.data["project"]["tag"], version)

    def version_branch_for(self, version: Version) -> str:
        return self.render(self.data["project"]["version_branch"], version)

    def configured(self, table: str) -> bool:
        """Whether the file has ``table`` (a table, or a non-empty array of tables)."""
        try:
            value: Any = self.section(table)
        except KeyError:
            return False
        return bool(value) if isinstance(value, list) else value is not None

    def not_acted_on(self) -> list[str]:
        """Configured tables no step acts on yet (``NOT_ACTED_ON_YET``): commands say so."""
        return [t for t in NOT_ACTED_ON_YET if self.configured(t)]

    def step_override(self, name: str) -> Section | None:
        """The ``[steps.NAME]`` table for step ``name`` (enabled, only, skip), or None."""
        table = self.data.get("steps", {}).get(name)
        return None if table is None else Section(table, f"steps.{name}")

    # -- secrets ---------------------------------------------------------------------

    def secret_envs(self, include_non_secret: bool = True) -> list[tuple[str, str, str]]:
        """Every environment variable the config names: (variable, key path, what it holds).

        One row per configured ``*_env`` key, in schema order (a variable named by two keys
        appears twice). Tables that are absent contribute nothing. ``include_non_secret``:
        also list variables that aren't credentials (GNUPGHOME).
        """
        rows: list[tuple[str, str, str]] = []
        for table in TABLES:
            env_keys = [k for k in table.keys if k.type == "env"]
            if not env_keys:
                continue
            for item_path, item in _items(self.data, table):
                for key in env_keys:
                    name = item.get(key.name)
                    if not name or not (key.secret or include_non_secret):
                        continue
                    if table.name == "forge" and key.name == "token_env" and item.get("sandbox"):
                        continue  # the sandbox forge hands out its own token
                    purpose = key.purpose.format_map(_SafeDict(item)) if key.purpose else ""
                    rows.append((name, f"{item_path}.{key.name}", purpose))
        return rows


class _SafeDict(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _items(data: dict[str, Any], table: Table) -> list[tuple[str, dict[str, Any]]]:
    value: Any = data
    for part in table.name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return []
    if table.array:
        return [(f"{table.name}[{i}]", item) for i, item in enumerate(value)]
    return [(table.name, value)]


# -- finding and loading ------------------------------------------------------------------


def find_config(start: Path) -> Path | None:
    """The nearest releaser.toml in ``start`` or a parent directory."""
    here = start.resolve()
    for directory in (here, *here.parents):
        candidate = directory / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path | None = None, start: Path | None = None) -> Config:
    """Load and validate ``path``, or the nearest releaser.toml from ``start`` (default: cwd)."""
    if path is None:
        found = find_config(start or Path.cwd())
        if found is None:
            where = (start or Path.cwd()).resolve()
            raise ConfigError(
                f"no {CONFIG_NAME} in {where} or any parent directory",
                "run `releaser init` in your repository, or pass --config PATH",
            )
        path = found
    path = path.expanduser()
    if path.is_dir():
        path = path / CONFIG_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} does not exist",
            "run `releaser init` in your repository, or pass --config PATH",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"can't read config file {path}: {exc}") from None
    return parse_config(text, path.resolve())


def parse_config(text: str, path: Path) -> Config:
    """Validate releaser.toml ``text`` (as if read from ``path``); ConfigError lists problems."""
    display = _display(path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line = int(m.group(1)) if m else None
        reason = msg[: m.start()].strip() if m else msg
        col = f", column {m.group(2)}" if m else ""
        raise ConfigError(
            f"{display}:{line or '?'}{col}: not valid TOML: {reason}",
            "fix the TOML syntax (https://toml.io); strings need quotes, tables [brackets]",
            [Problem("", f"not valid TOML: {reason}", line)],
        ) from None
    validator = _Validator(path.parent, _line_index(text))
    data = validator.validate(raw)
    if validator.problems:
        problems = sorted(validator.problems, key=lambda p: p.line or 10**9)
        if len(problems) == 1:
            message = problems[0].render(display)
        else:
            lines = "\n".join("  " + p.render(display) for p in problems)
            message = f"{len(problems)} problems in {display}:\n{lines}"
        raise ConfigError(message, f"fix the keys above; {DOCS_HINT}", problems)
    return Config(path, data)


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# -- line numbers -------------------------------------------------------------------------

_HEADER = _LazyRe(r"\s*(\[\[?)\s*([^\[\]#]+?)\s*\]\]?\s*(?:#.*)?")
_KEY_LINE = _LazyRe(
    r"\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*="
)
_STRINGS = _LazyRe(r"\"(?:[^\"\\]|\\.)*\"|'[^']*'")


def _split_key(dotted: str) -> list[str]:
    parts = re.findall(r"\"[^\"]*\"|'[^']*'|[A-Za-z0-9_-]+", dotted)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


def _line_index(text: str) -> dict[str, int]:
    """Map key paths (``build.workflows[1].on``) and table paths to 1-based line numbers.

    A heuristic scanner, not a TOML parser: good enough to point at the line of a problem.
    """
    index: dict[str, int] = {}
    counts: dict[str, int] = {}
    current = ""
    in_multiline: str | None = None
    depth = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        if depth > 0:
            bare = _STRINGS.sub("", line.split("#", 1)[0])
            depth += bare.count("[") + bare.count("{") - bare.count("]") - bare.count("}")
            continue
        header = _HEADER.fullmatch(line)
        if header and not _KEY_LINE.match(line):
            names = _split_key(header.group(2))
            resolved: list[str] = []
            for i, name in enumerate(names):
                prefix = ".".join([*resolved, name]) if resolved else name
                plain = ".".join(names[: i + 1])
                if i < len(names) - 1 and plain in counts:
                    prefix = f"{prefix}[{counts[plain] - 1}]"
                resolved = [prefix]
            path = resolved[0] if resolved else ""
            if header.group(1) == "[[":
                plain = ".".join(names)
                counts[plain] = counts.get(plain, 0) + 1
                index.setdefault(resolved[0] if resolved else plain, number)
                path = f"{path}[{counts[plain] - 1}]"
            current = path
            index.setdefault(current, number)
            for i in range(1, len(names)):
                index.setdefault(".".join(names[:i]), number)
            continue
        key = _KEY_LINE.match(line)
        if key:
            parts = _split_key(key.group(1))
            for i in range(1, len(parts) + 1):
                index.setdefault(".".join([current, *parts[:i]]).lstrip("."), number)
            rest = line[key.end() :]
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2 == 1:
                    in_multiline = quote
                    break
            else:
                bare = _STRINGS.sub("", rest.split("#", 1)[0] if "#" in rest else rest)
                bare = bare.split("#", 1)[0]
                depth = bare.count("[") + bare.count("{") - bare.count("]") - bare.count("}")
                depth = max(depth, 0)
    return index


def _find_line(index: dict[str, int], path: str) -> int | None:
    while path:
        if path in index:
            return index[path]
        if path.endswith("]"):
            path = path[: path.rfind("[")]
        elif "." in path:
            path = path.rsplit(".", 1)[0]
        else:
            return None
    return None


# -- validation ---------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def _shown(value: Any) -> str:
    """A short, safe rendering of a value for a message (credentials are never shown)."""
    text = repr(value)
    if _CREDENTIAL.search(text):
        return "(a value that looks like a credential)"
    return text if len(text) <= 60 else text[:57] + "..."


_EXPECTED = {
    "int": "an integer",
    "bool": "a boolean (true or false)",
    "table[template]": "a table of strings",
}


def _is_ref_name(name: str) -> bool:
    """git check-ref-format rules, for one branch or tag name."""
    if not name or name.startswith(("-", "/", ".")) or name.endswith(("/", ".", ".lock")):
        return False
    if ".." in name or "//" in name or "@{" in name or "/." in name or name == "@":
        return False
    return not re.search(r"[\x00-\x20\x7f~^:?*\[\\]", name)


class _Validator:
    def __init__(self, root: Path, index: dict[str, int]) -> None:
        self.root = root
        self.index = index
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message, _find_line(self.index, path)))

    # -- structure -------------------------------------------------------------------

    def validate(self, raw: dict[str, Any]) -> dict[str, Any]:
        data = self.container("", raw, "")
        if not self.problems:  # rules across keys (releaser.config_rules) need valid keys
            check_rules(data, raw, self.add)
        return data

    def container(self, prefix: str, raw: dict[str, Any], at: str) -> dict[str, Any]:
        """One table: ``prefix`` is its schema name (``build.workflows``), ``at`` its key path
        in the file (``build.workflows[1]``)."""
        table = TABLES_BY_NAME.get(prefix)
        subtables = {leaf(t.name): t for t in children(prefix)}
        keys = {k.name: k for k in table.keys} if table else {}
        if table and table.kinds:  # a table's own only / skip (another default) wins
            keys.update({k.name: k for k in KIND_KEYS if k.name not in keys})
        out: dict[str, Any] = {}
        suggested: set[str] = set()
        for name, value in raw.items():
            path = f"{at}.{name}" if at else name
            if name in subtables:
                continue
            if name in keys:
                out[name] = self.value(keys[name], value, path)
            else:
                suggested.add(self.unknown(prefix, at, name, [*keys, *subtables]) or "")
        for name, key in keys.items():
            if name not in out:
                if key.required and name in suggested:
                    out[name] = None  # "did you mean 'file'?" already says it
                    continue
                out[name] = self.missing(key, f"{at}.{name}" if at else name)
        for name, sub in subtables.items():
            path = f"{at}.{name}" if at else name
            out[name] = self.subtable(sub, raw.get(name), path)
        return out

    def subtable(self, table: Table, value: Any, path: str) -> Any:
        if table.mapping:
            return self.mapping(table, value, path)
        if value is None:
            if table.array:
                return []
            if table.always or children(table.name):
                return self.container(table.name, {}, path)
            return None
        if table.array:
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                self.add(
                    path, f"expected an array of tables ([[{table.name}]]), got {_type_name(value)}"
                )
                return []
            return [
                self.container(table.name, item, f"{path}[{i}]") for i, item in enumerate(value)
            ]
        if not isinstance(value, dict):
            form = "[[...]] (an array of tables)" if isinstance(value, list) else _type_name(value)
            self.add(path, f"expected a table ([{table.name}]), got {form}")
            return self.container(table.name, {}, path)
        return self.container(table.name, value, path)

    def mapping(self, table: Table, value: Any, path: str) -> dict[str, Any]:
        """``[steps.NAME]`` tables: any name (a step id), each validated against the table."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.add(path, f"expected a table ([{table.name}.NAME]), got {_type_name(value)}")
            return {}
        out: dict[str, Any] = {}
        for name, item in value.items():
            at = f"{path}.{name}"
            if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
                self.add(at, f"{name!r} is not a step name (lower-case letters, digits, -)")
                continue
            if not isinstance(item, dict):
                self.add(at, f"expected a table ([{table.name}.{name}]), got {_type_name(item)}")
                continue
            out[name] = self.container(table.name, item, at)
        return out

    def unknown(self, prefix: str, at: str, name: str, known: list[str]) -> str | None:
        """Report an unknown key; return the known key suggested instead, if any."""
        path = f"{at}.{name}" if at else name
        where = f"[{prefix}]" if prefix else "the top level"
        if _SECRET_KEY.fullmatch(name) and not name.lower().endswith("_env"):
            env_keys = [k for k in known if k.endswith("_env")]
            guess = difflib.get_close_matches(f"{name}_env", env_keys, n=1, cutoff=0.5)
            env_key = guess[0] if guess else f"{name}_env"
            self.add(
                path,
                "looks like a secret written inline: secrets never live in releaser.toml; "
                f'put the value in an environment variable (or .env) and set {env_key} = "VAR" '
                "to its name",
            )
            return None
        message = f"unknown key {name!r} in {where}"
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        if close:
            message += f" (did you mean {close[0]!r}?)"
        else:
            owners = [t.name for t in TABLES if t.key(name) is not None and t.name != prefix] or [
                t.name for t in TABLES if leaf(t.name) == name
            ]
            if owners:
                message += " (it belongs in " + ", ".join(f"[{o}]" for o in owners[:3]) + ")"
            elif known:
                message += "; known keys: " + ", ".join(sorted(known))
        self.add(path, message)
        return close[0] if close else None

    def missing(self, key: Key, path: str) -> Any:
        if key.required:
            self.add(path, f"missing required key {key.name!r} ({key.doc.rstrip('.')})")
            return None
        import copy

        return copy.deepcopy(key.default)

    # -- values ----------------------------------------------------------------------

    def value(self, key: Key, value: Any, path: str) -> Any:
        kind = key.type
        if isinstance(value, str) and _CREDENTIAL.search(value):
            self.add(
                path,
                "holds what looks like a credential: secrets never live in "
                "releaser.toml; name an environment variable in a *_env key instead",
            )
            return None
        if kind.startswith("list["):
            return self.list_value(key, value, path)
        if kind == "table[template]":
            if not isinstance(value, dict):
                self.add(path, f"expected a table of strings, got {_type_name(value)}")
                return {}
            out: dict[str, str] = {}
            for name, item in value.items():
                checked = self.scalar(key, "template", item, f"{path}.{name}")
                if checked is not None:
                    out[name] = checked
            return out
        return self.scalar(key, kind, value, path)

    def list_value(self, key: Key, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            self.add(path, f"expected an array of strings, got {_type_name(value)} {_shown(value)}")
            return []
        item_kind = key.type[5:-1]
        out = []
        for i, item in enumerate(value):
            checked = self.scalar(key, item_kind, item, f"{path}[{i}]")
            if checked is not None:
                out.append(checked)
        return out

    def scalar(self, key: Key, kind: str, value: Any, path: str) -> Any:
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                self.add(path, f"expected an integer, got {_type_name(value)} {_shown(value)}")
                return key.default
            if key.minimum is not None and value < key.minimum:
                self.add(path, f"must be at least {key.minimum}, got {value}")
            return value
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.add(path, f"expected a number, got {_type_name(value)} {_shown(value)}")
                return key.default
            if not value > 0 or value == float("inf"):
                self.add(path, f"must be a finite number more than 0, got {value}")
                return key.default
            return value
        if kind == "bool":
            if not isinstance(value, bool):
                self.add(
                    path,
                    f"expected a boolean (true or false), got {_type_name(value)} {_shown(value)}",
                )
                return key.default
            return value
        if not isinstance(value, str):
            self.add(path, f"expected a string, got {_type_name(value)} {_shown(value)}")
            return None
        check: Callable[[Key, str, str], Any] = getattr(self, f"check_{kind}")
        return check(key, value, path)

    def check_string(self, key: Key, value: str, path: str) -> str | None:
        if not value.strip() and not key.allow_empty:
            self.add(path, "must not be empty")
        if key.name == "dev_suffix" and not re.fullmatch(r"[0-9A-Za-z-]+", value):
            self.add(path, f"{_shown(value)} is not a pre-release identifier (letters, digits, -)")
        return value

    def _template(self, key: Key, value: str, path: str) -> str | None:
        """Check the fields of a template; return it rendered with sample values, or None."""
        allowed = FIELD_SETS[key.fields]
        try:
            used = template_fields(value)
        except ValueError as exc:
            self.add(
                path, f"bad template {_shown(value)}: {exc}; write literal braces as {{{{ and }}}}"
            )
            return None
        unknown = [n for n in used if n not in allowed]
        if unknown:
            close = difflib.get_close_matches(unknown[0], sorted(allowed), n=1, cutoff=0.6)
            hint = f" (did you mean {{{close[0]}}}?)" if close else ""
            self.add(
                path,
                f"unknown template field {{{unknown[0]}}} in {_shown(value)}{hint}; fields: "
                + ", ".join("{" + f + "}" for f in sorted(allowed)),
            )
            return None
        try:
            return value.format(**_SAMPLE_VERSION.fields(), **_SAMPLE_MESSAGE)
        except (ValueError, TypeError) as exc:
            self.add(path, f"bad template {_shown(value)}: {exc}")
            return None

    def check_template(self, key: Key, value: str, path: str) -> str:
        self._template(key, value, path)
        return value

    def check_ref(self, key: Key, value: str, path: str) -> str:
        rendered = self._template(key, value, path)
        if rendered is not None and not _is_ref_name(rendered):
            self.add(
                path,
                f"{_shown(value)} doesn't make a valid git branch or tag name "
                f"(e.g. {rendered!r}): no spaces, ~ ^ : ? * [ \\, '..' or "
                "leading '-'",
            )
        return value

    def check_path(self, key: Key, value: str, path: str) -> str:
        rendered = self._template(key, value, path)
        if rendered is not None:
            parts = Path(rendered).parts
            if not rendered.strip() or rendered.startswith(("/", "\\")) or ".." in parts:
                self.add(path, f"{_shown(value)} must be a relative path inside the repository")
        return value

    def check_dir(self, key: Key, value: str, path: str) -> Path | None:
        if not value.strip():
            self.add(path, "must not be empty")
            return None
        resolved = (self.root / Path(value).expanduser()).resolve()
        if key.name == "sandbox" and not resolved.is_dir():
            self.add(
                path,
                f"{resolved} does not exist: `releaser sandbox serve --root {value}` or "
                f"`releaser demo --dir ...` makes a sandbox forge's state",
            )
        return resolved

    def check_filename(self, key: Key, value: str, path: str) -> str:
        if value and (
            value != Path(value).name or value in (".", "..") or "\\" in value or "\0" in value
        ):
            self.add(path, f"{_shown(value)} must be a plain file name (no / or ..)")
        return value

    def check_regex(self, key: Key, value: str, path: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            self.add(path, f"not a valid regular expression: {exc}")
        return value

    def check_regex_template(self, key: Key, value: str, path: str) -> str:
        rendered = self._template(key, value, path)
        if rendered is not None:
            try:
                re.compile(rendered)
            except re.error as exc:
                self.add(path, f"not a valid regular expression once filled in: {exc}")
        return value

    def check_version_regex(self, key: Key, value: str, path: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            self.add(path, f"not a valid regular expression: {exc}")
            return value
        if "version" not in compiled.groupindex:
            example = 'version = "(?P<version>[^"]+)"'
            self.add(
                path,
                "the pattern needs a named group (?P<version>...) around the "
                f"version, e.g. '{example}'",
            )
        return value

    def check_env(self, key: Key, value: str, path: str) -> str | None:
        if not _ENV_NAME.fullmatch(value):
            # Never echo the value: it may be the secret itself.
            self.add(
                path,
                "must be the NAME of an environment variable (upper-case letters, "
                "digits and _, like GITHUB_TOKEN), not its value",
            )
            return None
        return value

    def check_choice(self, key: Key, value: str, path: str) -> str | None:
        if value not in key.choices:
            allowed = ", ".join(f'"{c}"' for c in key.choices)
            self.add(path, f"{_shown(value)} is not allowed; expected one of {allowed}")
            return None
        return value

    def check_repo(self, key: Key, value: str, path: str) -> str:
        if not _REPO.fullmatch(value) or value.endswith(".git"):
            self.add(
                path,
                f'{_shown(value)} is not a repository "owner/name" '
                '(like "ipfs/kubo", without URL or .git)',
            )
        return value

    def check_url(self, key: Key, value: str, path: str) -> str:
        if not _URL.fullmatch(value):
            self.add(path, f"{_shown(value)} is not an http(s) URL")
        return value.rstrip("/") if key.name in ("api_url", "git_url") else value

    def check_gpg_key(self, key: Key, value: str, path: str) -> str:
        compact = value.replace(" ", "")
        if not _GPG_KEY.fullmatch(compact):
            self.add(
                path,
                f"{_shown(value)} is not a GPG key fingerprint or id (8, 16 or 40 "
                "hex digits; `gpg --list-secret-keys --keyid-format long`)",
            )
        return compact

    def check_email(self, key: Key, value: str, path: str) -> str:
        if not _EMAIL.fullmatch(value):
            self.add(path, f"{_shown(value)} is not an email address")
        return value

    def check_kind(self, key: Key, value: str, path: str) -> str | None:
        if value not in KINDS:
            self.add(
                path,
                f"{_shown(value)} is not a release kind; expected one of "
                + ", ".join(f'"{k}"' for k in KINDS),
            )
            return None
        return value

    def check_handle(self, key: Key, value: str, path: str) -> str | None:
        if not (_HANDLE.fullmatch(value) or _TEAM.fullmatch(value)):
            self.add(path, f"{_shown(value)} is not a GitHub @user or @org/team handle")
            return None
        return value if value.startswith("@") else f"@{value}"

    def check_user(self, key: Key, value: str, path: str) -> str | None:
        name = value.removeprefix("@")
        if not _HANDLE.fullmatch(name) or name.startswith("@"):
            self.add(path, f"{_shown(value)} is not a GitHub user name")
            return None
        return name


# -- the reference document ---------------------------------------------------------------


def write_configuration_doc(path: Path) -> bool:
    """Write the reference to ``path`` (docs/configuration.md); True if it changed."""
    text = schema_markdown()
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def check_configuration_doc(path: Path) -> bool:
    """Whether ``path`` is up to date with the schema (for CI's staleness check)."""
    return path.is_file() and path.read_text(encoding="utf-8") == schema_markdown()
