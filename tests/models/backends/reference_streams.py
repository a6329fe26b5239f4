"""The stream parsers as they were before the synchronous decoders: the reference.

Stacked async generators (lines, then SSE events, then JSON), kept verbatim
from ``workbench/models/backends/streams.py`` before the change, so that
``test_decoders.py`` can check the decoders against them on the same bytes
split in every way.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any

from workbench.errors import BackendError, StreamProtocolError
from workbench.models.backends.http_errors import describe_error, snip

MAX_LINE = 1 << 20
_LONE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


async def iter_lines(
    chunks: AsyncIterable[bytes], *, max_line: int = MAX_LINE
) -> AsyncIterator[str]:
    """Lines of a byte stream, decoded as strict UTF-8, without their line endings.

    Lines end in LF, CRLF or a lone CR (SSE allows all three) and may be split
    anywhere across reads, even inside a multi-byte character, so decoding
    happens per line. A last line without an ending is still yielded. A line
    longer than ``max_line`` bytes raises ``StreamProtocolError``.
    """
    buffer = bytearray()
    first = True
    async for chunk in chunks:
        buffer += chunk
        pos = 0
        while (found := _next_break(buffer, pos)) is not None:
            end, after = found
            line = _decode(buffer[pos:end], max_line)
            yield line.removeprefix("\ufeff") if first else line
            first = False
            pos = after
        del buffer[:pos]
        if len(buffer) > max_line:
            raise _too_long(max_line)
    if buffer:
        # A trailing CR was held back in case an LF followed; the stream ended instead.
        line = _decode(buffer.removesuffix(b"\r"), max_line)
        yield line.removeprefix("\ufeff") if first else line


def _next_break(buffer: bytearray, pos: int) -> tuple[int, int] | None:
    """(end of the line, start of the next) for the first line ending at or after ``pos``."""
    lf = buffer.find(b"\n", pos)
    cr = buffer.find(b"\r", pos, lf if lf >= 0 else len(buffer))
    if cr < 0:
        return None if lf < 0 else (lf, lf + 1)
    if cr + 1 == len(buffer):
        return None  # an LF may come in the next read
    return cr, cr + 2 if buffer[cr + 1] == 0x0A else cr + 1


def _decode(raw: bytes | bytearray, max_line: int) -> str:
    if len(raw) > max_line:
        raise _too_long(max_line)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StreamProtocolError(
            f"The server sent bytes that are not valid UTF-8 ({exc.reason} at byte "
            f"{exc.start} of a line)."
        ) from None


def _too_long(max_line: int) -> StreamProtocolError:
    return StreamProtocolError(
        f"The server sent a line longer than {max_line // 1024} KiB; the stream was stopped."
    )


@dataclass(frozen=True)
class SSEEvent:
    data: str
    event: str = "message"
    id: str | None = None


async def iter_sse(lines: AsyncIterable[str]) -> AsyncIterator[SSEEvent]:
    """The events of a Server-Sent Events stream, following the WHATWG rules.

    ``:`` comment lines (keep-alives) are skipped, the ``data`` lines of one
    event are joined with newlines, a blank line ends an event and an event
    without data is dropped. A bare ``error:`` field, which some servers send,
    makes an event of type ``error``. An event still open when the stream ends
    is delivered, so that the JSON check sees a cut-off last frame.
    """
    data: list[str] = []
    event = ""
    last_id: str | None = None
    async for line in lines:
        if not line:
            if data:
                yield SSEEvent("\n".join(data), event or "message", last_id)
            data, event = [], ""
            continue
        if line.startswith(":"):
            continue
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id":
            last_id = value
        elif name == "error":
            event = "error"
            data.append(value)
        # "retry" and unknown fields are ignored, as the spec says.
    if data:
        yield SSEEvent("\n".join(data), event or "message", last_id)


class OldSSEJson:
    """Reads the JSON objects of an OpenAI-style SSE stream, up to ``data: [DONE]``.

    ``done`` tells afterwards whether ``[DONE]`` arrived: that is how a finished
    stream is told from one the connection cut short. ``event: error`` and
    ``{"error": …}`` frames raise ``BackendError`` with the server's message.
    """

    def __init__(self, *, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self.done = False

    async def parse(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[dict[str, Any]]:
        async for event in iter_sse(iter_lines(chunks, max_line=self.max_line)):
            data = event.data.strip()
            if event.event == "error":
                raise BackendError(f"The server reported an error: {describe_error(data)}")
            if data == "[DONE]":
                self.done = True
                return
            if data:
                yield checked(parse_json(data))


async def iter_ndjson(
    chunks: AsyncIterable[bytes], *, max_line: int = MAX_LINE
) -> AsyncIterator[dict[str, Any]]:
    """The JSON objects of a newline-delimited JSON stream; blank lines are skipped.

    ``{"error": …}`` lines raise ``BackendError`` with the server's message.
    """
    async for line in iter_lines(chunks, max_line=max_line):
        if line.strip():
            yield checked(parse_json(line))


def parse_json(text: str) -> dict[str, Any]:
    """One JSON object, or ``StreamProtocolError`` quoting the start of the bad text."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StreamProtocolError(
            f"The server sent something that is not valid JSON ({exc.msg}): {snip(text)!r}"
        ) from None
    except RecursionError:
        raise StreamProtocolError(
            f"The server sent JSON nested too deeply to read: {snip(text[:40])!r}"
        ) from None
    if not isinstance(value, dict):
        raise StreamProtocolError(f"The server sent JSON that is not an object: {snip(text)!r}")
    if "\\u" in text and _LONE_SURROGATE.search(text):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise StreamProtocolError(
                "The server sent text that is not valid Unicode (an escaped lone surrogate, "
                f"half of a character): {snip(text)!r}"
            ) from None
    return value


def checked(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj``, unless it is an ``{"error": …}`` frame, which raises ``BackendError``."""
    if obj.get("error"):
        raise BackendError(f"The server reported an error: {describe_error(obj)}")
    return obj
