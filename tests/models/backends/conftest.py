"""Fixtures for backend tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries without their backoff pause (Retry-After is still honoured)."""
    monkeypatch.setattr("workbench.models.backends.http.BACKOFF_S", 0.0)
