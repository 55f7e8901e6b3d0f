"""The clients of services other than the forge, created on first use (``ctx.services``).

Each method returns one client per configuration for the whole command (``status`` shares
them between threads), built on :mod:`releaser.clients.http` (or the service's own library,
imported inside the method so ``releaser --help`` stays fast), with its credentials read
through ``ctx.secret`` (registered with the redactor before any request).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from releaser.clients.discord import DiscordWebhook
    from releaser.clients.discourse import Discourse
    from releaser.clients.matrix import Matrix
    from releaser.clients.npm import Npm
    from releaser.clients.oci import Registry
    from releaser.clients.pypi import PyPI
    from releaser.clients.reddit import Reddit
    from releaser.clients.web import Web
    from releaser.config import Section
    from releaser.context import Context

T = TypeVar("T")


class Services:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._clients: dict[Hashable, Any] = {}
        self._lock = threading.Lock()
        self._locks: dict[Hashable, threading.Lock] = {}

    def _client(self, key: Hashable, make: Callable[[], T]) -> T:
        # one lock per client: a slow one to make (nio's import) doesn't hold up the others
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._clients:
                made = make()
                if hasattr(made, "before_write"):
                    made.before_write = self.ctx.fence  # the claim's fence, on every write
                self._clients[key] = made
            client: T = self._clients[key]
            return client

    def url(self, url: str) -> str:
        """A service URL as configured; with ``[forge] sandbox``, one on the host ``sandbox``
        (``http://sandbox/pypi/legacy/``) is the in-process sandbox's, wherever it listens."""
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(url)
        if parts.hostname != "sandbox" or not self.ctx.config.forge.sandbox:
            return url
        sandbox = self.ctx.endpoint.sandbox
        assert sandbox is not None
        base = urlsplit(sandbox.info()["api_url"])
        return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, parts.fragment))

    def web(self) -> Web:
        """Anonymous downloads and probes of public URLs (no credential, ever)."""
        from releaser.clients.web import Web

        return self._client(
            "web", lambda: Web(self.ctx.ui, rewrite=self.url, retry=self.ctx.retry_policy())
        )

    def registry(
        self, registry: str, username_env: str | None, password_env: str | None
    ) -> Registry:
        """A container registry, logged in with ``[publish.docker]``'s variables when set."""
        from releaser.clients.oci import Registry

        username = self.ctx.secret(username_env) if username_env else None
        password = self.ctx.secret(password_env) if password_env else None
        credential = password_env or "[publish.docker] password_env"
        key = ("registry", registry, username_env, password_env, bool(password))
        return self._client(
            key,
            lambda: Registry(
                self.url(registry) if "://" in registry else registry,
                self.ctx.ui,
                username,
                password,
                credential=credential,
                retry=self.ctx.retry_policy(),
            ),
        )

    def npm(self) -> Npm:
        """``[publish.npm]``'s registry, with its token when ``token_env`` is set."""
        from releaser.clients.npm import Npm

        section = self.ctx.config.publish.npm
        token_env = str(section.token_env) if section.token_env else None
        token = self.ctx.secret(token_env) if token_env else None
        return self._client(
            ("npm", bool(token)),
            lambda: Npm(
                self.url(str(section.registry)),
                self.ctx.ui,
                token,
                credential=token_env or "[publish.npm] token_env",
                retry=self.ctx.retry_policy(),
            ),
        )

    def pypi(self) -> PyPI:
        """``[publish.pypi]``'s index: reads from ``index_url``, uploads to
        ``repository_url`` with ``username`` and the token in ``token_env``."""
        from releaser.clients.pypi import PyPI

        section = self.ctx.config.publish.pypi
        token_env = str(section.token_env)
        password = self.ctx.secret(token_env)
        return self._client(
            ("pypi", bool(password)),
            lambda: PyPI(
                self.url(str(section.repository_url)),
                self.ctx.ui,
                str(section.username),
                password,
                json_url=self.url(str(section.index_url)),
                credential=token_env,
                retry=self.ctx.retry_policy(),
            ),
        )

    # -- announcement channels ([promote.*]) -------------------------------------------

    def matrix(self, section: Section) -> Matrix:
        """The homeserver of a ``[[promote.matrix]]`` room, as the user of its access token
        (exit 2 naming the variable when it is missing or refused, or when it belongs to
        another user than ``user_id``)."""
        from releaser.clients.matrix import Matrix

        homeserver, variable = str(section.homeserver), str(section.token_env)

        def make() -> Matrix:
            token = self.ctx.require_secret(variable, f"Matrix access token for {homeserver}")
            client = Matrix(
                homeserver,
                token,
                self.ctx.ui,
                credential=variable,
                retry=self.ctx.retry_policy(),
            )
            try:
                _check_user(client, variable, section.get("user_id"))
            except BaseException:
                client.close()  # not kept: its connections go now
                raise
            return client

        return self._client(("matrix", homeserver, variable), make)

    def discourse(self, section: Section) -> Discourse | None:
        """The forum's API with ``api_key_env``'s key; None without ``api_key_env`` (the
        operator posts the topic by hand)."""
        from releaser.clients.discourse import Discourse

        variable = section.get("api_key_env")
        if not variable:
            return None
        url = str(section.url)

        def make() -> Discourse:
            key = self.ctx.require_secret(str(variable), f"Discourse API key for {url}")
            return Discourse(
                url,
                key,
                str(section.get("api_username") or ""),
                self.ctx.ui,
                credential=str(variable),
                retry=self.ctx.retry_policy(),
            )

        return self._client(("discourse", url, variable), make)

    def reddit(self, section: Section) -> Reddit | None:
        """Reddit as the account of ``[promote.reddit]``'s variables; None without them (the
        operator posts the link by hand)."""
        from releaser.clients.reddit import Reddit, RedditVariables

        names = ("client_id_env", "client_secret_env", "username_env", "password_env")
        variables = [section.get(n) for n in names]
        if not all(variables):
            return None  # the config rules allow all four or none
        api_url = section.get("api_url")

        def make() -> Reddit:
            from releaser import __version__

            values = [
                self.ctx.require_secret(str(v), f"Reddit {n.removesuffix('_env')}")
                for n, v in zip(names, variables, strict=True)
            ]
            client_id, client_secret, username, password = values
            return Reddit(
                client_id,
                client_secret,
                username,
                password,
                f"releaser/{__version__} (by u/{username})",
                self.ctx.ui,
                str(api_url) if api_url else None,
                variables=RedditVariables(*(str(v) for v in variables)),
                max_wait=float(self.ctx.config.engine.rate_limit_wait),
            )

        return self._client(("reddit", api_url, *variables), make)

    def discord(self, section: Section) -> DiscordWebhook:
        """The webhook in ``webhook_env`` (exit 2 when it is not set)."""
        from releaser.clients.discord import DiscordWebhook

        variable = str(section.webhook_env)

        def make() -> DiscordWebhook:
            url = self.ctx.require_secret(variable, "Discord webhook URL")
            return DiscordWebhook(
                url, self.ctx.ui, variable=variable, retry=self.ctx.retry_policy()
            )

        return self._client(("discord", variable), make)

    def page_answers(self, url: str) -> bool:
        """Whether a link the operator gave answers (2xx after redirects)."""
        from releaser.clients.discourse import page_answers

        return page_answers(url, self.ctx.ui)

    def close(self) -> None:
        for client in self._clients.values():
            close = getattr(client, "close", None)
            if callable(close):
                close()
        self._clients.clear()


def _check_user(client: Matrix, variable: str, expected: str | None) -> None:
    """The token works, and belongs to ``[promote.matrix] user_id`` when that is set."""
    actual = client.whoami()
    if expected and actual != expected:
        from releaser.errors import CredentialError

        raise CredentialError(
            f"{variable} is the access token of {actual}, not of {expected} "
            "([promote.matrix] user_id)",
            f"set {variable} to {expected}'s token, or user_id to {actual}",
        )
