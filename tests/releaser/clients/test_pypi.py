"""The PyPI client against a real pypiserver (uploads behind htpasswd), failures injected by a
proxy in front of it. One stand-in: pypi.org's JSON API, which no local index serves (see
``test_pypi_json_api_shape_is_read``)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from releaser.clients.pypi import FileConflict, PyPI, dist_version, read_dist
from releaser.errors import AmbiguousWrite, CredentialError, HTTPError, Unreachable, UsageError
from tests.services.pypiserver import make_sdist, make_wheel

VAR = "PYPI_TOKEN"


def pypi(server, captured, password: str | None = "", url: str | None = None, **kw) -> PyPI:
    return PyPI(
        url or server.url,
        captured.ui,
        username=server.username,
        password=server.password if password == "" else password,
        sleep=captured.sleep,
        **kw,
    )


def dists(tmp_path, project: str, version: str, payload: str = ""):
    folder = tmp_path / f"dist-{payload or 'a'}"
    return [
        make_wheel(folder, project, version, payload),
        make_sdist(folder, project, version, payload),
    ]


def test_files_of_an_absent_project_or_version_are_empty(pypiserver, captured, tmp_path):
    project = pypiserver.unique("absent-lib")
    client = pypi(pypiserver, captured)
    assert client.files(project, "1.0.0") == {}
    wheel = make_wheel(tmp_path, project, "1.0.0")
    pypiserver.seed(wheel, project, "1.0.0")
    assert client.files(project, "2.0.0") == {}


def test_files_lists_the_versions_files_with_their_sha256(pypiserver, captured, tmp_path):
    project = pypiserver.unique("My.Lib")
    wheel, sdist = dists(tmp_path, project, "1.0.0")
    other = make_wheel(tmp_path / "other", project, "1.0.1")
    for path, version in ((wheel, "1.0.0"), (sdist, "1.0.0"), (other, "1.0.1")):
        pypiserver.seed(path, project, version)
    client = pypi(pypiserver, captured)
    assert client.files(project, "1.0.0") == {
        wheel.name: read_dist(wheel).sha256,
        sdist.name: read_dist(sdist).sha256,
    }
    assert client.files(project, "1.0.1") == {other.name: read_dist(other).sha256}


def test_upload_sends_each_file_once_and_a_rerun_sends_nothing(pypiserver, captured, tmp_path):
    project = pypiserver.unique("uplib")
    paths = dists(tmp_path, project, "0.3.0")
    client = pypi(pypiserver, captured)
    results = client.upload(paths)
    assert [(r.filename, r.uploaded) for r in results] == [(p.name, True) for p in paths]
    assert {p.name for p in paths} <= set(pypiserver.stored())
    assert set(client.files(project, "0.3.0")) == {p.name for p in paths}
    again = pypi(pypiserver, captured)
    assert [r.uploaded for r in again.upload(paths)] == [False, False]
    assert again.stats.by_method.get("POST", 0) == 0
    captured.assert_no_secret(pypiserver.password)


def test_a_file_there_with_another_hash_is_refused_and_nothing_is_uploaded(
    pypiserver, captured, tmp_path
):
    project = pypiserver.unique("conflict-lib")
    theirs_wheel, _ = dists(tmp_path, project, "1.0.0", payload="first build")
    pypiserver.seed(theirs_wheel, project, "1.0.0")
    ours = dists(tmp_path, project, "1.0.0", payload="second build")
    client = pypi(pypiserver, captured)
    with pytest.raises(FileConflict) as info:
        client.upload(ours)
    assert ours[0].name in info.value.message
    assert read_dist(ours[0]).sha256 in info.value.message
    assert "new version" in (info.value.hint or "")
    assert client.stats.by_method.get("POST", 0) == 0  # not even the sdist went up
    assert set(client.files(project, "1.0.0")) == {theirs_wheel.name}


def test_bad_credentials_are_exit_2_naming_the_variable_without_the_secret(
    pypiserver, captured, tmp_path
):
    project = pypiserver.unique("badauth")
    bad = "pypi-wrong-0123456789abcdef"
    client = pypi(pypiserver, captured, password=bad)
    with pytest.raises(CredentialError) as info:
        client.upload(dists(tmp_path, project, "1.0.0")[:1])
    assert info.value.exit_code == 2
    assert VAR in info.value.message
    assert client.files(project, "1.0.0") == {}
    captured.assert_no_secret(bad, errors=(info.value,))


def test_no_password_fails_before_any_upload_but_skips_need_none(pypiserver, captured, tmp_path):
    project = pypiserver.unique("nopass")
    paths = dists(tmp_path, project, "1.0.0")
    with pytest.raises(CredentialError, match="no credentials") as info:
        pypi(pypiserver, captured, password=None).upload(paths)
    assert VAR in (info.value.hint or "")
    pypi(pypiserver, captured).upload(paths)
    assert [r.uploaded for r in pypi(pypiserver, captured, password=None).upload(paths)] == [
        False,
        False,
    ]


def test_a_lost_answer_is_ambiguous_and_the_rerun_does_not_upload_twice(
    pypiserver, captured, tmp_path, proxy_to
):
    project = pypiserver.unique("flaky-lib")
    wheel = dists(tmp_path, project, "1.0.0")[0]
    proxy = proxy_to(pypiserver.url)
    proxy.fail("drop_after", "POST")
    client = pypi(pypiserver, captured, url=f"{proxy.url}/")
    with pytest.raises(AmbiguousWrite):
        client.upload([wheel])
    assert len(proxy.requests("POST")) == 1  # never re-sent blindly
    assert pypiserver.stored().count(wheel.name) == 1  # the server did store it
    assert [r.uploaded for r in client.upload([wheel])] == [False]
    assert len(proxy.requests("POST")) == 1


def test_a_5xx_on_upload_is_not_resent(pypiserver, captured, tmp_path, proxy_to):
    project = pypiserver.unique("fivexx-lib")
    wheel = dists(tmp_path, project, "1.0.0")[0]
    proxy = proxy_to(pypiserver.url)
    proxy.fail("status", "POST", status=502, body=b'{"message": "bad gateway"}')
    client = pypi(pypiserver, captured, url=f"{proxy.url}/")
    with pytest.raises(HTTPError) as info:
        client.upload([wheel])
    assert info.value.status == 502
    assert len(proxy.requests("POST")) == 1
    assert [r.uploaded for r in client.upload([wheel])] == [True]  # the re-run uploads it


def test_an_index_gone_halfway_is_unreachable(pypiserver, captured, tmp_path, proxy_to):
    project = pypiserver.unique("gone-lib")
    proxy = proxy_to(pypiserver.url)
    client = pypi(pypiserver, captured, url=f"{proxy.url}/")
    assert client.files(project, "1.0.0") == {}
    proxy.close()
    with pytest.raises(Unreachable) as info:
        client.upload(dists(tmp_path, project, "1.0.0"))
    assert "[publish.pypi] repository_url" in (info.value.hint or "")


def test_a_file_uploaded_meanwhile_by_someone_else_is_taken_as_done(
    pypiserver, captured, tmp_path, proxy_to
):
    """Between our read and our POST another driver uploaded the same file: the index answers
    409, the client re-reads, sees the same sha256, and counts it as there."""
    project = pypiserver.unique("race-lib")
    wheel = dists(tmp_path, project, "1.0.0")[0]
    client = pypi(pypiserver, captured)
    real_files = client.files
    calls = []

    def files_then_someone_uploads(project_: str, version: str) -> dict[str, str]:
        found = real_files(project_, version)
        if not calls:
            pypiserver.seed(wheel, project, "1.0.0")
        calls.append(found)
        return found

    client.files = files_then_someone_uploads  # type: ignore[method-assign]
    assert [r.uploaded for r in client.upload([wheel])] == [False]
    assert calls[0] == {} and wheel.name in calls[1]


def test_dist_version_reads_wheel_and_sdist_metadata(tmp_path):
    wheel, sdist = dists(tmp_path, "version-lib", "4.5.6rc1")
    assert dist_version(wheel) == "4.5.6rc1"
    assert dist_version(sdist) == "4.5.6rc1"
    assert read_dist(wheel).project == "version-lib"


def test_a_file_that_is_no_distribution_is_a_usage_error(tmp_path):
    broken = tmp_path / "broken-1.0.0-py3-none-any.whl"
    broken.write_bytes(b"not a zip")
    with pytest.raises(UsageError, match="not a valid distribution"):
        dist_version(broken)
    broken_sdist = tmp_path / "broken-1.0.0.tar.gz"
    broken_sdist.write_bytes(b"not a tarball")
    with pytest.raises(UsageError, match="not a valid distribution"):
        dist_version(broken_sdist)
    with pytest.raises(UsageError, match="does not exist"):
        dist_version(tmp_path / "missing-1.0.0.tar.gz")


# ---- pypi.org's shapes ---------------------------------------------------------------------------


@pytest.fixture
def warehouse_shapes():
    """A stand-in for pypi.org's read API, which cannot run here: it answers the documented
    shapes of ``/pypi/{project}/{version}/json`` and of the PEP 691 JSON simple index."""
    files = {
        "shape-lib-1.0.0.tar.gz": "aa" * 32,
        "shape_lib-1.0.0-py3-none-any.whl": "bb" * 32,
    }
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            seen.append(self.path)
            body: Any = None
            kind = "application/json"
            if self.path == "/pypi/shape-lib/1.0.0/json":
                body = {
                    "info": {"name": "shape-lib", "version": "1.0.0"},
                    "urls": [
                        {"filename": name, "digests": {"sha256": digest, "md5": "x"}}
                        for name, digest in files.items()
                    ],
                }
            elif self.path == "/simple/other-lib/":
                kind = "application/vnd.pypi.simple.v1+json"
                body = {
                    "meta": {"api-version": "1.1"},
                    "name": "other-lib",
                    "files": [
                        {"filename": "other_lib-2.0.0.tar.gz", "hashes": {"sha256": "cc" * 32}},
                        {"filename": "other_lib-1.0.0.tar.gz", "hashes": {"sha256": "dd" * 32}},
                    ],
                }
            data = json.dumps(body).encode() if body is not None else b'{"message": "Not Found"}'
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", files, seen
    httpd.shutdown()
    httpd.server_close()


def test_pypi_json_api_shape_is_read(warehouse_shapes, captured):
    url, files, seen = warehouse_shapes
    client = PyPI(
        "https://upload.example.invalid/legacy/",
        captured.ui,
        password="pypi-AgEIcHlwaS5vcmcsecret",
        json_url=url,
    )
    assert client.files("Shape.Lib", "1.0.0") == files
    assert client.files("other-lib", "1.0.0") == {"other_lib-1.0.0.tar.gz": "dd" * 32}
    assert seen[0] == "/pypi/shape-lib/1.0.0/json"


def test_upload_pypi_org_reads_from_pypi_org_without_the_token(captured):
    client = PyPI("https://upload.pypi.org/legacy/", captured.ui, password="pypi-secret-token")
    assert client.base_url == "https://pypi.org"
    assert client._read_headers == {}
