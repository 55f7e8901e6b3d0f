"""The sandbox's PyPI-like index: real twine uploads, the JSON API, downloads, pip's index."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import httpx
import pytest

from releaser.sandbox.server import SandboxServer
from tests.sandbox.services.helpers import Admin

METADATA = """Metadata-Version: 2.1
Name: demo-lib
Version: {version}
Summary: A demo library
Requires-Python: >=3.9
"""


def make_dist(tmp: Path, version: str, marker: str = "") -> list[Path]:
    """A real sdist and wheel of ``demo-lib`` (what `python -m build` would write)."""
    dist = tmp / f"dist-{version}"
    dist.mkdir(exist_ok=True)
    meta = METADATA.format(version=version)
    code = f"VERSION = {version!r}  # {marker}\n".encode()
    wheel = dist / f"demo_lib-{version}-py3-none-any.whl"
    info = f"demo_lib-{version}.dist-info"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("demo_lib/__init__.py", code)
        zf.writestr(f"{info}/METADATA", meta)
        wheel_info = "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        zf.writestr(f"{info}/WHEEL", wheel_info)
        zf.writestr(f"{info}/RECORD", "")
    sdist = dist / f"demo_lib-{version}.tar.gz"
    with tarfile.open(sdist, "w:gz") as tf:
        for name, data in (("PKG-INFO", meta.encode()), ("demo_lib/__init__.py", code)):
            entry = tarfile.TarInfo(f"demo_lib-{version}/{name}")
            entry.size = len(data)
            tf.addfile(entry, io.BytesIO(data))
    return [sdist, wheel]


def twine(
    sandbox: SandboxServer, token: str, files: list[Path]
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TWINE_USERNAME": "__token__", "TWINE_PASSWORD": token}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "twine",
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--repository-url",
            sandbox.info()["pypi_upload_url"],
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture
def token(admin: Admin) -> str:
    return str(admin.post("pypi/tokens", {})["token"])


def test_twine_upload_json_api_and_download(
    sandbox: SandboxServer, token: str, tmp_path: Path
) -> None:
    files = make_dist(tmp_path, "1.2.0")
    proc = twine(sandbox, token, files)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    base = sandbox.info()["pypi_url"]
    project = httpx.get(f"{base}/pypi/demo-lib/json").json()
    assert project["info"]["version"] == "1.2.0"
    assert project["info"]["summary"] == "A demo library"
    names = sorted(u["filename"] for u in project["urls"])
    assert names == ["demo_lib-1.2.0-py3-none-any.whl", "demo_lib-1.2.0.tar.gz"]
    for entry in project["urls"]:
        data = httpx.get(entry["url"]).content
        local = next(f for f in files if f.name == entry["filename"]).read_bytes()
        assert data == local
        assert entry["digests"]["sha256"] == hashlib.sha256(local).hexdigest()
    assert set(project["releases"]) == {"1.2.0"}
    one = httpx.get(f"{base}/pypi/Demo_Lib/1.2.0/json").json()
    assert len(one["urls"]) == 2 and "releases" not in one
    assert httpx.get(f"{base}/pypi/demo-lib/9.9.9/json").status_code == 404
    missing = httpx.get(f"{base}/pypi/nothing-here/json")
    assert (missing.status_code, missing.json()) == (404, {"message": "Not Found"})
    simple = httpx.get(sandbox.info()["pypi_simple_url"] + "demo-lib/").text
    assert "demo_lib-1.2.0.tar.gz" in simple and "#sha256=" in simple


def test_reupload_same_bytes_is_ok_other_bytes_refused(
    sandbox: SandboxServer, token: str, tmp_path: Path
) -> None:
    files = make_dist(tmp_path, "1.3.0rc1")
    assert twine(sandbox, token, files).returncode == 0
    assert twine(sandbox, token, files).returncode == 0  # identical: PyPI answers 200
    (tmp_path / "other").mkdir()
    other = make_dist(tmp_path / "other", "1.3.0rc1", marker="rebuilt")
    proc = twine(sandbox, token, other[:1])
    assert proc.returncode != 0
    assert "File already exists" in proc.stdout + proc.stderr
    info = httpx.get(f"{sandbox.info()['pypi_url']}/pypi/demo-lib/json").json()["info"]
    assert info["version"] == "1.3.0rc1"  # only a pre-release: it is the latest


def test_auth_is_a_token(sandbox: SandboxServer, admin: Admin, tmp_path: Path) -> None:
    files = make_dist(tmp_path, "1.0.0")
    bad = twine(sandbox, "pypi-not-a-real-token", files)
    assert bad.returncode != 0 and "403" in bad.stdout + bad.stderr
    scoped = admin.post("pypi/tokens", {"project": "other-lib"})["token"]
    wrong_project = twine(sandbox, scoped, files)
    assert "project-scoped token is not valid" in wrong_project.stdout + wrong_project.stderr
    assert httpx.get(f"{sandbox.info()['pypi_url']}/pypi/demo-lib/json").status_code == 404


def test_upload_applied_answer_lost(
    sandbox: SandboxServer, admin: Admin, token: str, tmp_path: Path
) -> None:
    files = make_dist(tmp_path, "2.0.0")
    admin.fault(method="POST", path="^/pypi/legacy", action="error_after", status=502, nth=1)
    proc = twine(sandbox, token, files[:1])  # twine re-sends after a 5xx: same bytes, 200
    assert proc.returncode == 0, proc.stdout + proc.stderr
    urls = httpx.get(f"{sandbox.info()['pypi_url']}/pypi/demo-lib/json").json()["urls"]
    assert [u["filename"] for u in urls] == ["demo_lib-2.0.0.tar.gz"]
    statuses = [e["status"] for e in admin.log() if e["path"] == "/pypi/legacy/"]
    assert statuses == [502, 200]
