"""What `releaser doctor` checks, as a registry of check functions keyed by config section.

A check is a function ``(ctx) -> Iterable[Row]``, registered for the section of
``releaser.toml`` it is about; it runs only when that section is configured::

    @doctor_check("promote.matrix")
    def matrix_whoami(ctx: Context) -> Iterator[Row]:
        for room in ctx.config.promote.matrix:
            ...  # GET /_matrix/client/v3/account/whoami with the token
            yield Row("matrix " + room.room, OK, "posting as @bot:matrix.org")

Service clients plug their checks in here (Matrix whoami, Reddit identity, Discourse key,
registry logins) without touching the command. A check never prints and never puts a secret
value in a row: rows name variables and where they come from, never what they hold.
Configured service sections with no registered check get an ``unchecked`` row, so the gap is
visible rather than silent.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from releaser.context import Context

__all__ = [
    "CHECKS",
    "INVALID",
    "MISSING",
    "OK",
    "SERVICE_SECTIONS",
    "UNCHECKED",
    "WARN",
    "Row",
    "doctor_check",
    "section_configured",
]

OK = "ok"
MISSING = "missing"
INVALID = "invalid"
WARN = "warning"  # could not verify; not a failure
UNCHECKED = "unchecked"  # configured, but no check exists yet; not a failure
FAILING = frozenset({MISSING, INVALID})

MIN_GIT = (2, 30)
LOGIN = ("doctor", "login")  # the forge login, once the token row found it
REQUIRED_SCOPES = ("repo", "workflow")
TOKEN_KINDS = (
    "classic: scopes repo, workflow; fine-grained: contents, pull requests, issues, actions: "
    "read and write"
)
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")

# Sections that talk to a service of their own, which doctor should verify access to.
SERVICE_SECTIONS = (
    "publish.docker",
    "publish.npm",
    "publish.pypi",
    "publish.distributions",
    "promote.matrix",
    "promote.discourse",
    "promote.reddit",
    "promote.discord",
)


@dataclass(frozen=True)
class Row:
    """One line of the doctor table."""

    check: str
    status: str
    detail: str = ""
    fix: str = ""

    @property
    def failing(self) -> bool:
        return self.status in FAILING


CheckFn = Callable[["Context"], Iterable[Row]]

# (section, check) in registration order, which is the order they run in ("" = always):
# a later check may use what an earlier one found (the forge login, in ``ctx.memo``).
CHECKS: list[tuple[str, CheckFn]] = []


def doctor_check(section: str = "") -> Callable[[CheckFn], CheckFn]:
    """Register a check for a config section (dotted, e.g. ``promote.matrix``; "" = always)."""

    def register(fn: CheckFn) -> CheckFn:
        CHECKS.append((section, fn))
        return fn

    return register


def section_configured(ctx: Context, section: str) -> bool:
    """Whether ``section`` is present in the config (a table, or a non-empty array)."""
    return not section or ctx.config.configured(section)


# -- tools ---------------------------------------------------------------------------------


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, env=env, timeout=30)


def parse_git_version(text: str) -> tuple[int, ...] | None:
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(g) for g in m.groups() if g is not None) if m else None


@doctor_check()
def git_tool(ctx: Context) -> Iterator[Row]:
    need = ".".join(map(str, MIN_GIT))
    fix = f"install git >= {need} (Debian/Ubuntu: apt install git; macOS: brew install git)"
    if not shutil.which("git"):
        yield Row("tool git", MISSING, "git is not on PATH", fix)
        return
    out = _run(["git", "--version"]).stdout.strip()
    version = parse_git_version(out)
    if version is None or version[:2] < MIN_GIT:
        yield Row("tool git", INVALID, f"{out or 'unknown version'}; needs >= {need}", fix)
    else:
        yield Row("tool git", OK, out)


@doctor_check("signing")
def gpg_tool(ctx: Context) -> Iterator[Row]:
    if not ctx.config.signing.get("gpg_key"):
        return
    if not shutil.which("gpg"):
        yield Row(
            "tool gpg",
            MISSING,
            "[signing] gpg_key is set but gpg is not on PATH",
            "install GnuPG 2 (apt install gnupg; brew install gnupg)",
        )
        return
    first = _run(["gpg", "--version"]).stdout.splitlines()
    yield Row("tool gpg", OK, first[0] if first else "gpg")


# -- credentials ---------------------------------------------------------------------------


@doctor_check()
def credentials(ctx: Context) -> Iterator[Row]:
    secret_names = {name for name, _, _ in ctx.config.secret_envs(include_non_secret=False)}
    seen: set[str] = set()
    for name, key_path, purpose in ctx.config.secret_envs():
        if name in seen:
            continue
        seen.add(name)
        source = ctx.secrets.source(name)
        what = purpose or key_path
        label = f"credential {name}" if name in secret_names else f"variable {name}"
        if source:
            yield Row(label, OK, f"set (from {source}): {what}")
        elif name in secret_names:
            yield Row(
                label,
                MISSING,
                f"not set: {what} ({key_path})",
                f"export {name}=... or put it in .env (`releaser env` writes a template)",
            )
        else:
            yield Row(
                label,
                WARN,
                f"not set: {what} ({key_path}); the default applies",
                f"export {name}=... if the default is not what you want",
            )


# -- the forge -----------------------------------------------------------------------------


def _forge_token_available(ctx: Context) -> bool:
    forge = ctx.config.forge
    return bool(forge.get("sandbox")) or ctx.secrets.source(forge.token_env) is not None


_NETWORK_REASONS = (
    "Connection refused",
    "Name or service not known",
    "timed out",
    "CERTIFICATE_VERIFY_FAILED",
)


def _short_reason(text: str) -> str:
    """The telling part of a network error (``Connection refused``), else its start."""
    return next((r for r in _NETWORK_REASONS if r in text), text[:160])


def forge_web_url(ctx: Context) -> str | None:
    """The forge's web root (https://github.com, https://HOST for GitHub Enterprise), or
    None for a sandbox forge (which has no settings pages)."""
    forge = ctx.config.forge
    api = str(forge.api_url).rstrip("/")
    if forge.get("sandbox"):
        return None
    if api == "https://api.github.com":
        return "https://github.com"
    base = api.removesuffix("/api/v3")
    host = base.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    return None if host in LOOPBACK else base


def token_help(ctx: Context) -> str:
    """Where to get a token for the configured forge."""
    web = forge_web_url(ctx)
    if web is None:
        return (
            'a sandbox forge prints its token when it starts: the "token" of the JSON line '
            "`releaser sandbox serve` prints"
        )
    return f"create a token at {web}/settings/tokens ({TOKEN_KINDS})"


def _scope_fix(ctx: Context, lacking: list[str]) -> str:
    web = forge_web_url(ctx)
    tick = ", ".join(lacking)
    if web is None:
        return f"tick {tick} in the sandbox forge's token scopes (its admin `settings`: scopes)"
    return (
        f"edit the token at {web}/settings/tokens and tick {tick}, or create one with "
        "scopes repo, workflow"
    )


def _where(ctx: Context) -> str:
    forge = ctx.config.forge
    return "the sandbox forge" if forge.get("sandbox") else str(forge.api_url)


@doctor_check("forge")
def github_access(ctx: Context) -> Iterator[Row]:
    """The token with a real read call, its scopes, the repository and push permission."""
    from releaser.errors import CredentialError, ReleaserError, Unreachable

    token_env = ctx.config.forge.token_env
    if not _forge_token_available(ctx):
        yield Row(
            "github token",
            MISSING,
            f"no token: {token_env} is not set, nothing to check against {_where(ctx)}",
            f"set {token_env}; {token_help(ctx)}",
        )
        return
    try:
        response = ctx.api.request("GET", "/user")
        login = str(response.json()["login"])
    except CredentialError:
        yield Row(
            "github token",
            INVALID,
            f"{_where(ctx)} refused {token_env} (401 Bad credentials): wrong, expired or revoked",
            f"replace {token_env}; {token_help(ctx)}",
        )
        return
    except Unreachable as exc:
        yield Row("github token", INVALID, exc.message, exc.hint or "")
        return
    except ReleaserError as exc:
        yield Row("github token", INVALID, exc.message, exc.hint or "")
        return
    ctx.memo.put(LOGIN, login)
    header = response.headers.get("x-oauth-scopes")
    scopes = [s.strip() for s in (header or "").split(",") if s.strip()]
    if header is None:
        yield Row(
            "github token",
            OK,
            f"authenticated as {login}; no X-OAuth-Scopes (fine-grained or app token): "
            "permissions are checked per repository below",
        )
    else:
        lacking = [s for s in REQUIRED_SCOPES if s not in scopes]
        shown = ", ".join(scopes) or "none"
        if lacking:
            yield Row(
                "github token",
                INVALID,
                f"authenticated as {login}, but the token lacks the scope "
                f"{', '.join(lacking)} (has: {shown})",
                _scope_fix(ctx, lacking),
            )
        else:
            yield Row("github token", OK, f"authenticated as {login}; scopes: {shown}")
    yield from _repo_access(ctx, ctx.repo_name, "repository", "tags, branches, releases")


@doctor_check("forge")
def git_access(ctx: Context) -> Iterator[Row]:
    """An ls-remote of the configured repository: ``{git_url}/{owner}/{name}.git`` answers."""
    from releaser.errors import ReleaserError

    if LOGIN not in ctx.memo:
        return  # the token row already says why
    forge = ctx.config.forge
    check = "git access"
    git_url = ctx.endpoint.git_url.rstrip("/")
    url = f"{git_url}/{ctx.repo_name}.git"
    try:
        refs = ctx.git.ls_remote(refresh=True)
    except ReleaserError as exc:
        where = "the sandbox forge's git URL" if forge.get("sandbox") else f"{forge.git_url}"
        reason = _short_reason(exc.message.split(" failed: ", 1)[-1])
        if reason == "NotGitRepository":
            reason = "no git repository there"
        yield Row(
            check,
            INVALID,
            f"git ls-remote {url} failed: {reason}",
            f"set [forge] git_url (now {where}) so that {{git_url}}/{ctx.repo_name}.git is "
            "the repository's clone URL",
        )
        return
    branch = str(ctx.config.project.default_branch)
    if f"refs/heads/{branch}" not in refs:
        yield Row(
            check,
            INVALID,
            f"{url} answers, but has no branch {branch}",
            "set [project] default_branch to the repository's development branch",
        )
        return
    yield Row(check, OK, f"{url}: {len(refs)} refs, {branch} included")


def _repo_access(ctx: Context, full_name: str, label: str, needs: str) -> Iterator[Row]:
    """A repository the token must read and push to (``needs``: what needs the push)."""
    from releaser.errors import ReleaserError

    check = f"{label} {full_name}"
    try:
        permissions = ctx.forge.other(full_name).repository().permissions
    except ReleaserError as exc:
        yield Row(check, INVALID, exc.message, exc.hint or "")
        return
    if permissions.get("push"):
        admin = " (admin)" if permissions.get("admin") else ""
        yield Row(check, OK, f"readable; the token can push{admin}")
    else:
        yield Row(
            check,
            INVALID,
            f"readable, but the token cannot push ({needs} need write access)",
            f"ask a maintainer of {full_name} for write access, or use a token that has it",
        )


@doctor_check("downstream")
def downstream_access(ctx: Context) -> Iterator[Row]:
    if not _forge_token_available(ctx) or LOGIN not in ctx.memo:
        return  # the token row already says why
    seen: set[str] = set()
    for down in ctx.config.downstream:
        if down.repo in seen:
            continue
        seen.add(down.repo)
        # releaser opens no pull requests from forks: it pushes its branch there
        needs = "the update's branch" if down.files or down.command else "dispatching tests"
        yield from _repo_access(ctx, str(down.repo), "downstream", needs)


@doctor_check("gates")
def approvers_known(ctx: Context) -> Iterator[Row]:
    """``[gates] approvers``: each team visible to this token, each user with write access,
    so the approvals a driver with this token relies on can be checked."""
    from releaser.errors import ReleaserError
    from releaser.forge import at_least

    gates = ctx.config.gates
    if not gates.approve or not _forge_token_available(ctx) or LOGIN not in ctx.memo:
        return
    try:
        for handle in gates.approvers or []:
            name = str(handle).removeprefix("@")
            if "/" in name:
                org, slug = name.split("/", 1)
                if ctx.forge.team_visible(org, slug):
                    yield Row(f"approvers {handle}", OK, "the team is visible to this token")
                else:
                    yield Row(
                        f"approvers {handle}",
                        WARN,
                        "this token can't see the team (only members of its org can, and it "
                        "must exist): approvals by its members won't count when it drives",
                        f"check [gates] approvers, or drive with a token of a member of {org}",
                    )
            else:
                role = ctx.forge.role_of(name)
                status = OK if at_least(role, "write") else INVALID
                yield Row(
                    f"approvers {handle}",
                    status,
                    f"{role or 'no'} access to {ctx.repo_name}",
                    "" if status == OK else f"give {name} write access, or drop them",
                )
    except ReleaserError as exc:
        yield Row("approvers", WARN, f"could not check them: {exc.message}")


# -- signing -------------------------------------------------------------------------------


def _gpg_env(ctx: Context) -> tuple[dict[str, str], str]:
    import os

    env = dict(os.environ)
    home_env = ctx.config.signing.get("gpg_home_env")
    home = ctx.secrets.optional(home_env) if home_env else None
    if home:
        env["GNUPGHOME"] = home
    return env, env.get("GNUPGHOME") or "~/.gnupg"


def parse_secret_keys(colons: str) -> list[dict[str, Any]]:
    """``gpg --list-secret-keys --with-colons`` -> [{fpr, validity, expires, uids, subkeys}]."""
    keys: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    last: dict[str, Any] | None = None
    for line in colons.splitlines():
        fields = line.split(":")
        kind = fields[0]
        if kind == "sec":
            current = {"validity": fields[1], "keyid": fields[4], "uids": [], "subkeys": []}
            current["fpr"] = ""
            keys.append(current)
            last = current
        elif kind == "ssb" and current is not None:
            sub = {"validity": fields[1], "keyid": fields[4], "fpr": "", "caps": fields[11]}
            current["subkeys"].append(sub)
            last = sub
        elif kind == "fpr" and last is not None and not last["fpr"]:
            last["fpr"] = fields[9]
        elif kind == "uid" and current is not None:
            current["uids"].append(fields[9])
    return keys


def _key_ids(key: dict[str, Any]) -> set[str]:
    ids = {key["keyid"].upper(), key["fpr"].upper()}
    for sub in key["subkeys"]:
        ids |= {sub["keyid"].upper(), sub["fpr"].upper()}
    return {i for i in ids if i}


@doctor_check("signing")
def gpg_key(ctx: Context) -> Iterator[Row]:
    key_id = ctx.config.signing.get("gpg_key")
    if not key_id or not shutil.which("gpg"):
        return
    key_id = str(key_id).upper().removeprefix("0X")
    env, home = _gpg_env(ctx)
    check = f"gpg key {key_id[-16:]}"
    result = _run(["gpg", "--batch", "--list-secret-keys", "--with-colons", key_id], env)
    keys = parse_secret_keys(result.stdout) if result.returncode == 0 else []
    if not keys:
        yield Row(
            check,
            MISSING,
            f"[signing] gpg_key {key_id} has no secret key in the keyring ({home})",
            "import it (gpg --import private-key.asc), or set [signing] gpg_key to a key "
            "`gpg --list-secret-keys` shows",
        )
        return
    key = keys[0]
    uid = key["uids"][0] if key["uids"] else "no user id"
    if key["validity"] in ("r", "e", "d"):
        state = {"r": "revoked", "e": "expired", "d": "disabled"}[key["validity"]]
        yield Row(
            check,
            INVALID,
            f"the key is {state} ({uid})",
            "extend it (gpg --quick-set-expire FPR 1y) or configure another key",
        )
        return
    yield Row(check, OK, f"secret key in {home}: {uid}")
    yield from _gpg_on_forge(ctx, key, check)


def _gpg_on_forge(ctx: Context, key: dict[str, Any], check: str) -> Iterator[Row]:
    from releaser.errors import ReleaserError

    login = ctx.memo.get(LOGIN, lambda: None)
    label = f"{check} on the forge"
    if not login:
        return  # the token row already failed: nothing to ask the forge with
    web = forge_web_url(ctx)
    where = f"add it at {web}/settings/gpg/new" if web else "add it to the forge account"
    fix = f"gpg --armor --export {key['fpr'] or key['keyid']} and {where}, so tags show as Verified"
    try:
        # the public list: needs no read:gpg_key scope, unlike /user/gpg_keys
        response = ctx.api.request("GET", f"/users/{login}/gpg_keys", ok=(404,))
        status, body = response.status_code, response.json() if response.content else None
    except ReleaserError:
        status, body = 0, None
    if status == 404:
        yield Row(label, WARN, f"cannot verify: {_where(ctx)} has no GPG key listing (404)", fix)
        return
    if status != 200 or not isinstance(body, list):
        yield Row(label, WARN, f"cannot verify: GET gpg_keys answered {status}", fix)
        return
    wanted = _key_ids(key)
    for forge_key in body or []:
        ids = {str(forge_key.get("key_id", "")).upper()}
        for sub in forge_key.get("subkeys") or []:
            ids.add(str(sub.get("key_id", "")).upper())
        if any(w.endswith(i) for w in wanted for i in ids if i):
            yield Row(label, OK, f"public key on {login}'s account")
            return
    yield Row(label, INVALID, f"the public key is not on {login}'s account", fix)


# -- registries and the distributions repository -----------------------------------------


@doctor_check("publish.docker")
def docker_access(ctx: Context) -> Iterator[Row]:
    """Each image readable; with credentials, whether they may push (nothing is written)."""
    from releaser.errors import ReleaserError

    for section in ctx.config.publish.docker:
        registry, image = str(section.registry), str(section.image)
        check = f"registry {registry}/{image}"
        username_env = str(section.username_env) if section.username_env else None
        password_env = str(section.password_env) if section.password_env else None
        try:
            client = ctx.services.registry(registry, username_env, password_env)
            tags = client.tags(image)
            if not password_env:
                yield Row(check, OK, f"readable, {len(tags)} tags; verify only (no password_env)")
                continue
            if not ctx.secret(password_env):
                continue  # the credential row already says it is missing
            can = client.can_push(image)
        except ReleaserError as exc:
            yield Row(check, INVALID, exc.message, exc.hint or "check the registry and image")
            continue
        if can is False:
            yield Row(
                check,
                INVALID,
                f"the login in {password_env} may not push {image}",
                f"give it push access to {image}, or use a token that has it",
            )
        else:
            what = "may push" if can else "readable (push access could not be told)"
            yield Row(check, OK if can else WARN, f"{len(tags)} tags; the login {what}")


@doctor_check("publish.npm")
def npm_access(ctx: Context) -> Iterator[Row]:
    from releaser.errors import ReleaserError

    section = ctx.config.publish.npm
    check = f"npm {section.package}"
    try:
        client = ctx.services.npm()
        package = client.package(str(section.package))
        found = (
            f"{len(package.versions)} versions, latest {package.dist_tags.get('latest', '-')}"
            if package is not None
            else "not published yet"
        )
        if not section.token_env:
            yield Row(check, OK, f"{found}; verify only (no token_env)")
            return
        if not ctx.secret(str(section.token_env)):
            return  # the credential row already says it is missing
        user = client.whoami()
    except ReleaserError as exc:
        yield Row(check, INVALID, exc.message, exc.hint or "check [publish.npm] registry")
        return
    yield Row(check, OK, f"{found}; the token is {user}'s")


@doctor_check("publish.pypi")
def pypi_access(ctx: Context) -> Iterator[Row]:
    """The index answers; with the token set, its upload endpoint takes it (nothing sent)."""
    from releaser.errors import ReleaserError

    section = ctx.config.publish.pypi
    for probe in _probes(ctx, "publish.pypi"):
        try:
            ctx.services.pypi().files(str(section.project), "0")
        except ReleaserError as exc:
            fix = exc.hint or "check [publish.pypi] index_url"
            yield Row(probe.label, INVALID, exc.message, fix)
            continue
        if probe.missing(ctx):
            yield Row(
                probe.label,
                OK,
                f"answers for {section.project}; the upload token is not checked "
                f"({', '.join(probe.missing(ctx))} not set, see above)",
            )
            continue
        found = _service_row(ctx, probe.label, probe.run)
        detail = found.detail if found.failing else f"answers for {section.project}; {found.detail}"
        yield Row(found.check, found.status, detail, found.fix)


@doctor_check("publish.distributions")
def distributions_access(ctx: Context) -> Iterator[Row]:
    if not _forge_token_available(ctx) or LOGIN not in ctx.memo:
        return  # the token row already says why
    repo = str(ctx.config.publish.distributions.repo)
    yield from _repo_access(ctx, repo, "distributions", "the distributions PR's branch")


# -- services without a check yet ---------------------------------------------------------


def unchecked_services(ctx: Context) -> list[Row]:
    """Rows for configured service sections no registered check covers, and for configured
    sections no step acts on yet (nothing would be done with them)."""
    rows = [
        Row(
            f"[{table}]",
            WARN,
            "configured, but no step acts on it yet: releaser does nothing with it",
            "do that part of the release by hand (`releaser runbook` lists it), or remove "
            "the table",
        )
        for table in ctx.config.not_acted_on()
    ]
    for section in SERVICE_SECTIONS:
        if section in ctx.config.not_acted_on():
            continue
        if section_configured(ctx, section) and not any(s == section for s, _ in CHECKS):
            rows.append(
                Row(
                    section,
                    UNCHECKED,
                    "configured; doctor has no access check for it yet (only its "
                    "credentials are checked above)",
                    "",
                )
            )
    return rows


# -- announcement channels ----------------------------------------------------------------


def _probes(ctx: Context, section: str) -> list[Any]:
    from releaser.service_probes import probes

    return probes(ctx, section)


def _credential_rows(ctx: Context, check: str, variables: list[str]) -> list[Row]:
    """Nothing to check with when a credential is missing: the credentials rows say which."""
    missing = [v for v in variables if ctx.secrets.source(v) is None]
    if not missing:
        return []
    return [Row(check, WARN, f"not checked: {', '.join(missing)} not set (see above)")]


def _service_row(ctx: Context, check: str, probe: Callable[[], str]) -> Row:
    from releaser.errors import ReleaserError

    try:
        return Row(check, OK, probe())
    except ReleaserError as exc:
        return Row(check, INVALID, exc.message, exc.hint or "")


def _probe_rows(
    ctx: Context, section: str, more: Callable[[Any], str] | None = None
) -> Iterator[Row]:
    """A row per probe of ``section`` (releaser.service_probes); ``more`` adds to its detail."""
    for probe in _probes(ctx, section):
        blocked = _credential_rows(ctx, probe.label, list(probe.variables))
        if blocked:
            yield from blocked
            continue

        def run(probe: Any = probe) -> str:
            found = str(probe.run())
            return found + (more(probe) if more else "")

        yield _service_row(ctx, probe.label, run)


@doctor_check("promote.matrix")
def matrix_access(ctx: Context) -> Iterator[Row]:
    """Each room's token with whoami (and user_id), the room's alias resolved, and whether
    the user is in it."""
    rooms = {f"matrix {room.room}": room for room in ctx.config.promote.matrix}

    def joined(probe: Any) -> str:
        room = rooms[probe.label]
        client = ctx.services.matrix(room)
        if client.joined(client.room_id(str(room.room))):
            return ": joined"
        return ": not joined yet (joins when posting)"

    yield from _probe_rows(ctx, "promote.matrix", joined)


@doctor_check("promote.discourse")
def discourse_access(ctx: Context) -> Iterator[Row]:
    """The API key (whom it acts as) and the category; without one, the manual fallback."""
    section = ctx.config.promote.discourse
    if not section.get("api_key_env"):
        yield Row(
            f"discourse {section.url}",
            WARN,
            "no api_key_env: the operator posts the topic and confirms its URL when asked",
            "set [promote.discourse] api_key_env to let releaser post it",
        )
        return
    yield from _probe_rows(ctx, "promote.discourse")


@doctor_check("promote.reddit")
def reddit_access(ctx: Context) -> Iterator[Row]:
    """The script app and account (who they post as); without them, the manual fallback."""
    from releaser.service_probes import REDDIT_VARIABLES

    section = ctx.config.promote.reddit
    if not all(section.get(n) for n in REDDIT_VARIABLES):
        yield Row(
            f"reddit r/{section.subreddit}",
            WARN,
            "no credentials: the operator posts the link and confirms its URL when asked",
            "set [promote.reddit] " + ", ".join(REDDIT_VARIABLES) + " to let releaser post it",
        )
        return
    yield from _probe_rows(ctx, "promote.reddit")


@doctor_check("promote.discord")
def discord_access(ctx: Context) -> Iterator[Row]:
    """The webhook answers (its name; never its URL)."""
    yield from _probe_rows(ctx, "promote.discord")
