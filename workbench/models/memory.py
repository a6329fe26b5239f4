"""How much memory a local model needs, estimated from its GGUF header; how much is free.

A llama.cpp worker holds four things:

- the weights: the tensor data, mapped from the file (page cache pages count in the
  worker's RSS once touched, and a first prompt touches all of them) or copied when
  llama.cpp repacks them;
- the KV cache: per layer, ``n_ctx × (n_embd_k_gqa + n_embd_v_gqa)`` elements of the
  configured KV type. llama.cpp allocates and clears it whole at load;
- compute buffers: the graph's activations for one micro-batch (``n_ubatch`` tokens),
  its attention scores and one row of logits. llama.cpp reserves the worst case
  (``n_ubatch`` rows of logits, a full context of scores) but only touches what
  prompts use; ``full_context`` says how much more a prompt that meets a full
  context touches without flash attention;
- the process: Python, llama.cpp's runtime and its vocabulary tables.

The constants were calibrated against the two bundled models' measured RSS at
n_ctx 512, 4,096 and 32,768 (``bench/memory_estimate.py`` checks them).
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workbench.models.gguf import ArrayInfo, GGUFInfo

MIB = 1 << 20
#: The worker process before its model: Python, llama.cpp's libraries and runtime.
PROCESS_BYTES = 50 * MIB
#: llama.cpp's vocabulary tables (token texts, scores, lookup maps), per token.
VOCAB_BYTES_PER_TOKEN = 290
#: Bytes per element of each KV cache type (block types: bytes per block / block size).
KV_TYPE_BYTES = {
    "f32": 4.0,
    "f16": 2.0,
    "bf16": 2.0,
    "q8_0": 34 / 32,
    "q4_0": 18 / 32,
    "q4_1": 20 / 32,
    "iq4_nl": 18 / 32,
    "q5_0": 22 / 32,
    "q5_1": 24 / 32,
}
#: Architectures whose sliding-window layers llama.cpp lays out by a fixed pattern
#: (every Nth layer attends globally), when the header does not say it itself.
SWA_PATTERNS = {"gemma2": 2, "gemma3": 6, "cohere2": 4}
#: llama.cpp's KV cells come in multiples of this.
KV_PAD = 256


@dataclass(frozen=True)
class MemoryEstimate:
    """What one loaded model takes, in bytes."""

    weights: int
    kv_cache: int
    compute: int
    overhead: int
    #: Of weights and KV cache, what sits on a GPU instead (offloaded layers).
    device: int = 0
    #: More compute memory a prompt that meets a full context touches (no flash attention).
    full_context: int = 0
    n_ctx: int = 0

    @property
    def total(self) -> int:
        """Host RAM: what the admission rules compare with free memory."""
        return self.weights + self.kv_cache + self.compute + self.overhead - self.device

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "total": self.total}

    def describe(self) -> str:
        """``≈ 412 MB (weights 253 MB, KV cache 72 MB at n_ctx 4096, …)``."""
        parts = [
            f"weights {format_bytes(self.weights)}",
            f"KV cache {format_bytes(self.kv_cache)} at n_ctx {self.n_ctx}",
            f"compute {format_bytes(self.compute)}",
            f"runtime {format_bytes(self.overhead)}",
        ]
        if self.device:
            parts.append(f"{format_bytes(self.device)} of it on the GPU")
        return f"≈ {format_bytes(self.total)} ({', '.join(parts)})"


def _value(meta: dict[str, Any], arch: str, key: str, default: Any = None) -> Any:
    value = meta.get(f"{arch}.{key}", default)
    return default if value is None else value


def _per_layer(value: Any, layers: int, default: int) -> list[int]:
    """A per-layer hyperparameter: one number for all, or a list (OpenELM, some hybrids)."""
    if isinstance(value, list) and value:
        return [int(v) for v in value[:layers]] + [int(value[-1])] * max(0, layers - len(value))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [int(value)] * layers
    return [default] * layers


def sliding_layers(info: GGUFInfo, layers: int) -> list[bool]:
    """Which layers attend over a sliding window only (none unless the header says so)."""
    meta, arch = info.metadata, info.architecture or ""
    if not _value(meta, arch, "attention.sliding_window"):
        return [False] * layers
    pattern = _value(meta, arch, "attention.sliding_window_pattern")
    if isinstance(pattern, list) and pattern:  # newer files: one bool per layer
        return [bool(pattern[i % len(pattern)]) for i in range(layers)]
    period = pattern if isinstance(pattern, int) and pattern > 0 else SWA_PATTERNS.get(arch)
    if not period:
        return [False] * layers  # unknown layout: count every layer as global (safe side)
    return [(i + 1) % period != 0 for i in range(layers)]


def estimate(
    info: GGUFInfo,
    *,
    n_ctx: int,
    cache_type_k: str = "f16",
    cache_type_v: str = "f16",
    n_ubatch: int = 512,
    flash_attn: bool | str = "auto",
    offload_layers: int = 0,
    swa_full: bool = False,
) -> MemoryEstimate:
    """Estimate a model's memory from its header and the settings it is loaded with.

    ``swa_full``: sliding-window layers keep a full-size cache too, so their window
    saves nothing (workbench's default is False, as llama-server's).
    ``offload_layers``: layers on a GPU; their weights and KV cache leave the host.
    """
    meta, arch = info.metadata, info.architecture or ""
    layers = int(_value(meta, arch, "block_count", 0) or 0)
    n_embd = int(_value(meta, arch, "embedding_length", 0) or 0)
    heads = _per_layer(_value(meta, arch, "attention.head_count"), layers, 1)
    kv_heads = _per_layer(_value(meta, arch, "attention.head_count_kv"), layers, 0)
    kv_heads = [kv if kv else h for kv, h in zip(kv_heads, heads, strict=True)]
    head = max(heads, default=1) or 1
    key_length = int(_value(meta, arch, "attention.key_length", n_embd // head) or 0)
    value_length = int(_value(meta, arch, "attention.value_length", n_embd // head) or 0)
    n_ff = max(_per_layer(_value(meta, arch, "feed_forward_length"), layers, 4 * n_embd) or [0])
    vocab = _vocab_size(info)

    k_bytes = KV_TYPE_BYTES.get(cache_type_k, 2.0)
    v_bytes = KV_TYPE_BYTES.get(cache_type_v, 2.0)
    window = int(_value(meta, arch, "attention.sliding_window", 0) or 0)
    swa_cells = min(n_ctx, -(-(window + n_ubatch) // KV_PAD) * KV_PAD)
    per_layer_kv = [
        (n_ctx if swa_full or not sliding else swa_cells)
        * kv
        * (key_length * k_bytes + value_length * v_bytes)
        for kv, sliding in zip(kv_heads, sliding_layers(info, layers), strict=True)
    ]
    kv_cache = int(sum(per_layer_kv))
    weights = info.tensor_bytes or info.size_bytes

    # The scores a micro-batch touches: short prompts attend over one batch of cells.
    f32 = 4
    touched_cells = min(n_ctx, n_ubatch)
    activations = n_ubatch * (4 * n_embd + 2 * n_ff) * f32
    scores = 0 if flash_attn is True else n_ubatch * touched_cells * head * f32
    compute = activations + scores + vocab * f32
    full = 0 if flash_attn is True else n_ubatch * (n_ctx - touched_cells) * head * f32

    device = 0
    offload = max(0, min(offload_layers, layers))
    if offload and layers:
        # Repeating layers move; the token embeddings stay on the host, as in llama.cpp.
        embeddings = vocab * n_embd * weights // max(info.parameters or 1, 1)
        device = (weights - embeddings) * offload // layers + int(sum(per_layer_kv[-offload:]))
    return MemoryEstimate(
        weights=int(weights),
        kv_cache=kv_cache,
        compute=int(compute),
        overhead=PROCESS_BYTES + VOCAB_BYTES_PER_TOKEN * vocab,
        device=int(device),
        full_context=int(full),
        n_ctx=n_ctx,
    )


def _vocab_size(info: GGUFInfo) -> int:
    arch = info.architecture or ""
    size = info.metadata.get(f"{arch}.vocab_size")
    if isinstance(size, int):
        return size
    tokens = info.metadata.get("tokenizer.ggml.tokens")
    if isinstance(tokens, ArrayInfo):  # a long list, summarised by the reader
        return tokens.count
    return len(tokens) if isinstance(tokens, list) else 0


def estimate_for(info: GGUFInfo, n_ctx: int, llama: Any = None) -> MemoryEstimate:
    """The estimate with a model spec's llama.cpp settings (``ModelSpec.llama``), if any."""
    get = (lambda key, default: getattr(llama, key, default)) if llama is not None else None
    if get is None:
        return estimate(info, n_ctx=n_ctx)
    layers = get("n_gpu_layers", 0)
    return estimate(
        info,
        n_ctx=n_ctx,
        cache_type_k=get("cache_type_k", "f16"),
        cache_type_v=get("cache_type_v", "f16"),
        n_ubatch=int(get("n_ubatch", 512)),
        flash_attn=get("flash_attn", "auto"),
        swa_full=bool(get("swa_full", False)),
        # "auto" offloads only on a GPU build; none is known here, so the host pays.
        offload_layers=10**6 if layers == -1 else layers if isinstance(layers, int) else 0,
    )


