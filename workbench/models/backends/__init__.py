"""Backends: one module per kind, behind the contract in ``base``."""

from workbench.models.backends.base import BACKEND_KINDS, Backend, create_backend

__all__ = ["BACKEND_KINDS", "Backend", "create_backend"]
