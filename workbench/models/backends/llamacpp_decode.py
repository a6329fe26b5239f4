"""The worker's decode loop on llama.cpp's own C API (through llama-cpp-python's ctypes).

``Llama.generate`` costs about 0.8 ms a token in Python (numpy copies of the input
ids, a sampler rebuilt per call, a generator per token): 10-15 % of a fast model's
time. This loop does per token only what llama-server's does: one ``llama_decode``
of a one-token batch, ``llama_sampler_sample`` on a sampler chain built once per
answer, ``llama_token_to_piece`` into a reused buffer, and a stop-string check on
a short tail window. Nothing per token grows with the answer's length.

The KV cache is kept between answers: a follow-up evaluates only the part of its
prompt that differs from what the cache holds (``Decoder.prompt_evaluated``), unless
the model's sliding-window layers no longer hold what that part needs.
"""

from __future__ import annotations

import codecs
import ctypes
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import llama_cpp

#: Text pieces are sent at most this often (the first one at once), so the parent
#: wakes up ~40 times a second rather than once per token.
FLUSH_INTERVAL_S = 0.025
#: How many recent tokens the repeat penalty looks at (llama-server's repeat_last_n).
PENALTY_LAST_N = 64
#: A sliding-window model keeps a cached start only when it is at least this share of
#: what is left to evaluate (1/8). After a partial removal its window's cells no longer
#: follow the positions in order, and a long prompt evaluates ~5 % slower than from an
#: empty cache (Gemma 3, 2,048 tokens: bench/native.py); a few shared tokens are not
#: worth that. Models without a window show no such cost and keep any shared start.
SWA_KEEP_SHARE = 8


class DecodeError(RuntimeError):
    """llama_decode failed (no room in the KV cache, an invalid batch, an abort)."""


@dataclass
class Outcome:
    """How one answer ended; the worker puts it in its ``done`` event."""

    output_tokens: int = 0
    finish_reason: str = "length"
    #: Prompt tokens evaluated for this answer; the rest came from the KV cache.
    prompt_evaluated: int = 0
    perf: dict[str, Any] = field(default_factory=dict)


class Decoder:
    """One llama.cpp context's KV cache and the tokens it holds, in order.

    ``llm`` is a loaded ``llama_cpp.Llama``; only its context and vocabulary are used
    (its own token bookkeeping is bypassed, so this object owns the cache from the
    first prompt on).
    """

    def __init__(self, llm: Any) -> None:
        self.llm = llm  # keeps the context alive as long as this object
        self.ctx = llm.ctx
        self.vocab = llm._model.vocab
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.n_batch = int(llama_cpp.llama_n_batch(self.ctx))
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(self.vocab))
        self.bos = int(llama_cpp.llama_vocab_bos(self.vocab))
        #: The sliding window of the model's SWA layers (0: none).
        self.n_swa = int(llama_cpp.llama_model_n_swa(llm.model))
        #: The tokens whose keys and values the cache holds, position by position.
        self.cached: list[int] = []
        self._batch = llama_cpp.llama_batch_init(self.n_batch, 0, 1)
        self._piece = ctypes.create_string_buffer(256)

    def close(self) -> None:
        if self._batch is not None:
            llama_cpp.llama_batch_free(self._batch)
            self._batch = None

    # -- the KV cache -------------------------------------------------------------

    def reusable_prefix(self, tokens: list[int]) -> int:
        """How many leading tokens of ``tokens`` the cache already holds and can keep.

        At least one token is always evaluated: its logits are what the first answer
        token is sampled from.
        """
        same = 0
        for cached, new in zip(self.cached, tokens, strict=False):
            if cached != new:
                break
            same += 1
        return min(same, len(tokens) - 1)

    def evaluate_prompt(
        self, tokens: list[int], cancelled: Callable[[], bool] = lambda: False
    ) -> int:
        """Evaluate ``tokens`` after their cached prefix; return how many were evaluated.

        Chunks of n_batch tokens (llama.cpp splits each into n_ubatch micro-batches),
        logits for the last token only, as llama-server does. ``cancelled`` is asked
        between chunks; a cancelled prompt leaves the cache holding what was done.
        """
        keep = self.reusable_prefix(tokens)
        if 0 < keep < len(self.cached) and not self._worth_keeping(keep, len(tokens)):
            keep = 0
        if keep == 0 or not llama_cpp.llama_memory_seq_rm(self.memory, -1, keep, -1):
            # Afresh (or this memory cannot drop a partial sequence). The cleared
            # buffers matter: on Gemma 3 a 2,048-token prompt evaluated 5-9 % slower
            # over the last prompt's stale keys and values (bench/native.py).
            keep = 0
            llama_cpp.llama_memory_clear(self.memory, True)
        del self.cached[keep:]
        batch = self._batch
        for start in range(keep, len(tokens), self.n_batch):
            if start > keep and cancelled():
                break
            chunk = tokens[start : start + self.n_batch]
            last = start + len(chunk) == len(tokens)
            for i, token in enumerate(chunk):
                batch.token[i] = token
                batch.pos[i] = start + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = 0
            if last:
                batch.logits[len(chunk) - 1] = 1
            batch.n_tokens = len(chunk)
            self._decode(chunk)
        return len(self.cached) - keep

    def _worth_keeping(self, keep: int, total: int) -> bool:
        """Whether to go on from position ``keep`` rather than from an empty cache.

        Sliding-window layers without a full-size cache (``swa_full`` off) keep only
        their last window, so going back further needs the whole prompt again (as
        llama-server decides); and a short shared start is not worth its cost
        (``SWA_KEEP_SHARE``)."""
        if self.n_swa <= 0:
            return True
        oldest = int(llama_cpp.llama_memory_seq_pos_min(self.memory, 0))
        if oldest > max(0, keep - self.n_swa):
            return False
        return keep * SWA_KEEP_SHARE >= total - keep

    def step(self, token: int) -> None:
        """Evaluate one answer token at the next position (logits kept for sampling)."""
        batch = self._batch
        batch.token[0] = token
        batch.pos[0] = len(self.cached)
        batch.n_seq_id[0] = 1
        batch.seq_id[0][0] = 0
        batch.logits[0] = 1
        batch.n_tokens = 1
        self._decode((token,))

    def _decode(self, tokens: tuple[int, ...] | list[int]) -> None:
        status = llama_cpp.llama_decode(self.ctx, self._batch)
        if status != 0:
            # What the cache holds after a failure is uncertain: forget all of it.
            llama_cpp.llama_memory_clear(self.memory, True)
            self.cached.clear()
            reason = {1: "no room left in the KV cache", 2: "aborted"}.get(status, "")
            raise DecodeError(f"llama_decode failed ({status}{': ' + reason if reason else ''})")
        self.cached.extend(tokens)

    # -- text ---------------------------------------------------------------------

    def piece(self, token: int) -> bytes:
        """A token's bytes, as ``Llama.detokenize([token])`` gives them."""
        n = llama_cpp.llama_token_to_piece(self.vocab, token, self._piece, 256, 0, False)
        if n < 0:  # longer than the buffer: grow it once for this token's size
            self._piece = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self.vocab, token, self._piece, -n, 0, False)
        data = self._piece.raw[:n]
        if token == self.bos and data[:1] == b" ":
            data = data[1:]  # as llama-cpp-python's detokenize does after a BOS
        return data


