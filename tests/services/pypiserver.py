"""A real Python package index (pypiserver) on loopback, uploads behind an htpasswd login.

``make_wheel`` / ``make_sdist`` write small but valid distributions (the metadata twine and
pip read), so tests need no build backend.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import itertools
import re
import secrets
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.services.process import Server, clean_env, find_program, free_port, missing

_counter = itertools.count(1)


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _metadata(name: str, version: str) -> str:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: test dist\n"


def make_wheel(folder: Path, name: str, version: str, payload: str = "") -> Path:
    """``{name}-{version}-py3-none-any.whl``; ``payload`` changes its bytes (and sha256)."""
    dist = normalize(name)
    info = f"{dist}-{version}.dist-info"
    files = {
        f"{dist}/__init__.py": f"VERSION = {version!r}\nPAYLOAD = {payload!r}\n",
        f"{info}/METADATA": _metadata(name, version),
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, text in files.items():
            entry = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            archive.writestr(entry, text)
    return target


def make_sdist(folder: Path, name: str, version: str, payload: str = "") -> Path:
    """``{name}-{version}.tar.gz`` with its PKG-INFO."""
    base = f"{normalize(name)}-{version}"
    files = {
        f"{base}/PKG-INFO": _metadata(name, version),
        f"{base}/pyproject.toml": f'[project]\nname = "{name}"\nversion = "{version}"\n',
        f"{base}/payload.txt": payload,
    }
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{base}.tar.gz"
    target.write_bytes(raw.getvalue())
    return target


@dataclass
class PyPIServer:
    """A running index: ``url`` is both the upload endpoint and the index root."""

    url: str  # http://127.0.0.1:PORT/
    username: str
    password: str
    data_dir: Path
    packages: Path
    server: Server

    def unique(self, prefix: str) -> str:
        return f"{prefix}{next(_counter)}"

    def seed(self, path: Path, name: str, version: str) -> None:
        """Upload a file with the legacy upload API directly (not through the client)."""
        reply = httpx.post(
            self.url,
            data={
                ":action": "file_upload",
                "protocol_version": "1",
                "name": name,
                "version": version,
                "sha256_digest": hashlib.sha256(path.read_bytes()).hexdigest(),
            },
            files={"content": (path.name, path.read_bytes(), "application/octet-stream")},
            auth=(self.username, self.password),
            timeout=30.0,
        )
        assert reply.status_code == 200, reply.text

    def stored(self) -> list[str]:
        """The files the server holds, as it stores them on disk."""
        return sorted(p.name for p in self.packages.rglob("*") if p.is_file())


@contextmanager
def start_pypiserver(data: Path) -> Iterator[PyPIServer]:
    if (
        importlib.util.find_spec("pypiserver") is None
        or importlib.util.find_spec("passlib") is None
    ):
        missing("pypiserver", "pip install -e '.[test]'")
    from passlib.apache import HtpasswdFile

    program = find_program(
        "pypi-server", "pip install -e '.[test]'", extra_dirs=[Path(sys.executable).parent]
    )
    data.mkdir(parents=True, exist_ok=True)
    packages = data / "packages"
    packages.mkdir(exist_ok=True)
    username, password = "uploader", "pw-" + secrets.token_hex(8)
    htpasswd = HtpasswdFile(str(data / "htpasswd"), new=True, default_scheme="apr_md5_crypt")
    htpasswd.set_password(username, password)
    htpasswd.save()
    port = free_port()
    argv = [
        program,
        "run",
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "-P",
        str(data / "htpasswd"),
        "-a",
        "update",
        "--disable-fallback",
        "--hash-algo",
        "sha256",
        str(packages),
    ]
    server = Server("pypiserver", argv, data, clean_env())
    url = f"http://127.0.0.1:{port}/"
    try:
        server.wait_ready(f"{url}health", lambda r: r.status_code == 200)
        yield PyPIServer(url, username, password, data, packages, server)
    finally:
        server.stop()
