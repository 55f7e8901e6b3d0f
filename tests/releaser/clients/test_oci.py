"""The OCI registry client against a real docker-registry: open, htpasswd (Basic) and token
(Bearer, Docker Hub's flow) authentication; failures injected by a proxy in front of it."""

from __future__ import annotations

import base64
import json
import secrets

import httpx
import pytest

from releaser.clients.http import RetryPolicy
from releaser.clients.oci import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Manifest,
    Registry,
    registry_url,
)
from releaser.errors import CredentialError, HTTPError, RateLimited, Unreachable, UsageError

VAR = "DOCKER_PASSWORD"


def image() -> str:
    return f"acme/app{secrets.token_hex(3)}"


def client(registry, captured, username=None, password=None, **kwargs) -> Registry:
    made = Registry(
        registry.host,
        captured.ui,
        username,
        password,
        credential=VAR,
        sleep=captured.sleep,
        **kwargs,
    )
    return made


# ---- reads ------------------------------------------------------------------------------------


def test_manifest_of_a_pushed_tag_is_its_exact_bytes(oci_registry, captured):
    name = image()
    pushed = oci_registry.push_image(name, "v1.0.0", "one")
    registry = client(oci_registry, captured)
    found = registry.manifest(name, "v1.0.0")
    assert found == Manifest(pushed.digest, OCI_MANIFEST, pushed.content, [])
    assert registry.digest(name, "v1.0.0") == pushed.digest
    assert registry.manifest(name, pushed.digest) == found  # by digest too


def test_absent_tag_and_absent_repository_are_none(oci_registry, captured):
    name = image()
    oci_registry.push_image(name, "v1.0.0", "one")
    registry = client(oci_registry, captured)
    assert registry.manifest(name, "v9.9.9") is None
    assert registry.digest(name, "v9.9.9") is None
    assert registry.manifest("nobody/nothing", "latest") is None
    assert registry.tags("nobody/nothing") == []


def test_tags_lists_every_tag(oci_registry, captured):
    name = image()
    for tag in ("v1.0.0", "v1.1.0", "edge"):
        oci_registry.push_image(name, tag, tag)
    assert sorted(client(oci_registry, captured).tags(name)) == ["edge", "v1.0.0", "v1.1.0"]


@pytest.mark.parametrize(("docker", "media_type"), [(False, OCI_INDEX), (True, DOCKER_LIST)])
def test_multi_arch_index_lists_its_platforms_without_attestations(
    oci_registry, captured, docker, media_type
):
    name = image()
    pushed = oci_registry.push_index(
        name, "v2.0.0", "multi", ["linux/amd64", "linux/arm64/v8"], docker=docker
    )
    found = client(oci_registry, captured).manifest(name, "v2.0.0")
    assert found is not None
    assert found.media_type == media_type
    assert found.is_index
    assert found.digest == pushed.digest
    assert found.platforms == ["linux/amd64", "linux/arm64/v8"]


def test_docker_v2_manifest_is_read_with_its_media_type(oci_registry, captured):
    name = image()
    pushed = oci_registry.push_image(name, "v1", "docker", docker=True)
    found = client(oci_registry, captured).manifest(name, "v1")
    assert found is not None
    assert (found.media_type, found.digest) == (DOCKER_MANIFEST, pushed.digest)


# ---- promotion ----------------------------------------------------------------------------------


def test_promotion_copies_the_manifest_bytes_and_is_idempotent(oci_registry, captured):
    name = image()
    pushed = oci_registry.push_index(name, "v3.0.0", "multi", ["linux/amd64", "linux/arm64"])
    registry = client(oci_registry, captured)
    version = registry.manifest(name, "v3.0.0")
    assert version is not None
    assert registry.put_manifest(name, "latest", version) is True
    assert oci_registry.manifest_digest(name, "latest") == pushed.digest
    writes = registry.stats.writes
    assert registry.put_manifest(name, "latest", version) is False  # re-run: read, no write
    assert registry.stats.writes == writes


def test_a_tag_on_the_wrong_digest_is_moved(oci_registry, captured):
    name = image()
    old = oci_registry.push_image(name, "latest", "old release")
    new = oci_registry.push_image(name, "v2.0.0", "new release")
    registry = client(oci_registry, captured)
    assert registry.digest(name, "latest") == old.digest
    manifest = registry.manifest(name, "v2.0.0")
    assert manifest is not None
    assert registry.put_manifest(name, "latest", manifest) is True
    assert oci_registry.manifest_digest(name, "latest") == new.digest


