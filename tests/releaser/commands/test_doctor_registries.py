"""`releaser doctor` rows for the registries and the distributions repository, against the
real servers: access and push rights are told without writing anything."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from releaser.doctor_checks import INVALID, OK
from releaser.sandbox.server import SandboxServer
from tests.releaser.commands.test_doctor import REPO, Doctor
from tests.sandbox.helpers import make_repo


@pytest.fixture
def forge(tmp_path: Path) -> Iterator[SandboxServer]:
    server = SandboxServer(tmp_path / "forge").start()
    make_repo(server, REPO)
    try:
        yield server
    finally:
        server.stop()


def docker(host: str, image: str, login: bool) -> str:
    creds = 'username_env = "REG_USER"\npassword_env = "REG_PASSWORD"\n' if login else ""
    return f'\n[[publish.docker]]\nregistry = "{host}"\nimage = "{image}"\n{creds}'


def test_registry_rows_tell_verify_only_push_and_refusal(
    tmp_path: Path, forge: SandboxServer, oci_registry_token
) -> None:
    registry = oci_registry_token
    image = f"acme/app{secrets.token_hex(3)}"
    registry.push_image(image, "v1.0.0", "one")
    doctor = Doctor(tmp_path, forge, docker(registry.host, image, login=False))
    ok, rows, output = doctor.run({"DEMO_TOKEN": doctor.token})
    row = rows[f"registry {registry.host}/{image}"]
    assert ok, output
    assert row.status == OK and "1 tags; verify only" in row.detail.replace("readable, ", "")

    doctor = Doctor(tmp_path, forge, docker(registry.host, image, login=True))
    env = {"DEMO_TOKEN": doctor.token, "REG_USER": registry.username}
    ok, rows, output = doctor.run({**env, "REG_PASSWORD": registry.password})
    assert rows[f"registry {registry.host}/{image}"].status == OK
    assert "may push" in rows[f"registry {registry.host}/{image}"].detail
    assert registry.tags(image) == ["v1.0.0"]  # nothing was written to find out

    reader, password = registry.reader
    ok, rows, output = doctor.run({**env, "REG_USER": reader, "REG_PASSWORD": password})
    row = rows[f"registry {registry.host}/{image}"]
    assert not ok and row.status == INVALID and "may not push" in row.detail

    wrong = "pw-" + secrets.token_hex(8)
    ok, rows, output = doctor.run({**env, "REG_PASSWORD": wrong})
    row = rows[f"registry {registry.host}/{image}"]
    assert row.status == INVALID and "REG_PASSWORD" in f"{row.detail} {row.fix}"
    assert wrong not in output


def test_npm_pypi_and_distributions_rows(tmp_path: Path, forge: SandboxServer, verdaccio) -> None:
    user = verdaccio.add_user()
    package = verdaccio.unique("kubo")
    verdaccio.publish(user, package, "1.0.0")
    make_repo(forge, "release-bot/dists")
    info = forge.info()
    extra = (
        f'\n[publish.npm]\npackage = "{package}"\nregistry = "{verdaccio.url}"\n'
        'token_env = "DEMO_NPM_TOKEN"\n'
        f'\n[publish.pypi]\nproject = "example"\nrepository_url = "{info["pypi_upload_url"]}"\n'
        f'index_url = "{info["pypi_url"]}"\ntoken_env = "DEMO_PYPI_TOKEN"\n'
        '\n[publish.distributions]\nrepo = "release-bot/dists"\ncommand = "true"\n'
    )
    doctor = Doctor(tmp_path, forge, extra)
    upload_token = httpx.post(
        info["admin_url"] + "/pypi/tokens", json={"project": "example"}, timeout=30
    ).json()["token"]
    env = {"DEMO_TOKEN": doctor.token, "DEMO_PYPI_TOKEN": upload_token}
    env["DEMO_NPM_TOKEN"] = user.token
    ok, rows, output = doctor.run(env)
    assert ok, output
    assert rows[f"npm {package}"].status == OK
    assert f"1 versions, latest 1.0.0; the token is {user.name}'s" in rows[f"npm {package}"].detail
    index_row = rows[f"package index {info['pypi_url']}"]
    assert index_row.status == OK and "takes the token in DEMO_PYPI_TOKEN" in index_row.detail
    assert upload_token not in output
    # a token the index doesn't know: refused by an upload request that carries no file
    ok, rows, output = doctor.run({**env, "DEMO_PYPI_TOKEN": "pypi-wrong-7f3kq9"})
    index_row = rows[f"package index {info['pypi_url']}"]
    assert not ok and index_row.status == INVALID
    assert "DEMO_PYPI_TOKEN" in f"{index_row.detail} {index_row.fix}"
    assert "pypi-wrong-7f3kq9" not in output
    assert forge.forge.find("py_file", "") == []  # the probes stored nothing
    assert rows["distributions release-bot/dists"].status == OK
    assert "can push" in rows["distributions release-bot/dists"].detail
    assert user.token not in output

    ok, rows, output = doctor.run({**env, "DEMO_NPM_TOKEN": "npm_" + secrets.token_hex(8)})
    assert not ok and rows[f"npm {package}"].status == INVALID
    assert "DEMO_NPM_TOKEN" in f"{rows[f'npm {package}'].detail} {rows[f'npm {package}'].fix}"
