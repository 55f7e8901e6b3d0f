"""A pure-Python wheel and sdist built from a repository commit, as ``python -m build`` would.

The sandbox's ``python_dists`` effect (:mod:`.effects`) uses it so that a simulated build
workflow produces real distributions: pip installs the wheel, twine reads both, and a
package index accepts them. Only what a small pure-Python project needs: ``pyproject.toml``'s
``[project] name`` and ``version``, and the package directory named like the project.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import re
import tarfile
import tomllib
import zipfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from releaser.sandbox.forge import Forge

DATE = (2020, 1, 1, 0, 0, 0)


def _canonical(version: str) -> str:
    from packaging.version import Version

    return str(Version(version))


def _metadata(name: str, version: str) -> str:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"


def build(forge: Forge, full: str, sha: str, package: str | None = None) -> dict[str, bytes]:
    """``{file name: bytes}`` of the wheel and the sdist of the project at commit ``sha``."""
    from releaser.sandbox import gitdata

    def read(path: str) -> str:
        return gitdata.run(forge, full, "show", f"{sha}:{path}")

    project = tomllib.loads(read("pyproject.toml"))["project"]
    name, version = str(project["name"]), _canonical(str(project["version"]))
    dist = re.sub(r"[-_.]+", "_", name).lower()
    package = package or dist
    paths = [
        p
        for p in gitdata.run(forge, full, "ls-tree", "-r", "--name-only", sha).splitlines()
        if p.startswith(f"{package}/") and p.endswith(".py")
    ]
    sources = {p: read(p).encode() for p in sorted(paths)}
    return {
        f"{dist}-{version}-py3-none-any.whl": _wheel(name, dist, version, sources),
        f"{dist}-{version}.tar.gz": _sdist(
            name, dist, version, {**sources, "pyproject.toml": read("pyproject.toml").encode()}
        ),
    }


def _wheel(name: str, dist: str, version: str, sources: dict[str, bytes]) -> bytes:
    info = f"{dist}-{version}.dist-info"
    files = dict(sources)
    files[f"{info}/METADATA"] = _metadata(name, version).encode()
    files[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: releaser-sandbox\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n"
    )
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            archive.writestr(zipfile.ZipInfo(path, date_time=DATE), data)
    return out.getvalue()


def _sdist(name: str, dist: str, version: str, sources: dict[str, bytes]) -> bytes:
    base = f"{dist}-{version}"
    files = {f"{base}/PKG-INFO": _metadata(name, version).encode()}
    files.update({f"{base}/{path}": data for path, data in sources.items()})
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data in files.items():
            member = tarfile.TarInfo(path)
            member.size = len(data)
            member.mtime = 0
            tar.addfile(member, io.BytesIO(data))
    return gzip.compress(out.getvalue(), mtime=0)  # the same bytes on every build
