"""Presets against the real tokenizers of their families (vocab-only GGUFs from the sdist).

Each preset renders a system + user + assistant + user conversation the way the
worker does (llama-cpp-python's Jinja2 formatter, special tokens parsed, one BOS),
and the special tokens must land on the ids the vocab itself gives them. Codestral's
own (Mistral v3) vocab is not in the sdist: the Llama/Mistral SentencePiece vocab
stands in for its BOS/EOS handling.
"""

from __future__ import annotations

import codecs
from typing import Any

import llama_cpp
import pytest

from workbench.models.backends.llamacpp_decode import StopScanner
from workbench.models.presets import DEEPSEEK_CODER_SYSTEM, PRESETS, find_preset
from workbench.models.templates import (
    chat_template,
    fim_prompt,
    render_chat,
    resolve_stops,
    single_bos,
)

pytestmark = pytest.mark.slow

CONVERSATION = [
    {"role": "system", "content": "You write Python."},
    {"role": "user", "content": "Reverse a list."},
    {"role": "assistant", "content": "Use xs[::-1]."},
    {"role": "user", "content": "And a string?"},
]


def tokens_of(llm: Any, text: str) -> list[int]:
    return llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)


def token_id(llm: Any, text: str) -> int:
    """The id of a special token, checked both ways against the vocab."""
    tokens = tokens_of(llm, text)
    assert len(tokens) == 1, f"{text!r} is not one token here: {tokens}"
    assert llm._model.token_get_text(tokens[0]) == text
    return tokens[0]


def prompt_tokens(llm: Any, name: str, messages: list[dict[str, str]] = CONVERSATION) -> list[int]:
    """As the worker builds a chat prompt: render, tokenize with specials, one BOS."""
    bos_id, eos_id = llm.token_bos(), llm.token_eos()
    bos = llm._model.token_get_text(bos_id) if bos_id != -1 else ""
    eos = llm._model.token_get_text(eos_id) if eos_id != -1 else ""
    text = render_chat(PRESETS[name].template, messages, bos_token=bos, eos_token=eos)
    add_bos = llama_cpp.llama_vocab_get_add_bos(llm._model.vocab)
    return single_bos(tokens_of(llm, text), bos_id, add_bos)


def stops(llm: Any, name: str) -> tuple[frozenset[int], tuple[str, ...]]:
    p = PRESETS[name]
    return resolve_stops(
        lambda s: tokens_of(llm, s), lambda t: llm.detokenize(t), p.stop_tokens, p.stop_texts
    )


def generate_until_stop(llm: Any, name: str, produced: list[int]) -> tuple[str, str]:
    """Replay ``produced`` through the worker's stop logic: (visible text, finish reason)."""
    ids, texts = stops(llm, name)
    vocab = llm._model.vocab
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    scanner = StopScanner(texts)
    visible = ""
    for token in produced:
        if llama_cpp.llama_vocab_is_eog(vocab, token) or token in ids:
            return visible + scanner.feed("", final=True)[0], "stop"
        piece, stopped = scanner.feed(decoder.decode(llm.detokenize([token])))
        visible += piece
        if stopped:
            return visible, "stop"
    return visible + scanner.feed("", final=True)[0], "length"


# --- Llama 3 -----------------------------------------------------------------------------


def test_llama3_special_tokens_land_on_their_ids(vocab) -> None:
    llm = vocab("llama-bpe")
    assert find_preset(dict(llm.metadata)).preset.name == "llama3"
    bos = llm.token_bos()
    start, end, eot = (
        token_id(llm, t) for t in ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")
    )
    assert (bos, start, end, eot) == (128000, 128006, 128007, 128009)
    tokens = prompt_tokens(llm, "llama3")
    assert tokens.count(bos) == 1 and tokens[0] == bos  # the template's BOS, not a second one
    assert tokens.count(start) == tokens.count(end) == 5  # four turns and the generation prompt
    assert tokens.count(eot) == 4
    generation_prompt = [start, *tokens_of(llm, "assistant"), end, *tokens_of(llm, "\n\n")]
    assert tokens[-len(generation_prompt) :] == generation_prompt


def test_llama3_stops_on_the_eot_token_not_its_text(vocab) -> None:
    llm = vocab("llama-bpe")
    eot = token_id(llm, "<|eot_id|>")
    assert llm.detokenize([eot]) == b""  # the trap: a stop *string* never fires
    assert stops(llm, "llama3") == (frozenset({eot}), ())
    answer = tokens_of(llm, "xs[::-1]")
    # Even where the GGUF does not mark <|eot_id|> end-of-generation, the id stop ends it.
    assert generate_until_stop(llm, "llama3", [*answer, eot, *answer]) == ("xs[::-1]", "stop")
    assert StopScanner(("<|eot_id|>",)).feed("xs[::-1]", final=True) == ("xs[::-1]", False)


# --- DeepSeek Coder and AutoCoder ---------------------------------------------------------


def test_deepseek_coder_tokens(vocab) -> None:
    llm = vocab("deepseek-coder")
    assert find_preset(dict(llm.metadata)).preset.name == "deepseek-coder"
    bos, eot = llm.token_bos(), token_id(llm, "<|EOT|>")
    assert (bos, eot) == (32013, 32021)
    tokens = prompt_tokens(llm, "deepseek-coder")
    assert tokens.count(bos) == 1 and tokens[0] == bos
    assert tokens.count(eot) == 1  # after the one assistant turn
    assert DEEPSEEK_CODER_SYSTEM not in llm.detokenize(tokens).decode()
    default = prompt_tokens(llm, "deepseek-coder", CONVERSATION[1:])
    assert default.count(bos) == 1
    assert llm.detokenize(default).decode().startswith(DEEPSEEK_CODER_SYSTEM + "\n")


