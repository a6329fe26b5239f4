"""A local model's llama.cpp settings: what ``workbench.toml`` may say, and the defaults.

The defaults follow llama-server's (flash attention "auto", n_batch 2048,
n_ubatch 512, f16 KV cache, mmap on, every layer offloaded when the build can,
sliding-window layers cached over their window only),
so figures from workbench and from llama-server compare like for like. This
dataclass is the one place those defaults live; the worker resolves "auto"
against the build it runs (see ``backends/llama_params.py``).
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, replace
from typing import Any

#: KV cache types as llama.cpp (and llama-server's --cache-type-k) names them.
KV_TYPES = ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1")
AUTO_OR_BOOL = ("auto", True, False)


@dataclass(frozen=True)
class LlamaSettings:
    """How llama.cpp loads one model; ``None`` and "auto" are resolved by the worker."""

    #: "auto": all layers when the build can offload to a GPU, else 0.
    n_gpu_layers: int | str = "auto"
    flash_attn: bool | str = "auto"
    cache_type_k: str = "f16"
    cache_type_v: str = "f16"
    n_batch: int = 2048
    n_ubatch: int = 512
    use_mmap: bool = True
    use_mlock: bool = False
    main_gpu: int = 0
    tensor_split: tuple[float, ...] = ()
    #: 0: the model's own value.
    rope_freq_base: float = 0.0
    rope_freq_scale: float = 0.0
    #: Weight repacking (llama.cpp's CPU "extra buffer types"); "auto": on, unless
    #: it crashed before on this CPU and llama.cpp build.
    repack: bool | str = "auto"
    #: Sliding-window layers (Gemma 2 and 3, Cohere 2) keep a full-size KV cache.
    #: False, as llama-server: they keep their window only (much less memory, faster
    #: long prompts), but a follow-up then re-evaluates its whole prompt on them.
    swa_full: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tensor_split"] = list(self.tensor_split)
        return data

    def merged(self, values: dict[str, Any]) -> LlamaSettings:
        """These settings with ``values`` (already checked) written over them."""
        if "tensor_split" in values:
            values = {**values, "tensor_split": tuple(float(x) for x in values["tensor_split"])}
        return replace(self, **values)


# key -> (accepted types, description for messages); merged into the config schema.
LLAMA_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "n_gpu_layers": ((int, str), '"auto" or a number of layers (-1: all)'),
    "flash_attn": ((str, bool), '"auto", true or false'),
    "cache_type_k": ((str,), "a KV cache type (" + ", ".join(KV_TYPES) + ")"),
    "cache_type_v": ((str,), "a KV cache type (" + ", ".join(KV_TYPES) + ")"),
    "n_batch": ((int,), "an integer"),
    "n_ubatch": ((int,), "an integer"),
    "use_mmap": ((bool,), "true or false"),
    "use_mlock": ((bool,), "true or false"),
    "main_gpu": ((int,), "a device index"),
    "tensor_split": ((list,), "a list of numbers (one share per GPU)"),
    "rope_freq_base": ((int, float), "a number"),
    "rope_freq_scale": ((int, float), "a number"),
    "repack": ((str, bool), '"auto", true or false'),
    "swa_full": ((bool,), "true or false"),
}
#: Keys whose value may be a bool (the config checker refuses bools elsewhere).
BOOL_KEYS = frozenset({"flash_attn", "use_mmap", "use_mlock", "repack", "swa_full"})


def problem(key: str, value: Any) -> str | None:
    """What is wrong with ``value`` for ``key`` (types already checked), or None."""
    if key in ("flash_attn", "repack") and value not in AUTO_OR_BOOL:
        return f'{key!r} must be "auto", true or false, not {value!r}.'
    if key == "n_gpu_layers" and (value != "auto" if isinstance(value, str) else value < -1):
        return "'n_gpu_layers' must be \"auto\", -1 (all layers) or a number of layers ≥ 0."
    if key in ("cache_type_k", "cache_type_v") and value not in KV_TYPES:
        hint = difflib.get_close_matches(str(value).lower(), KV_TYPES, n=1)
        extra = f" Did you mean {hint[0]!r}?" if hint else ""
        return f"{key!r} {value!r} is not a llama.cpp KV cache type.{extra} Types: " + ", ".join(
            KV_TYPES
        )
    if key in ("n_batch", "n_ubatch") and not 1 <= value <= 1 << 20:
        return f"{key!r} must be between 1 and {1 << 20}."
    if key == "main_gpu" and value < 0:
        return "'main_gpu' must be a device index ≥ 0."
    if key == "tensor_split" and not (
        all(isinstance(x, int | float) and not isinstance(x, bool) and x >= 0 for x in value)
        and sum(value) > 0
    ):
        return "'tensor_split' must be a list of shares ≥ 0, not all zero (e.g. [3, 1])."
    if key in ("rope_freq_base", "rope_freq_scale") and value < 0:
        return f"{key!r} must be ≥ 0 (0: the model's own value)."
    return None
