"""docs/examples: each plans offline, and its publish stage dry-runs against local services.

The dry runs use the example files as written, with only where the services are changed:
the forge is the sandbox (its seeded project stands in for the repository), Docker Hub is a
real local registry, the npm registry a local Verdaccio, PyPI the sandbox's index. They
write nothing anywhere, and name what they would do.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from typer.testing import CliRunner

from releaser.cli import app
from releaser.sandbox.admin_client import SandboxAdmin
from tests.sandbox.helpers import make_repo
from tests.services.proxy import FlakyProxy

RC = "v1.2.0-rc1"
EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


def adapted(name: str, changes: dict[str, str]) -> str:
    """The example's text with the services moved here; each change must apply once."""
    text = (EXAMPLES / name).read_text()
    for old, new in changes.items():
        assert text.count(old) >= 1, f"{name} no longer has {old!r}"
        text = text.replace(old, new)
    return text


@pytest.mark.parametrize(
    "example, version, steps",
    [
        ("kubo.toml", "v0.18.0", ["docker-images", "npm-package", "distributions-pr"]),
        ("kubo.toml", "v0.18.0-rc1", ["docker-images", "npm-package", "distributions-pr"]),
        ("pylib.toml", "v1.4.0-rc1", ["verify-artifacts", "pypi-upload"]),
    ],
)
def test_examples_plan_offline(example: str, version: str, steps: list[str]) -> None:
    result = CliRunner().invoke(app, ["--config", str(EXAMPLES / example), "plan", version])
    assert result.exit_code == 0, result.output
    for step in steps:
        assert f" {step}: " in result.output
    for table in ("publish.docker", "publish.npm", "publish.pypi", "publish.distributions"):
        assert f"[{table}] is configured, but no step acts on it" not in result.output


@pytest.mark.slow  # the plan test covers the examples quickly
def test_kubo_example_dry_runs_publish_writing_nothing(
    make_project, oci_registry, verdaccio
) -> None:
    project = make_project()
    project.repo.create_git_ref("refs/tags/v0.18.0", project.seed.head_sha)
    with SandboxAdmin(project.info["admin_url"]) as admin:
        admin.create_org("ipfs", owners=["release-bot"])
    make_repo(project.server, "ipfs/distributions", {"dist.sh": "#!/bin/sh\n"}, "master")
    workflow = "on: workflow_dispatch\njobs: {}\n"
    make_repo(
        project.server,
        "ipfs/npm-go-ipfs",
        {"README.md": "npm\n", ".github/workflows/main.yml": workflow},
        "master",
    )
    # kubo.toml's workflows in the stand-in for ipfs/kubo (its build workflow is seeded)
    project.repo.create_file(
        ".github/workflows/sync-release-assets.yml", "add a workflow", workflow, branch="main"
    )
    image = f"ipfs/kubo{secrets.token_hex(3)}"
    pushed = oci_registry.push_index(image, "v0.18.0", "kubo 0.18.0", ["linux/amd64"])
    for tag in ("latest", "release"):
        oci_registry.put_manifest(image, tag, pushed.content, pushed.media_type)
    package = verdaccio.unique("kubo")
    verdaccio.publish(verdaccio.add_user(), package, "0.18.0")
    registry = FlakyProxy("127.0.0.1", int(oci_registry.host.split(":")[1]))
    try:
        site = project.info["api_url"].removesuffix("/api/v3")
        forge = (
            f'[forge]\napi_url = "{project.info["api_url"]}"\n'
            f'git_url = "{project.info["git_url"]}"\ntoken_env = "SANDBOX_TOKEN"'
        )
        docker = f'registry = "127.0.0.1:{registry.port}"\nimage = "{image}"'
        dist_site = f"{site}/ipfs/distributions/raw/master/kubo/v{{version}}/index.html"
        text = adapted(
            "kubo.toml",
            {
                '[forge]\ntoken_env = "GITHUB_TOKEN"': forge,
                'repo = "ipfs/kubo"': 'repo = "acme/example"',
                'default_branch = "master"': 'default_branch = "main"',
                'registry = "docker.io"\nimage = "ipfs/kubo"': docker,
                'package = "kubo"': f'package = "{package}"\nregistry = "{verdaccio.url}"',
                "https://dist.ipfs.tech/kubo/v{version}/": dist_site,
            },
        )
        project.config_path.write_text(text)
        mark = len(project.requests())
        # v0.18.0 was tagged outside releaser here: its publish stage runs adopted
        published = project.run_stage("v0.18.0", "publish", dry_run=True, adopt=True)
        results = {r.step: r for r in published}
        assert project.writes_since(mark) == []
        assert [s for s in registry.seen if s.method not in ("GET", "HEAD")] == []
    finally:
        registry.close()
    out = project.output()
    assert results["github-release"].status == "planned"
    assert results["docker-images"].status.value == "done"
    assert "latest, release on the same digest (verify only)" in results["docker-images"].detail
    assert results["npm-package"].status.value == "done"
    assert f"{package}@0.18.0 published; latest -> 0.18.0 (verify only)" == (
        results["npm-package"].detail
    )
    assert results["distributions-pr"].status == "planned"
    assert (
        "would commit what `./dist.sh add-version kubo v0.18.0 && ./dist.sh add-version "
        "go-ipfs v0.18.0` changes in ipfs/distributions (master) to a new branch "
        "publish-kubo-v0.18.0" in " ".join(out.split())
    )
    assert 'would open PR "Publish Kubo v0.18.0" in ipfs/distributions' in out


