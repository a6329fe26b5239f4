"""Async-iterator adapters over the stream decoders, for tests that feed whole streams.

workbench itself feeds its decoders one network read at a time (``LineSplitter.feed``,
``Decoder.feed``); these wrap them for an async iterator of bytes or lines.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from workbench.errors import WorkbenchError
from workbench.models.backends.lines import MAX_LINE, LineSplitter
from workbench.models.backends.streams import NDJSON, SSEDecoder, SSEEvent, decoded


async def iter_lines(
    chunks: AsyncIterable[bytes], *, max_line: int = MAX_LINE
) -> AsyncIterator[str]:
    """The lines of a byte stream (see ``LineSplitter``); a last line without an ending too."""
    splitter = LineSplitter(max_line)
    lines: list[str] = []
    async for chunk in chunks:
        error: WorkbenchError | None = None
        try:
            splitter.feed(chunk, lines)
        except WorkbenchError as exc:
            error = exc  # after the lines before it
        for line in lines:
            yield line
        lines.clear()
        if error is not None:
            raise error
    splitter.close(lines)
    for line in lines:
        yield line


async def iter_sse(lines: AsyncIterable[str]) -> AsyncIterator[SSEEvent]:
    """The ``SSEEvent``s of a stream's lines (see ``SSEDecoder``)."""
    events = SSEDecoder()
    out: list[SSEEvent] = []
    async for line in lines:
        events._take([line], out)
        for event in out:
            yield event
        out.clear()
    events._end(out)
    for event in out:
        yield event


def iter_ndjson(
    chunks: AsyncIterable[bytes], *, max_line: int = MAX_LINE
) -> AsyncIterator[dict[str, Any]]:
    """The objects of a newline-delimited JSON stream (see ``NDJSON``)."""
    return decoded(NDJSON(max_line=max_line), chunks)