def test_a_manifest_that_does_not_hash_to_its_digest_is_refused_before_writing(
    oci_registry, captured
):
    name = image()
    oci_registry.push_image(name, "v1", "one")
    registry = client(oci_registry, captured)
    manifest = registry.manifest(name, "v1")
    assert manifest is not None
    forged = Manifest(manifest.digest, manifest.media_type, manifest.content + b" ", [])
    with pytest.raises(UsageError, match="does not hash to"):
        registry.put_manifest(name, "latest", forged)
    assert registry.stats.writes == 0
    assert "latest" not in oci_registry.tags(name)


def test_a_manifest_naming_blobs_the_repository_lacks_is_an_http_error(oci_registry, captured):
    source, target = image(), image()
    oci_registry.push_image(source, "v1", "one")
    registry = client(oci_registry, captured)
    manifest = registry.manifest(source, "v1")
    assert manifest is not None
    with pytest.raises(HTTPError) as info:
        registry.put_manifest(target, "v1", manifest)
    assert info.value.status == 400
    assert "MANIFEST_BLOB_UNKNOWN" in info.value.message
    assert oci_registry.tags(target) == []


def test_can_push_on_an_open_registry_leaves_nothing_behind(oci_registry, captured):
    name = image()
    registry = client(oci_registry, captured)
    assert registry.can_push(name) is True
    assert oci_registry.tags(name) == []


# ---- Basic authentication (htpasswd) ------------------------------------------------------------


def test_basic_auth_reads_and_promotes_with_credentials(oci_registry_htpasswd, captured):
    reg = oci_registry_htpasswd
    name = image()
    pushed = reg.push_image(name, "v1", "one")
    registry = client(reg, captured, reg.username, reg.password)
    manifest = registry.manifest(name, "v1")
    assert manifest is not None and manifest.digest == pushed.digest
    assert registry.put_manifest(name, "stable", manifest) is True
    assert reg.manifest_digest(name, "stable") == pushed.digest
    assert registry.can_push(name) is True
    captured.assert_no_secret(reg.password)


def test_basic_auth_without_credentials_names_the_variable(oci_registry_htpasswd, captured):
    reg = oci_registry_htpasswd
    name = image()
    reg.push_image(name, "v1", "one")
    registry = client(reg, captured)
    with pytest.raises(CredentialError) as info:
        registry.manifest(name, "v1")
    assert info.value.exit_code == 2
    assert VAR in (info.value.hint or "")
    assert registry.can_push(name) is False


def test_basic_auth_with_a_bad_password_is_exit_2_without_the_secret(
    oci_registry_htpasswd, captured
):
    reg = oci_registry_htpasswd
    bad = "wrong-" + secrets.token_hex(8)
    registry = client(reg, captured, reg.username, bad)
    with pytest.raises(CredentialError) as info:
        registry.tags(image())
    assert info.value.exit_code == 2
    assert VAR in info.value.message
    captured.assert_no_secret(
        bad, base64.b64encode(f"pusher:{bad}".encode()).decode(), errors=(info.value,)
    )


# ---- token authentication (Docker Hub's flow) ------------------------------------------------


def test_token_auth_anonymous_pull_works_and_push_is_refused(oci_registry_token, captured):
    reg = oci_registry_token
    name = image()
    pushed = reg.push_image(name, "v1", "public")
    registry = client(reg, captured)
    manifest = registry.manifest(name, "v1")
    assert manifest is not None and manifest.digest == pushed.digest
    assert registry.can_push(name) is False
    with pytest.raises(CredentialError) as info:
        registry.put_manifest(name, "latest", manifest)
    assert info.value.exit_code == 2
    assert "latest" not in reg.tags(name)
    asked = [r for r in reg.token_server.requests if r["authorization"] is None]
    assert asked, "the token was fetched anonymously"


def test_token_auth_with_credentials_promotes_and_caches_tokens(oci_registry_token, captured):
    reg = oci_registry_token
    name = image()
    pushed = reg.push_image(name, "v1", "private")
    before = len(reg.token_server.requests)
    registry = client(reg, captured, reg.username, reg.password)
    assert registry.can_push(name) is True
    manifest = registry.manifest(name, "v1")
    assert manifest is not None
    assert registry.put_manifest(name, "latest", manifest) is True
    assert registry.put_manifest(name, "latest", manifest) is False
    assert reg.manifest_digest(name, "latest") == pushed.digest
    fetched = reg.token_server.requests[before:]
    # one token per scope (pull; pull,push), each fetched once, with Basic credentials
    scopes = [r["query"].get("scope", [""])[0] for r in fetched]
    assert sorted(scopes) == sorted(set(scopes))
    assert all(r["authorization"].startswith("Basic ") for r in fetched)
    tokens = registry._tokens.values()
    captured.assert_no_secret(reg.password, *tokens)


