"""Fixtures shared across the tree: the seeded sandbox project (tests/steps/conftest.py) and
the real servers the service clients are tested against (tests/services/fixtures.py)."""

from tests.services.fixtures import (
    oci_registry,
    oci_registry_htpasswd,
    oci_registry_token,
    pypiserver,
    synapse,
    verdaccio,
)
from tests.steps.conftest import make_project, project

__all__ = [
    "make_project",
    "oci_registry",
    "oci_registry_htpasswd",
    "oci_registry_token",
    "project",
    "pypiserver",
    "synapse",
    "verdaccio",
]
