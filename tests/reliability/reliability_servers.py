"""Fault servers for the reliability tests, built on the backend tests' loopback fakes.

``ScriptedOllama`` streams exactly the bytes a test gives (as ``FakeOpenAI.script``
does for SSE); ``FaultServer`` answers the streaming request with a fault and
leaves the rest (model lists, Ollama's load) to a well-behaved fake.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fake_ollama import FakeOllama
from fake_openai import DROP, FakeOpenAI
from loopback import LoopbackServer, Received, Reply

STREAM_PATHS = ("/v1/chat/completions", "/v1/completions", "/api/chat")


class ScriptedOllama(FakeOllama):
    """Ollama whose chat stream is ``script``: bytes (one chunk each), sleeps, or ``DROP``."""

    def __init__(self) -> None:
        super().__init__()
        self.script: list[Any] | None = None

    async def _stream(self, reply: Reply, model: str, chat: bool) -> None:
        if self.script is None:
            await super()._stream(reply, model, chat)
            return
        await reply.start(content_type="application/x-ndjson")
        await play(reply, self.script)


async def play(reply: Reply, script: list[Any]) -> None:
    """Send each step of ``script``; end the body unless a ``DROP`` cut it."""
    for step in script:
        if step is DROP:
            reply.drop()
            return
        if isinstance(step, int | float):
            await asyncio.sleep(step)
        else:
            await reply.send(step)
    await reply.end()


class FaultServer(LoopbackServer):
    """Answers the streaming request with ``fault``; everything else as ``inner`` would."""

    def __init__(self, inner: LoopbackServer, fault: tuple[int, dict[str, str], Any]) -> None:
        super().__init__()
        self.inner = inner
        self.fault = fault

    @property
    def streams(self) -> list[Received]:
        return [r for r in self.received if r.path in STREAM_PATHS]

    async def handle(self, request: Received, reply: Reply) -> None:
        if request.path in STREAM_PATHS:
            status, headers, body = self.fault
            await reply.json(body, status=status, headers=headers)
        else:
            await self.inner.handle(request, reply)


class RedirectLoop(LoopbackServer):
    """Every path redirects to itself, forever."""

    async def handle(self, request: Received, reply: Reply) -> None:
        await reply.json({}, status=302, headers={"Location": request.path})


@asynccontextmanager
async def plain_tcp_server() -> AsyncIterator[int]:
    """A loopback port that answers anything with a plain-HTTP 400 and closes.

    An https:// URL pointed at it fails the TLS handshake, the way a plain
    HTTP server does (without the loopback fakes' noise about a ClientHello).
    """

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read(4096)
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


def fake_for(kind: str) -> LoopbackServer:
    return FakeOpenAI() if kind == "openai" else ScriptedOllama()


def url_for(kind: str, root: str) -> str:
    """The model URL for a server root: OpenAI-compatible ones end in /v1."""
    return root + "/v1" if kind == "openai" else root
