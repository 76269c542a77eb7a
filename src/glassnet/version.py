"""The version of glassnet, written here only: pyproject.toml reads it for the package's
metadata (``dynamic = ["version"]``) and the package root re-exports it."""

__version__ = "0.1.0"
