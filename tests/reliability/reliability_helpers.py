"""Helpers of the reliability tests: figures to report, and GGUF files crafted to fail."""

from __future__ import annotations

import os
from pathlib import Path

#: (test, figure) pairs, printed at the end of the run by conftest.
FIGURES: list[tuple[str, str]] = []


def figure(test: str, text: str) -> None:
    """Record (and print, for ``-s``) what a test measured."""
    FIGURES.append((test, text))
    print(f"[figure] {test}: {text}")


def current_test() -> str:
    """The running test's name, without its file."""
    name = os.environ.get("PYTEST_CURRENT_TEST", "?").split("::")[-1]
    return name.removesuffix(" (call)")


# --- GGUF files that llama.cpp refuses, or dies on ---------------------------------------


def tiny_llama_gguf(
    path: Path,
    *,
    arch: str = "llama",
    n_embd: int = 8,
    n_head: int = 2,
    n_head_kv: int = 2,
    n_ff: int = 16,
    n_vocab: int = 32,
    wrong_shape: bool = False,
    tokenizer: str = "llama",
) -> Path:
    """A whole, tiny Llama-architecture model written with the ``gguf`` package.

    Every hyperparameter is set and every tensor is there, so llama.cpp gets
    past the header; the arguments make it inconsistent on purpose:
    ``arch`` unknown, ``wrong_shape`` (a tensor that disagrees with the
    hyperparameters), ``tokenizer`` unknown, or ``n_head_kv`` that does not
    divide ``n_head`` (the shapes agree, but the attention graph cannot be
    built: llama.cpp's GGML_ASSERT aborts the process).
    """
    import numpy as np
    from gguf import GGUFWriter

    writer = GGUFWriter(str(path), arch)
    writer.add_name("crafted")
    writer.add_context_length(64)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(1)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head_kv)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_tokenizer_model(tokenizer)
    writer.add_token_list(["<unk>", "<s>", "</s>"] + [f"t{i}" for i in range(n_vocab - 3)])
    writer.add_token_scores([0.0] * n_vocab)
    writer.add_token_types([2, 3, 3] + [1] * (n_vocab - 3))
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)

    def ones(*shape: int):
        return np.ones(shape, dtype=np.float32)

    kv = n_embd // n_head * n_head_kv
    tensors = {
        "token_embd.weight": ones(n_vocab, n_embd),
        "output_norm.weight": ones(n_embd),
        "blk.0.attn_norm.weight": ones(n_embd),
        "blk.0.attn_q.weight": ones(n_embd + (3 if wrong_shape else 0), n_embd),
        "blk.0.attn_k.weight": ones(kv, n_embd),
        "blk.0.attn_v.weight": ones(kv, n_embd),
        "blk.0.attn_output.weight": ones(n_embd, n_embd),
        "blk.0.ffn_norm.weight": ones(n_embd),
        "blk.0.ffn_gate.weight": ones(n_ff, n_embd),
        "blk.0.ffn_down.weight": ones(n_embd, n_ff),
        "blk.0.ffn_up.weight": ones(n_ff, n_embd),
    }
    for name, data in tensors.items():
        writer.add_tensor(name, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def truncated_copy(source: Path, target: Path, keep: float | int) -> Path:
    """The first ``keep`` bytes (or fraction) of ``source``: a download cut short."""
    size = source.stat().st_size
    count = int(size * keep) if isinstance(keep, float) else keep
    with open(source, "rb") as src, open(target, "wb") as dst:
        dst.write(src.read(count))
    return target
