"""Session-scoped fixtures starting the real servers the registry clients are tested against.

One of each per test session (per xdist worker), started on first use, stopped by PID at the
end. A fixture skips when its server's software is missing on a developer's machine, and
fails under ``CI`` (see ``tests/services/process.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.services.oci import OCIRegistry, start_registry
from tests.services.pypiserver import PyPIServer, start_pypiserver
from tests.services.synapse import Synapse, start_synapse
from tests.services.verdaccio import Verdaccio, start_verdaccio


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    with start_synapse(tmp_path_factory.mktemp("synapse")) as server:
        yield server


@pytest.fixture(scope="session")
def oci_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OCIRegistry]:
    """No authentication (a local registry)."""
    with start_registry(tmp_path_factory.mktemp("oci-open"), "open") as server:
        yield server


@pytest.fixture(scope="session")
def oci_registry_htpasswd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OCIRegistry]:
    """HTTP Basic authentication (htpasswd, bcrypt): ``username`` / ``password``."""
    with start_registry(tmp_path_factory.mktemp("oci-basic"), "htpasswd") as server:
        yield server


@pytest.fixture(scope="session")
def oci_registry_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OCIRegistry]:
    """Bearer tokens from a token server (Docker Hub's flow): ``username`` / ``password``
    may push, ``reader`` may only pull, anonymous users may pull."""
    with start_registry(tmp_path_factory.mktemp("oci-token"), "token") as server:
        yield server


@pytest.fixture(scope="session")
def verdaccio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Verdaccio]:
    with start_verdaccio(tmp_path_factory.mktemp("verdaccio")) as server:
        yield server


@pytest.fixture(scope="session")
def pypiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PyPIServer]:
    with start_pypiserver(tmp_path_factory.mktemp("pypiserver")) as server:
        yield server


__all__ = [
    "oci_registry",
    "oci_registry_htpasswd",
    "oci_registry_token",
    "pypiserver",
    "synapse",
    "verdaccio",
]
