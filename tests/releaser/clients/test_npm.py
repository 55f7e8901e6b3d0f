"""The npm client against a real Verdaccio, packages published by the real npm CLI."""

from __future__ import annotations

import pytest

from releaser.clients.npm import Npm, Package, escaped
from releaser.errors import CredentialError, Unreachable, UsageError

VAR = "NPM_TOKEN"


@pytest.fixture(scope="module")
def owner(verdaccio):
    return verdaccio.add_user()


@pytest.fixture(scope="module")
def published(verdaccio, owner):
    """@acme/widgetN with 1.0.0 (latest) and 1.1.0-rc1 (next); plainN with 0.1.0."""
    scoped = f"@acme/{verdaccio.unique('widget')}"
    plain = verdaccio.unique("plain")
    verdaccio.publish(owner, scoped, "1.0.0")
    verdaccio.publish(owner, scoped, "1.1.0-rc1", tag="next")
    verdaccio.publish(owner, plain, "0.1.0")
    return scoped, plain


def npm(verdaccio, captured, token=None, **kwargs) -> Npm:
    return Npm(verdaccio.url, captured.ui, token, sleep=captured.sleep, **kwargs)


def test_package_has_versions_and_dist_tags_scoped_or_not(verdaccio, captured, published):
    scoped, plain = published
    client = npm(verdaccio, captured)
    assert client.package(scoped) == Package(
        scoped, ["1.0.0", "1.1.0-rc1"], {"latest": "1.0.0", "next": "1.1.0-rc1"}
    )
    found = client.package(plain)
    assert found is not None
    assert (found.versions, found.dist_tags) == (["0.1.0"], {"latest": "0.1.0"})


def test_absent_packages_are_none(verdaccio, captured):
    client = npm(verdaccio, captured)
    assert client.package("no-such-package-here") is None
    assert client.package("@acme/no-such-package") is None


def test_set_dist_tag_moves_the_tag_once(verdaccio, captured, owner):
    name = f"@acme/{verdaccio.unique('tagged')}"
    verdaccio.publish(owner, name, "2.0.0")
    verdaccio.publish(owner, name, "2.1.0", tag="next")
    client = npm(verdaccio, captured, owner.token)
    assert verdaccio.dist_tags(name)["latest"] == "2.0.0"  # the wrong version, for now
    assert client.set_dist_tag(name, "latest", "2.1.0") is True
    assert verdaccio.dist_tags(name) == {"latest": "2.1.0", "next": "2.1.0"}
    writes = client.stats.writes
    assert client.set_dist_tag(name, "latest", "2.1.0") is False  # re-run: read, no write
    assert client.stats.writes == writes
    captured.assert_no_secret(owner.token)


def test_a_new_dist_tag_is_created(verdaccio, captured, owner, published):
    scoped, _ = published
    client = npm(verdaccio, captured, owner.token)
    tag = verdaccio.unique("beta")
    assert client.set_dist_tag(scoped, tag, "1.1.0-rc1") is True
    assert verdaccio.dist_tags(scoped)[tag] == "1.1.0-rc1"


def test_a_tag_for_an_unpublished_version_is_refused_before_writing(
    verdaccio, captured, owner, published
):
    scoped, _ = published
    client = npm(verdaccio, captured, owner.token)
    with pytest.raises(UsageError, match=r"1\.2\.0 is not published"):
        client.set_dist_tag(scoped, "latest", "1.2.0")
    with pytest.raises(UsageError, match="has no package"):
        client.set_dist_tag("@acme/never-published", "latest", "1.0.0")
    assert client.stats.writes == 0
    assert verdaccio.dist_tags(scoped)["latest"] == "1.0.0"


def test_whoami_names_the_tokens_user(verdaccio, captured, owner):
    assert npm(verdaccio, captured, owner.token).whoami() == owner.name


def test_bad_token_is_exit_2_naming_the_variable_without_the_secret(verdaccio, captured, published):
    scoped, _ = published
    bad = "bad-npm-token-0123456789"
    client = npm(verdaccio, captured, bad)
    with pytest.raises(CredentialError) as whoami:
        client.whoami()
    with pytest.raises(CredentialError) as tag:
        client.set_dist_tag(scoped, "latest", "1.1.0-rc1")
    for info in (whoami, tag):
        assert info.value.exit_code == 2
        assert VAR in f"{info.value.message} {info.value.hint}"
    assert verdaccio.dist_tags(scoped)["latest"] == "1.0.0"
    captured.assert_no_secret(bad, errors=(whoami.value, tag.value))


def test_no_token_is_a_credential_error_before_any_request(verdaccio, captured, published):
    scoped, _ = published
    client = npm(verdaccio, captured, None, credential="MY_NPM_TOKEN")
    with pytest.raises(CredentialError, match="no npm token") as info:
        client.set_dist_tag(scoped, "latest", "1.1.0-rc1")
    assert "MY_NPM_TOKEN" in (info.value.hint or "")
    assert client.stats.requests == 0


def test_a_lost_answer_to_the_tag_write_is_resent_and_lands_once(
    verdaccio, captured, owner, proxy_to
):
    name = f"@acme/{verdaccio.unique('flaky')}"
    verdaccio.publish(owner, name, "3.0.0")
    verdaccio.publish(owner, name, "3.1.0", tag="next")
    proxy = proxy_to(verdaccio.url)
    client = Npm(proxy.url, captured.ui, owner.token, sleep=captured.sleep)
    proxy.fail("drop_after", "PUT", "/dist-tags/latest")
    assert client.set_dist_tag(name, "latest", "3.1.0") is True
    assert [s.fault for s in proxy.requests("PUT")] == ["drop_after", None]
    assert verdaccio.dist_tags(name)["latest"] == "3.1.0"


def test_5xx_on_reads_is_retried_and_a_gone_registry_is_unreachable(
    verdaccio, captured, published, proxy_to
):
    scoped, _ = published
    proxy = proxy_to(verdaccio.url)
    client = Npm(proxy.url, captured.ui, sleep=captured.sleep)
    proxy.fail("status", "GET", times=1, status=503)
    assert client.package(scoped) is not None
    assert captured.slept == [0.5]
    proxy.close()
    with pytest.raises(Unreachable) as info:
        client.package(scoped)
    assert "[publish.npm] registry" in (info.value.hint or "")


def test_scoped_names_are_escaped_as_npm_does():
    assert escaped("@acme/widget") == "@acme%2fwidget"
    assert escaped("left-pad") == "left-pad"
