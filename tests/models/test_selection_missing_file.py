"""``-m path/to/model.gguf`` for a file that is not there says so.

It said "No model named '/nonexistent/x.gguf'. … A path to a .gguf file works too.",
though a path to a .gguf file was what the user gave.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import UsageError
from workbench.models.config import parse_config
from workbench.models.selection import resolve


def test_a_missing_gguf_path_is_named_as_a_missing_file(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no real caches in discovery
    for name in ("HF_HOME", "HF_HUB_CACHE", "LLAMA_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    config = parse_config("", str(tmp_path / "workbench.toml"))
    missing = tmp_path / "models" / "tiny.gguf"
    with pytest.raises(UsageError) as raised:
        resolve(config, [str(missing)])
    message = str(raised.value)
    assert f"No GGUF file at {str(missing)!r}" in message
    assert "works too" not in message
