"""A PyPI-like index: twine uploads, the JSON API, the simple index, file downloads.

Below ``base/pypi``::

    POST /legacy/                          twine's upload (multipart, ``:action=file_upload``,
                                           Basic ``__token__`` / token)
    GET  /{project}/json                   PyPI's JSON API: info, releases, urls (latest)
    GET  /{project}/{version}/json         info and urls of one version
    GET  /simple/, /simple/{project}/      PEP 503 pages (pip --index-url base/pypi/simple)
    GET  /packages/{h2}/{h2}/{h60}/{file}  the file (its sha256 split as on files.pythonhosted)

As on PyPI: uploads need an API token (403 "Invalid or non-existent authentication
information", 403 "Invalid API Token: ..." for a token of another project); a file name is
used once: the same name with the same bytes is answered 200 (nothing stored), with other
bytes 400 "File already exists (...)"; a ``sha256_digest`` must match the bytes; file names
start with the normalized project name and version. An upload request without a file (a
probe of the token: 403 when refused, 400 when taken) stores nothing and is logged as a
read. Error messages are in the status line's reason (twine prints it) and the body.
``info.version`` is the newest final version (newest pre-release when there is none), in
order of upload. Files live in ``ROOT/pypi/``.

Admin::

    POST /_admin/pypi/tokens  {"project": optional scope, "token": optional}
                              -> {"token": "pypi-...", "project": ...}
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from releaser.sandbox.http import ROUTER, ApiError, Request, Response, Router
from releaser.sandbox.services.common import Service, ServiceError, first, multipart

if TYPE_CHECKING:
    from releaser.sandbox.forge import Forge

PREFIX = "/pypi"
router = Router()
INVALID_AUTH = (
    "Invalid or non-existent authentication information. "
    "See https://pypi.org/help/#invalid-auth for more information."
)
PRE_RELEASE = re.compile(r"(a|b|rc|alpha|beta|c|pre|preview|dev)\d*", re.I)


def error(status: int, message: str) -> Response:
    if status == 404 and message in ("Not Found", ""):
        return Response(404, {"message": "Not Found"})
    text = f"{status} {message}"
    return Response(status, text.encode(), content_type="text/plain; charset=utf-8", reason=message)


def fail(status: int, message: str) -> ServiceError:
    return ServiceError(error(status, message))


def rate_limited(path: str, retry_after: int, kind: str) -> Response:
    response = error(429, "Too Many Requests")
    response.headers["Retry-After"] = str(retry_after)
    return response


def _no_file(method: str, path: str, body: bytes) -> bool:
    """An upload request carrying no file (a credential probe): nothing can be stored."""
    return method == "POST" and path.rstrip("/") == "/legacy" and b"filename=" not in body


SERVICE = Service("PyPI", PREFIX, router, error, rate_limited, stores_nothing=_no_file)


def normalize(name: str) -> str:
    """PEP 503 normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _files_dir(forge: Forge) -> Path:
    path = forge.root / "pypi"
    path.mkdir(exist_ok=True)
    return path


# ---- upload -------------------------------------------------------------------------------


