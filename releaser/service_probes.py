"""Read-only probes of the services a release writes to besides the forge, shared by
``releaser doctor`` (a row each) and the check before a command's first write
(:class:`releaser.permissions.Preflight`) and ``releaser plan --check``.

One probe per configured object, each proving without writing that the service will take the
writes a step makes:

- ``[[promote.matrix]]``: the access token (``whoami``; ``user_id`` when set) and the room's
  alias resolves on the homeserver;
- ``[promote.discourse]`` (with ``api_key_env``): whom the key acts as, and the category;
- ``[promote.reddit]`` (with its four variables): the script app and the account log in
  (``me``);
- ``[promote.discord]``: the webhook variable holds a webhook URL, and it answers a GET;
- ``[[publish.docker]]`` (with ``password_env``'s password set): the registry takes the login
  (its token server, or Basic auth, for the image's pull scope), and, where the registry's
  token lists what it grants (Docker Hub's does), that it grants push; where only an upload
  could tell, the step finds out;
- ``[publish.npm]`` (with ``token_env``'s token set): whom the registry says the token is
  (``npm whoami``'s ``/-/whoami``);
- ``[publish.pypi]`` (with ``token_env``'s token set): its upload endpoint takes the token
  (doctor also reads the index for the project). An upload request with no file at all,
  which no index can store anything from, is refused 401/403 for a wrong, revoked or
  malformed token and answered 400 (the upload is incomplete) for one the index knows
  (Warehouse, pypiserver and the sandbox's index alike). Warehouse checks a token's project
  scope only after the file, so a valid token scoped to another project is found at the
  upload, as before.

A probe's failure that names something to fix (a refused credential, a missing room or
category: a :class:`~releaser.errors.UsageError`) is a problem; one that says nothing about
the configuration (the service unreachable, a 5xx after retries, a rate limit) is not: the
step meets it, and handles it, when it gets there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from releaser.context import Context
    from releaser.step import Step
    from releaser.version import Version

# the releaser.toml tables with a probe, in the order their steps run
PROBED = (
    "publish.docker",
    "publish.npm",
    "publish.pypi",
    "promote.matrix",
    "promote.discourse",
    "promote.reddit",
    "promote.discord",
)
REDDIT_VARIABLES = ("client_id_env", "client_secret_env", "username_env", "password_env")


@dataclass(frozen=True)
class Probe:
    """One read-only check of a service the config names."""

    section: str  # the releaser.toml table: "promote.matrix"
    label: str  # what it checks, as doctor shows it: "matrix #releases:sandbox"
    variables: tuple[str, ...]  # the credentials it uses (never their values)
    run: Callable[[], str]  # what it found, one line without a secret; raises ReleaserError

    def missing(self, ctx: Context) -> list[str]:
        """Its credentials not set (nothing to probe with: the credential checks say so)."""
        return [v for v in self.variables if ctx.secrets.source(v) is None]


def probes(ctx: Context, section: str, version: Version | None = None) -> list[Probe]:
    """The probes of a configured table (of its entries that apply to ``version``, when
    given); none for a table without one, or configured for the operator to post by hand."""
    if section not in PROBED or not ctx.config.configured(section):
        return []
    value: Any = ctx.config.section(section)
    entries = value if isinstance(value, list) else [value]
    if version is not None:
        entries = [e for e in entries if e.applies(version)]
    make = _MAKERS[section]
    found: dict[tuple[str, tuple[str, ...]], Probe] = {}
    for probe in (make(ctx, e) for e in entries):
        if probe is not None:  # entries checking the same thing the same way: one probe
            found.setdefault((probe.label, probe.variables), probe)
    return list(found.values())


def for_steps(ctx: Context, steps: Iterable[Step]) -> list[tuple[str, Probe]]:
    """(the first of ``steps`` acting on its table, the probe) for every service ``steps``
    write to besides the forge (the tables they are ``configured_by``), for this release's
    version, whose credentials are set (a missing one is asked for, or refused, apart)."""
    sections: dict[str, str] = {}
    for step in steps:
        for section in step.configured_by:
            sections.setdefault(section, step.name)
    return [
        (step_name, probe)
        for section, step_name in sections.items()
        for probe in probes(ctx, section, ctx.version)
        if not probe.missing(ctx)
    ]


def problem(ctx: Context, probe: Probe) -> str | None:
    """Run ``probe``: None when it passes (or failed for a reason that is no problem of the
    configuration, noted with -v), else what is wrong and how to fix it, in one line."""
    from releaser.errors import ReleaserError, UsageError

    try:
        probe.run()
    except UsageError as exc:
        return f"{exc.message}: {exc.hint}" if exc.hint else exc.message
    except ReleaserError as exc:
        ctx.debug(f"{probe.label}: not checked before writing ({exc.message})")
    return None


# -- each service ------------------------------------------------------------------------


def _matrix(ctx: Context, room: Any) -> Probe:
    def run() -> str:
        client = ctx.services.matrix(room)  # whoami (and user_id, when set)
        room_id = client.room_id(str(room.room))
        return f"posting as {client.user_id} to {room_id}"

    return Probe("promote.matrix", f"matrix {room.room}", (str(room.token_env),), run)


def _discourse(ctx: Context, section: Any) -> Probe | None:
    variable = section.get("api_key_env")
    if not variable:
        return None  # the operator posts the topic

    def run() -> str:
        client = ctx.services.discourse(section)
        assert client is not None
        user = client.whoami()
        client.category_id(str(section.category))
        return f"the key acts as {user}; category {section.category} exists"

    return Probe("promote.discourse", f"discourse {section.url}", (str(variable),), run)


def _reddit(ctx: Context, section: Any) -> Probe | None:
    variables = [section.get(n) for n in REDDIT_VARIABLES]
    if not all(variables):
        return None  # the operator posts the link

    def run() -> str:
        client = ctx.services.reddit(section)
        assert client is not None
        return f"posting as u/{client.me()}"

    label = f"reddit r/{section.subreddit}"
    return Probe("promote.reddit", label, tuple(str(v) for v in variables), run)


def _discord(ctx: Context, section: Any) -> Probe:
    variable = str(section.webhook_env)

    def run() -> str:
        return f"the webhook in {variable} is {ctx.services.discord(section).info()!r}"

    return Probe("promote.discord", "discord webhook", (variable,), run)


def _pypi(ctx: Context, section: Any) -> Probe | None:
    variable = str(section.token_env)

    def run() -> str:
        ctx.services.pypi().check_upload_token()
        return f"the upload endpoint takes the token in {variable}"

    return Probe("publish.pypi", f"package index {section.index_url}", (variable,), run)


def _docker(ctx: Context, section: Any) -> Probe | None:
    password_env = str(section.password_env) if section.password_env else None
    if not password_env:
        return None  # verify only: the step reads the tags anonymously
    username_env = str(section.username_env) if section.username_env else None
    registry, image = str(section.registry), str(section.image)

    def run() -> str:
        from releaser.errors import CredentialError

        client = ctx.services.registry(registry, username_env, password_env)
        if client.check_login(image) is False:
            raise CredentialError(
                f"the login in {password_env} may not push {image} to {registry}",
                f"give it push access to {image}, or use a token that has it",
            )
        return f"{registry} takes the login in {password_env}"

    variables = tuple(v for v in (username_env, password_env) if v)
    return Probe("publish.docker", f"registry {registry}/{image}", variables, run)


def _npm(ctx: Context, section: Any) -> Probe | None:
    if not section.token_env:
        return None  # verify only
    variable = str(section.token_env)

    def run() -> str:
        return f"the token in {variable} is {ctx.services.npm().whoami()}'s"

    return Probe("publish.npm", f"npm {section.package}", (variable,), run)


_MAKERS: dict[str, Callable[[Context, Any], Probe | None]] = {
    "publish.docker": _docker,
    "publish.npm": _npm,
    "promote.matrix": _matrix,
    "promote.discourse": _discourse,
    "promote.reddit": _reddit,
    "promote.discord": _discord,
    "publish.pypi": _pypi,
}
