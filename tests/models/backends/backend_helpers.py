"""Helpers for backend tests: collecting a stream, building specs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from workbench.errors import WorkbenchError
from workbench.models.config import ModelSpec
from workbench.models.request import Chunk, TextChunk, Usage


async def collect(stream: AsyncIterator[Chunk]) -> tuple[str, list[Usage], WorkbenchError | None]:
    """Drain ``stream``: the text, the Usage chunks and the error it ended with (if any)."""
    text, usages = "", []
    try:
        async for chunk in stream:
            if isinstance(chunk, TextChunk):
                text += chunk.text
            else:
                usages.append(chunk)
    except WorkbenchError as exc:
        return text, usages, exc
    return text, usages, None


def server_spec(backend: str, url: str, **kw: Any) -> ModelSpec:
    """A spec with short timeouts, so a test that waits for one stays fast."""
    values: dict[str, Any] = {
        "name": "m",
        "backend": backend,
        "url": url,
        "model": "fake-model",
        "connect_timeout": 2.0,
        "gap_timeout": 5.0,
        "deadline": 20.0,
    }
    return ModelSpec(**(values | kw))
