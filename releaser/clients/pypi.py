"""A Python package index (PyPI, TestPyPI, pypiserver, devpi...): files of a release, upload.

Reads: PyPI's JSON API (``/pypi/{project}/{version}/json``: file names and sha256), falling
back to the simple index (``/simple/{project}/``: PEP 691 JSON when offered, else PEP 503
HTML links with ``#sha256=`` fragments), which every index serves.

Uploads: twine's API reads and checks each distribution's metadata and builds the upload
form (the legacy upload API every index speaks); the POST goes through the shared HTTP
client, so it is never re-sent blindly: a lost answer is :class:`AmbiguousWrite`, and a re-run
reads the index first and skips every file already there with the same sha256.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from releaser.clients.http import HTTPClient, Narrator, decode_quietly
from releaser.errors import CredentialError, HTTPError, RemoteError, UsageError

SIMPLE_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.2, "
    "text/html; q=0.01"
)
PYPI_UPLOAD_HOSTS = {
    "upload.pypi.org": "https://pypi.org",
    "test.pypi.org": "https://test.pypi.org",
}


class FileConflict(RemoteError):
    """The index already has a file of that name with other content (PyPI never lets a file
    name be reused): nothing was uploaded."""


@dataclass(frozen=True)
class Dist:
    """A distribution file and what its own metadata says."""

    path: Path
    project: str
    version: str
    sha256: str

    @property
    def filename(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class Uploaded:
    filename: str
    sha256: str
    uploaded: bool  # False: the index already had it with the same sha256


def normalize(name: str) -> str:
    """PEP 503's normalized project name (``My.Lib`` -> ``my-lib``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_dist(path: Path | str) -> Dist:
    """A wheel's or sdist's project, version and sha256, from its own metadata (twine's
    reader); a file that is no valid distribution is a :class:`UsageError`."""
    from tarfile import TarError
    from zipfile import BadZipFile

    from twine.exceptions import InvalidDistribution
    from twine.package import PackageFile

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path} does not exist", "build the distributions first")
    try:
        package = PackageFile.from_filename(str(path), None)
    except (InvalidDistribution, BadZipFile, TarError, OSError, ValueError, KeyError) as exc:
        raise UsageError(
            f"{path.name} is not a valid distribution: {exc}",
            "rebuild it (python -m build) and check its metadata with `twine check`",
        ) from None
    digest = package.sha2_digest or hashlib.sha256(path.read_bytes()).hexdigest()
    return Dist(path, str(package.metadata["name"]), str(package.version), digest)


def dist_version(path: Path | str) -> str:
    """The version a wheel or sdist declares in its metadata."""
    return read_dist(path).version


