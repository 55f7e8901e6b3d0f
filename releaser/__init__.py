"""releaser: a release-driver CLI."""

__version__ = "0.1.0"
