"""The one place where workbench's llama.cpp settings meet llama-cpp-python's ``Llama()``.

``Llama()`` takes most settings as arguments, but has none for weight repacking
(``llama_model_params.use_extra_bufts``, llama-server's ``--no-repack``) and
only a bool for flash attention (llama-server's default is "auto"). So while
``Llama()`` is built, ``params_hook`` sets those two fields on the params
structs right before they reach llama.cpp. ``check_hook`` says loudly when a
llama-cpp-python upgrade moves that hook point; a test calls it.

Runs in the worker process only (it imports llama_cpp).
"""

from __future__ import annotations

import contextlib
import inspect
import re
from collections.abc import Iterator
from typing import Any

FLASH_ATTN = {"auto": -1, False: 0, True: 1}  # LLAMA_FLASH_ATTN_TYPE_*
#: What llama.cpp says about flash attention while it makes the context.
_FLASH_LINE = re.compile(
    r"(?:flash_attn\s*=\s*|Flash Attention was auto, set to )(enabled|disabled|auto)"
)


class HookMoved(RuntimeError):
    """llama-cpp-python changed underneath: workbench cannot set repack or flash attention."""


def check_hook() -> None:
    """Raise ``HookMoved`` unless the fields and the hook point are where we expect them."""
    import llama_cpp
    from llama_cpp import _internals, llama

    version = getattr(llama_cpp, "__version__", "?")
    model_fields = {name for name, _ in llama_cpp.llama_model_params._fields_}
    context_fields = {name for name, _ in llama_cpp.llama_context_params._fields_}
    source = inspect.getsource(llama.Llama.__init__)
    missing = [
        what
        for what, ok in (
            ("llama_model_params.use_extra_bufts", "use_extra_bufts" in model_fields),
            ("llama_context_params.flash_attn_type", "flash_attn_type" in context_fields),
            ("Llama() building internals.LlamaModel", "internals.LlamaModel(" in source),
            ("Llama() building internals.LlamaContext", "internals.LlamaContext(" in source),
            ("llama_cpp._internals.LlamaModel", hasattr(_internals, "LlamaModel")),
            ("llama_cpp._internals.LlamaContext", hasattr(_internals, "LlamaContext")),
        )
        if not ok
    ]
    if missing:
        raise HookMoved(
            f"llama-cpp-python {version} changed: {', '.join(missing)} not found, so workbench "
            "cannot set weight repacking or flash attention. Install llama-cpp-python 0.3.36 "
            "or update workbench/models/backends/llama_params.py."
        )


@contextlib.contextmanager
def params_hook(*, repack: bool, flash_attn: bool | str) -> Iterator[dict[str, Any]]:
    """While ``Llama()`` is built inside, set ``use_extra_bufts`` and ``flash_attn_type``.

    Yields a dict that receives the params structs as handed to llama.cpp
    (``"model"``, ``"context"``), so the effective values can be read back.
    """
    from llama_cpp import _internals

    check_hook()
    seen: dict[str, Any] = {}
    model_class, context_class = _internals.LlamaModel, _internals.LlamaContext

    class Model(model_class):  # type: ignore[misc, valid-type]
        def __init__(self, *, path_model: str, params: Any, verbose: bool = True) -> None:
            params.use_extra_bufts = repack
            seen["model"] = params
            super().__init__(path_model=path_model, params=params, verbose=verbose)

    class Context(context_class):  # type: ignore[misc, valid-type]
        def __init__(self, *, model: Any, params: Any, verbose: bool = True) -> None:
            params.flash_attn_type = FLASH_ATTN[flash_attn]
            seen["context"] = params
            super().__init__(model=model, params=params, verbose=verbose)

    _internals.LlamaModel, _internals.LlamaContext = Model, Context
    try:
        yield seen
    finally:
        _internals.LlamaModel, _internals.LlamaContext = model_class, context_class


