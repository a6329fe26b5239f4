"""Backends: one module per kind, behind the contract in ``base``."""

from workbench.backends.base import BACKEND_KINDS, Backend, create_backend

__all__ = ["BACKEND_KINDS", "Backend", "create_backend"]
