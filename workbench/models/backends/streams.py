"""Reading a streamed answer: SSE events and the JSON objects of SSE or NDJSON streams.

The decoders are synchronous and fed one network read at a time: ``feed``
returns what the read completes, ``close`` what an unfinished last line or
event holds at the end. One call per read costs a fraction of the stacked
async generators (lines, then events, then JSON) this used to be, at the
rates of a loopback server; ``iter_sse``, ``iter_ndjson`` and ``SSEJson.parse``
wrap them for an async iterator. Lines come from ``workbench.models.backends.lines``.

The parsers need no network, so they are tested without one. Every way a
stream's content can go wrong ends as a typed ``BackendError`` subclass with a
message a user can act on, and memory stays bounded by a cap on the length of
one line. Sending the request is ``workbench.models.backends.http``'s job.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from workbench.errors import BackendError, StreamProtocolError, WorkbenchError
from workbench.models.backends.http_errors import describe_error, snip
from workbench.models.backends.lines import MAX_LINE, LineSplitter

__all__ = [
    "NDJSON",
    "Decoder",
    "SSEDecoder",
    "SSEEvent",
    "SSEJson",
    "checked",
    "count_of",
    "decoded",
    "number_of",
    "parse_json",
]

_LONE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


# --- decoders ------------------------------------------------------------------------


class Decoder(Protocol):
    """What ``StreamingClient.stream`` reads an answer with."""

    #: The stream said it is complete (SSE's ``[DONE]``); what follows is not read.
    done: bool
    #: The error that ended the stream, to raise once the objects before it are handled.
    error: WorkbenchError | None

    def feed(self, chunk: bytes) -> list[Any]: ...

    def close(self) -> list[Any]: ...


class _LineDecoder:
    """A ``Decoder`` over lines; subclasses say what a line means (``_take``).

    An error is not raised by ``feed``: the objects before it are returned and
    the error is kept in ``error``, for the caller to raise once it has handled
    them, as text received before a bad frame is kept.
    """

    def __init__(self, *, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self.done = False
        self.error: WorkbenchError | None = None
        self._lines = LineSplitter(max_line)

    def feed(self, chunk: bytes) -> list[Any]:
        """The objects ``chunk`` completes; see ``error``."""
        out: list[Any] = []
        if self.done or self.error is not None:
            return out
        lines: list[str] = []
        split_error: WorkbenchError | None = None
        try:
            self._lines.feed(chunk, lines)
        except WorkbenchError as exc:
            split_error = exc  # it comes after the lines it left in ``lines``
        try:
            self._take(lines, out)
        except WorkbenchError as exc:
            self.error = exc
        else:
            if not self.done:  # nothing after the end is read, not even a bad byte
                self.error = split_error
        return out

    def close(self) -> list[Any]:
        """At the end of the stream: what an unterminated last line or event holds."""
        out: list[Any] = []
        if self.done or self.error is not None:
            return out
        lines: list[str] = []
        try:
            self._lines.close(lines)
            self._take(lines, out)
            if not self.done:
                self._end(out)
        except WorkbenchError as exc:
            self.error = exc
        return out

    def _take(self, lines: list[str], out: list[Any]) -> None:
        raise NotImplementedError

    def _end(self, out: list[Any]) -> None:
        """The end of the stream, after its last line."""


async def decoded(decoder: Decoder, chunks: AsyncIterable[bytes]) -> AsyncIterator[Any]:
    """What ``decoder`` reads from ``chunks``, as an async iterator; it stops at ``done``."""
    async for chunk in chunks:
        for obj in decoder.feed(chunk):
            yield obj
        if decoder.error is not None:
            raise decoder.error
        if decoder.done:
            return
    for obj in decoder.close():
        yield obj
    if decoder.error is not None:
        raise decoder.error


# --- SSE -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SSEEvent:
    data: str
    event: str = "message"
    id: str | None = None


class SSEDecoder(_LineDecoder):
    """The events of a Server-Sent Events stream, following the WHATWG rules.

    ``:`` comment lines (keep-alives) are skipped, the ``data`` lines of one
    event are joined with newlines, a blank line ends an event and an event
    without data is dropped. A bare ``error:`` field, which some servers send,
    makes an event of type ``error``. An event still open when the stream ends
    is delivered, so that the JSON check sees a cut-off last frame.
    """

    def __init__(self, *, max_line: int = MAX_LINE) -> None:
        super().__init__(max_line=max_line)
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None

    def _take(self, lines: list[str], out: list[Any]) -> None:
        data = self._data
        for line in lines:
            if not line:
                if data:
                    self._dispatch(out)
                    if self.done:
                        return
                    data = self._data = []
                self._event = ""
                continue
            if line.startswith("data: "):  # the common case, first
                data.append(line[6:])
                continue
            if line[0] == ":":
                continue
            name, colon, value = line.partition(":")
            if colon and value[:1] == " ":
                value = value[1:]
            if name == "data":
                data.append(value)
            elif name == "event":
                self._event = value
            elif name == "id":
                self._id = value
            elif name == "error":
                self._event = "error"
                data.append(value)
            # "retry" and unknown fields are ignored, as the spec says.

    def _end(self, out: list[Any]) -> None:
        if self._data:
            self._dispatch(out)

    def _dispatch(self, out: list[Any]) -> None:
        """One event is complete: its data lines are in ``self._data``."""
        out.append(SSEEvent("\n".join(self._data), self._event or "message", self._id))


class SSEJson(SSEDecoder):
    """Reads the JSON objects of an OpenAI-style SSE stream, up to ``data: [DONE]``.

    ``done`` tells afterwards whether ``[DONE]`` arrived: that is how a finished
    stream is told from one the connection cut short. ``event: error`` and
    ``{"error": …}`` frames raise ``BackendError`` with the server's message.
    """

    def feed(self, chunk: bytes) -> list[Any]:
        # The usual read is one whole frame, b"data: {...}\n\n", with nothing
        # pending before it: read here without the line splitter and the field
        # loop, which cost a sixth of a token's CPU in bench/fanout.py. Anything
        # else takes the general path, which also words any error in it.
        lines = self._lines
        if (
            chunk.startswith(b"data: ")
            and chunk.find(b"\n") == len(chunk) - 2
            and chunk.endswith(b"\n\n")
            and lines.idle
            and not (self._data or self._event)
            and self.error is None
            and not self.done
            and len(chunk) - 2 <= self.max_line
            and b"\r" not in chunk
        ):
            try:
                data = chunk[6:-2].decode("utf-8").strip()
            except UnicodeDecodeError:
                pass
            else:
                out: list[Any] = []
                try:
                    if data == "[DONE]":
                        self.done = True
                    elif data:
                        out.append(checked(parse_json(data)))
                except WorkbenchError as exc:
                    self.error = exc
                return out
        return super().feed(chunk)

    def _dispatch(self, out: list[Any]) -> None:
        data = "\n".join(self._data).strip()
        if self._event == "error":
            raise BackendError(f"The server reported an error: {describe_error(data)}")
        if data == "[DONE]":
            self.done = True
        elif data:
            out.append(checked(parse_json(data)))

    def parse(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[dict[str, Any]]:
        """The objects of ``chunks``, as an async iterator."""
        return decoded(self, chunks)


# --- NDJSON --------------------------------------------------------------------------


class NDJSON(_LineDecoder):
    """The JSON objects of a newline-delimited JSON stream; blank lines are skipped.

    ``{"error": …}`` lines raise ``BackendError`` with the server's message.
    """

    def _take(self, lines: list[str], out: list[Any]) -> None:
        for line in lines:
            if line.strip():
                out.append(checked(parse_json(line)))


# --- JSON ----------------------------------------------------------------------------


_JSON = json.JSONDecoder()


def parse_json(text: str) -> dict[str, Any]:
    """One JSON object, or ``StreamProtocolError`` quoting the start of the bad text."""
    # raw_decode is json.loads without its two whitespace scans, a third of its
    # time on a token's frame. Anything it does not read whole (whitespace
    # around, extra data, an error) goes through json.loads for its exact verdict.
    try:
        value, end = _JSON.raw_decode(text)
    except (ValueError, RecursionError):
        end = -1
    if end != len(text):
        value = _loads(text)
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


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise StreamProtocolError(
            f"The server sent something that is not valid JSON ({exc.msg}): {snip(text)!r}"
        ) from None
    except RecursionError:
        raise StreamProtocolError(
            f"The server sent JSON nested too deeply to read: {snip(text[:40])!r}"
        ) from None


def checked(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj``, unless it is an ``{"error": …}`` frame, which raises ``BackendError``."""
    if obj.get("error"):
        raise BackendError(f"The server reported an error: {describe_error(obj)}")
    return obj


def count_of(value: Any) -> int | None:
    """A token count from a server's JSON, or ``None`` if it is missing or not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def number_of(value: Any, scale: float = 1.0) -> float | None:
    """A figure from a server's JSON times ``scale``, or ``None`` if it is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) * scale
