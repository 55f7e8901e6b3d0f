"""``releaser init``: write a commented starter releaser.toml detected from the git repository.

Detected: ``owner/name`` and the forge (github.com, or a GitHub Enterprise or sandbox host
with the path its repositories live under) from the ``origin`` remote; the default branch
from ``refs/remotes/origin/HEAD`` or the current branch; version files (version.go,
pyproject.toml, package.json, Cargo.toml) with their pattern; a changelog and tag-triggered
workflows. The file written always loads with ``releaser.config``, whose requirements across
keys it meets (no ``[publish.github]`` without a workflow building the assets).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from releaser.config import CONFIG_NAME, parse_config
from releaser.errors import ReleaserError, UsageError

__all__ = [
    "Detected",
    "InitResult",
    "Remote",
    "VersionFileGuess",
    "detect",
    "ensure_gitignore",
    "find_git_root",
    "init_config",
    "parse_remote_url",
    "render_config",
]


@dataclass(frozen=True)
class VersionFileGuess:
    path: str
    pattern: str
    current: str
    format: str = "{version}"
    dev_format: str | None = None
    matches: int = 1  # how often the pattern matches now (must be 1)


@dataclass
class Detected:
    root: Path
    remote: Remote | None = None  # from the origin remote (None: no forge remote found)
    remote_url: str | None = None
    default_branch: str = "main"
    version_files: list[VersionFileGuess] = field(default_factory=list)
    changelog: str | None = None
    tag_workflows: list[str] = field(default_factory=list)
    other_workflows: list[str] = field(default_factory=list)

    @property
    def repo(self) -> str | None:
        return self.remote.repo if self.remote else None

    @property
    def name(self) -> str:
        return self.remote.name if self.remote else self.root.name


# -- git ----------------------------------------------------------------------------------


def find_git_root(start: Path) -> Path | None:
    """The work tree containing ``start`` (a directory with a ``.git`` dir or file)."""
    here = start.resolve()
    for directory in (here, *here.parents):
        if (directory / ".git").exists():
            return directory
    return None


_SCP = re.compile(r"(?:[^@/\s]+@)?(?P<host>[^:/\s]+):(?P<path>[^\s]+)")
_NAME = re.compile(r"[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Remote:
    """Where a git remote URL says the repository lives.

    ``prefix`` is the path before ``owner/name`` ("" on GitHub, ``/git`` on the sandbox
    forge): the forge's repositories are ``{git_url}/{owner}/{name}.git``.
    """

    scheme: str  # http or https: how the forge is reached over HTTP (ssh remotes: https)
    host: str  # host[:port] of the web server
    prefix: str
    owner: str
    name: str

    @property
    def repo(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def on_github(self) -> bool:
        return self.host.lower() in ("github.com", "www.github.com") and not self.prefix

    @property
    def git_url(self) -> str:
        """The ``[forge] git_url`` of this remote."""
        return (
            "https://github.com" if self.on_github else f"{self.scheme}://{self.host}{self.prefix}"
        )

    @property
    def api_url(self) -> str:
        """The ``[forge] api_url``: GitHub's, else GitHub Enterprise's (and the sandbox's)
        ``/api/v3`` on the same host."""
        if self.on_github:
            return "https://api.github.com"
        return f"{self.scheme}://{self.host}/api/v3"


def parse_remote_url(url: str) -> Remote | None:
    """Where the repository of a git remote URL lives, or None when it isn't a forge's.

    Accepts http(s)://[user@]host[:port][/prefix]/owner/name[.git],
    ssh://git@host[:port][/prefix]/owner/name[.git], git://host/owner/name.git and scp-like
    git@host:[prefix/]owner/name[.git]. Credentials in the URL are dropped.
    """
    url = url.strip()
    m = re.fullmatch(r"(?P<scheme>https?|ssh|git)://(?:[^@/]+@)?(?P<host>[^/]+)/(?P<path>.+)", url)
    if m:
        scheme = m["scheme"] if m["scheme"] in ("http", "https") else "https"
        host = m["host"]
        if m["scheme"] in ("ssh", "git"):
            host = host.split(":", 1)[0]  # an ssh port is not the web port
        path = m["path"]
    else:
        s = _SCP.fullmatch(url)
        if not s or "://" in url:
            return None
        scheme, host, path = "https", s["host"], s["path"]
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2:
        return None
    owner, name = parts[-2], parts[-1].removesuffix(".git")
    if not all(_NAME.fullmatch(p) for p in (owner, name)):
        return None
    prefix = "".join(f"/{p}" for p in parts[:-2])
    return Remote(scheme, host, prefix, owner, name)


def _read_git(root: Path) -> tuple[str | None, str | None]:
    """(origin URL or the first remote's, default branch) from the repository's metadata."""
    from dulwich.refs import Ref
    from dulwich.repo import Repo

    try:
        repo = Repo(str(root))
    except Exception:
        return None, None
    url: str | None = None
    branch: str | None = None
    try:
        config = repo.get_config()
        try:
            url = config.get((b"remote", b"origin"), b"url").decode()
        except KeyError:
            for section in config.sections():
                if len(section) == 2 and section[0] == b"remote":
                    try:
                        url = config.get(section, b"url").decode()
                        break
                    except KeyError:
                        continue
        for ref, prefix in (
            (b"refs/remotes/origin/HEAD", "ref: refs/remotes/origin/"),
            (b"HEAD", "ref: refs/heads/"),
        ):
            try:
                target = repo.refs.read_ref(Ref(ref))
            except Exception:
                target = None
            if target and target.decode().startswith(prefix):
                branch = target.decode()[len(prefix) :].strip()
                break
    finally:
        repo.close()
    return url, branch


# -- version files ------------------------------------------------------------------------

_GO_CONST = re.compile(r'^\s*(?:const\s+)?(?P<ident>\w*[Vv]ersion\w*)\s*=\s*"(?P<v>[^"]+)"', re.M)


def _guess(path: str, text: str, pattern: str, fmt: str, dev: str | None) -> VersionFileGuess:
    matches = list(re.finditer(pattern, text))
    current = matches[0]["version"] if matches else ""
    if current.startswith("v") and not fmt.startswith("v"):
        fmt = "v" + fmt
        dev = "v" + dev if dev else dev
    if not re.search(r"dev", current, re.I):
        dev = None  # the default branch doesn't carry a development version now
    return VersionFileGuess(path, pattern, current, fmt, dev, len(matches))


def _version_files(root: Path) -> list[VersionFileGuess]:
    guesses: list[VersionFileGuess] = []

    def read(name: str) -> str | None:
        try:
            return (root / name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    text = read("version.go")
    if text is not None:
        m = _GO_CONST.search(text)
        if m:
            ident = m["ident"]
            const = "const " if re.search(rf"const\s+{ident}\b", text) else ""
            pattern = rf'{const}{ident} = "(?P<version>[^"]+)"'
            if not re.search(pattern, text):
                pattern = rf'{const}{ident}\s*=\s*"(?P<version>[^"]+)"'
            guesses.append(_guess("version.go", text, pattern, "{version}", "{version}"))
    text = read("pyproject.toml")
    if text is not None and re.search(r'(?m)^version\s*=\s*"', text):
        pattern = r'(?m)^version = "(?P<version>[^"]+)"'
        if not re.search(pattern, text):
            pattern = r'(?m)^version\s*=\s*"(?P<version>[^"]+)"'
        guesses.append(_guess("pyproject.toml", text, pattern, "{base}{pre}", "{base}.dev0"))
    text = read("package.json")
    if text is not None and '"version"' in text:
        pattern = r'(?m)^  "version": "(?P<version>[^"]+)"'
        if not re.search(pattern, text):
            pattern = r'"version"\s*:\s*"(?P<version>[^"]+)"'
        guesses.append(_guess("package.json", text, pattern, "{version}", None))
    text = read("Cargo.toml")
    if text is not None and re.search(r'(?m)^version\s*=\s*"', text):
        pattern = r'(?m)^version = "(?P<version>[^"]+)"'
        guesses.append(_guess("Cargo.toml", text, pattern, "{version}", None))
    return guesses


def detect(repo_dir: Path) -> Detected:
    """What ``releaser init`` can tell about the repository containing ``repo_dir``."""
    root = find_git_root(repo_dir)
    if root is None:
        raise UsageError(
            f"{repo_dir.resolve()} is not inside a git repository",
            "run `releaser init` in a clone of your project (or `git init` and add the "
            "GitHub remote first: git remote add origin https://github.com/OWNER/NAME.git)",
        )
    found = Detected(root)
    url, branch = _read_git(root)
    if url:
        found.remote_url = url
        found.remote = parse_remote_url(url)
    if branch and re.fullmatch(r"[A-Za-z0-9._/-]+", branch) and ".." not in branch:
        found.default_branch = branch
    found.version_files = _version_files(root)
    for candidate in ("CHANGELOG.md", "CHANGES.md", "HISTORY.md", "NEWS.md", "CHANGELOG.rst"):
        if (root / candidate).is_file():
            found.changelog = candidate
            break
    workflows = root / ".github" / "workflows"
    if workflows.is_dir():
        for wf in sorted([*workflows.glob("*.yml"), *workflows.glob("*.yaml")]):
            try:
                text = wf.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if re.search(r"(?m)^\s+tags\s*:", text):
                found.tag_workflows.append(wf.name)
            else:
                found.other_workflows.append(wf.name)
    return found


# -- rendering ----------------------------------------------------------------------------


def _q(value: str) -> str:
    """A TOML string: a literal '...' when possible (regexes read better), else "..."."""
    if "'" not in value and "\n" not in value and ("\\" in value or '"' in value):
        return f"'{value}'"
    return json.dumps(value)


def render_config(found: Detected) -> str:
    """The starter releaser.toml for ``found``: every section, detected values filled in."""
    repo = found.repo or f"OWNER/{re.sub(r'[^A-Za-z0-9_.-]', '-', found.root.name) or 'NAME'}"
    todo_repo = "" if found.repo else "  # TODO: no GitHub remote found; set owner/name"
    out: list[str] = [
        "# releaser.toml: how this project is released. Written by `releaser init`; review",
        "# every value. Reference: docs/configuration.md of releaser; templates such as",
        "# {version}, {major}, {minor}, {base}, {next_dev} are filled per release.",
        "# Secrets never live here: *_env keys name the environment variable (or .env entry).",
        "",
        "[project]",
        f"name = {_q(found.name)}",
        f"repo = {_q(repo)}{todo_repo}",
        f"default_branch = {_q(found.default_branch)}",
        "# Branch a release is prepared on (the rcs, final and patches of X.Y share it).",
        'version_branch = "release-v{major}.{minor}"',
        "# Optional long-lived branch that finals are merged into and patches start from:",
        '# release_branch = "release"',
        'tag = "v{version}"',
        'tag_message = "Release {version}"',
        'rc_tag_message = "Prerelease {version}"',
        "",
        "[forge]",
    ]
    if found.remote and not found.remote.on_github:
        out += [
            "# Detected from the origin remote: a GitHub Enterprise (or sandbox) server;",
            "# repositories are {git_url}/OWNER/NAME.git.",
            f"api_url = {_q(found.remote.api_url)}",
            f"git_url = {_q(found.remote.git_url)}",
        ]
    else:
        out.append('api_url = "https://api.github.com"')
    out += [
        'token_env = "GITHUB_TOKEN"   # scopes: repo, workflow',
        "# Rehearse against a local sandbox forge instead of GitHub:",
        '# sandbox = ".releaser/forge"',
        "",
        "[signing]",
        "# Sign tags and checksums with this GPG key (gpg --list-secret-keys --keyid-format long):",
        '# gpg_key = "0123456789ABCDEF0123456789ABCDEF01234567"',
        "",
        "[tracking_issue]",
        'title = "Release v{version}"',
        "labels = []",
        "checklist = true",
        "",
    ]
    if found.version_files:
        out.append('# Files holding the version; the pattern\'s group "version" is replaced.')
    else:
        out += [
            '# Files holding the version; the pattern\'s group "version" is replaced:',
            "# [[version_files]]",
            '# path = "version.go"',
            '# pattern = \'const Version = "(?P<version>[^"]+)"\'',
            '# format = "{version}"',
            "",
        ]
    for vf in found.version_files:
        ok = vf.matches == 1
        c = "" if ok else "# "
        if not ok:
            out.append(
                f"# TODO: this pattern matches {vf.matches} times in {vf.path} (it must "
                "match once): adjust it, then uncomment"
            )
        out += [
            f"{c}[[version_files]]",
            f"{c}path = {_q(vf.path)}" + (f"  # now: {vf.current}" if vf.current else ""),
            f"{c}pattern = {_q(vf.pattern)}",
            f"{c}format = {_q(vf.format)}",
        ]
        if vf.dev_format:
            out.append(
                f"{c}dev_format = {_q(vf.dev_format)}  # the default branch's next dev version"
            )
        else:
            dev = "{base}.dev0" if vf.path == "pyproject.toml" else "{version}"
            out.append(
                f"# {'' if ok else '# '}dev_format = {_q(dev)}  # bump the default branch too"
            )
        out.append("")
    if found.changelog:
        out += [
            "[changelog]",
            f"path = {_q(found.changelog)}",
            'heading = "## v{version}"',
            "# A command whose stdout is the generated part of the section:",
            '# command = "./scripts/changelog.sh"',
            "",
        ]
    else:
        out += [
            "# [changelog]",
            '# path = "CHANGELOG.md"',
            '# heading = "## v{version}"',
            "",
        ]
    out += ["[prepare]", 'pr_title = "Release v{version}"', "draft_for_rc = true"]
    if any(vf.dev_format and vf.matches == 1 for vf in found.version_files):
        out.append("next_dev_pr = true  # first rc: a PR moving the default branch to {next_dev}")
    else:
        out.append("# With a dev_format in [[version_files]], the first rc also opens a PR moving")
        out.append("# the default branch to the next development version:")
        out.append("# next_dev_pr = true")
    out.append("")
    if found.tag_workflows:
        out.append("# Workflows the tag push starts; releaser waits for them.")
        for name in found.tag_workflows:
            out += ["[[build.workflows]]", f"file = {_q(name)}", 'on = "tag"', ""]
    else:
        out += [
            "# Workflows that build the release (tag-triggered or dispatched):",
            "# [[build.workflows]]",
            '# file = "release.yml"',
            '# on = "tag"',
            "",
        ]
    if found.other_workflows:
        out.append("# Other workflows found: " + ", ".join(found.other_workflows))
        out.append("")
    if found.tag_workflows:
        out += [
            "[publish.github]",
            '# "artifacts": the build workflows\' artifacts; "release": the workflow attached',
            '# them to the release itself; "dir": the files in assets_dir.',
            'assets_from = "artifacts"',
            "expect_assets = []",
            'checksums = "SHA256SUMS"',
            "",
        ]
    else:
        out += [
            "# The GitHub release with its assets and SHA256SUMS. It needs to know where the",
            "# assets come from: the artifacts of a [[build.workflows]] above",
            '# (assets_from = "artifacts"), or files you build before `releaser publish`',
            '# (assets_from = "dir" with assets_dir = "dist"). Uncomment one:',
            "# [publish.github]",
            '# assets_from = "artifacts"',
            '# assets_from = "dir"',
            '# assets_dir = "dist"',
            "",
        ]
    if any(vf.path == "pyproject.toml" for vf in found.version_files):
        out += [
            "# [publish.pypi]",
            f"# project = {_q(found.name)}",
            '# token_env = "PYPI_TOKEN"',
            "",
        ]
    if any(vf.path == "package.json" for vf in found.version_files):
        out += [
            "# [publish.npm]",
            f"# package = {_q(found.name)}",
            '# token_env = "NPM_TOKEN"',
            "",
        ]
    out += [
        "# Announcements: see docs/configuration.md for [[promote.matrix]], [promote.discourse],",
        "# [promote.reddit], [promote.discord]. Restrict any table to release kinds with",
        '# only = ["final"] / skip = ["patch"].',
        "# [promote.discord]",
        '# webhook_env = "DISCORD_WEBHOOK_URL"',
        '# only = ["final"]',
        "",
        "# Dependent repositories updated by one commit and a PR after the release (finals",
        '# only unless only = ["rc", "final"]); a line marked "releaser: my-version" needs no',
        "# pattern:",
        "# [[downstream]]",
        '# repo = "OWNER/DEPENDENT"',
        '# files = ["go.mod"]',
        "# pattern = 'example.com/module v(?P<version>\\S+)'",
        "",
        "[engine]",
        "wait_timeout = 3600",
        "poll_interval = 10",
    ]
    return "\n".join(out) + "\n"


def ensure_gitignore(root: Path, entry: str = ".env") -> str | None:
    """Add ``entry`` to ``root/.gitignore`` unless it is there: "created" (no .gitignore was
    there), "updated", or None (already ignored, nothing written)."""
    path = root / ".gitignore"
    existed = path.is_file()
    text = path.read_text(encoding="utf-8") if existed else ""
    present = {line.strip() for line in text.splitlines()}
    if entry in present or f"/{entry}" in present:
        return None
    prefix = "" if not text or text.endswith("\n") else "\n"
    path.write_text(
        f"{text}{prefix}# releaser: credentials, never committed\n{entry}\n", encoding="utf-8"
    )
    return "updated" if existed else "created"


@dataclass(frozen=True)
class InitResult:
    """What ``releaser init`` wrote, for the operator: the config, what became of .gitignore,
    and what the starter leaves for them to decide."""

    path: Path
    gitignore: str | None  # "created", "updated" or None (.env was already ignored)
    notes: tuple[str, ...] = ()


def init_config(repo_dir: Path, force: bool = False) -> InitResult:
    """Write a starter releaser.toml at the top of the git repository containing ``repo_dir``.

    Refuses to overwrite an existing file unless ``force`` (UsageError, exit 2; nothing is
    written). Also adds ``.env`` to .gitignore (creating it if needed).
    """
    found = detect(repo_dir)
    path = found.root / CONFIG_NAME
    if path.exists() and not force:
        raise UsageError(
            f"{path} already exists",
            "edit it (docs/configuration.md describes every key), or pass --force to "
            "replace it with a fresh starter",
        )
    text = render_config(found)
    try:
        parse_config(text, path)
    except ReleaserError as exc:  # a bug here, not the user's: never write a broken file
        raise ReleaserError(
            f"the starter releaser.toml for {found.root} does not validate: {exc.message}",
            "please report this; meanwhile copy docs/examples/pylib.toml and edit it",
        ) from exc
    path.write_text(text, encoding="utf-8")
    notes: list[str] = []
    if found.remote is None:
        notes.append("no forge remote (origin) found: set [project] repo to OWNER/NAME")
    if not found.tag_workflows:
        notes.append(
            "no tag-triggered workflow found in .github/workflows: [[build.workflows]] and "
            "[publish.github] are commented out; say where the release's assets come from "
            "to publish a GitHub release"
        )
    return InitResult(path, ensure_gitignore(found.root), tuple(notes))