def test_token_auth_pull_only_user_cannot_push(oci_registry_token, captured):
    reg = oci_registry_token
    name = image()
    reg.push_image(name, "v1", "one")
    user, password = reg.reader
    registry = client(reg, captured, user, password)
    assert registry.manifest(name, "v1") is not None
    assert registry.can_push(name) is False


def test_token_auth_bad_password_is_refused_by_the_token_server(oci_registry_token, captured):
    reg = oci_registry_token
    bad = "wrong-" + secrets.token_hex(8)
    registry = client(reg, captured, reg.username, bad)
    with pytest.raises(CredentialError) as info:
        registry.tags(image())
    assert "incorrect username or password" in info.value.message
    assert VAR in info.value.message
    captured.assert_no_secret(bad, errors=(info.value,))


def test_the_token_registry_really_verifies_token_signatures(oci_registry_token):
    """The fixture is no pushover: a token signed by another key is refused."""
    reg = oci_registry_token
    name = image()
    reg.push_image(name, "v1", "one")
    good = reg.token_server.issue("pusher", name, ["pull"])
    header, claims, _signature = good.split(".")
    forged = f"{header}.{claims}.{base64.urlsafe_b64encode(b'x' * 256).rstrip(b'=').decode()}"
    url = f"{reg.url}/v2/{name}/tags/list"
    assert httpx.get(url, headers={"Authorization": f"Bearer {good}"}).status_code == 200
    assert httpx.get(url, headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    payload = json.loads(base64.urlsafe_b64decode(claims + "=="))
    assert payload["access"][0]["actions"] == ["pull"]


# ---- failures halfway ----------------------------------------------------------------------------


def test_5xx_on_reads_is_retried(oci_registry, captured, proxy_to):
    name = image()
    pushed = oci_registry.push_image(name, "v1", "one")
    proxy = proxy_to(oci_registry.url)
    proxy.fail("status", "GET", "/manifests/", times=2, status=502)
    registry = Registry(proxy.url, captured.ui, sleep=captured.sleep)
    manifest = registry.manifest(name, "v1")
    assert manifest is not None and manifest.digest == pushed.digest
    assert captured.slept == [0.5, 1.0]


def test_a_lost_answer_to_the_tag_put_is_resent_once_and_lands_once(
    oci_registry, captured, proxy_to
):
    name = image()
    pushed = oci_registry.push_image(name, "v1", "one")
    proxy = proxy_to(oci_registry.url)
    registry = Registry(proxy.url, captured.ui, sleep=captured.sleep)
    manifest = registry.manifest(name, "v1")
    assert manifest is not None
    proxy.fail("drop_after", "PUT", "/manifests/latest")
    assert registry.put_manifest(name, "latest", manifest) is True
    puts = proxy.requests("PUT", "/manifests/latest")
    assert [p.fault for p in puts] == ["drop_after", None]  # PUT is idempotent: re-sent
    assert oci_registry.manifest_digest(name, "latest") == pushed.digest


def test_a_registry_gone_halfway_is_unreachable_naming_the_config_key(
    oci_registry, captured, proxy_to
):
    name = image()
    oci_registry.push_image(name, "v1", "one")
    proxy = proxy_to(oci_registry.url)
    registry = Registry(proxy.url, captured.ui, sleep=captured.sleep)
    assert registry.manifest(name, "v1") is not None
    proxy.close()
    with pytest.raises(Unreachable) as info:
        registry.tags(name)
    assert "[publish.docker] registry" in (info.value.hint or "")


def test_docker_hub_pull_limit_is_exit_4_with_when(oci_registry, captured, proxy_to):
    proxy = proxy_to(oci_registry.url)
    proxy.fail(
        "status",
        "HEAD",
        "/manifests/",
        status=429,
        headers={"RateLimit-Limit": "100;w=21600", "RateLimit-Remaining": "0;w=21600"},
    )
    registry = Registry(proxy.url, captured.ui, sleep=captured.sleep, retry=RetryPolicy())
    with pytest.raises(RateLimited) as info:
        registry.manifest(image(), "v1")
    assert info.value.exit_code == 4
    assert captured.slept == []


# ---- names ---------------------------------------------------------------------------------------


def test_docker_io_is_registry_1_and_official_images_are_library(captured):
    assert registry_url("docker.io") == "https://registry-1.docker.io"
    assert registry_url("ghcr.io") == "https://ghcr.io"
    assert registry_url("localhost:5000") == "http://localhost:5000"
    hub = Registry("docker.io", captured.ui)
    assert hub.repository("alpine") == "library/alpine"
    assert hub.repository("docker.io/ipfs/Kubo") == "ipfs/kubo"
    with pytest.raises(UsageError, match="tag or digest"):
        hub.repository("ipfs/kubo:latest")
