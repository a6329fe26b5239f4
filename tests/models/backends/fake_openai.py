"""A fake OpenAI-compatible server (llama-server flavoured) that can misbehave on cue.

By default it streams ``pieces`` as SSE chunks, then a finish reason, a usage
chunk and ``[DONE]``. A test changes ``script`` to send exactly what it wants:
each step is bytes to send (one chunk each), a float to sleep, or ``DROP`` to
cut the connection. ``answers`` are full HTTP answers given first, one per
request (a 503 or 429 before the stream, say).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from loopback import LoopbackServer, Received, Reply

DROP = object()
DONE = b"data: [DONE]\n\n"
KEEP_ALIVE = b": keep-alive\n\n"


def sse(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def thinking_piece(text: str, key: str = "reasoning_content") -> bytes:
    """One chunk of a reasoning model's thinking, as llama-server, vLLM and DeepSeek send it."""
    choice = {"index": 0, "delta": {key: text}, "finish_reason": None}
    return sse({"id": "cmpl-1", "model": "fake-model", "choices": [choice]})


def piece(text: str | None, *, chat: bool = True, finish: str | None = None, **extra: Any) -> bytes:
    """One streamed chunk as llama-server sends it."""
    if chat:
        choice = {"index": 0, "delta": {"content": text} if text is not None else {}}
    else:
        choice = {"index": 0, "text": text or ""}
    choice["finish_reason"] = finish
    obj = {"id": "cmpl-1", "model": "fake-model", "choices": [choice]}
    return sse(obj | extra)


TIMINGS = {"prompt_n": 5, "prompt_ms": 10.0, "predicted_n": 3, "predicted_ms": 30.0}


class FakeOpenAI(LoopbackServer):
    def __init__(
        self,
        pieces: tuple[str, ...] = ("Hel", "lo", "!"),
        *,
        usage: bool = True,
        timings: bool = False,
        key: str | None = None,
        thinking: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        self.pieces = pieces
        #: Thinking pieces sent before the answer (chat only), counted in its tokens.
        self.thinking = thinking
        self.usage = usage
        self.timings = timings
        self.key = key
        self.script: list[Any] | None = None
        self.answers: list[tuple[int, dict[str, str], Any]] = []
        self.models_status = [200]
        #: Seconds to wait before the answer's head: a server busy on a long prompt.
        self.head_delay = 0.0

    @property
    def base(self) -> str:
        return self.url + "/v1"

    @property
    def posts(self) -> list[Received]:
        return [r for r in self.received if r.method == "POST"]

    def default_script(self, chat: bool) -> list[Any]:
        steps: list[Any] = [piece(None, chat=chat)] if chat else []
        steps += [thinking_piece(text) for text in self.thinking] if chat else []
        steps += [piece(text, chat=chat) for text in self.pieces]
        extra = {"timings": TIMINGS} if self.timings else {}
        steps.append(piece(None, chat=chat, finish="stop", **extra))
        if self.usage:
            thought = len(self.thinking) if chat else 0
            usage = {
                "prompt_tokens": 5,
                "completion_tokens": 3 + thought,
                "total_tokens": 8 + thought,
            }
            if thought:
                usage["completion_tokens_details"] = {"reasoning_tokens": thought}
            steps.append(sse({"id": "cmpl-1", "choices": [], "usage": usage}))
        return [*steps, DONE]

    async def handle(self, request: Received, reply: Reply) -> None:
        if self.key and request.headers.get("authorization") != f"Bearer {self.key}":
            # Echo the key, as some servers do, so tests can check it is scrubbed.
            sent = request.headers.get("authorization", "")
            await reply.json({"error": {"message": f"Invalid key: {sent}"}}, status=401)
            return
        if request.method == "GET" and request.path == "/v1/models":
            status = self.models_status.pop(0) if len(self.models_status) > 1 else 200
            body = {"object": "list", "data": [{"id": "fake-model", "object": "model"}]}
            if status != 200:
                body = {"error": {"message": "Loading model", "code": status}}
            await reply.json(body, status=status)
            return
        if request.path not in ("/v1/chat/completions", "/v1/completions"):
            await reply.json({"error": {"message": "no such route"}}, status=404)
            return
        if self.answers:
            status, headers, body = self.answers.pop(0)
            await reply.json(body, status=status, headers=headers)
            return
        await asyncio.sleep(self.head_delay)
        await reply.start()
        chat = request.path.endswith("/chat/completions")
        for step in self.script if self.script is not None else self.default_script(chat):
            if step is DROP:
                reply.drop()
                return
            if isinstance(step, int | float):
                await asyncio.sleep(step)
            else:
                await reply.send(step)
        await reply.end()
