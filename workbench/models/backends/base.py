"""The one contract every backend keeps, and the registry that finds them.

A backend only yields what it receives: text pieces, then one final ``Usage``.
The runner owns the clock, the thread budget and the events, so every backend
is timed and reported the same way.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

from workbench.models.request import Chunk, Request

if TYPE_CHECKING:
    from workbench.models.config import ModelSpec

ProgressCallback = Callable[[float], None]


@runtime_checkable
class Backend(Protocol):
    kind: ClassVar[str]
    #: True when the model runs on this machine's CPU and takes part in the
    #: runner's thread budget.
    local: ClassVar[bool]

    async def load(self, progress: ProgressCallback) -> None:
        """Make the model ready to answer; report progress from 0.0 to 1.0.

        Raises ``ModelLoadError`` (or ``ConnectError`` for a server) with a
        message that says what to fix. Loading twice is a no-op.
        """

    def stream(self, request: Request) -> AsyncIterator[Chunk]:
        """Yield ``TextChunk``s as they arrive, then exactly one ``Usage``.

        Raises a ``BackendError`` subclass on failure; text already yielded
        stays with the caller.
        """

    async def set_threads(self, threads: int) -> None:
        """Change the number of CPU threads of a running generation (local only)."""

    async def cancel(self) -> None:
        """Stop the current generation soon; ``stream`` then ends without ``Usage``."""

    async def close(self) -> None:
        """Free the model (end its worker, close connections)."""


_KINDS: dict[str, str] = {
    "llamacpp": "workbench.models.backends.llamacpp:LlamaCppBackend",
    "openai": "workbench.models.backends.openai:OpenAIBackend",
    "ollama": "workbench.models.backends.ollama:OllamaBackend",
}

BACKEND_KINDS = tuple(_KINDS)


_FACTORIES: dict[str, Callable[[ModelSpec], Backend]] = {}


def register_backend(kind: str, factory: Callable[[ModelSpec], Backend]) -> None:
    """Add a backend kind at run time (tests use this for scripted backends)."""
    _FACTORIES[kind] = factory


def create_backend(spec: ModelSpec) -> Backend:
    """Build the backend for ``spec``; its module is imported only now."""
    if spec.backend in _FACTORIES:
        return _FACTORIES[spec.backend](spec)
    module_name, _, class_name = _KINDS[spec.backend].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(spec)
