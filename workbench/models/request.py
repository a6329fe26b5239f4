"""What crosses the backend boundary: a Request in, Chunks out.

Plain frozen dataclasses so that the runner, the CLI, the TUI and the session
store all speak the same types, and none of them needs a terminal.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Mode = Literal["chat", "completion"]


@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class Sampling:
    """Sampling settings; ``None`` means "the model's default"."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    top_k: int | None = None
    min_p: float | None = None
    repeat_penalty: float | None = None

    def merged_over(self, defaults: Sampling) -> Sampling:
        """These settings, with the gaps filled from ``defaults``."""
        return Sampling(
            **{
                name: value if value is not None else getattr(defaults, name)
                for name, value in asdict(self).items()
            }
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FALLBACK_SAMPLING = Sampling(
    temperature=0.2, top_p=0.95, max_tokens=256, seed=None, top_k=40, min_p=0.05, repeat_penalty=1.0
)


@dataclass(frozen=True)
class Request:
    """One prompt for one model.

    ``messages`` is the whole conversation so far in chat mode (a follow-up turn
    carries the earlier turns); ``prompt`` is the raw text in completion mode.
    ``threads`` is set by the runner for local models (its CPU thread budget).
    ``stop`` holds this prompt's own stop strings, on top of the model's (HumanEval's
    completion protocol stops at ``\ndef `` and friends). A chat request whose last
    message is the assistant's asks the model to continue that message (a prefilled
    response, as EvalPlus's chat prompt does).
    """

    mode: Mode = "chat"
    messages: tuple[Message, ...] = ()
    prompt: str = ""
    sampling: Sampling = field(default_factory=Sampling)
    threads: int | None = None
    stop: tuple[str, ...] = ()
    #: Reuse nothing of an earlier prompt (llama.cpp's KV cache, llama-server's
    #: ``cache_prompt``), for a time to first token that compares fairly (``--cold``).
    cold: bool = False

    @classmethod
    def chat(cls, user: str, *, system: str | None = None, **kw: Any) -> Request:
        messages = ((Message("system", system),) if system else ()) + (Message("user", user),)
        return cls(mode="chat", messages=messages, **kw)

    @classmethod
    def completion(cls, prompt: str, **kw: Any) -> Request:
        return cls(mode="completion", prompt=prompt, **kw)

    @property
    def last_user_text(self) -> str:
        if self.mode == "completion":
            return self.prompt
        users = [m.content for m in self.messages if m.role == "user"]
        return users[-1] if users else ""


@dataclass(frozen=True)
class TextChunk:
    """A piece of generated text, as the backend received it.

    ``t`` is an optional ``time.monotonic()`` stamp taken where the text was
    produced (a local worker process shares the system's monotonic clock); the
    runner uses it when present and its own clock otherwise.
    """

    text: str
    t: float | None = None


@dataclass(frozen=True)
class ServerTimings:
    """Figures reported by the model's own side, labelled with where they came from.

    ``source`` is e.g. ``"llama.cpp perf"``, ``"llama-server timings"`` or
    ``"ollama"``. Any field the source does not report stays ``None``.
    """

    source: str
    prompt_tokens: int | None = None
    prompt_ms: float | None = None
    output_tokens: int | None = None
    generation_ms: float | None = None
    load_ms: float | None = None

    @property
    def prompt_tokens_per_s(self) -> float | None:
        return _rate(self.prompt_tokens, self.prompt_ms)

    @property
    def gen_tokens_per_s(self) -> float | None:
        return _rate(self.output_tokens, self.generation_ms)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["prompt_tokens_per_s"] = self.prompt_tokens_per_s
        data["gen_tokens_per_s"] = self.gen_tokens_per_s
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServerTimings:
        numbers = {"prompt_tokens", "prompt_ms", "output_tokens", "generation_ms", "load_ms"}
        values = {k: v for k, v in data.items() if k in numbers}
        for key, value in values.items():
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise TypeError(f"timings {key!r} must be a number, not {value!r:.40}")
        if not isinstance(data.get("source"), str):
            raise TypeError("timings need a 'source' string")
        return cls(source=data["source"], **values)


def _rate(count: int | None, ms: float | None) -> float | None:
    if not count or not ms or ms <= 0:
        return None
    return count / (ms / 1000.0)


@dataclass(frozen=True)
class Usage:
    """The last chunk of every successful stream: the backend's own truth.

    ``prompt_tokens`` and ``output_tokens`` come from the tokenizer, the perf
    counters or the server's ``usage``; ``source`` says which.
    """

    prompt_tokens: int | None
    output_tokens: int | None
    finish_reason: str | None = None
    source: str = ""
    timings: ServerTimings | None = None
    info: dict[str, Any] = field(default_factory=dict)
    #: Of ``prompt_tokens``, how many came from the cache (not evaluated); ``None``
    #: when the backend does not say.
    cached_prompt_tokens: int | None = None
    #: Of ``output_tokens``, how many were thinking (reasoning) tokens, when reported.
    thinking_tokens: int | None = None


@dataclass(frozen=True)
class ThinkingChunk:
    """A piece of a reasoning model's thinking (``reasoning_content``, Ollama's
    ``thinking``): kept apart from the answer, though its tokens are output tokens."""

    text: str
    t: float | None = None


Chunk = TextChunk | ThinkingChunk | Usage
