"""Secrets: every credential of the release, in every form it can take in text, searched for
everywhere a release leaves text.

A whole release (start to next, with ``-v``: every request narrated) runs on a copy of the
reference before ``start``, with the sandbox keeping every request body. Then each secret
(the forge token, the Matrix token, the Discourse key, Reddit's client secret and password,
the Discord webhook URL and its token, the package index's token) is searched for, raw,
stripped, repr-escaped, URL-encoded and as the base64 of Basic auth (``user:secret``), in:
the command's output, every file under the working copy and the cache, the ledger, and every
body the forge and the services received (but the one request whose body must hold it: a
Reddit password grant). A second pass does the same for a run that fails (a refused token).
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.reliability.crash import Reference, copy_of, load_reference
from tests.reliability.rig import VERSION, Rig

SECRET_VARS = (
    "SANDBOX_TOKEN",
    "SANDBOX_MATRIX_TOKEN",
    "SANDBOX_DISCOURSE_API_KEY",
    "SANDBOX_REDDIT_CLIENT_SECRET",
    "SANDBOX_REDDIT_PASSWORD",
    "SANDBOX_DISCORD_WEBHOOK_URL",
    "SANDBOX_PYPI_TOKEN",
)
BASIC_USERS = ("x-access-token", "__token__", "token", "git", "example_announcer", "")


def variants(secret: str) -> set[str]:
    """The forms a secret takes in text."""
    forms = {secret, secret.strip(), repr(secret)[1:-1], quote(secret, safe=""), quote(secret)}
    for user in BASIC_USERS:
        forms.add(base64.b64encode(f"{user}:{secret}".encode()).decode())
    if secret.startswith("http"):  # a webhook URL: its token (the last segment) alone too
        forms |= variants(secret.rstrip("/").rsplit("/", 1)[-1])
    return {f for f in forms if len(f) >= 8}


def secrets_of(rig: Rig) -> dict[str, str]:
    return {name: rig.env[name] for name in SECRET_VARS if rig.env.get(name)}


def texts(rig: Rig, outputs: list[str]) -> dict[str, str]:
    """Where to look: name -> text."""
    found: dict[str, str] = {f"output {i}": text for i, text in enumerate(outputs)}
    for base in (rig.work, rig.cache):
        for path in base.rglob("*"):
            if path.is_file() and path.name != ".env" and "/.git/objects/" not in str(path):
                found[f"file {path}"] = path.read_bytes().decode("utf-8", errors="replace")
    for entry in rig.requests():
        found.setdefault("request log", "")
        found["request log"] += json.dumps(entry) + "\n"
    ledger = rig.api("repos/acme/example/contents/ledger.json?ref=refs/releaser/" + VERSION)
    if isinstance(ledger, dict) and ledger.get("content"):
        found["ledger"] = base64.b64decode(ledger["content"]).decode()
    for i, body in enumerate(rig.bodies()):
        if body.get("login"):
            continue  # a credential grant: its body is where the password belongs
        found[f"body {i} {body['method']} {body['path']}"] = body["body"]
    return found


def leaks(rig: Rig, outputs: list[str]) -> list[str]:
    """Every (secret, form, where) found."""
    out = []
    places = texts(rig, outputs)
    for name, secret in secrets_of(rig).items():
        for form in variants(secret):
            for where, text in places.items():
                if form in text:
                    out.append(f"{name} ({form[:6]}...) in {where}")
    return out


def run_scan(ref: Reference, work: Path) -> list[str]:
    """The leaks of a whole verbose release, and of a verbose run with a refused token."""
    rig = copy_of(ref.before("start"), work)
    try:
        rig.log_bodies()
        outputs = []
        result = rig.cli("-v", "--non-interactive", "release", VERSION, "--yes")
        outputs.append(result.output)
        if result.exit_code != 0:
            return [f"the release failed (exit {result.exit_code}): {result.output[-1500:]}"]
        if "GET " not in result.output:
            return ["-v narrated no request: the scan would see nothing"]
        status = rig.cli("-v", "status", VERSION, "--json")
        outputs.append(status.output)
        wrong = {"SANDBOX_DISCOURSE_API_KEY": rig.env["SANDBOX_DISCOURSE_API_KEY"][::-1]}
        refused = rig.cli("-v", "--non-interactive", "promote", VERSION, "--yes", env=wrong)
        outputs.append(refused.output)
        if len(rig.bodies()) < 20:
            return ["the sandbox kept no bodies: the scan would see nothing"]
        found = leaks(rig, outputs)
        wrong_key = wrong["SANDBOX_DISCOURSE_API_KEY"]
        found += [
            f"the refused key in {w}"
            for w, t in texts(rig, outputs).items()
            if wrong_key in t and not w.startswith("body")
        ]
        return found
    finally:
        rig.stop()


def scan_at(root: str) -> list[str]:
    from tests.reliability.trial import scratch

    work = scratch("secrets")
    try:
        return run_scan(load_reference(Path(root)), work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def checked_places(rig: Rig) -> Any:  # for tests: the scan looks at real content
    return texts(rig, [])