def llama_kwargs(settings: dict[str, Any], *, n_ctx: int, threads: int) -> dict[str, Any]:
    """``Llama()``'s arguments for workbench's settings (``LlamaSettings.to_dict()``)."""
    import llama_cpp

    layers = settings["n_gpu_layers"]
    if layers == "auto":
        layers = -1 if llama_cpp.llama_supports_gpu_offload() else 0
    return {
        "n_ctx": n_ctx,
        "n_threads": threads,
        "n_threads_batch": threads,
        "n_gpu_layers": layers,
        "main_gpu": settings["main_gpu"],
        "tensor_split": list(settings["tensor_split"]) or None,
        "use_mmap": settings["use_mmap"],
        "use_mlock": settings["use_mlock"],
        "n_batch": settings["n_batch"],
        "n_ubatch": settings["n_ubatch"],
        "type_k": ggml_type(settings["cache_type_k"]),
        "type_v": ggml_type(settings["cache_type_v"]),
        "rope_freq_base": float(settings["rope_freq_base"]),
        "rope_freq_scale": float(settings["rope_freq_scale"]),
        # llama.cpp's library default is a full-size cache; llama-server's is not.
        "swa_full": bool(settings.get("swa_full", False)),
        "verbose": False,
    }


def ggml_type(name: str) -> int:
    import llama_cpp

    return int(getattr(llama_cpp, f"GGML_TYPE_{name.upper()}"))


def ggml_type_name(value: int) -> str:
    import llama_cpp

    for name in dir(llama_cpp):
        if name.startswith("GGML_TYPE_") and getattr(llama_cpp, name) == value:
            return name.removeprefix("GGML_TYPE_").lower()
    return str(value)


def effective(llm: Any, seen: dict[str, Any], log_lines: list[str]) -> dict[str, Any]:
    """The settings llama.cpp got, read back from the params structs and the live context."""
    import llama_cpp

    model, context = seen["model"], seen["context"]
    n_layer = int(llama_cpp.llama_model_n_layer(llm.model))
    offload = llama_cpp.llama_supports_gpu_offload()
    # llama.cpp offloads n_layer repeating layers plus the output layer.
    layers = min(int(model.n_gpu_layers), n_layer + 1) if offload else 0
    flash = _flash_attn(context.flash_attn_type, log_lines)
    load_mode = int(model.load_mode)
    tensor_split = (
        [round(float(model.tensor_split[i]), 4) for i in range(llama_cpp.LLAMA_MAX_DEVICES)]
        if model.tensor_split
        else []
    )
    return {
        "n_gpu_layers": layers,
        "n_layer": n_layer,
        "offload": "none" if layers == 0 else "full" if layers > n_layer else "partial",
        "flash_attn": flash,
        "cache_type_k": ggml_type_name(int(context.type_k)),
        "cache_type_v": ggml_type_name(int(context.type_v)),
        "n_ctx": int(llama_cpp.llama_n_ctx(llm.ctx)),
        "n_batch": int(llama_cpp.llama_n_batch(llm.ctx)),
        "n_ubatch": int(llama_cpp.llama_n_ubatch(llm.ctx)),
        "use_mmap": load_mode
        in (llama_cpp.LLAMA_LOAD_MODE_MMAP, llama_cpp.LLAMA_LOAD_MODE_MMAP_MLOCK),
        "use_mlock": load_mode
        in (llama_cpp.LLAMA_LOAD_MODE_MLOCK, llama_cpp.LLAMA_LOAD_MODE_MMAP_MLOCK),
        "main_gpu": int(model.main_gpu),
        "tensor_split": tensor_split if any(tensor_split) else [],
        "rope_freq_base": float(context.rope_freq_base),
        "rope_freq_scale": float(context.rope_freq_scale),
        "repack": bool(model.use_extra_bufts),
        "swa_full": bool(context.swa_full),
        # Whether llama.cpp did repack some weights (it skips types it has no layout for).
        "repacked": any("CPU_REPACK model buffer" in line for line in log_lines),
    }


def _flash_attn(asked: int, log_lines: list[str]) -> bool | str:
    """Whether flash attention is on. "auto" is resolved by llama.cpp when it builds the
    graph: the attention mask then feeds FLASH_ATTN_EXT nodes, or a SOFT_MAX."""
    flash: bool | str = "auto" if asked == -1 else bool(asked)
    masks = [line for line in log_lines if "kq_mask" in line]
    for line in log_lines:
        found = _FLASH_LINE.search(line)
        if found and found.group(1) != "auto":
            flash = found.group(1) == "enabled"
    if flash == "auto" and masks:
        flash = any("FLASH_ATTN_EXT" in line for line in masks)
    return flash


def settings_line(line: str) -> bool:
    """Whether a llama.cpp log line tells an effective setting (kept for ``effective``)."""
    return (
        "flash_attn" in line
        or "Flash Attention" in line
        or "CPU_REPACK model buffer" in line
        or ("kq_mask" in line and "used by node" in line)
    )