def _token_scope(forge: Forge, req: Request) -> str | None:
    """The project the upload token is scoped to ("" for any); 403 without a valid token."""
    scheme, _, cred = req.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        raise fail(403, INVALID_AUTH)
    try:
        user, _, password = base64.b64decode(cred.strip()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        raise fail(403, INVALID_AUTH) from None
    if user != "__token__" or not password.startswith("pypi-"):
        raise fail(403, INVALID_AUTH)
    for token in forge.find("py_token", ""):
        if hmac.compare_digest(token["token_hash"], _hash(password)):
            return str(token.get("project") or "")
    raise fail(403, "Invalid API Token: InvalidMacaroonError('invalid macaroon signature')")


def _check_filename(project: str, version: str, filename: str, filetype: str) -> None:
    if (filetype == "sdist" and not filename.endswith((".tar.gz", ".zip"))) or (
        filetype == "bdist_wheel" and not filename.endswith(".whl")
    ):
        raise fail(
            400,
            "Invalid file extension: Use .tar.gz, .whl or .zip extension. See "
            "https://www.python.org/dev/peps/pep-0527 for more information.",
        )
    prefix = re.sub(r"[-_.]+", "_", project).lower()
    stem = filename.lower().replace("-", "_")
    if not stem.startswith(prefix + "_"):
        raise fail(400, f"Start filename for {project!r} with {prefix!r}.")
    if f"_{version.lower()}" not in stem.replace("-", "_"):
        raise fail(400, f"Version in filename should be {version!r}.")


@router.route("POST", "/legacy")
def upload(forge: Forge, req: Request) -> Response:
    scope = _token_scope(forge, req)
    fields, files = multipart(req)
    if first(fields, ":action") != "file_upload":
        raise fail(400, "Invalid :action: use file_upload.")
    if first(fields, "protocol_version", "1") != "1":
        raise fail(400, "Unknown protocol version.")
    name, version = first(fields, "name").strip(), first(fields, "version").strip()
    if not name or not version:
        raise fail(400, "Invalid value for name or version. Error: This field is required.")
    project = normalize(name)
    if scope and scope != project:
        raise fail(
            403, f"Invalid API Token: project-scoped token is not valid for project: {name!r}"
        )
    upload_file = files.get("content")
    if upload_file is None or not upload_file.content:
        raise fail(400, "Upload payload does not have a file.")
    filetype = first(fields, "filetype")
    if filetype not in ("sdist", "bdist_wheel"):
        raise fail(400, f"Invalid value for filetype. Error: {filetype!r} is not a valid choice.")
    filename = upload_file.filename
    _check_filename(project, version, filename, filetype)
    data = upload_file.content
    sha256 = hashlib.sha256(data).hexdigest()
    blake2 = hashlib.blake2b(data, digest_size=32).hexdigest()
    given = first(fields, "sha256_digest")
    if given and given.lower() != sha256:
        raise fail(
            400, "The digest supplied does not match a digest calculated from the uploaded file."
        )
    with forge.lock:
        existing = forge.find_one("py_file", "", filename=filename)
        if existing is not None:
            if existing["sha256"] == sha256 and existing["project"] == project:
                return Response(200, b"OK", content_type="text/plain")
            raise fail(
                400,
                f"File already exists ({filename!r}, with blake2_256 hash "
                f"{existing['blake2b_256']!r}). "
                "See https://pypi.org/help/#file-name-reuse for more information.",
            )
        (_files_dir(forge) / sha256).write_bytes(data)
        now = datetime.now(UTC)
        forge.insert(
            "py_file",
            "",
            {
                "project": project,
                "name": name,
                "version": version,
                "filename": filename,
                "packagetype": filetype,
                "python_version": first(fields, "pyversion", "source"),
                "requires_python": first(fields, "requires_python") or None,
                "sha256": sha256,
                "md5": hashlib.md5(data).hexdigest(),
                "blake2b_256": blake2,
                "size": len(data),
                "upload_time": now.strftime("%Y-%m-%dT%H:%M:%S"),
                "upload_time_iso_8601": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "summary": first(fields, "summary") or None,
                "author": first(fields, "author") or None,
                "author_email": first(fields, "author_email") or None,
                "license": first(fields, "license") or None,
                "home_page": first(fields, "home_page") or None,
                "description": first(fields, "description") or None,
                "classifiers": fields.get("classifiers", []),
            },
        )
    return Response(200, b"OK", content_type="text/plain")


# ---- JSON API -----------------------------------------------------------------------------


def _file_url(forge: Forge, doc: dict[str, Any]) -> str:
    h = doc["sha256"]
    return f"{forge.base_url}{PREFIX}/packages/{h[:2]}/{h[2:4]}/{h[4:]}/{doc['filename']}"


def _file_json(forge: Forge, doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "comment_text": "",
        "digests": {"blake2b_256": doc["blake2b_256"], "md5": doc["md5"], "sha256": doc["sha256"]},
        "downloads": -1,
        "filename": doc["filename"],
        "has_sig": False,
        "md5_digest": doc["md5"],
        "packagetype": doc["packagetype"],
        "python_version": doc["python_version"],
        "requires_python": doc["requires_python"],
        "size": doc["size"],
        "upload_time": doc["upload_time"],
        "upload_time_iso_8601": doc["upload_time_iso_8601"],
        "url": _file_url(forge, doc),
        "yanked": False,
        "yanked_reason": None,
    }


def _releases(forge: Forge, name: str) -> dict[str, list[dict[str, Any]]]:
    """Files by version, in order of each version's first upload (404 for no project)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for doc in forge.find("py_file", "", project=normalize(name)):
        out.setdefault(doc["version"], []).append(doc)
    if not out:
        raise fail(404, "Not Found")
    return out


def latest_version(versions: list[str]) -> str:
    finals = [v for v in versions if not PRE_RELEASE.search(v.split("+")[0])]
    return (finals or versions)[-1]


def _info(forge: Forge, docs: list[dict[str, Any]]) -> dict[str, Any]:
    doc = docs[0]
    base = forge.base_url
    return {
        "name": doc["name"],
        "version": doc["version"],
        "summary": doc["summary"],
        "description": doc["description"] or "",
        "author": doc["author"],
        "author_email": doc["author_email"],
        "license": doc["license"],
        "home_page": doc["home_page"],
        "requires_python": doc["requires_python"],
        "classifiers": doc["classifiers"],
        "package_url": f"{base}{PREFIX}/{doc['project']}/",
        "project_url": f"{base}{PREFIX}/{doc['project']}/",
        "release_url": f"{base}{PREFIX}/{doc['project']}/{doc['version']}/",
        "project_urls": None,
        "yanked": False,
        "yanked_reason": None,
    }


@router.route("GET", "/{project}/json")
def project_json(forge: Forge, req: Request) -> Response:
    releases = _releases(forge, req.params["project"])
    latest = latest_version(list(releases))
    body = {
        "info": _info(forge, releases[latest]),
        "last_serial": max(d["id"] for docs in releases.values() for d in docs),
        "releases": {v: [_file_json(forge, d) for d in docs] for v, docs in releases.items()},
        "urls": [_file_json(forge, d) for d in releases[latest]],
        "vulnerabilities": [],
    }
    return Response(200, body)


@router.route("GET", "/{project}/{version}/json")
def version_json(forge: Forge, req: Request) -> Response:
    releases = _releases(forge, req.params["project"])
    docs = releases.get(req.params["version"])
    if docs is None:
        raise fail(404, "Not Found")
    body = {
        "info": _info(forge, docs),
        "last_serial": max(d["id"] for docs in releases.values() for d in docs),
        "urls": [_file_json(forge, d) for d in docs],
        "vulnerabilities": [],
    }
    return Response(200, body)


# ---- simple index and files ---------------------------------------------------------------


def _html(body: str, title: str) -> Response:
    page = (
        '<!DOCTYPE html>\n<html>\n<head><meta name="pypi:repository-version" content="1.1">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n{body}</body>\n</html>\n"
    )
    return Response(200, page.encode(), content_type="text/html; charset=utf-8")


@router.route("GET", "/simple")
def simple_index(forge: Forge, req: Request) -> Response:
    projects = sorted({d["project"] for d in forge.find("py_file", "")})
    links = "".join(f'<a href="{p}/">{p}</a>\n' for p in projects)
    return _html(links, "Simple index")


@router.route("GET", "/simple/{project}")
def simple_project(forge: Forge, req: Request) -> Response:
    releases = _releases(forge, req.params["project"])
    links = []
    for docs in releases.values():
        for doc in docs:
            attrs = ""
            if doc["requires_python"]:
                attrs = f' data-requires-python="{html.escape(doc["requires_python"])}"'
            url = f"{_file_url(forge, doc)}#sha256={doc['sha256']}"
            links.append(
                f'<a href="{html.escape(url)}"{attrs}>{html.escape(doc["filename"])}</a><br/>\n'
            )
    name = next(iter(releases.values()))[0]["name"]
    return _html("".join(links), f"Links for {name}")


@router.route("GET", "/packages/{a}/{b}/{rest}/{filename}")
def download(forge: Forge, req: Request) -> Response:
    sha256 = req.params["a"] + req.params["b"] + req.params["rest"]
    doc = forge.find_one("py_file", "", sha256=sha256, filename=req.params["filename"])
    path = _files_dir(forge) / sha256
    if doc is None or not path.exists():
        raise fail(404, "Not Found")
    return Response(200, path.read_bytes(), content_type="application/octet-stream")


# ---- admin --------------------------------------------------------------------------------


@ROUTER.route("POST", "/_admin/pypi/tokens")
def admin_token(forge: Forge, req: Request) -> Response:
    data = req.json()
    if not isinstance(data, dict):
        raise ApiError(422, "an object is expected")
    token = str(data.get("token") or "pypi-" + secrets.token_urlsafe(48))
    if not token.startswith("pypi-"):
        raise ApiError(422, "a PyPI token starts with pypi-")
    project = data.get("project")
    forge.insert(
        "py_token",
        "",
        {"token_hash": _hash(token), "project": normalize(project) if project else None},
    )
    return Response(201, {"token": token, "project": project})
