"""The lines of a streamed answer: split across reads anywhere, decoded, capped in length.

``LineSplitter`` is fed one network read at a time. SSE and NDJSON
(``workbench.models.backends.streams``) are read on top of it.
"""

from __future__ import annotations

from workbench.errors import StreamProtocolError

#: A token stream never needs a longer line; a broken server may send endless bytes.
MAX_LINE = 1 << 20


class LineSplitter:
    """Lines of a byte stream fed in pieces, decoded as strict UTF-8, without their endings.

    Lines end in LF, CRLF or a lone CR (SSE allows all three) and may be split
    anywhere across reads, even inside a multi-byte character, so only whole
    lines are decoded. A byte order mark before the first line is dropped. A
    line longer than ``max_line`` bytes raises ``StreamProtocolError``.
    """

    __slots__ = ("_buffer", "_first", "max_line")

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self._buffer = bytearray()  # the start of a line whose end has not come yet
        self._first = True

    @property
    def idle(self) -> bool:
        """Between two lines, past the first: a read may begin a line of its own."""
        return not (self._buffer or self._first)

    def feed(self, chunk: bytes, out: list[str]) -> None:
        """Append to ``out`` the lines that ``chunk`` ends.

        An error is raised after the lines before it were appended.
        """
        buffer = self._buffer
        if buffer:
            buffer += chunk
            data: bytes | bytearray = buffer
        else:
            data = chunk
        if b"\r" in data or len(data) > self.max_line:
            self._split(data, out)
            return
        # LF endings only and nothing too long: one decode and one split per read.
        end = data.rfind(b"\n")
        if end < 0:
            if data is chunk:
                buffer += chunk
            return
        try:
            text = (data if end == len(data) - 1 else data[: end + 1]).decode("utf-8")
        except UnicodeDecodeError:
            self._split(data, out)  # finds the bad line, and keeps the lines before it
            return
        lines = text.split("\n")
        lines.pop()  # the empty string after the last LF
        if self._first:
            lines[0] = lines[0].removeprefix("\ufeff")
            self._first = False
        out += lines
        if data is chunk:
            if end + 1 < len(chunk):
                buffer += chunk[end + 1 :]
        else:
            del buffer[: end + 1]

    def close(self, out: list[str]) -> None:
        """At the end of the stream, append a last line that had no line ending."""
        if self._buffer:
            # A trailing CR was held back in case an LF followed; the stream ended instead.
            raw = self._buffer.removesuffix(b"\r")
            self._buffer = bytearray()
            out.append(self._line(raw))

    def _split(self, data: bytes | bytearray, out: list[str]) -> None:
        # Any line ending, and the checks of length and encoding, line by line.
        buffer = self._buffer
        if data is not buffer:
            buffer += data
        pos = 0
        while (found := _next_break(buffer, pos)) is not None:
            end, after = found
            out.append(self._line(buffer[pos:end]))
            pos = after
        del buffer[:pos]
        if len(buffer) > self.max_line:
            raise _too_long(self.max_line)

    def _line(self, raw: bytes | bytearray) -> str:
        line = _decode(raw, self.max_line)
        if self._first:
            self._first = False
            return line.removeprefix("\ufeff")
        return line


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
