"""Fixtures shared across the tree: the seeded sandbox project (tests/steps/conftest.py)."""

from tests.steps.conftest import make_project, project

__all__ = ["make_project", "project"]
