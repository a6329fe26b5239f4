"""The worker's lean decode loop (llamacpp_decode): the same tokens as ``Llama.generate``,
stop strings found on a tail window, the KV cache's prefix reused by a follow-up.

The model tests run the real bundled GGUFs; the stop-scanner tests check it against
the whole-text scan it replaced, on generated piece sequences.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.models.backends.llamacpp import LlamaCppBackend
from workbench.models.backends.llamacpp_decode import Decoder, StopScanner, generate

PROMPT = "def fibonacci(n):\n    " + "# the n-th Fibonacci number, computed iteratively\n    " * 6


def whole_text_scan(text: str, stops: tuple[str, ...], final: bool) -> tuple[str, bool]:
    """The reference: the whole text searched again at every piece (the old loop)."""
    found = [at for at in (text.find(stop) for stop in stops) if at != -1]
    if found:
        return text[: min(found)], True
    if final or not stops:
        return text, False
    held = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), 0, -1):
            if text.endswith(stop[:size]):
                held = max(held, size)
                break
    return text[: len(text) - held], False


def scan(pieces: list[str], stops: tuple[str, ...]) -> list[tuple[str, bool]]:
    scanner = StopScanner(stops)
    out = []
    for piece in pieces:
        out.append(scanner.feed(piece))
        if out[-1][1]:
            return out
    out.append(scanner.feed("", final=True))
    return out


def reference(pieces: list[str], stops: tuple[str, ...]) -> list[tuple[str, bool]]:
    text, sent, out = "", 0, []
    for piece in pieces:
        text += piece
        visible, stopped = whole_text_scan(text, stops, final=False)
        out.append((visible[sent:], stopped))
        sent = max(sent, len(visible))
        if stopped:
            return out
    visible, stopped = whole_text_scan(text, stops, final=True)
    out.append((visible[sent:], stopped))
    return out


# --- the stop scanner ------------------------------------------------------------------


@given(
    pieces=st.lists(st.text(alphabet="ab<|>\n", max_size=4), max_size=30),
    stops=st.lists(st.text(alphabet="ab<|>\n", min_size=1, max_size=5), max_size=3),
)
@settings(max_examples=400, deadline=None)
def test_scanner_agrees_with_the_whole_text_scan(pieces, stops) -> None:
    assert scan(pieces, tuple(stops)) == reference(pieces, tuple(stops))


@pytest.mark.parametrize(
    ("pieces", "stops", "visible", "stopped"),
    [
        (["Hello <|e", "nd|> more"], ("<|end|>",), "Hello ", True),  # across two pieces
        (["x", "<", "|", "e"], ("<|end|>",), "x<|e", False),  # a partial stop, then the end
        (["one\n\nclass", " B"], ("\nclass", "\n\n"), "one", True),  # the earliest stop wins
        (["abc"], (), "abc", False),
    ],
)
def test_scanner_cases(pieces, stops, visible, stopped) -> None:
    out = scan(pieces, stops)
    assert "".join(text for text, _ in out) == visible
    assert out[-1][1] is stopped


def test_scanner_holds_back_a_possible_stop_until_it_is_not_one() -> None:
    scanner = StopScanner(("\ndef ",))
    assert scanner.feed("x = 1\nde") == ("x = 1", False)
    assert scanner.feed("lta = 2") == ("\ndelta = 2", False)


def test_nothing_after_a_stop_not_even_the_held_back_start_of_it() -> None:
    """The worker's loop flushes the scanner once more when the answer ends; after a stop
    that flush gave back the stop's held-back start (Gemma's answers ended in '\\nde')."""
    scanner = StopScanner(("\ndef ",))
    assert scanner.feed("    return a + b\nde") == ("    return a + b", False)
    assert scanner.feed("f main():") == ("", True)
    assert scanner.feed("", final=True) == ("", True)


def test_scanner_window_does_not_grow_with_the_answer() -> None:
    """Per-piece work is bounded: the scanner keeps only the longest stop's length."""
    scanner = StopScanner(("<|end|>", "\n\n\n"))
    for _ in range(20_000):
        scanner.feed("token ")
        assert len(scanner._window) <= len("<|end|>") - 1
    assert scanner.sent == 20_000 * len("token ")


# --- against Llama.generate on the real models -------------------------------------------