class Sampler:
    """A llama.cpp sampler chain for one answer, in llama-server's order: repeat penalty,
    top-k, top-p, min-p, temperature, then a seeded draw (greedy at temperature 0)."""

    def __init__(self, sampling: dict[str, Any], n_vocab: int, seed: int) -> None:
        params = llama_cpp.llama_sampler_chain_default_params()
        params.no_perf = True
        self.chain = llama_cpp.llama_sampler_chain_init(params)
        temperature = float(sampling.get("temperature") or 0.0)
        penalty = sampling.get("repeat_penalty")
        self.penalised = penalty is not None and float(penalty) != 1.0
        add = self._add
        if self.penalised:
            add(llama_cpp.llama_sampler_init_penalties(n_vocab, PENALTY_LAST_N, penalty, 0, 0))
        if temperature <= 0.0:
            add(llama_cpp.llama_sampler_init_greedy())
            return
        top_k = sampling.get("top_k")
        top_p = sampling.get("top_p")
        min_p = sampling.get("min_p")
        add(llama_cpp.llama_sampler_init_top_k(int(40 if top_k is None else top_k)))
        add(llama_cpp.llama_sampler_init_top_p(float(1.0 if top_p is None else top_p), 1))
        add(llama_cpp.llama_sampler_init_min_p(float(0.05 if min_p is None else min_p), 1))
        add(llama_cpp.llama_sampler_init_temp(temperature))
        add(llama_cpp.llama_sampler_init_dist(seed))

    def _add(self, sampler: Any) -> None:
        llama_cpp.llama_sampler_chain_add(self.chain, sampler)

    def prime(self, prompt: list[int]) -> None:
        """Let the repeat penalty see the prompt's last tokens, as llama-server does."""
        if self.penalised:
            for token in prompt[-PENALTY_LAST_N:]:
                llama_cpp.llama_sampler_accept(self.chain, token)

    def sample(self, ctx: Any) -> int:
        """The next token from the last logits (the chain also accepts it)."""
        return llama_cpp.llama_sampler_sample(self.chain, ctx, -1)

    def close(self) -> None:
        llama_cpp.llama_sampler_free(self.chain)


