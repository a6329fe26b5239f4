"""A scripted backend: fixed text at a fixed pace, for UI tests, demos and benchmarks.

Not a stand-in for real models in the tests of features (those run the bundled
GGUFs); it makes layouts deterministic and faults injectable.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import ClassVar

from workbench.errors import BackendError
from workbench.models.backends.base import ProgressCallback
from workbench.models.config import ModelSpec
from workbench.models.request import Chunk, Request, TextChunk, Usage


class ScriptedBackend:
    """Yields ``text`` split into words, ``delay`` seconds apart.

    ``fail_after`` raises a BackendError after that many pieces, to test how a
    failure shows in one pane while the others go on.
    """

    kind: ClassVar[str] = "scripted"
    local: ClassVar[bool] = False

    def __init__(
        self,
        spec: ModelSpec,
        text: str = "Hello from a scripted model.\n\n```python\nprint('hi')\n```\n",
        delay: float = 0.0,
        fail_after: int | None = None,
        load_delay: float = 0.0,
    ) -> None:
        self.spec = spec
        self.text = text
        self.delay = delay
        self.fail_after = fail_after
        self.load_delay = load_delay
        self.loaded = False
        self._cancelled = False

    async def load(self, progress: ProgressCallback) -> None:
        if not self.loaded:
            progress(0.0)
            await asyncio.sleep(self.load_delay)
            self.loaded = True
        progress(1.0)

    async def stream(self, request: Request) -> AsyncIterator[Chunk]:
        self._cancelled = False
        pieces = _pieces(self.text)
        for index, piece in enumerate(pieces):
            if self._cancelled:
                return
            if self.fail_after is not None and index >= self.fail_after:
                raise BackendError("Scripted failure after partial text.")
            if self.delay:
                await asyncio.sleep(self.delay)
            yield TextChunk(piece)
        prompt_tokens = len(request.last_user_text.split()) + 1
        yield Usage(prompt_tokens, len(pieces), "stop", source="scripted")

    async def set_threads(self, threads: int) -> None:
        return None

    async def cancel(self) -> None:
        self._cancelled = True

    async def close(self) -> None:
        self.loaded = False


def _pieces(text: str) -> list[str]:
    """Split into word-sized pieces that join back to ``text`` exactly."""
    pieces: list[str] = []
    current = ""
    for char in text:
        current += char
        if char in " \n":
            pieces.append(current)
            current = ""
    if current:
        pieces.append(current)
    return pieces
