"""Fixtures of the UI tests: the scripted backend, and an app that writes only to tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from ui_helpers import make_config, scripted

from workbench.models.backends import base
from workbench.models.backends.base import register_backend
from workbench.ui.app import WorkbenchApp


@pytest.fixture(autouse=True)
def _scripted_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registers the "scripted" kind for each UI test only."""
    monkeypatch.setattr(base, "_FACTORIES", dict(base._FACTORIES))
    register_backend("scripted", scripted)


@pytest.fixture
def make_app(tmp_path: Path):
    """Build an app over scripted models whose files all land in ``tmp_path``."""

    def build(*names: str, test_mode: bool = True, **config) -> WorkbenchApp:
        return WorkbenchApp(
            make_config(*(names or ("alpha", "beta", "broken", "slow")), **config),
            sessions_dir=tmp_path / "sessions",
            state_path=tmp_path / "state.json",
            test_mode=test_mode,
            save_dir=tmp_path,
        )

    return build
