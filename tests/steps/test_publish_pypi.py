"""pypi-upload against the sandbox's PyPI-like index and a real pypiserver.

The distributions are real (twine reads their metadata); the index is read before each
upload, every file must then be listed with our sha256, a file of another version is
refused before anything is sent, and a lost answer never uploads a file twice.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil

import httpx
import pytest

from releaser.errors import ReleaserError
from releaser.step import Status
from tests.services.proxy import FlakyProxy
from tests.services.pypiserver import make_sdist, make_wheel

RC = "v1.2.0-rc1"
WHEEL = "example-1.2.0rc1-py3-none-any.whl"
SDIST = "example-1.2.0rc1.tar.gz"


def config(upload: str, index: str, username: str = "__token__") -> str:
    return f"""
[publish.pypi]
project = "example"
repository_url = "{upload}"
index_url = "{index}"
dist_dir = "dist"
username = "{username}"
token_env = "PYPI_TOKEN"
"""


def sandbox_index(project, scope: str | None = "example") -> str:
    """The sandbox index's upload URL, with an upload token in the project's env."""
    token = httpx.post(
        project.info["admin_url"] + "/pypi/tokens", json={"project": scope}, timeout=30
    ).json()["token"]
    project.env = {"PYPI_TOKEN": token}
    return project.info["pypi_upload_url"]


def built(project, version: str = "1.2.0rc1", payload: str = "") -> dict[str, str]:
    """A wheel and an sdist in the project's dist/; {name: sha256}."""
    dist = project.work / "dist"
    files = [make_wheel(dist, "example", version, payload), make_sdist(dist, "example", version)]
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def run(project, version: str = RC, **options):
    results = project.run_stage(version, "publish", only=("pypi-upload",), **options)
    return {r.step: r for r in results}["pypi-upload"]


def index_files(project, version: str = "1.2.0rc1") -> dict[str, str]:
    url = f"{project.info['pypi_url']}/pypi/example/{version}/json"
    answer = httpx.get(url, timeout=30)
    if answer.status_code == 404:
        return {}
    return {f["filename"]: f["digests"]["sha256"] for f in answer.json()["urls"]}


def uploads(project, since: int = 0) -> list[dict]:
    """The uploads (not the token's probe before the first write: logged as a read)."""
    return [
        e
        for e in project.requests()[since:]
        if e["method"] == "POST" and e["path"].startswith("/pypi/legacy") and e["write"]
    ]


def test_each_file_is_uploaded_once_and_verified_by_sha256(make_project) -> None:
    project = make_project()
    upload = sandbox_index(project)
    project.config_path.write_text(
        project.config_path.read_text() + config(upload, project.info["pypi_url"])
    )
    local = built(project)

    mark = len(project.requests())
    assert run(project, dry_run=True).status == "planned"
    out = project.output()
    assert f"would upload {WHEEL} to {upload}" in out and f"sha256 {local[SDIST]}" in out
    assert project.writes_since(mark) == []

    result = run(project)
    assert result.status is Status.DONE and result.acted
    assert "2 file(s) of example 1.2.0rc1 on the index, each with our sha256" in result.detail
    assert index_files(project) == local
    assert len(uploads(project)) == 2
    assert project.env["PYPI_TOKEN"] not in project.output()

    mark = len(project.requests())
    again = run(project)
    assert again.status is Status.DONE and not again.acted
    assert project.writes_since(mark) == []  # the index's log included: nothing sent

    # status from another machine, without dist/: the index alone says it is done
    shutil.rmtree(project.work / "dist")
    elsewhere = run(project)
    assert elsewhere.status is Status.DONE and "here to compare" in elsewhere.detail


def test_a_distribution_of_another_version_is_refused_before_any_upload(make_project) -> None:
    project = make_project()
    upload = sandbox_index(project)
    project.config_path.write_text(
        project.config_path.read_text() + config(upload, project.info["pypi_url"])
    )
    built(project)
    make_wheel(project.work / "dist", "example", "1.1.0")  # left over from the last release
    with pytest.raises(ReleaserError) as err:
        run(project)
    assert err.value.exit_code == 2
    message = err.value.message
    assert "example-1.1.0-py3-none-any.whl is version 1.1.0, not the release's 1.2.0rc1" in (
        message
    )
    assert uploads(project) == [] and index_files(project) == {}


