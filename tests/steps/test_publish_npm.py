"""npm-package against a real npm registry (Verdaccio), versions published by the npm CLI.

The step reads the version and the dist-tag of the release kind (latest / next); it moves a
wrong dist-tag with a token, verifies only without. A proxy in front of the registry counts
its writes and fails on purpose.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from releaser.errors import ReleaserError
from releaser.step import Status
from tests.services.proxy import FlakyProxy

FINAL = "v1.2.0"
RC = "v1.2.0-rc1"


@pytest.fixture(scope="module")
def owner(verdaccio):
    return verdaccio.add_user()


@pytest.fixture
def proxy(verdaccio) -> Iterator[FlakyProxy]:
    host, _, port = verdaccio.url.split("://", 1)[1].rstrip("/").partition(":")
    made = FlakyProxy(host, int(port))
    yield made
    made.close()


def config(registry: str, package: str, token: bool = False) -> str:
    line = 'token_env = "NPM_TOKEN"\n' if token else ""
    return f'\n[publish.npm]\npackage = "{package}"\nregistry = "{registry}"\n{line}'


def run(project, version: str = FINAL, **options):
    results = project.run_stage(version, "publish", only=("npm-package",), **options)
    return {r.step: r for r in results}["npm-package"]


def applied_writes(proxy: FlakyProxy) -> list[str]:
    return [
        f"{s.method} {s.path}"
        for s in proxy.seen
        if s.method not in ("GET", "HEAD") and s.status is not None and s.status < 400
    ]


def test_an_rc_on_next_is_verified_without_a_token(make_project, verdaccio, owner) -> None:
    package = verdaccio.unique("kubo")
    verdaccio.publish(owner, package, "1.1.0")
    verdaccio.publish(owner, package, "1.2.0-rc1", tag="next")
    project = make_project(extra=config(verdaccio.url, package))
    result = run(project, RC)
    assert result.status is Status.DONE
    assert result.detail == f"{package}@1.2.0-rc1 published; next -> 1.2.0-rc1 (verify only)"


def test_a_wrong_dist_tag_without_a_token_fails_with_the_command(
    make_project, verdaccio, owner
) -> None:
    package = verdaccio.unique("kubo")
    verdaccio.publish(owner, package, "1.1.0")
    verdaccio.publish(owner, package, "1.2.0", tag="next")  # published, but not latest
    project = make_project(extra=config(verdaccio.url, package))
    with pytest.raises(ReleaserError) as err:
        run(project)
    message = err.value.message
    assert f"the dist-tag latest of {package} points at 1.1.0, not 1.2.0" in message
    assert "verify only" in message and f"npm dist-tag add {package}@1.2.0 latest" in message
    assert verdaccio.dist_tags(package)["latest"] == "1.1.0"


def test_with_a_token_the_dist_tag_is_moved_once(make_project, verdaccio, owner, proxy) -> None:
    package = f"@acme/{verdaccio.unique('kubo')}"
    verdaccio.publish(owner, package, "1.1.0")
    verdaccio.publish(owner, package, "1.2.0", tag="next")
    project = make_project(extra=config(proxy.url + "/", package, token=True))
    project.env = {"NPM_TOKEN": owner.token}

    run(project, dry_run=True)
    assert f"would set npm dist-tag latest of {package} to 1.2.0" in project.output()
    assert applied_writes(proxy) == []

    result = run(project)
    assert result.status is Status.DONE and result.acted
    assert verdaccio.dist_tags(package)["latest"] == "1.2.0"
    assert applied_writes(proxy) == [f"PUT /-/package/@acme%2f{package[6:]}/dist-tags/latest"]
    assert owner.token not in project.output()

    mark, before = len(project.requests()), len(proxy.seen)
    again = run(project)
    assert again.status is Status.DONE and not again.acted
    assert [s for s in proxy.seen[before:] if s.method != "GET"] == []
    assert project.writes_since(mark) == []


def test_a_version_not_published_yet_is_blocked(make_project, verdaccio, owner) -> None:
    package = verdaccio.unique("kubo")
    verdaccio.publish(owner, package, "1.1.0")
    project = make_project(extra=config(verdaccio.url, package, token=True))
    project.env = {"NPM_TOKEN": owner.token}
    with pytest.raises(ReleaserError) as err:
        run(project)
    assert f"has no version {package}@1.2.0 yet" in err.value.message
    absent = make_project(extra=config(verdaccio.url, verdaccio.unique("none")))
    with pytest.raises(ReleaserError, match="has no package"):
        run(absent)


def test_a_bad_token_is_exit_2_without_the_secret(make_project, verdaccio, owner, proxy) -> None:
    package = verdaccio.unique("kubo")
    verdaccio.publish(owner, package, "1.1.0")
    verdaccio.publish(owner, package, "1.2.0", tag="next")
    project = make_project(extra=config(proxy.url + "/", package, token=True))
    bad = "npm_" + secrets.token_hex(16)
    project.env = {"NPM_TOKEN": bad}
    with pytest.raises(ReleaserError) as err:
        run(project)
    shown = f"{err.value.message} {err.value.hint} {project.output()}"
    assert err.value.exit_code == 2 and "NPM_TOKEN" in shown and bad not in shown
    assert applied_writes(proxy) == []
    assert verdaccio.dist_tags(package)["latest"] == "1.1.0"


def test_a_lost_answer_is_resent_once_and_a_gone_registry_is_named(
    make_project, verdaccio, owner, proxy
) -> None:
    package = verdaccio.unique("kubo")
    verdaccio.publish(owner, package, "1.1.0")
    verdaccio.publish(owner, package, "1.2.0", tag="next")
    project = make_project(extra=config(proxy.url + "/", package, token=True))
    project.env = {"NPM_TOKEN": owner.token}
    proxy.fail("drop_after", "PUT", "/dist-tags/latest")  # applied, answer lost
    result = run(project)
    assert result.status is Status.DONE
    puts = [s for s in proxy.seen if s.method == "PUT"]
    assert len(puts) == 2 and puts[0].fault == "drop_after"  # re-sent once (idempotent)
    assert verdaccio.dist_tags(package)["latest"] == "1.2.0"

    proxy.close()  # the registry is gone
    with pytest.raises(ReleaserError) as err:
        run(project)
    assert "cannot reach" in err.value.message and "[publish.npm] registry" in err.value.hint