def load(bundled, name: str, **kw):
    from llama_cpp import Llama

    path = LlamaCppBackend(bundled.model(name)).model_path()
    kw = {"n_ctx": 1024, "n_threads": 1, "n_threads_batch": 1, "verbose": False, **kw}
    return Llama(model_path=str(path), **kw)


def reference_tokens(llm, prompt: list[int], count: int, **sampling) -> list[int]:
    tokens = []
    for token in llm.generate(prompt, **sampling):
        if token == llm.token_eos():
            break
        tokens.append(token)
        if len(tokens) == count:
            break
    return tokens


def lean_tokens(decoder: Decoder, prompt: list[int], count: int, sampling: dict, seed: int):
    pieces: list = []
    outcome = generate(
        decoder,
        prompt,
        sampling,
        seed=seed,
        max_tokens=count,
        stop_ids=frozenset(),
        stop_texts=(),
        send=pieces.extend,
        between_tokens=lambda: False,
    )
    return outcome, "".join(text for text, _ in pieces)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["smollm2", "gemma3"])
def test_greedy_output_is_token_identical_to_llama_generate(bundled, name) -> None:
    # n_batch 32: the prompt is evaluated in several chunks, as a long prompt would be.
    llm = load(bundled, name, n_batch=32, n_ubatch=32)
    prompt = llm.tokenize(PROMPT.encode(), add_bos=True)
    assert len(prompt) > 64
    expected = reference_tokens(llm, prompt, 48, temp=0.0, top_k=1)
    decoder = Decoder(llm)  # the cache Llama.generate left is dropped: nothing matches
    outcome, text = lean_tokens(decoder, prompt, 48, {"temperature": 0.0}, seed=0)
    assert text == llm.detokenize(expected).decode("utf-8", "replace")
    assert outcome.output_tokens == len(expected)
    assert outcome.finish_reason == ("length" if len(expected) == 48 else "stop")
    # The whole prompt evaluated in batches, the answer one token at a time.
    assert outcome.prompt_evaluated == len(prompt)
    assert outcome.perf["prompt_tokens"] == len(prompt)
    assert outcome.perf["output_tokens"] == outcome.output_tokens - 1
    decoder.close()


@pytest.mark.slow
def test_seeded_sampling_draws_what_llama_generate_draws(bundled) -> None:
    llm = load(bundled, "smollm2")
    prompt = llm.tokenize(b"Once upon a time", add_bos=True)
    llm.set_seed(1234)
    expected = reference_tokens(llm, prompt, 32, temp=0.9, top_k=40, top_p=0.95, min_p=0.05)
    sampling = {"temperature": 0.9, "top_k": 40, "top_p": 0.95, "min_p": 0.05}
    _, text = lean_tokens(Decoder(llm), prompt, 32, sampling, seed=1234)
    assert text == llm.detokenize(expected).decode("utf-8", "replace")


@pytest.mark.slow
def test_a_follow_up_evaluates_only_what_the_cache_lacks(bundled) -> None:
    llm = load(bundled, "smollm2")
    decoder = Decoder(llm)
    first = llm.tokenize(PROMPT.encode(), add_bos=True)
    outcome, answer = lean_tokens(decoder, first, 8, {"temperature": 0.0}, seed=0)
    assert outcome.prompt_evaluated == len(first)
    follow = first + llm.tokenize(b"return 0\n", add_bos=False)
    outcome, _ = lean_tokens(decoder, follow, 8, {"temperature": 0.0}, seed=0)
    assert outcome.prompt_evaluated == len(follow) - len(first)
    assert outcome.perf["prompt_tokens"] == outcome.prompt_evaluated
    # The same prompt again: one token re-evaluated for fresh logits, the same answer.
    again, text = lean_tokens(decoder, first, 8, {"temperature": 0.0}, seed=0)
    assert again.prompt_evaluated == 1
    assert text == answer
    # A different prompt shares at most a BOS (SmolLM2's vocab adds none).
    other = llm.tokenize(b"Hello there", add_bos=True)
    shared = 1 if other[0] == first[0] else 0
    outcome, _ = lean_tokens(decoder, other, 4, {"temperature": 0.0}, seed=0)
    assert outcome.prompt_evaluated == len(other) - shared


