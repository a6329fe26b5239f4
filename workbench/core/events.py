"""What the runner tells its listeners, as it happens.

Events flow  Queued → Loading(progress) → Started → Delta … → Finished
(or Failed / Cancelled at any point). Listeners (the TUI, the CLI, the session
recorder) get them in order through a plain callback, on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.core.record import ModelRun


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

    def __init__(self, model: str, text: str, offset: float) -> None:
        # One Delta per token: writing the fields into __dict__ costs half the
        # frozen dataclass's own __init__ (an object.__setattr__ per field).
        # Instances stay frozen: assigning a field still raises.
        fields = self.__dict__
        fields["model"] = model
        fields["text"] = text
        fields["offset"] = offset


@dataclass(frozen=True)
class Thinking(Event):
    """A piece of a reasoning model's thinking, apart from its answer (``Delta``)."""

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


@dataclass(frozen=True)
class Notice(Event):
    """Something the user should read before the run goes on (``model`` is empty):
    e.g. the models do not fit in memory together and run in groups."""

    text: str
