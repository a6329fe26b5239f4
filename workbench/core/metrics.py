"""Pure functions: the figures of a run from its stamped chunks and the backend's usage.

Definitions (the README repeats them):
- time to first token: request sent → first non-empty text;
- total time: request sent → end of the stream;
- generation tokens/s: (output tokens − 1) / (last token time − first token time),
  since the first token's time belongs to prompt processing;
- prompt tokens/s: only when the backend reports its prompt timing, over the prompt
  tokens it evaluated (a cached prefix is not evaluated: ``cached_prompt_tokens``);
- a reasoning model's thinking tokens are output tokens: the rate's span then runs
  from its first thinking token, and ``rate_span`` says so.
Token counts are the backend's truth, never a count of chunks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.core.record import ModelRun


@dataclass(frozen=True)
class Figures:
    ttft_s: float | None
    total_s: float | None
    prompt_tokens: int | None
    output_tokens: int | None
    gen_tokens_per_s: float | None
    prompt_tokens_per_s: float | None
    #: The same figures as the model's own side reported them, with its label.
    server_source: str | None = None
    #: Of ``prompt_tokens``, how many came from the cache (``None``: not reported).
    cached_prompt_tokens: int | None = None
    #: What the generation rate's tokens and span cover: "answer" or
    #: "thinking + answer" (a reasoning model's thinking counts in its output tokens).
    rate_span: str = "answer"
    server_gen_tokens_per_s: float | None = None
    server_prompt_tokens_per_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def generation_rate(
    output_tokens: int | None, first_s: float | None, last_s: float | None
) -> float | None:
    """(tokens − 1) / (last − first); ``None`` when it cannot be measured honestly."""
    if output_tokens is None or first_s is None or last_s is None:
        return None
    span = last_s - first_s
    if output_tokens < 2 or span <= 0:
        return None
    return (output_tokens - 1) / span


def first_text_offset(chunks: list[tuple[float, str]]) -> float | None:
    """Offset of the first chunk that carries visible text (whitespace counts)."""
    return next((t for t, text in chunks if text), None)


def figures(run: ModelRun) -> Figures:
    timings = run.timings
    first = run.first_token_s if run.first_token_s is not None else first_text_offset(run.chunks)
    last = (
        run.last_token_s
        if run.last_token_s is not None
        else (run.chunks[-1][0] if run.chunks else None)
    )
    return Figures(
        ttft_s=first,
        total_s=run.total_s,
        prompt_tokens=run.prompt_tokens,
        output_tokens=run.output_tokens,
        gen_tokens_per_s=generation_rate(run.output_tokens, first, last),
        prompt_tokens_per_s=timings.prompt_tokens_per_s if timings else None,
        server_source=timings.source if timings else None,
        server_gen_tokens_per_s=timings.gen_tokens_per_s if timings else None,
        server_prompt_tokens_per_s=timings.prompt_tokens_per_s if timings else None,
        cached_prompt_tokens=run.cached_prompt_tokens,
        rate_span="thinking + answer" if run.thinking else "answer",
    )


def live_rate(chars_or_tokens: int, first_s: float | None, now_s: float) -> float | None:
    """A rough rate while streaming (pieces per second since the first one)."""
    if first_s is None or now_s <= first_s or chars_or_tokens < 2:
        return None
    return (chars_or_tokens - 1) / (now_s - first_s)