@pytest.mark.slow  # a whole prepare, tag and build first
def test_pylib_example_dry_runs_publish_writing_nothing(make_project) -> None:
    project = make_project(python_dists=True)
    text = adapted(
        "pylib.toml",
        {
            '[forge]\ntoken_env = "GITHUB_TOKEN"   # the NAME of the variable; the value lives in '
            ".env or the env": f'[forge]\napi_url = "{project.info["api_url"]}"'
            f'\ngit_url = "{project.info["git_url"]}"\ntoken_env = "SANDBOX_TOKEN"',
            'repo = "example/mylib"': 'repo = "acme/example"',
            "mylib": "example",
            # the stand-in project also carries its version in the package
            '[[version_files]]\npath = "pyproject.toml"': "[[version_files]]\n"
            'path = "example/__init__.py"\n'
            'pattern = \'__version__ = "(?P<version>[^"]+)"\'\n'
            'format = "{base}{pre}"\ndev_format = "{base}.dev0"\n\n'
            '[[version_files]]\npath = "pyproject.toml"',
            'token_env = "PYPI_TOKEN"': 'token_env = "PYPI_TOKEN"\n'
            f'repository_url = "{project.info["pypi_upload_url"]}"\n'
            f'index_url = "{project.info["pypi_url"]}"',
        },
    )
    project.config_path.write_text(text)
    for stage in ("prepare", "tag", "build"):
        project.run_stage(RC, stage)

    mark = len(project.requests())
    results = {r.step: r for r in project.run_stage(RC, "publish", dry_run=True)}
    assert project.writes_since(mark) == []
    for step in ("github-release", "release-assets", "checksums", "verify-artifacts"):
        assert results[step].status == "planned", step
    assert results["pypi-upload"].status == "planned"
    assert "after github-release" in results["pypi-upload"].detail

    # the release published and verified (the wheel installed in a fresh venv prints
    # 1.2.0rc1), the upload is planned file by file; without the token: only at run time
    only = ("github-release", "release-assets", "checksums", "verify-artifacts")
    results = {r.step: r for r in project.run_stage(RC, "publish", only=only)}
    assert "example-1.2.0rc1-py3-none-any.whl printed 1.2.0rc1" in (
        results["verify-artifacts"].detail
    )
    mark = len(project.requests())
    results = {
        r.step: r for r in project.run_stage(RC, "publish", dry_run=True, only=("pypi-upload",))
    }
    assert results["pypi-upload"].status == "planned"
    assert project.writes_since(mark) == []
    upload = project.info["pypi_upload_url"]
    assert f"would upload example-1.2.0rc1-py3-none-any.whl to {upload}" in project.output()