class PyPI(HTTPClient):
    service = "the package index"
    config_key = "[publish.pypi] repository_url"

    def __init__(
        self,
        upload_url: str,
        ui: Narrator,
        username: str = "__token__",
        password: str | None = None,
        json_url: str | None = None,
        *,
        credential: str = "PYPI_TOKEN",
        **kwargs: Any,
    ) -> None:
        self.upload_url = upload_url
        index = json_url or _index_for(upload_url)
        super().__init__(index, ui, follow_redirects=True, **kwargs)
        self.username = username
        self.password = password or None
        self.credential = credential
        if self.password:
            ui.redactor.add_basic(username, self.password)
        # Reads carry the credentials only to the server that takes the uploads (a private
        # index); a token for upload.pypi.org is never sent to pypi.org's read API.
        same_host = urlsplit(index).netloc == urlsplit(upload_url).netloc
        self._read_headers = self._auth() if same_host else {}

    # -- reads ---------------------------------------------------------------------------

    def files(self, project: str, version: str) -> dict[str, str]:
        """The files the index has for ``project`` ``version``: {filename: sha256}."""
        name = normalize(project)
        response = self.request(
            "GET", f"/pypi/{name}/{version}/json", headers=self._read_headers, ok=(404,)
        )
        body = decode_quietly(response) if response.status_code == 200 else None
        if isinstance(body, dict) and isinstance(body.get("urls"), list):
            return {
                str(f["filename"]): str((f.get("digests") or {}).get("sha256", ""))
                for f in body["urls"]
                if isinstance(f, dict) and f.get("filename")
            }
        wanted = _canonical_version(version)
        return {
            filename: digest
            for filename, digest in self._simple(name).items()
            if _file_version(filename, name) == wanted
        }

    def _simple(self, name: str) -> dict[str, str]:
        headers = {**self._read_headers, "Accept": SIMPLE_ACCEPT}
        response = self.request("GET", f"/simple/{name}/", headers=headers, ok=(404,))
        if response.status_code == 404:
            return {}
        if "json" in response.headers.get("content-type", ""):
            body = decode_quietly(response)
            return {
                str(f["filename"]): str((f.get("hashes") or {}).get("sha256", ""))
                for f in (body.get("files") or [] if isinstance(body, dict) else [])
                if isinstance(f, dict) and f.get("filename")
            }
        links = _Links()
        links.feed(response.text)
        return links.files

    # -- upload --------------------------------------------------------------------------

    def upload(self, paths: Iterable[Path | str]) -> list[Uploaded]:
        """Upload each distribution the index does not have yet.

        Every file is checked before anything is sent: a file already there with the same
        sha256 is skipped; one there with other content is refused (:class:`FileConflict`)
        and nothing at all is uploaded. Re-running after a crash or a lost answer uploads
        only what is missing."""
        dists = [read_dist(p) for p in paths]
        known: dict[tuple[str, str], dict[str, str]] = {}
        for dist in dists:
            key = (normalize(dist.project), dist.version)
            if key not in known:
                known[key] = self.files(dist.project, dist.version)
            self._check_conflict(dist, known[key])
        if any(d.filename not in known[(normalize(d.project), d.version)] for d in dists):
            self._need_password()
        results = []
        for dist in dists:
            there = known[(normalize(dist.project), dist.version)]
            if there.get(dist.filename) == dist.sha256:
                results.append(Uploaded(dist.filename, dist.sha256, uploaded=False))
                continue
            results.append(Uploaded(dist.filename, dist.sha256, self._upload(dist)))
        return results

    def _check_conflict(self, dist: Dist, there: dict[str, str]) -> None:
        theirs = there.get(dist.filename)
        if theirs is not None and theirs != dist.sha256:
            raise FileConflict(
                f"{self.service} already has {dist.filename} with sha256 {theirs}; "
                f"the local file's is {dist.sha256}",
                "a file name can never be uploaded twice: upload the exact file that is "
                "there, or release a new version",
            )

    def _upload(self, dist: Dist) -> bool:
        """POST one file; True when uploaded, False when the index turned out to have the
        same file already (uploaded meanwhile by someone else)."""
        from twine.package import PackageFile
        from twine.repository import Repository

        package = PackageFile.from_filename(str(dist.path), None)
        fields: dict[str, list[str]] = {}
        for key, value in Repository._convert_metadata_to_list_of_tuples(
            package.metadata_dictionary()
        ):
            fields.setdefault(key, []).append(str(value))
        fields[":action"] = ["file_upload"]
        fields["protocol_version"] = ["1"]
        form = httpx.Request(
            "POST",
            self.upload_url,
            data=fields,
            files={"content": (dist.filename, dist.path.read_bytes(), "application/octet-stream")},
        )
        body = form.read()
        response = self.request(
            "POST",
            self.upload_url,
            content=body,
            headers={**self._auth(), "Content-Type": form.headers["content-type"]},
            ok=(400, 409),
        )
        if response.status_code in (400, 409):
            if "exist" not in f"{response.reason_phrase} {response.text}".lower():
                raise self.refusal(response)
            now = self.files(dist.project, dist.version)
            self._check_conflict(dist, now)
            if now.get(dist.filename) == dist.sha256:
                return False
            raise self.refusal(response)
        return True

    def check_upload_token(self) -> None:
        """Whether the upload endpoint takes the token, without uploading: an upload request
        with no file (nothing an index can store) is refused 401/403 for a token it doesn't
        know and answered 400 (incomplete upload) for one it does, by Warehouse, pypiserver
        and the sandbox alike. Warehouse checks the project scope only after the file: a
        valid token for another project passes here. CredentialError when refused."""
        self._need_password()
        response = self.request(
            "POST",
            self.upload_url,
            content=b":action=file_upload&protocol_version=1",
            headers={**self._auth(), "Content-Type": "application/x-www-form-urlencoded"},
            ok=(400, 401, 403, 404, 405),
            retry=True,  # it stores nothing: safe to send again
            fenced=False,  # not a write: no claim needed
        )
        status = response.status_code
        if status in (401, 403):
            raise CredentialError(
                f"{self.service} refused the upload credentials in {self.credential} "
                f"({status} {self.error_message(response)})",
                f"set {self.credential} to an API token that may upload to this project",
            )
        if status in (404, 405):
            raise UsageError(
                f"{self.upload_url} takes no uploads ({status} {self.error_message(response)})",
                f"set {self.config_key} to the index's upload URL (PyPI's: "
                "https://upload.pypi.org/legacy/)",
            )

    def _auth(self) -> dict[str, str]:
        if not self.password:
            return {}
        raw = f"{self.username}:{self.password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

    def _need_password(self) -> None:
        if not self.password:
            raise CredentialError(
                f"no credentials to upload to {self.upload_url}",
                f"set {self.credential} (a PyPI API token, scoped to the project)",
            )

    # -- the index's own shapes ------------------------------------------------------------

    def refusal(self, response: httpx.Response) -> Exception:
        status = response.status_code
        if status == 403 and response.request.method == "POST":
            return CredentialError(
                f"{self.service} refused the upload credentials in {self.credential} "
                f"({status} {self.error_message(response)})",
                f"set {self.credential} to an API token that may upload to this project",
            )
        error = super().refusal(response)
        if isinstance(error, HTTPError) and response.request.method == "POST":
            error.hint = "fix what the index said; a re-run uploads only the files still missing"
        return error

    def error_message(self, response: httpx.Response) -> str:
        """PyPI puts its message in the status line; pypiserver in an HTML page."""
        reason = response.reason_phrase or ""
        standard = httpx.codes.get_reason_phrase(response.status_code)
        if reason and reason != standard:
            return self.ui.redactor.redact(reason)
        if "html" in response.headers.get("content-type", ""):
            match = re.search(r"<pre>(.*?)</pre>", response.text, re.S) or re.search(
                r"<title>(.*?)</title>", response.text, re.S
            )
            if match:
                text = re.sub(r"<[^>]+>", "", match.group(1)).strip()
                return self.ui.redactor.redact(html.unescape(text)[:300])
        return super().error_message(response)