def test_deepseek_eot_is_stopped_as_text(vocab) -> None:
    """<|EOT|> is one token here, but not end-of-generation, and it decodes to its text."""
    llm = vocab("deepseek-coder")
    eot = token_id(llm, "<|EOT|>")
    assert not llama_cpp.llama_vocab_is_eog(llm._model.vocab, eot)
    assert llama_cpp.llama_vocab_is_eog(llm._model.vocab, llm.token_eos())
    assert llm.detokenize([eot]) == b"<|EOT|>"
    assert stops(llm, "deepseek-coder") == (frozenset(), ("<|EOT|>",))
    answer = tokens_of(llm, "print(xs[::-1])\n")
    visible, finish = generate_until_stop(llm, "deepseek-coder", [*answer, eot, *answer])
    assert (visible, finish) == ("print(xs[::-1])\n", "stop")


def test_deepseek_fim_tokens(vocab) -> None:
    llm = vocab("deepseek-coder")
    begin, hole, end = (
        token_id(llm, t) for t in ("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>")
    )
    assert (begin, hole, end) == (32016, 32015, 32017)
    text = fim_prompt(PRESETS["deepseek-coder"], "def rev(xs):\n", "\n    return out\n")
    add_bos = llama_cpp.llama_vocab_get_add_bos(llm._model.vocab)
    tokens = single_bos(tokens_of(llm, text), llm.token_bos(), add_bos)
    assert tokens[:2] == [llm.token_bos(), begin]
    assert tokens.count(hole) == 1 and tokens[-1] == end
    assert tokens.index(begin) < tokens.index(hole) < tokens.index(end)


def test_autocoder_on_its_deepseek_tokenizer(vocab) -> None:
    llm = vocab("deepseek-coder")
    metadata = {**dict(llm.metadata), "general.name": "AutoCoder"}
    assert chat_template(metadata).preset is PRESETS["autocoder"]
    tokens = prompt_tokens(llm, "autocoder")
    assert tokens.count(llm.token_bos()) == 1 and tokens[0] == llm.token_bos()
    assert tokens.count(token_id(llm, "<|EOT|>")) == 1
    text = llm.detokenize(tokens).decode()
    assert text.count("Human: ") == 2 and text.endswith("Assistant:")
    ids, texts = stops(llm, "autocoder")
    assert ids == frozenset() and texts == ("<|EOT|>", "\nHuman:")


# --- CodeQwen 1.5 (ChatML) ----------------------------------------------------------------


def test_codeqwen_chatml_tokens(vocab) -> None:
    llm = vocab("qwen2")
    start, end = token_id(llm, "<|im_start|>"), token_id(llm, "<|im_end|>")
    assert (start, end) == (151644, 151645)
    # This vocab wants no BOS; the GGUF has no add_bos_token key, so reading the key with
    # a default of "true" (as the worker does today) would prepend <|endoftext|>.
    assert not llama_cpp.llama_vocab_get_add_bos(llm._model.vocab)
    assert "tokenizer.ggml.add_bos_token" not in llm.metadata
    tokens = prompt_tokens(llm, "codeqwen")
    assert tokens[0] == start and llm.token_bos() not in tokens
    assert tokens.count(start) == 5 and tokens.count(end) == 4
    assert stops(llm, "codeqwen") == (frozenset({end}), ())
    default = llm.detokenize(prompt_tokens(llm, "codeqwen", CONVERSATION[1:]), special=True)
    assert default.decode().startswith("<|im_start|>system\nYou are a helpful assistant.")


def test_a_qwen2_gguf_keeps_its_own_template(vocab) -> None:
    metadata = dict(vocab("qwen2").metadata)
    chosen = chat_template(metadata)
    assert chosen.source == "gguf" and chosen.template == metadata["tokenizer.chat_template"]


# --- Codestral (Mistral format; SentencePiece stand-in) -----------------------------------


def test_codestral_bos_eos_and_folded_system(vocab) -> None:
    llm = vocab("llama-spm")
    bos, eos = llm.token_bos(), llm.token_eos()
    assert (bos, eos) == (1, 2)
    tokens = prompt_tokens(llm, "codestral")
    assert tokens.count(bos) == 1 and tokens[0] == bos
    assert tokens.count(eos) == 1  # closes the assistant turn
    text = llm.detokenize(tokens).decode()
    assert text.count("You write Python.") == 1
    assert text.index("[INST]") < text.index("You write Python.") < text.index("Reverse a list.")
    ids, texts = stops(llm, "codestral")
    # </s> is one token (by id); [INST] is a control token only in Codestral's v3 vocab.
    assert ids == frozenset({eos}) and texts == ("[INST]",)


def test_a_completion_prompt_starting_with_bos_gets_one(vocab) -> None:
    for name in ("llama-bpe", "deepseek-coder", "llama-spm"):
        llm = vocab(name)
        bos = llm.token_bos()
        raw = llm._model.token_get_text(bos) + "def f():"
        add_bos = llama_cpp.llama_vocab_get_add_bos(llm._model.vocab)
        assert add_bos, name
        tokens = single_bos(tokens_of(llm, raw), bos, add_bos)
        assert tokens.count(bos) == 1 and tokens[0] == bos, name
        # llama-cpp-python's own add_bos=True on such text gives two: the trap.
        doubled = llm.tokenize(raw.encode(), add_bos=True, special=True)
        assert doubled[:2] == [bos, bos], name
