"""What the runner tells its listeners, and the record of one model's run.

Events flow  Queued → Loading(progress) → Started → Delta … → Finished
(or Failed / Cancelled at any point). Listeners (the TUI, the CLI, the session
recorder) get them in order through a plain callback, on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.request import ServerTimings

STATES = ("queued", "loading", "streaming", "done", "failed", "cancelled")
FINAL_STATES = ("done", "failed", "cancelled")


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
    text: str = ""
    chunks: list[tuple[float, str]] = field(default_factory=list)
    first_token_s: float | None = None
    last_token_s: float | None = None
    total_s: float | None = None
    load_s: float | None = None
    threads: int | None = None
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    usage_source: str = ""
    finish_reason: str | None = None
    timings: ServerTimings | None = None
    error: dict[str, str] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    t_sent: float | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    def to_dict(self) -> dict[str, Any]:
        from workbench import metrics

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
            "usage": {
                "prompt_tokens": self.prompt_tokens,
                "output_tokens": self.output_tokens,
                "source": self.usage_source,
            },
            "finish_reason": self.finish_reason,
            "timings": self.timings.to_dict() if self.timings else None,
            "error": self.error,
            "info": self.info,
            "figures": figures.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelRun:
        usage = data.get("usage") or {}
        timings = data.get("timings")
        return cls(
            model=str(data["model"]),
            identity=dict(data.get("identity") or {}),
            state=str(data.get("state", "done")),
            conversation=list(data.get("conversation") or []),
            prompt=str(data.get("prompt", "")),
            text=str(data.get("text", "")),
            chunks=[(float(t), str(text)) for t, text in data.get("chunks") or []],
            first_token_s=data.get("first_token_s"),
            last_token_s=data.get("last_token_s"),
            total_s=data.get("total_s"),
            load_s=data.get("load_s"),
            threads=data.get("threads"),
            prompt_tokens=usage.get("prompt_tokens"),
            output_tokens=usage.get("output_tokens"),
            usage_source=str(usage.get("source", "")),
            finish_reason=data.get("finish_reason"),
            timings=ServerTimings.from_dict(timings) if timings else None,
            error=data.get("error"),
            info=dict(data.get("info") or {}),
        )


@dataclass(frozen=True)
class Event:
    model: str


@dataclass(frozen=True)
class Queued(Event):
    pass


@dataclass(frozen=True)
class Loading(Event):
    progress: float


@dataclass(frozen=True)
class Started(Event):
    threads: int | None = None


@dataclass(frozen=True)
class Delta(Event):
    text: str
    offset: float


@dataclass(frozen=True)
class ThreadsChanged(Event):
    threads: int


@dataclass(frozen=True)
class Finished(Event):
    run: ModelRun


@dataclass(frozen=True)
class Failed(Event):
    run: ModelRun
    error: dict[str, str]


@dataclass(frozen=True)
class Cancelled(Event):
    run: ModelRun