def _index_for(upload_url: str) -> str:
    """Where to read what an upload endpoint holds: pypi.org for upload.pypi.org, the
    server's root otherwise (pypiserver, devpi serve both at one root)."""
    parts = urlsplit(upload_url)
    if parts.netloc in PYPI_UPLOAD_HOSTS:
        return PYPI_UPLOAD_HOSTS[parts.netloc]
    return f"{parts.scheme}://{parts.netloc}"


def _canonical_version(version: str) -> str:
    from packaging.version import InvalidVersion, Version

    try:
        return str(Version(version))
    except InvalidVersion:
        return version


def _file_version(filename: str, name: str) -> str | None:
    """The (normalized) version in a distribution's file name, when it is ``name``'s."""
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        canonicalize_name,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    try:
        if filename.endswith(".whl"):
            project, version, _, _ = parse_wheel_filename(filename)
        else:
            project, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return str(version) if project == canonicalize_name(name) else None


class _Links(HTMLParser):
    """``<a href="...#sha256=HEX">filename</a>`` links of a PEP 503 page."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        href = dict(attrs).get("href") or ""
        url, _, fragment = href.partition("#")
        filename = unquote(url.rsplit("/", 1)[-1])
        digest = fragment.split("=", 1)[1] if fragment.startswith("sha256=") else ""
        if filename:
            self.files[filename] = digest
