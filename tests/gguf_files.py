"""Write small real GGUF files (metadata, tiny tensors) for discovery tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_gguf(
    path: Path,
    *,
    arch: str = "llama",
    name: str | None = None,
    pre: str | None = None,
    template: str | None = None,
    file_type: int | None = 15,
    context: int | None = 4096,
    size_label: str | None = None,
    tensors: int = 1,
    extra: dict[str, Any] | None = None,
) -> Path:
    """A real GGUF written by the ``gguf`` package: metadata and ``tensors`` tiny F32 tensors."""
    import numpy as np
    from gguf import GGUFWriter

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = GGUFWriter(str(path), arch)
    if name:
        writer.add_name(name)
    if size_label:
        writer.add_size_label(size_label)
    if file_type is not None:
        writer.add_file_type(file_type)
    if context is not None:
        writer.add_context_length(context)
    if pre:
        writer.add_tokenizer_pre(pre)
    if template:
        writer.add_chat_template(template)
    writer.add_array("tokenizer.ggml.tokens", [f"tok{i}" for i in range(100)])
    for key, value in (extra or {}).items():
        if isinstance(value, str):
            writer.add_string(key, value)
        elif isinstance(value, bool):
            writer.add_bool(key, value)
        elif isinstance(value, int):
            writer.add_uint32(key, value)
        else:
            writer.add_array(key, value)
    for index in range(tensors):
        writer.add_tensor(f"blk.{index}.weight", np.ones((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
