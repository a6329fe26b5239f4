"""llama.cpp settings in workbench.toml: defaults, [defaults] under a model's own, strict errors."""

from __future__ import annotations

from dataclasses import fields

import pytest

from workbench.errors import ConfigError
from workbench.models.config import parse_config
from workbench.models.llama_settings import LLAMA_KEYS, LlamaSettings
from workbench.models.request import Sampling

CONFIG = """\
[defaults]
flash_attn = false
n_batch = 1024
repack = "auto"

[[models]]
name = "a"
backend = "llamacpp"
path = "a.gguf"
n_gpu_layers = 20
cache_type_k = "q8_0"
cache_type_v = "q4_0"
n_ubatch = 256
use_mmap = false
use_mlock = true
main_gpu = 1
tensor_split = [3, 1]
rope_freq_base = 10000.5
rope_freq_scale = 0.5
repack = false

[models.sampling]
top_k = 20
min_p = 0.1
repeat_penalty = 1.1

[[models]]
name = "b"
backend = "llamacpp"
path = "b.gguf"
"""


def test_schema_and_dataclass_name_the_same_settings() -> None:
    assert set(LLAMA_KEYS) == {f.name for f in fields(LlamaSettings)}


def test_defaults_follow_llama_server() -> None:
    settings = LlamaSettings()
    assert settings.flash_attn == "auto"
    assert (settings.n_batch, settings.n_ubatch) == (2048, 512)
    assert (settings.cache_type_k, settings.cache_type_v) == ("f16", "f16")
    assert settings.n_gpu_layers == "auto"
    assert settings.use_mmap and not settings.use_mlock
    assert settings.repack == "auto"


def test_model_settings_over_defaults_over_builtin() -> None:
    config = parse_config(CONFIG, "/p/workbench.toml")
    a, b = config.model("a").llama, config.model("b").llama
    assert a == LlamaSettings(
        n_gpu_layers=20,
        flash_attn=False,
        cache_type_k="q8_0",
        cache_type_v="q4_0",
        n_batch=1024,
        n_ubatch=256,
        use_mmap=False,
        use_mlock=True,
        main_gpu=1,
        tensor_split=(3.0, 1.0),
        rope_freq_base=10000.5,
        rope_freq_scale=0.5,
        repack=False,
    )
    assert b == LlamaSettings(flash_attn=False, n_batch=1024)
    assert config.model("a").sampling == Sampling(top_k=20, min_p=0.1, repeat_penalty=1.1)


def test_bundled_models_take_the_defaults() -> None:
    config = parse_config("[defaults]\nrepack = false\nn_gpu_layers = 0\n")
    assert {spec.llama for spec in config.models} == {LlamaSettings(repack=False, n_gpu_layers=0)}


MODEL = '[[models]]\nname = "a"\nbackend = "llamacpp"\npath = "a.gguf"\n'


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('flash_attn = "yes"', "'flash_attn' must be \"auto\", true or false"),
        ('repack = "sometimes"', "'repack' must be \"auto\", true or false"),
        ("repack = 1", "'repack' must be"),
        ('cache_type_k = "q8"', "Did you mean 'q8_0'?"),
        ('cache_type_v = "Q4_0"', "Did you mean 'q4_0'?"),
        ("n_gpu_layers = -2", "'n_gpu_layers' must be"),
        ('n_gpu_layers = "all"', "'n_gpu_layers' must be"),
        ("n_batch = 0", "'n_batch' must be between"),
        ("n_ubatch = true", "'n_ubatch' must be an integer"),
        ('use_mmap = "no"', "'use_mmap' must be true or false"),
        ("main_gpu = -1", "'main_gpu' must be a device index"),
        ("tensor_split = [0, 0]", "'tensor_split' must be a list of shares"),
        ('tensor_split = ["a"]', "'tensor_split' must be a list of shares"),
        ("rope_freq_base = -1.0", "'rope_freq_base' must be ≥ 0"),
        ("flash_atn = true", "Did you mean 'flash_attn'?"),
    ],
)
def test_bad_values_are_errors_at_their_line(line: str, says: str) -> None:
    text = MODEL + "# a comment\n" + line + "\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, "/p/workbench.toml")
    assert info.value.line == 6, str(info.value)
    assert str(info.value).startswith("/p/workbench.toml:6: ")
    assert says in str(info.value)


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("top_k = -1", "'top_k' must be between"),
        ("min_p = 1.5", "'min_p' must be between"),
        ('repeat_penalty = "1.1"', "'repeat_penalty' must be a number"),
    ],
)
def test_bad_sampling_values_are_errors(line: str, says: str) -> None:
    text = "[defaults.sampling]\n" + line + "\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, "/p/workbench.toml")
    assert info.value.line == 2
    assert says in str(info.value)


def test_a_bad_default_is_an_error_in_defaults() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config('[defaults]\nschedule = "parallel"\ncache_type_k = "f8"\n', "/p/w.toml")
    assert info.value.line == 3
    assert "KV cache type" in str(info.value)


def test_paths_and_discovered_files_load_with_the_defaults(tmp_path, monkeypatch) -> None:
    from gguf_files import write_gguf

    from workbench.models.selection import resolve

    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no real caches in discovery
    for name in ("HF_HOME", "HF_HUB_CACHE", "LLAMA_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "models").mkdir()
    text = '[defaults]\nrepack = false\nn_batch = 512\n[discovery]\nfolders = ["models"]\n'
    config = parse_config(text, str(tmp_path / "workbench.toml"))
    path = write_gguf(tmp_path / "Tiny.Q4_K_M.gguf", name="tiny")
    write_gguf(tmp_path / "models" / "found.Q4_K_M.gguf")
    specs = resolve(config, [str(path), "found.Q4_K_M"])
    assert [spec.llama for spec in specs] == [LlamaSettings(repack=False, n_batch=512)] * 2
