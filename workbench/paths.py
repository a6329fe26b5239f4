"""Where workbench reads and writes: one place, resolved when asked, never at import."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "workbench"
CONFIG_NAME = "workbench.toml"


def user_config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP))


def user_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP))


def user_cache_dir() -> Path:
    return Path(os.environ.get("WORKBENCH_CACHE") or platformdirs.user_cache_dir(APP))


def find_config(cwd: Path | None = None) -> Path | None:
    """The project folder's ``workbench.toml`` first, then the user config dir's."""
    for candidate in ((cwd or Path.cwd()) / CONFIG_NAME, user_config_dir() / CONFIG_NAME):
        if candidate.is_file():
            return candidate
    return None


def default_sessions_dir(cwd: Path | None = None) -> Path:
    """``./sessions`` when it exists (the project folder), else the user data dir's."""
    local = (cwd or Path.cwd()) / "sessions"
    return local if local.is_dir() else user_data_dir() / "sessions"


def state_file() -> Path:
    """Small UI state (history, last choice of models, theme) kept between runs."""
    return user_data_dir() / "state.json"
