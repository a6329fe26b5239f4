"""The record of one model's run: what a session stores per model, and its states."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.core import metrics
from workbench.models.request import ServerTimings

STATES = ("queued", "loading", "streaming", "done", "failed", "cancelled")
FINAL_STATES = ("done", "failed", "cancelled")


class JoinedText:
    """``ModelRun.text``: pieces appended while a run streams are joined when it is read.

    Appending is O(1) per token (``run.text += piece`` copied the whole answer each
    time); a read joins what came since the last read, once.
    """

    def __get__(self, run: ModelRun | None, owner: type | None = None) -> str:
        if run is None:
            return ""  # the dataclass field's default
        pieces = run.__dict__["_text_pieces"]
        if len(pieces) > 1:
            pieces[:] = ["".join(pieces)]
        return pieces[0] if pieces else ""

    def __set__(self, run: ModelRun, value: str) -> None:
        run.__dict__["_text_pieces"] = [value] if value else []


@dataclass
class ModelRun:
    """Everything one model did for one prompt; what a session stores per model.

    Times are seconds relative to ``t_sent`` (the moment the request went to
    the backend); ``t_sent`` itself is a ``time.monotonic()`` value that is not
    saved, since it means nothing outside this process.
    """

    model: str
    identity: dict[str, Any] = field(default_factory=dict)
    state: str = "queued"
    conversation: list[dict[str, str]] = field(default_factory=list)
    prompt: str = ""
    text: str = JoinedText()  # type: ignore[assignment]
    chunks: list[tuple[float, str]] = field(default_factory=list)
    first_token_s: float | None = None
    last_token_s: float | None = None
    total_s: float | None = None
    load_s: float | None = None
    threads: int | None = None
    #: The sampling values this run used, every one explicit (``workbench.models.settings``).
    sampling: dict[str, Any] = field(default_factory=dict)
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    #: Of ``prompt_tokens``, how many came from the model's cache (not evaluated).
    cached_prompt_tokens: int | None = None
    #: Of ``output_tokens``, how many were thinking tokens (when the server says).
    thinking_tokens: int | None = None
    usage_source: str = ""
    finish_reason: str | None = None
    timings: ServerTimings | None = None
    error: dict[str, str] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    #: A reasoning model's thinking, apart from its answer, and its timeline.
    thinking: str = ""
    thinking_chunks: list[tuple[float, str]] = field(default_factory=list)
    t_sent: float | None = field(default=None, repr=False)

    def append_text(self, piece: str) -> None:
        """Add a streamed piece to ``text`` (joined when ``text`` is next read)."""
        self.__dict__["_text_pieces"].append(piece)

    def _thinking_dict(self) -> dict[str, Any]:
        return {
            "thinking": self.thinking,
            "thinking_chunks": [[round(t, 6), text] for t, text in self.thinking_chunks],
        }

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    def to_dict(self) -> dict[str, Any]:
        figures = metrics.figures(self)
        return {
            "model": self.model,
            "identity": self.identity,
            "state": self.state,
            "conversation": self.conversation,
            "prompt": self.prompt,
            "text": self.text,
            "chunks": [[round(t, 6), text] for t, text in self.chunks],
            "first_token_s": self.first_token_s,
            "last_token_s": self.last_token_s,
            "total_s": self.total_s,
            "load_s": self.load_s,
            "threads": self.threads,
            "sampling": self.sampling,
            "usage": {
                "prompt_tokens": self.prompt_tokens,
                "output_tokens": self.output_tokens,
                "cached_prompt_tokens": self.cached_prompt_tokens,
                "thinking_tokens": self.thinking_tokens,
                "source": self.usage_source,
            },
            "finish_reason": self.finish_reason,
            "timings": self.timings.to_dict() if self.timings else None,
            "error": self.error,
            "info": self.info,
            **(self._thinking_dict() if self.thinking else {}),
            "figures": figures.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelRun:
        """Rebuild a saved run; a field of the wrong type raises ``TypeError``."""
        usage = _table(data.get("usage"), "usage")
        timings = data.get("timings")
        error = data.get("error")
        if error is not None and not (
            isinstance(error, dict)
            and isinstance(error.get("title"), str)
            and isinstance(error.get("message"), str)
        ):
            raise TypeError("'error' must be an object with a title and a message")
        chunks = data.get("chunks") or []
        if not isinstance(chunks, list) or not all(
            isinstance(c, list) and len(c) == 2 and _is_number(c[0]) and isinstance(c[1], str)
            for c in chunks
        ):
            raise TypeError("'chunks' must be a list of [seconds, text] pairs")
        return cls(
            model=_str(data["model"], "model"),
            identity=_table(data.get("identity"), "identity"),
            state=_str(data.get("state", "done"), "state"),
            conversation=list(data.get("conversation") or []),
            prompt=_str(data.get("prompt", ""), "prompt"),
            text=_str(data.get("text", ""), "text"),
            chunks=[(float(t), text) for t, text in chunks],
            first_token_s=_seconds(data, "first_token_s"),
            last_token_s=_seconds(data, "last_token_s"),
            total_s=_seconds(data, "total_s"),
            load_s=_seconds(data, "load_s"),
            threads=_count(data.get("threads"), "threads"),
            sampling=_table(data.get("sampling"), "sampling"),
            prompt_tokens=_count(usage.get("prompt_tokens"), "prompt_tokens"),
            output_tokens=_count(usage.get("output_tokens"), "output_tokens"),
            cached_prompt_tokens=_count(usage.get("cached_prompt_tokens"), "cached_prompt_tokens"),
            thinking_tokens=_count(usage.get("thinking_tokens"), "thinking_tokens"),
            thinking=_str(data.get("thinking", ""), "thinking"),
            thinking_chunks=_timeline(data.get("thinking_chunks"), "thinking_chunks"),
            usage_source=_str(usage.get("source", ""), "usage.source"),
            finish_reason=data.get("finish_reason"),
            timings=ServerTimings.from_dict(_table(timings, "timings")) if timings else None,
            error=error,
            info=_table(data.get("info"), "info"),
        )


def _timeline(value: Any, key: str) -> list[tuple[float, str]]:
    """A saved ``[[seconds, text], …]`` list."""
    items = value or []
    if not isinstance(items, list) or not all(
        isinstance(c, list) and len(c) == 2 and _is_number(c[0]) and isinstance(c[1], str)
        for c in items
    ):
        raise TypeError(f"{key!r} must be a list of [seconds, text] pairs")
    return [(float(t), text) for t, text in items]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _seconds(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is not None and not _is_number(value):
        raise TypeError(f"{key!r} must be a number of seconds, not {value!r:.40}")
    return value


def _count(value: Any, key: str) -> int | None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise TypeError(f"{key!r} must be a whole number, not {value!r:.40}")
    return value


def _str(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{key!r} must be a string, not {value!r:.40}")
    return value


def _table(value: Any, key: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"{key!r} must be an object, not {value!r:.40}")
    return dict(value)
