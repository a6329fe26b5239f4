"""A fake Ollama server speaking its documented NDJSON API, with faults on cue.

``/api/tags`` lists ``models``; ``/api/chat`` and ``/api/generate`` stream
``pieces`` one line each, then the last line with counts and durations in
nanoseconds, as Ollama does. A generate request without a prompt only
"loads" the model. ``fault`` breaks the stream after the first piece:

- ``"drop"``: cut the connection in the middle of the chunked body;
- ``"early_end"``: end the body cleanly, but without the ``done`` line;
- ``"malformed"``: send a line that is not JSON;
- ``"error"``: send an ``{"error": …}`` line;
- ``"stall"``: send nothing more for ``stall_s`` seconds.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from loopback import LoopbackServer, Received, Reply

CREATED = "2024-07-01T12:00:00.000000Z"
FINAL_FIGURES = {
    "total_duration": 900_000_000,
    "load_duration": 100_000_000,
    "prompt_eval_count": 26,
    "prompt_eval_duration": 200_000_000,
    "eval_count": 3,
    "eval_duration": 300_000_000,
}


class FakeOllama(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self.models = ["llama3.2:latest", "qwen2.5-coder:0.5b"]
        self.pieces: tuple[str, ...] = ("Hel", "lo", "!")
        #: Thinking lines sent before the answer, as Ollama does for a model with ``think``.
        self.thinking: tuple[str, ...] = ()
        self.fault: str | None = None
        self.stall_s = 30.0

    @property
    def posts(self) -> list[Received]:
        return [r for r in self.received if r.method == "POST"]

    async def handle(self, request: Received, reply: Reply) -> None:
        if request.method == "GET" and request.path == "/api/tags":
            models = [{"name": name, "model": name, "size": 1000} for name in self.models]
            await reply.json({"models": models})
            return
        if request.method != "POST" or request.path not in ("/api/chat", "/api/generate"):
            await reply.json({"error": "not found"}, status=404)
            return
        body = request.json
        model = body.get("model", "")
        if model not in self.models and f"{model}:latest" not in self.models:
            await reply.json({"error": f'model "{model}" not found, try pulling it first'}, 404)
            return
        chat = request.path == "/api/chat"
        if not chat and "prompt" not in body:
            await reply.json(self._line(model, chat, "", done=True, done_reason="load"))
            return
        await self._stream(reply, model, chat)

    async def _stream(self, reply: Reply, model: str, chat: bool) -> None:
        await reply.start(content_type="application/x-ndjson")
        for thought in self.thinking:
            line = self._line(model, chat, "")
            if chat:
                line["message"]["thinking"] = thought
            else:
                line["thinking"] = thought
            await reply.send(_encode(line))
        for index, text in enumerate(self.pieces):
            await reply.send(_encode(self._line(model, chat, text)))
            if index == 0 and self.fault:
                if self.fault == "drop":
                    reply.drop()
                    return
                if self.fault == "malformed":
                    await reply.send(b'{"model": "x", "message": {"content": "lo"\n')
                if self.fault == "error":
                    await reply.send(_encode({"error": "llama runner process has terminated"}))
                if self.fault == "stall":
                    await asyncio.sleep(self.stall_s)
                if self.fault == "early_end":
                    await reply.end()
                    return
        final = self._line(model, chat, "", done=True, done_reason="stop") | FINAL_FIGURES
        await reply.send(_encode(final))
        await reply.end()

    def _line(self, model: str, chat: bool, text: str, **extra: Any) -> dict[str, Any]:
        line: dict[str, Any] = {"model": model, "created_at": CREATED}
        if chat:
            line["message"] = {"role": "assistant", "content": text}
        else:
            line["response"] = text
        return line | {"done": False} | extra


def _encode(obj: Any) -> bytes:
    return json.dumps(obj).encode() + b"\n"
