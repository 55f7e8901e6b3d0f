"""GPG through the ``gpg`` CLI: detached armored signatures (tags, checksums) and their check.

Signing goes through dulwich's ``GPGCliSignatureVendor`` (no gpgme bindings); the GnuPG home
comes from ``[signing] gpg_home_env`` when set (see :func:`gnupg_home`).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from releaser.errors import RemoteError

__all__ = [
    "export_public_key",
    "gnupg_home",
    "key_fingerprints",
    "sign_detached",
    "verify_detached",
    "verify_with_public_key",
]

_ENV_LOCK = threading.Lock()


@contextmanager
def gnupg_home(path: str | os.PathLike[str] | None) -> Iterator[None]:
    """Run ``gpg`` subprocesses with ``GNUPGHOME=path`` (nothing changes when None).

    dulwich's GPG vendor runs ``gpg`` with the process environment, so the variable is set
    for the duration (under a lock: the environment is process-wide).
    """
    if not path:
        yield
        return
    with _ENV_LOCK:
        old = os.environ.get("GNUPGHOME")
        os.environ["GNUPGHOME"] = str(path)
        try:
            yield
        finally:
            if old is None:
                os.environ.pop("GNUPGHOME", None)
            else:
                os.environ["GNUPGHOME"] = old


def sign_detached(data: bytes, key: str, home: str | os.PathLike[str] | None = None) -> bytes:
    """An armored detached signature of ``data`` by ``key``; RemoteError when gpg fails."""
    from dulwich.signature import GPGCliSignatureVendor

    try:
        with gnupg_home(home):
            return GPGCliSignatureVendor().sign(data, keyid=key)
    except subprocess.CalledProcessError as exc:
        stderr = (exc.stderr or b"").decode("utf-8", "replace").strip()
        raise RemoteError(
            f"gpg could not sign with key {key}: {stderr}",
            "check [signing] gpg_key and GNUPGHOME (`releaser doctor` checks them)",
        ) from exc
    except FileNotFoundError as exc:
        raise RemoteError(
            "gpg is not installed", "install gnupg, or unset [signing] gpg_key"
        ) from exc


def verify_detached(
    data: bytes,
    signature: bytes,
    key: str | None = None,
    home: str | os.PathLike[str] | None = None,
) -> bool:
    """Whether ``signature`` is a good signature of ``data`` (by ``key`` when given)."""
    env = dict(os.environ)
    if home:
        env["GNUPGHOME"] = str(home)
    with tempfile.TemporaryDirectory() as tmp:
        data_path, sig_path = Path(tmp) / "data", Path(tmp) / "data.asc"
        data_path.write_bytes(data)
        sig_path.write_bytes(signature)
        try:
            proc = subprocess.run(
                ["gpg", "--batch", "--status-fd", "1", "--verify", str(sig_path), str(data_path)],
                capture_output=True,
                env=env,
                check=False,
            )
        except FileNotFoundError:
            return False
    if proc.returncode != 0:
        return False
    if key is None:
        return True
    wanted = key.upper().removeprefix("0X")
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "VALIDSIG":
            fingerprints = [parts[2].upper(), parts[-1].upper()]
            if any(fp.endswith(wanted) for fp in fingerprints):
                return True
    return False


def _gpg(
    args: list[str], home: str | os.PathLike[str] | None
) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ)
    if home:
        env["GNUPGHOME"] = str(home)
    try:
        return subprocess.run(["gpg", "--batch", *args], capture_output=True, env=env, check=False)
    except FileNotFoundError as exc:
        raise RemoteError("gpg is not installed", "install gnupg") from exc


def export_public_key(key: str, home: str | os.PathLike[str] | None = None) -> bytes | None:
    """The ASCII-armored public key ``key`` from the keyring (None when it has no such key)."""
    proc = _gpg(["--armor", "--export", key], home)
    return proc.stdout if proc.returncode == 0 and proc.stdout.strip() else None


def key_fingerprints(public_key: bytes) -> list[str]:
    """The fingerprints (primary keys and subkeys) of an armored public key, uppercase."""
    with tempfile.TemporaryDirectory(prefix="gpg-") as tmp:
        path = Path(tmp) / "key.asc"
        path.write_bytes(public_key)
        proc = _gpg(["--with-colons", "--show-keys", str(path)], tmp)
        _stop_daemons(tmp)
    return [
        line.split(":")[9].upper()
        for line in proc.stdout.decode("utf-8", "replace").splitlines()
        if line.startswith("fpr:")
    ]


def verify_with_public_key(data: bytes, signature: bytes, public_key: bytes) -> str | None:
    """Verify as a user would, with only ``public_key`` in a fresh keyring: the fingerprint of
    the primary key that made a good signature, or None (bad signature, or by another key)."""
    with tempfile.TemporaryDirectory(prefix="gpg-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir(mode=0o700)
        (Path(tmp) / "key.asc").write_bytes(public_key)
        (Path(tmp) / "data").write_bytes(data)
        (Path(tmp) / "data.asc").write_bytes(signature)
        imported = _gpg(["--import", str(Path(tmp) / "key.asc")], home)
        if imported.returncode != 0:
            return None
        proc = _gpg(
            ["--status-fd", "1", "--verify", str(Path(tmp) / "data.asc"), str(Path(tmp) / "data")],
            home,
        )
        _stop_daemons(home)
    if proc.returncode != 0:
        return None
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "VALIDSIG":
            return parts[-1].upper()
    return None


def _stop_daemons(home: str | os.PathLike[str]) -> None:
    """Stop what gpg may have started for a throw-away home (an agent, keyboxd)."""
    with suppress(FileNotFoundError):
        subprocess.run(
            ["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True, check=False
        )
