"""docker-images against a real registry (docker-registry): open, Basic and token auth.

The release image is pushed as a build would push it (the fixture's own upload protocol);
the step checks every configured tag, copies stale ones from the version tag with
credentials (the manifest's exact bytes: same digest), verifies only without them. A flaky
proxy in front of the registry counts its writes and fails on purpose.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import pytest

from releaser.errors import ReleaserError
from releaser.step import Status
from tests.services.proxy import FlakyProxy

FINAL = "v1.2.0"
RC = "v1.2.0-rc1"
PLATFORMS = ["linux/amd64", "linux/arm64"]


def image() -> str:
    return f"acme/example{secrets.token_hex(3)}"


def config(host: str, name: str, credentials: bool = False) -> str:
    """The version tag (pushed by the build), and latest + release for finals, copied."""
    login = (
        'username_env = "REGISTRY_USER"\npassword_env = "REGISTRY_PASSWORD"\n'
        if credentials
        else ""
    )
    return f"""
[[publish.docker]]
registry = "{host}"
image = "{name}"
tags = ["v{{version}}"]
{login}
[[publish.docker]]
registry = "{host}"
image = "{name}"
tags = ["latest", "release"]
source_tag = "v{{version}}"
only = ["final"]
{login}"""


@pytest.fixture
def proxy_to() -> Iterator[Callable[[str], FlakyProxy]]:
    made: list[FlakyProxy] = []

    def make(host: str) -> FlakyProxy:
        address, _, port = host.partition(":")
        proxy = FlakyProxy(address, int(port))
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.close()


def writes(proxy: FlakyProxy) -> list[str]:
    """Writes the registry applied (a 401 asking for a token applied nothing)."""
    return [
        f"{s.method} {s.path}"
        for s in proxy.seen
        if s.method in ("PUT", "POST", "PATCH", "DELETE") and s.status not in (401, None)
    ]


def run(project, version: str = FINAL, **options):
    results = project.run_stage(version, "publish", only=("docker-images",), **options)
    return {r.step: r for r in results}["docker-images"]


def test_without_credentials_a_stale_tag_is_reported_with_the_command(
    make_project, oci_registry
) -> None:
    name = image()
    pushed = oci_registry.push_index(name, FINAL, "v1.2.0", PLATFORMS)
    old = oci_registry.push_image(name, "latest", "v1.1.0")
    project = make_project(extra=config(oci_registry.host, name))
    with pytest.raises(ReleaserError) as err:
        run(project)
    message = err.value.message
    where = f"{oci_registry.host}/{name}"
    assert f"{where}:latest points at {old.digest[:19]}, not v1.2.0's {pushed.digest[:19]}" in (
        message
    )
    assert f"{where}:release is missing" in message
    assert "verify only: no [publish.docker] password_env" in message
    assert f"docker buildx imagetools create --tag {where}:latest {where}:v1.2.0" in message
    assert oci_registry.manifest_digest(name, "latest") == old.digest  # nothing written
    assert oci_registry.manifest_digest(name, "release") is None

    # an rc needs the version tag alone: verified, and said to be verify only
    oci_registry.push_image(name, RC, "v1.2.0-rc1")
    result = run(project, RC)
    assert result.status is Status.DONE and "(verify only)" in result.detail


def test_with_credentials_stale_tags_are_copied_once_on_a_token_registry(
    make_project, oci_registry_token, proxy_to
) -> None:
    registry = oci_registry_token
    name = image()
    pushed = registry.push_index(name, FINAL, "v1.2.0", PLATFORMS)
    registry.push_image(name, "latest", "v1.1.0")  # latest on the previous release
    proxy = proxy_to(registry.host)
    project = make_project(extra=config(f"127.0.0.1:{proxy.port}", name, credentials=True))
    project.env = {"REGISTRY_USER": registry.username, "REGISTRY_PASSWORD": registry.password}

    mark = len(project.requests())
    planned = run(project, dry_run=True)
    assert planned.status == "planned"
    out = project.output()
    assert f"copy 127.0.0.1:{proxy.port}/{name}:latest from v1.2.0 ({pushed.digest})" in out
    assert f"{name}:release from v1.2.0" in out
    assert writes(proxy) == [] and project.writes_since(mark) == []

    result = run(project)
    assert result.status is Status.DONE and result.acted
    assert "linux/amd64, linux/arm64" in result.detail and "(pushes)" in result.detail
    for tag in ("latest", "release"):
        assert registry.manifest_digest(name, tag) == pushed.digest  # copied, not rebuilt
    assert sorted(writes(proxy)) == [
        f"PUT /v2/{name}/manifests/latest",
        f"PUT /v2/{name}/manifests/release",
    ]
    assert registry.password not in project.output()

    before = len(proxy.seen)
    mark = len(project.requests())
    again = run(project)
    assert again.status is Status.DONE and not again.acted
    assert [s for s in proxy.seen[before:] if s.method not in ("GET", "HEAD")] == []
    assert project.writes_since(mark) == []


def test_the_version_tag_not_pushed_yet_is_blocked(make_project, oci_registry) -> None:
    name = image()
    project = make_project(extra=config(oci_registry.host, name, credentials=True))
    project.env = {"REGISTRY_USER": "u", "REGISTRY_PASSWORD": "p"}
    with pytest.raises(ReleaserError) as err:
        run(project)
    assert f"{oci_registry.host}/{name}:v1.2.0 not pushed yet" in err.value.message
    assert "never builds images" in err.value.message
    assert oci_registry.tags(name) == []


def test_bad_credentials_are_exit_2_without_the_secret(make_project, oci_registry_token) -> None:
    registry = oci_registry_token
    name = image()
    registry.push_index(name, FINAL, "v1.2.0", PLATFORMS)
    wrong = "pw-" + secrets.token_hex(8)
    project = make_project(extra=config(registry.host, name, credentials=True))
    project.env = {"REGISTRY_USER": registry.username, "REGISTRY_PASSWORD": wrong}
    with pytest.raises(ReleaserError) as err:
        run(project)
    assert err.value.exit_code == 2
    assert "REGISTRY_PASSWORD" in f"{err.value.message} {err.value.hint}"
    assert wrong not in f"{err.value.message} {err.value.hint} {project.output()}"
    assert registry.manifest_digest(name, "latest") is None


def test_missing_credentials_are_exit_2_before_any_write(
    make_project, oci_registry, proxy_to
) -> None:
    name = image()
    oci_registry.push_image(name, FINAL, "v1.2.0")
    proxy = proxy_to(oci_registry.host)
    project = make_project(extra=config(f"127.0.0.1:{proxy.port}", name, credentials=True))
    with pytest.raises(ReleaserError) as err:
        run(project)
    assert err.value.exit_code == 2 and "REGISTRY_PASSWORD is not set" in err.value.message
    assert writes(proxy) == []


@pytest.mark.slow  # the registry's 500s are retried with backoff (seconds of real time)
def test_a_registry_failing_halfway_converges_without_copying_twice(
    make_project, oci_registry_htpasswd, proxy_to
) -> None:
    registry = oci_registry_htpasswd
    name = image()
    pushed = registry.push_image(name, FINAL, "v1.2.0")
    proxy = proxy_to(registry.host)
    project = make_project(extra=config(f"127.0.0.1:{proxy.port}", name, credentials=True))
    project.env = {"REGISTRY_USER": registry.username, "REGISTRY_PASSWORD": registry.password}
    # the first tag lands; the second is refused until the registry recovers
    proxy.fail("status", "PUT", f"/v2/{name}/manifests/release", times=4, status=500)
    proxy.fail("drop_after", "PUT", f"/v2/{name}/manifests/latest")  # answer lost: re-sent
    with pytest.raises(ReleaserError) as err:
        run(project)
    assert err.value.message.startswith("docker-images: ")
    assert "500" in err.value.message
    assert registry.manifest_digest(name, "latest") == pushed.digest
    assert registry.manifest_digest(name, "release") is None

    result = run(project)
    assert result.status is Status.DONE
    assert registry.manifest_digest(name, "release") == pushed.digest
    landed = [w for w in writes(proxy) if w.endswith("/manifests/latest")]
    seen_latest = [s for s in proxy.seen if s.path.endswith("/manifests/latest")]
    assert len([s for s in seen_latest if s.method == "PUT"]) == 2  # lost answer, re-sent once
    assert len(landed) == 2 and registry.tags(name) == sorted([FINAL, "latest", "release"])
