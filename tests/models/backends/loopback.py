"""A tiny HTTP/1.1 server on 127.0.0.1 that can answer badly on purpose.

Written on raw asyncio streams rather than ``http.server`` so a test controls
every byte: chunk boundaries, keep-alive comments, a connection dropped in the
middle of a chunked body, or a stall that sends nothing at all.
"""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any


@dataclass
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Reply:
    """Writes one answer by hand, including broken ones."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._chunked = False
        self.keep_alive = True

    async def json(
        self, obj: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        """A complete JSON answer with a Content-Length."""
        body = json.dumps(obj).encode()
        head = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        self._head(status, head | (headers or {}))
        self._writer.write(body)
        await self._writer.drain()

    async def start(
        self, status: int = 200, content_type: str = "text/event-stream", *, chunked: bool = True
    ) -> None:
        """Begin a streamed body: chunked, or delimited by closing the connection."""
        self._chunked = chunked
        self.keep_alive = chunked
        head = {"Content-Type": content_type, "Cache-Control": "no-cache"}
        head |= {"Transfer-Encoding": "chunked"} if chunked else {"Connection": "close"}
        self._head(status, head)
        await self._writer.drain()

    async def send(self, data: bytes) -> None:
        """One piece of the body, in its own chunk (so one read on the other side)."""
        if self._chunked:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self._writer.write(data)
        await self._writer.drain()

    async def end(self) -> None:
        if self._chunked:
            self._writer.write(b"0\r\n\r\n")
            await self._writer.drain()

    def drop(self) -> None:
        """Cut the connection now, mid-body: the client sees an incomplete answer."""
        self.keep_alive = False
        self._writer.transport.abort()

    def _head(self, status: int, headers: dict[str, str]) -> None:
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())


class LoopbackServer:
    """Serves ``handle`` on 127.0.0.1 at a free port; use as ``async with``."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, request: Received, reply: Reply) -> None:  # pragma: no cover
        raise NotImplementedError

    async def __aenter__(self) -> LoopbackServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while (request := await _read_request(reader)) is not None:
                self.received.append(request)
                reply = Reply(writer)
                await self.handle(request, reply)
                if not reply.keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client left, or the test is over
        finally:
            self._tasks.discard(task)
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> Received | None:
    line = await reader.readline()
    if not line.strip():
        return None
    method, path, _ = line.decode().split(" ", 2)
    headers: dict[str, str] = {}
    while (header := await reader.readline()).strip():
        name, _, value = header.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", 0)))
    return Received(method, path, headers, body)


def closed_port() -> int:
    """A loopback port where nothing listens, so connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