@pytest.mark.slow
@pytest.mark.parametrize("swa_full", [False, True])
def test_sliding_window_layers_reuse_only_what_they_still_hold(bundled, swa_full) -> None:
    # Gemma 3's sliding-window layers (window 512) without a full-size cache keep only
    # their last window: a prompt that shares the start of a long cached one must be
    # evaluated whole, or its answer would be read from keys that are gone.
    llm = load(bundled, "gemma3", n_ctx=2048, swa_full=swa_full)
    decoder = Decoder(llm)
    assert decoder.n_swa == 512
    first = llm.tokenize((PROMPT * 16).encode(), add_bos=True)
    assert len(first) > 2 * decoder.n_swa
    lean_tokens(decoder, first, 4, {"temperature": 0.0}, seed=0)
    other = first[:100] + llm.tokenize(b"\ndef area(r):\n    return", add_bos=False)
    outcome, text = lean_tokens(decoder, other, 12, {"temperature": 0.0}, seed=0)
    assert outcome.prompt_evaluated == (len(other) - 100 if swa_full else len(other))
    fresh = Decoder(load(bundled, "gemma3", n_ctx=2048, swa_full=swa_full))
    _, cold_text = lean_tokens(fresh, other, 12, {"temperature": 0.0}, seed=0)
    assert text == cold_text
    # Going on from the end of what the cache holds needs nothing older than the window.
    longer = other + llm.tokenize(b" 3.14 * r", add_bos=False)
    outcome, _ = lean_tokens(decoder, longer, 4, {"temperature": 0.0}, seed=0)
    assert 0 < outcome.prompt_evaluated <= len(longer) - len(other)
    # A start shared by a few tokens only is not kept: from an empty cache a long
    # prompt evaluates faster (SWA_KEEP_SHARE).
    short_share = longer[:5] + llm.tokenize(b" the quick brown fox" * 30, add_bos=False)
    outcome, _ = lean_tokens(decoder, short_share, 1, {"temperature": 0.0}, seed=0)
    assert outcome.prompt_evaluated == len(short_share)
    decoder.close()
    fresh.close()


# --- the worker process ----------------------------------------------------------------


class Worker:
    """The real worker process, spoken to over its JSON lines."""

    def __init__(self) -> None:
        env = dict(os.environ, GGML_NO_BACKTRACE="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "workbench.models.backends.llamacpp_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )

    def send(self, **command) -> None:
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def until(self, event: str) -> tuple[dict, list[dict]]:
        seen = []
        for line in self.proc.stdout:
            message = json.loads(line)
            seen.append(message)
            if message["ev"] == "error":
                raise AssertionError(message)
            if message["ev"] == event:
                return message, seen
        raise AssertionError(f"the worker ended before {event!r}")

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.mark.slow
def test_the_worker_reports_prompt_tokens_evaluated_and_reused(bundled) -> None:
    path = LlamaCppBackend(bundled.model("smollm2")).model_path()
    worker = Worker()
    try:
        worker.send(op="load", path=str(path), n_ctx=2048, threads=1)
        worker.until("ready")
        sampling = {"temperature": 0.0, "top_p": 1.0, "max_tokens": 12, "seed": 1}
        turn = [{"role": "user", "content": "Name a prime number."}]
        worker.send(op="generate", id=1, mode="chat", messages=turn, sampling=sampling, threads=1)
        done, events = worker.until("done")
        answer = "".join(text for e in events if e["ev"] == "text" for text, _ in e["p"])
        assert done["prompt_evaluated"] == done["prompt_tokens"]
        assert done["output_tokens"] >= 1 and answer
        follow = [
            *turn,
            {"role": "assistant", "content": answer},
            {"role": "user", "content": "And another?"},
        ]
        worker.send(op="generate", id=2, mode="chat", messages=follow, sampling=sampling, threads=1)
        second, _ = worker.until("done")
        # The first turn's tokens stayed in the KV cache: only the new part was evaluated.
        assert second["prompt_tokens"] > done["prompt_tokens"]
        assert 0 < second["prompt_evaluated"] <= second["prompt_tokens"] - done["prompt_tokens"]
        assert second["perf"]["prompt_tokens"] == second["prompt_evaluated"]
    finally:
        worker.close()
