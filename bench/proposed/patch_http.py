"""Proposed fixes for the server fan-out benchmark, applied as patches at run time.

Evidence for the benchmark report, not part of workbench (see patch_tui.py).

- ``gap-timer``: ``StreamClock.paced`` keeps one timer per stream and moves a
  float per item, instead of entering an ``asyncio.timeout()`` per item (a
  Timeout object, a ``call_at`` and its cancel for every token). Same rule: the
  gap counts only while waiting for the next item, the deadline always.
- ``sse-decoder``: ``SSEJson.parse`` feeds each network read to one synchronous
  decoder (lines, events, JSON) instead of three stacked async generators
  (``iter_lines`` yields twice per token, ``iter_sse`` and ``parse`` once each),
  with a fast path for LF-only input. Same rules as the generators.
- ``shared-tls``: one SSL context for every backend's ``httpx.AsyncClient``; each
  client builds its own today (about 25 ms of CPU each, on the event loop, at the
  first prompt: 16 server models block the app for ~0.4 s).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import httpx

from workbench.backends import http
from workbench.backends.http import StreamClock, describe_error
from workbench.backends.streams import (
    MAX_LINE,
    SSEJson,
    _decode,
    _next_break,
    _too_long,
    checked,
    parse_json,
)
from workbench.errors import BackendError

NAMES = ("gap-timer", "sse-decoder", "shared-tls")


# --- gap-timer -------------------------------------------------------------------------


async def paced(self: StreamClock, items: AsyncIterable[Any]) -> AsyncIterator[Any]:
    """The proposed StreamClock.paced: one timer per stream, not one timeout per item."""
    iterator = aiter(items)
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    gap = self.timeouts.gap
    deadline_at = loop.time() + self.remaining()
    limit_at = 0.0  # when the item being awaited is late
    waiting = fired = False
    handle: asyncio.TimerHandle | None = None

    def check() -> None:
        nonlocal handle, fired
        now = loop.time()
        if waiting and now >= limit_at:
            handle, fired = None, True
            task.cancel()
        else:  # early (an item came meanwhile): look again when the current one is due
            handle = loop.call_at(limit_at if waiting else now + gap, check)

    try:
        while True:
            limit_at = min(deadline_at, loop.time() + gap)
            if handle is None:
                handle = loop.call_at(limit_at, check)
            waiting = True
            try:
                item = await anext(iterator)
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                if fired and task.uncancel() == 0:
                    raise self._expired(deadline=limit_at >= deadline_at) from None
                raise
            finally:
                waiting = False
            yield item
    finally:
        if handle is not None:
            handle.cancel()
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()


# --- sse-decoder -----------------------------------------------------------------------


class SSEDecoder:
    """The JSON objects of an OpenAI-style SSE stream, fed one network read at a time."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self.done = False
        self._buffer = bytearray()
        self._first = True
        self._data: list[str] = []
        self._event = ""

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        buffer = self._buffer
        buffer += chunk
        if b"\r" not in buffer and len(buffer) <= self.max_line:
            # The common case, LF endings only: one split, one decode per line.
            *lines, rest = buffer.split(b"\n")
            self._buffer = bytearray(rest)
            for raw in lines:
                if self.done:
                    break
                self._line(_decode(raw, self.max_line), out)
            return out
        pos = 0
        while not self.done and (found := _next_break(buffer, pos)) is not None:
            end, after = found
            self._line(_decode(buffer[pos:end], self.max_line), out)
            pos = after
        del buffer[:pos]
        if len(buffer) > self.max_line:
            raise _too_long(self.max_line)
        return out

    def close(self) -> list[dict[str, Any]]:
        """What an unterminated last line or event still holds."""
        out: list[dict[str, Any]] = []
        if self._buffer and not self.done:
            self._line(_decode(self._buffer.removesuffix(b"\r"), self.max_line), out)
        if self._data and not self.done:
            self._dispatch(out)
        return out

    def _line(self, line: str, out: list[dict[str, Any]]) -> None:
        if self._first:
            line = line.removeprefix("\ufeff")
            self._first = False
        if not line:
            if self._data:
                self._dispatch(out)
            self._data, self._event = [], ""
            return
        if line[0] == ":":
            return
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "error":
            self._event = "error"
            self._data.append(value)

    def _dispatch(self, out: list[dict[str, Any]]) -> None:
        data = "\n".join(self._data).strip()
        self._data = []
        if self._event == "error":
            raise BackendError(f"The server reported an error: {describe_error(data)}")
        if data == "[DONE]":
            self.done = True
        elif data:
            out.append(checked(parse_json(data)))


async def parse(self: SSEJson, chunks: AsyncIterable[bytes]) -> AsyncIterator[dict[str, Any]]:
    """The proposed SSEJson.parse."""
    decoder = SSEDecoder(self.max_line)
    async for chunk in chunks:
        for obj in decoder.feed(chunk):
            yield obj
        if decoder.done:
            self.done = True
            return
    for obj in decoder.close():
        yield obj
    self.done = decoder.done


# --- shared-tls ------------------------------------------------------------------------

_TLS: ssl.SSLContext | None = None


def shared_http(self: http.StreamingClient) -> httpx.AsyncClient:
    """The proposed StreamingClient.http: every client verifies with one SSL context."""
    global _TLS
    if self._client is None:
        if _TLS is None:
            _TLS = httpx.create_ssl_context()
        self._client = httpx.AsyncClient(timeout=self.timeouts.for_httpx(), verify=_TLS)
    return self._client


def apply(names: list[str]) -> None:
    unknown = set(names) - set(NAMES)
    if unknown:
        raise SystemExit(f"unknown HTTP patch(es) {sorted(unknown)}; known: {', '.join(NAMES)}")
    if "gap-timer" in names:
        StreamClock.paced = paced
    if "sse-decoder" in names:
        SSEJson.parse = parse
    if "shared-tls" in names:
        http.StreamingClient.http = property(shared_http)