def test_a_file_on_the_index_with_other_bytes_stops_the_step(make_project, tmp_path) -> None:
    project = make_project()
    upload = sandbox_index(project)
    project.config_path.write_text(
        project.config_path.read_text() + config(upload, project.info["pypi_url"])
    )
    theirs = make_wheel(tmp_path / "theirs", "example", "1.2.0rc1", payload="another build")
    reply = httpx.post(
        upload,
        data={
            ":action": "file_upload",
            "protocol_version": "1",
            "name": "example",
            "version": "1.2.0rc1",
            "filetype": "bdist_wheel",
            "sha256_digest": hashlib.sha256(theirs.read_bytes()).hexdigest(),
        },
        files={"content": (theirs.name, theirs.read_bytes(), "application/octet-stream")},
        auth=("__token__", project.env["PYPI_TOKEN"]),
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    ours = built(project)
    mark = len(project.requests())
    with pytest.raises(ReleaserError) as err:
        run(project)
    message = err.value.message
    their_sha = hashlib.sha256(theirs.read_bytes()).hexdigest()
    assert WHEEL in message and their_sha in message and ours[WHEEL] in message
    assert "can never be uploaded again" in message
    assert uploads(project, mark) == []  # not even the sdist


def test_bad_or_missing_credentials_are_exit_2_without_the_secret(make_project) -> None:
    project = make_project()
    upload = project.info["pypi_upload_url"]
    project.config_path.write_text(
        project.config_path.read_text() + config(upload, project.info["pypi_url"])
    )
    built(project)
    with pytest.raises(ReleaserError) as err:
        run(project)
    assert err.value.exit_code == 2 and "PYPI_TOKEN is not set" in err.value.message

    bad = "pypi-" + secrets.token_hex(20)
    project.env = {"PYPI_TOKEN": bad}
    with pytest.raises(ReleaserError) as err:
        run(project)
    shown = f"{err.value.message} {err.value.hint} {project.output()}"
    assert err.value.exit_code == 2 and "PYPI_TOKEN" in shown and bad not in shown
    assert index_files(project) == {}


def test_pypiserver_halfway_failure_converges_without_a_duplicate(make_project, pypiserver) -> None:
    host, _, port = pypiserver.url.split("://", 1)[1].rstrip("/").partition(":")
    proxy = FlakyProxy(host, int(port))
    try:
        project = make_project()
        name = pypiserver.unique("example")
        text = config(proxy.url + "/", proxy.url + "/", pypiserver.username)
        project.config_path.write_text(
            project.config_path.read_text() + text.replace('"example"', f'"{name}"')
        )
        project.env = {"PYPI_TOKEN": pypiserver.password}
        dist = project.work / "dist"
        make_wheel(dist, name, "1.2.0rc1")
        make_sdist(dist, name, "1.2.0rc1")
        # the first upload lands, its answer is lost
        proxy.fail("drop_after", "POST", "/", body_contains=b'filename="')
        with pytest.raises(ReleaserError) as err:
            run(project)
        assert "the answer was lost" in err.value.message
        stored = pypiserver.stored()
        assert len([f for f in stored if f.startswith(name.replace("-", "_"))]) == 1

        result = run(project)  # uploads only what is missing
        assert result.status is Status.DONE
        mine = [f for f in pypiserver.stored() if f.startswith(name.replace("-", "_"))]
        assert len(mine) == 2
        posts = [s for s in proxy.seen if s.method == "POST" and s.uploads_a_file]
        assert len(posts) == 2  # one per file: nothing sent twice
        probes = [s for s in proxy.seen if s.method == "POST" and not s.uploads_a_file]
        assert [s.status for s in probes] == [400, 400]  # the token, before each run's upload

        before = len(proxy.seen)
        again = run(project)
        assert again.status is Status.DONE
        assert [s for s in proxy.seen[before:] if s.method == "POST"] == []
    finally:
        proxy.close()


def test_an_index_that_lags_behind_its_uploads_is_waited_for(make_project, pypiserver) -> None:
    host, _, port = pypiserver.url.split("://", 1)[1].rstrip("/").partition(":")
    proxy = FlakyProxy(host, int(port))
    try:
        project = make_project(extra="\n[engine]\npoll_interval = 0.2\nwait_timeout = 60\n")
        name = pypiserver.unique("example")
        text = config(proxy.url + "/", proxy.url + "/", pypiserver.username)
        project.config_path.write_text(
            project.config_path.read_text() + text.replace('"example"', f'"{name}"')
        )
        project.env = {"PYPI_TOKEN": pypiserver.password}
        make_wheel(project.work / "dist", name, "1.2.0rc1")
        # the index's pages don't list the files for the first three reads of each: before
        # the upload (check, then the client's own read), and once after it
        proxy.fail("status", "GET", "/pypi/", times=3, status=404)
        proxy.fail("status", "GET", "/simple/", times=3, status=404)
        result = run(project)
        assert result.status is Status.DONE
        assert "waiting" not in result.detail
        assert "uploaded, but the index doesn't list" in project.output()
        sent = [s for s in proxy.seen if s.method == "POST" and s.uploads_a_file]
        assert len(sent) == 1  # never sent again
    finally:
        proxy.close()
