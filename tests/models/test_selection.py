"""Names on the command line: configured models, GGUF paths, discovered files."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import UsageError
from workbench.models.config import parse_config
from workbench.models.selection import resolve

CONFIG = """
[discovery]
folders = ["models"]

[[models]]
name = "local"
backend = "llamacpp"
path = "x.gguf"
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no real caches in discovery
    for name in ("HF_HOME", "HF_HUB_CACHE", "LLAMA_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "models").mkdir()
    path = tmp_path / "workbench.toml"
    path.write_text(CONFIG)
    return parse_config(CONFIG, str(path))


def test_no_names_means_every_configured_model(config):
    assert [s.name for s in resolve(config, [])] == ["local"]


def test_configured_names_keep_their_order(config):
    assert [s.name for s in resolve(config, ["local"])] == ["local"]


def test_a_gguf_path_is_a_model(config, tmp_path: Path):
    from gguf_files import write_gguf

    path = write_gguf(tmp_path / "Tiny-Coder.Q4_K_M.gguf", name="tiny coder")
    [spec] = resolve(config, [str(path)])
    assert spec.backend == "llamacpp"
    assert spec.path == str(path.resolve())
    assert spec.name == "Tiny-Coder.Q4_K_M"


def test_a_discovered_file_is_found_by_its_name(config, tmp_path: Path):
    from gguf_files import write_gguf

    write_gguf(tmp_path / "models" / "deepseek-coder-1.3b-instruct.Q4_K_M.gguf")
    specs = resolve(config, ["local", "deepseek-coder-1.3b-instruct.Q4_K_M"])
    assert [s.origin.split(":")[0] for s in specs][1] == "discovered"
    assert specs[1].path.endswith("deepseek-coder-1.3b-instruct.Q4_K_M.gguf")


def test_an_unknown_name_suggests_a_near_miss(config):
    with pytest.raises(UsageError, match="Did you mean 'local'"):
        resolve(config, ["locl"])