class StopScanner:
    """Finds stop strings in text that arrives piece by piece, looking only at a tail.

    Same answers as scanning the whole text each time (``_visible_text`` in the
    worker): the earliest stop cuts the text, even across pieces; while streaming,
    a tail that may be a stop's beginning is held back. Per piece the work is the
    piece plus the longest stop's length, whatever the answer's length.
    """

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = tuple(stop for stop in stops if stop)
        self._keep = max((len(stop) for stop in self.stops), default=1) - 1
        #: The last characters of the text, from absolute offset ``_start``.
        self._window = ""
        self._start = 0
        #: How much of the text has been released as visible.
        self.sent = 0
        #: A stop was found: the answer ends there, whatever comes after.
        self.stopped = False

    def feed(self, piece: str, final: bool = False) -> tuple[str, bool]:
        """The newly visible text after ``piece``, and whether a stop was found.

        ``final`` (the answer ended): nothing more is held back. After a stop nothing
        more is released: the text held back was the stop's own beginning.
        """
        if self.stopped:
            return "", True
        window = self._window + piece  # starts at offset self._start of the text
        found = [at for at in (window.find(stop) for stop in self.stops) if at != -1]
        if found:
            self.stopped = True
            return self._release(window, min(found)), True
        held = 0
        if not final:
            for stop in self.stops:
                for size in range(min(len(stop) - 1, len(window)), held, -1):
                    if window.endswith(stop[:size]):
                        held = size
                        break
        text = self._release(window, len(window) - held)
        # A stop that ends in a later piece starts within the last _keep characters.
        cut = max(len(window) - self._keep, 0)
        self._window, self._start = window[cut:], self._start + cut
        return text, False

    def _release(self, window: str, end: int) -> str:
        """The text of ``window`` before ``end`` not released yet."""
        begin = self.sent - self._start
        if end <= begin:
            return ""
        self.sent = self._start + end
        return window[begin:end]


def generate(
    decoder: Decoder,
    prompt: list[int],
    sampling: dict[str, Any],
    *,
    seed: int,
    max_tokens: int,
    stop_ids: frozenset[int],
    stop_texts: tuple[str, ...],
    send: Callable[[list[list[Any]]], None],
    between_tokens: Callable[[], bool],
) -> Outcome:
    """Evaluate ``prompt``, then sample up to ``max_tokens`` answer tokens.

    ``send`` gets ``[text, monotonic stamp]`` pieces, batched every
    ``FLUSH_INTERVAL_S``; ``between_tokens`` is called after each token and returns
    True to cancel (it also applies thread changes). Counts are exact: end-of-
    generation and stop tokens are not answer tokens.
    """
    ctx = decoder.ctx
    outcome = Outcome()
    llama_cpp.llama_perf_context_reset(ctx)
    sampler = Sampler(sampling, decoder.n_vocab, seed)
    try:
        outcome.prompt_evaluated = decoder.evaluate_prompt(prompt, between_tokens)
        if len(decoder.cached) < len(prompt):
            outcome.finish_reason = "cancelled"
        else:
            sampler.prime(prompt)
            _answer(
                decoder, sampler, outcome, max_tokens, stop_ids, stop_texts, send, between_tokens
            )
    finally:
        sampler.close()
    perf = llama_cpp.llama_perf_context(ctx)
    outcome.perf = {
        "prompt_tokens": perf.n_p_eval,
        "prompt_ms": perf.t_p_eval_ms,
        "output_tokens": perf.n_eval,
        "generation_ms": perf.t_eval_ms,
    }
    return outcome


def _answer(
    decoder: Decoder,
    sampler: Sampler,
    outcome: Outcome,
    max_tokens: int,
    stop_ids: frozenset[int],
    stop_texts: tuple[str, ...],
    send: Callable[[list[list[Any]]], None],
    between_tokens: Callable[[], bool],
) -> None:
    """The token loop: sample, check the stops, stream the text, decode the token."""
    ctx, vocab = decoder.ctx, decoder.vocab
    is_eog = llama_cpp.llama_vocab_is_eog
    monotonic = time.monotonic
    utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
    scanner = StopScanner(stop_texts)
    pending: list[list[Any]] = []
    last_flush = 0.0
    output = 0
    while output < max_tokens:
        token = sampler.sample(ctx)
        now = monotonic()
        if is_eog(vocab, token) or token in stop_ids:
            outcome.finish_reason = "stop"
            break
        output += 1
        visible, stopped = scanner.feed(utf8.decode(decoder.piece(token)))
        if visible:
            pending.append([visible, now])
        if stopped:
            outcome.finish_reason = "stop"
            break
        if pending and (last_flush == 0.0 or now - last_flush >= FLUSH_INTERVAL_S):
            send(pending)
            pending, last_flush = [], now
        if output >= max_tokens:
            break
        if between_tokens():
            outcome.finish_reason = "cancelled"
            break
        decoder.step(token)
    # The bytes of an unfinished character, and any text held back as a possible stop.
    visible, _ = scanner.feed(utf8.decode(b"", final=True), final=True)
    if visible:
        pending.append([visible, monotonic()])
    if pending:
        send(pending)
    outcome.output_tokens = output
