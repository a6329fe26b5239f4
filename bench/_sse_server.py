"""A fast loopback server in the OpenAI chat-completions format, for bench/fanout.py.

Streams ``max_tokens`` content deltas (default 2,000) as Server-Sent Events,
each in its own HTTP/1.1 chunk and write as a real server sends a token (the
concurrent streams take turns every ``--burst`` frames), then a finish
frame, a ``usage`` frame and ``data: [DONE]``. Connections are kept alive.
It runs in a process of its own so that its CPU time is never counted as the
client's. Prints ``PORT <n>`` on its first line once it listens.

With ``--pace-ms M`` each token waits M ms, as a model would; with ``--timings``
the usage frame carries llama-server's ``timings`` (the server's own time from the
request to the last token), for bench/grid_overhead.py.

    python bench/_sse_server.py [--port 0] [--pace-ms 2 --timings]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

MODEL = "bench-model"
WORDS = ["def", " merge", "(left", ",", " right", "):", "\n   ", " result", " =", " []", "\n"]


def token_text(index: int) -> str:
    """The text of token ``index``: code-like pieces, the same for every stream."""
    return WORDS[index % len(WORDS)]


def expected_text(count: int) -> str:
    return "".join(token_text(i) for i in range(count))


def _event(obj: dict) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def _chunk(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def frames(count: int, chat: bool) -> list[bytes]:
    """Every HTTP chunk of one answer of ``count`` tokens."""
    base = {"id": "chatcmpl-bench", "created": 0, "model": MODEL}
    if chat:
        base["object"] = "chat.completion.chunk"

        def choice(text: str | None, finish: str | None) -> dict:
            delta = {"content": text} if text is not None else {}
            return {"index": 0, "delta": delta, "finish_reason": finish}
    else:
        base["object"] = "text_completion"

        def choice(text: str | None, finish: str | None) -> dict:
            return {"index": 0, "text": text or "", "finish_reason": finish}

    out = [_chunk(_event({**base, "choices": [choice(token_text(i), None)]})) for i in range(count)]
    out.append(_chunk(_event({**base, "choices": [choice(None, "length")]})))
    usage = {"prompt_tokens": 12, "completion_tokens": count, "total_tokens": 12 + count}
    out.append(_chunk(_event({**base, "choices": [], "usage": usage})))
    out.append(_chunk(b"data: [DONE]\n\n"))
    out.append(b"0\r\n\r\n")
    return out


_CACHE: dict[tuple[int, bool], list[bytes]] = {}
#: Frames written before the next stream takes its turn (set by --burst).
BURST = 1
#: Seconds each token waits (--pace-ms), and whether usage carries ``timings`` (--timings).
PACE_S = 0.0
TIMINGS = False

STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n"
)


def _json_response(obj: dict, status: str = "200 OK") -> bytes:
    body = json.dumps(obj).encode()
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length") or 0)
            body = json.loads(await reader.readexactly(length)) if length else {}
            if method == "GET" and path.endswith("/models"):
                writer.write(_json_response({"object": "list", "data": [{"id": MODEL}]}))
                await writer.drain()
                continue
            if method != "POST" or not path.endswith(("/chat/completions", "/completions")):
                writer.write(_json_response({"error": {"message": "not found"}}, "404 Not Found"))
                await writer.drain()
                continue
            count = int(body.get("max_tokens") or 2000)
            chat = path.endswith("/chat/completions")
            chunks = _CACHE.get((count, chat))
            if chunks is None:
                chunks = _CACHE[(count, chat)] = frames(count, chat)
            if PACE_S or TIMINGS:
                await paced(writer, chunks, count, chat)
                continue
            writer.write(STREAM_HEAD)
            for index, chunk in enumerate(chunks):
                writer.write(chunk)
                if index % BURST == BURST - 1:
                    await writer.drain()
                    await asyncio.sleep(0)  # the other streams take their turn
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def paced(writer: asyncio.StreamWriter, chunks: list[bytes], count: int, chat: bool) -> None:
    """One answer at ``PACE_S`` per token, its usage frame with the server's own timings."""
    start = time.perf_counter()
    writer.write(STREAM_HEAD)
    first = None
    for chunk in chunks[:count]:
        if PACE_S:
            await asyncio.sleep(PACE_S)
        writer.write(chunk)
        await writer.drain()
        first = first or time.perf_counter()
    writer.write(chunks[count])  # the finish frame
    end = time.perf_counter()
    usage = {"prompt_tokens": 12, "completion_tokens": count, "total_tokens": 12 + count}
    frame = {"id": "chatcmpl-bench", "created": 0, "model": MODEL, "choices": [], "usage": usage}
    frame["object"] = "chat.completion.chunk" if chat else "text_completion"
    if TIMINGS:
        frame["timings"] = {
            "prompt_n": 12,
            "prompt_ms": ((first or end) - start) * 1000,
            "predicted_n": count,
            "predicted_ms": (end - (first or end)) * 1000,
        }
    writer.write(_chunk(_event(frame)))
    writer.write(chunks[-2] + chunks[-1])  # [DONE] and the end of the chunked body
    await writer.drain()


async def serve(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=128)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--burst", type=int, default=1, help="frames per turn of a stream")
    parser.add_argument("--pace-ms", type=float, default=0.0, help="ms each token waits")
    parser.add_argument("--timings", action="store_true", help="llama-server timings in usage")
    args = parser.parse_args()
    global BURST, PACE_S, TIMINGS
    BURST = max(1, args.burst)
    PACE_S, TIMINGS = args.pace_ms / 1000, args.timings
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
