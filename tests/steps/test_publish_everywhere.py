"""The whole publish stage with every registry configured: a final release published to the
GitHub release, a container registry, npm, the package index and a distributions
repository, verified as users get it; then a re-run that writes nothing anywhere."""

from __future__ import annotations

import secrets

import httpx
import pytest

from releaser.step import Status
from tests.sandbox.helpers import make_repo
from tests.services.proxy import FlakyProxy

FINAL = "v1.2.0"
FAST = "\n[engine]\npoll_interval = 0.2\nwait_timeout = 60\n"


def proxy_to(url: str) -> FlakyProxy:
    host, _, port = url.split("://", 1)[-1].rstrip("/").partition(":")
    return FlakyProxy(host, int(port))


def written(proxy: FlakyProxy, since: int = 0) -> list[str]:
    return [
        f"{s.method} {s.path}"
        for s in proxy.seen[since:]
        if s.method not in ("GET", "HEAD") and s.status is not None and s.status < 400
    ]


@pytest.mark.slow  # a whole release up to publish, with four services
def test_publish_everywhere_then_a_rerun_writes_nothing(
    make_project, oci_registry, verdaccio
) -> None:
    image = f"acme/example{secrets.token_hex(3)}"
    package = verdaccio.unique("example")
    owner = verdaccio.add_user()
    verdaccio.publish(owner, package, "1.1.0")
    verdaccio.publish(owner, package, "1.2.0", tag="next")  # the publish workflow's doing
    registry, npm = proxy_to(oci_registry.url), proxy_to(verdaccio.url)
    try:
        project = make_project(python_dists=True, extra=FAST)
        make_repo(project.server, "acme/dists", {"example/versions": "v1.1.0\n"})
        token = httpx.post(
            project.info["admin_url"] + "/pypi/tokens", json={"project": "example"}, timeout=30
        ).json()["token"]
        project.env = {"PYPI_TOKEN": token, "NPM_TOKEN": owner.token, "REG_PASSWORD": "x"}
        site = project.info["api_url"].removesuffix("/api/v3")
        smoke = (
            'python3 -c "import zipfile,sys; print(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2])'
            '.decode())" {file} example/__init__.py'
        )
        project.config_path.write_text(
            project.config_path.read_text()
            + f"""
[[publish.smoke]]
assets = "*.whl"
command = '{smoke}'

[publish.pypi]
project = "example"
dist_from = "release"
repository_url = "{project.info["pypi_upload_url"]}"
index_url = "{project.info["pypi_url"]}"

[publish.npm]
package = "{package}"
registry = "{npm.url}/"
token_env = "NPM_TOKEN"

[[publish.docker]]
registry = "127.0.0.1:{registry.port}"
image = "{image}"
tags = ["v{{version}}", "latest"]
password_env = "REG_PASSWORD"

[publish.distributions]
repo = "acme/dists"
command = "echo v{{version}} >> example/versions"
merge = true
verify_url = "{site}/acme/dists/raw/main/example/versions"
"""
        )
        for stage in ("start", "prepare", "tag", "build"):
            project.run_stage(FINAL, stage)
        oci_registry.push_index(image, FINAL, "example 1.2.0", ["linux/amd64", "linux/arm64"])

        results = {r.step: r for r in project.run_stage(FINAL, "publish")}
        for step in (
            "github-release",
            "release-assets",
            "checksums",
            "verify-artifacts",
            "pypi-upload",
            "npm-package",
            "docker-images",
            "distributions-pr",
        ):
            assert results[step].status is Status.DONE, (step, results[step].detail)
        assert "printed 1.2.0" in results["verify-artifacts"].detail
        assert verdaccio.dist_tags(package)["latest"] == "1.2.0"
        assert oci_registry.manifest_digest(image, "latest") == oci_registry.manifest_digest(
            image, FINAL
        )
        index = httpx.get(f"{project.info['pypi_url']}/pypi/example/1.2.0/json", timeout=30)
        assert {f["filename"] for f in index.json()["urls"]} == {
            "example-1.2.0-py3-none-any.whl",
            "example-1.2.0.tar.gz",
        }

        mark, reg_mark, npm_mark = len(project.requests()), len(registry.seen), len(npm.seen)
        again = {r.step: r for r in project.run_stage(FINAL, "publish")}
        assert all(not r.acted for r in again.values())
        assert project.writes_since(mark) == []  # forge, ledger and package index
        assert written(registry, reg_mark) == [] and written(npm, npm_mark) == []
        assert registry.seen[reg_mark:] and npm.seen[npm_mark:]  # both were read again
    finally:
        registry.close()
        npm.close()