# -- the machine ----------------------------------------------------------------


def available_memory() -> int | None:
    """RAM that can be had now without swapping, in bytes (None where unknown).

    Linux: ``MemAvailable`` (free RAM plus the page cache that can be dropped);
    elsewhere the free pages the system reports.
    """
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def device_memory(devices: list[dict[str, Any]] | None = None) -> int | None:
    """Free VRAM of the GPU that offloaded layers go to, when llama.cpp reports it.

    ``devices`` as ``workbench doctor`` lists them (``{"type": "GPU", "free": bytes}``);
    None when no GPU says how much it has free.
    """
    free = [d.get("free") for d in devices or () if d.get("type") != "CPU"]
    known = [f for f in free if isinstance(f, int)]
    return max(known) if known else None


# -- sizes as people write them -------------------------------------------------

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
    "tib": 1 << 40,
    "k": 10**3,
    "m": 10**6,
    "g": 10**9,
    "t": 10**12,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str) -> int:
    """``"12GB"`` -> 12_000_000_000, ``"1.5GiB"`` -> 1_610_612_736; ValueError otherwise.

    GB, MB are powers of ten, GiB, MiB powers of two (as ``df -H`` and ``df -h``).
    A bare number without a unit is refused: "12" could mean anything.
    """
    match = _SIZE.match(text)
    if not match or match.group(2).lower() not in _UNITS or not match.group(2):
        raise ValueError(f'{text!r} is not a size like "12GB", "512MB" or "1.5GiB"')
    value = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if value < 1:
        raise ValueError(f"{text!r} is no memory at all")
    return int(value)


def format_bytes(size: int | float) -> str:
    """``31_400_000_000`` -> ``"31 GB"``, ``412_000_000`` -> ``"412 MB"`` (powers of ten)."""
    if size >= 10 * 10**9:
        return f"{size / 10**9:.0f} GB"
    if size >= 10**9:
        return f"{size / 10**9:.1f} GB"
    if size >= 10**6:
        return f"{size / 10**6:.0f} MB"
    return f"{size / 10**3:.0f} kB"
